"""The CSV and XLSX writers every report downloads through (reports/exports.py): exact values,
real numbers and dates in the workbook, and hostile text kept harmless."""

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import openpyxl
import pytest

from reports.exports import csv_response, safe_filename, sheet_name_unique, xlsx_response
from reports.tables import Table

AMOUNTS = Table(
    name="costs",
    title="Costs by provider",
    headers=["provider", "month", "amount", "currency", "requests"],
    rows=[
        ("openai", date(2026, 10, 1), Decimal("1234567.891"), "USD", 1200),
        ("refund", date(2026, 11, 1), Decimal("-25.50"), "USD", 0),
        ("jp", date(2026, 11, 1), Decimal("1500"), "JPY", None),
        ("tiny", date(2026, 11, 1), Decimal("0.0075000000"), "USD", 3),
    ],
    note="In USD; a month at either end counts only its days in the range.",
)
HOSTILE = ['=HYPERLINK("http://x")', "+1", "-2+3", "@SUM(A1)", "\tx", "\rx", "a\x00b\x07c\ud800"]


def csv_rows(response) -> list[list[str]]:
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")  # the byte order mark Excel needs to read UTF-8
    return list(csv.reader(io.StringIO(text[1:])))


def workbook(response) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(response.content))


def test_csv_writes_exact_decimals_iso_dates_and_empty_none():
    response = csv_response(AMOUNTS, filename="costs_2026-10-01_2026-11-30.csv")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        'attachment; filename="costs_2026-10-01_2026-11-30.csv"'
    )
    assert csv_rows(response) == [
        ["provider", "month", "amount", "currency", "requests"],
        ["openai", "2026-10-01", "1234567.891", "USD", "1200"],
        ["refund", "2026-11-01", "-25.50", "USD", "0"],  # a negative number is not escaped
        ["jp", "2026-11-01", "1500", "JPY", ""],
        ["tiny", "2026-11-01", "0.0075", "USD", "3"],  # a DECIMAL(24, 10)'s noise zeros go
    ]


def test_csv_never_writes_an_exponent_and_keeps_the_minor_unit():
    table = Table(
        name="t",
        title="t",
        headers=["v", "currency"],
        rows=[
            (Decimal("1E+3"), "USD"),
            (Decimal("1E-7"), "USD"),
            (Decimal("95.0000000000"), "USD"),
            (Decimal("-0.00"), "USD"),
            (Decimal("12.5"), "KWD"),
            (Decimal("1500.00"), "JPY"),
        ],
    )
    assert [r[0] for r in csv_rows(csv_response(table, filename="t"))[1:]] == [
        "1000.00", "0.0000001", "95.00", "0.00", "12.500", "1500",
    ]  # fmt: skip


def test_csv_text_that_could_run_as_a_formula_is_escaped():
    table = Table(name="t", title="t", headers=["=cmd", "user"], rows=[(1, v) for v in HOSTILE])
    rows = csv_rows(csv_response(table, filename="t"))
    assert rows[0] == ["'=cmd", "user"]
    assert [r[1] for r in rows[1:]] == [
        '\'=HYPERLINK("http://x")',
        "'+1",
        "'-2+3",
        "'@SUM(A1)",
        "'\tx",
        "'\rx",
        "a\ufffdb\x07c\ufffd",  # NUL and a lone surrogate replaced: the file stays UTF-8
    ]


def test_xlsx_cells_are_numbers_and_dates_with_formats():
    response = xlsx_response([AMOUNTS], filename="costs", title="Costs by provider")
    assert response["Content-Type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert response["Content-Disposition"] == 'attachment; filename="costs.xlsx"'
    book = workbook(response)
    assert book.sheetnames == ["costs"]
    sheet = book["costs"]
    assert sheet["A1"].value == "Costs by provider"
    assert sheet["A2"].value.startswith("In USD")
    assert [c.value for c in sheet[3]] == ["provider", "month", "amount", "currency", "requests"]
    assert all(c.font.b for c in sheet[3])
    assert sheet.freeze_panes == "A4"
    openai, refund, yen, tiny = (
        {h: c for h, c in zip(AMOUNTS.headers, sheet[r], strict=True)} for r in range(4, 8)
    )
    assert (openai["provider"].value, openai["provider"].data_type) == ("openai", "s")
    assert openai["month"].value == datetime(2026, 10, 1)  # noqa: DTZ001 (Excel: naive)
    assert openai["month"].is_date and openai["month"].number_format == "yyyy-mm-dd"
    assert openai["amount"].data_type == "n"
    assert Decimal(str(openai["amount"].value)) == Decimal("1234567.891")
    assert openai["amount"].number_format == "#,##0.000"  # keeps its third decimal
    assert (openai["requests"].value, openai["requests"].number_format) == (1200, "#,##0")
    amount = refund["amount"]
    assert (amount.value, amount.data_type, amount.number_format) == (-25.5, "n", "#,##0.00")
    assert (yen["amount"].value, yen["amount"].number_format) == (1500, "#,##0")  # no minor unit
    assert yen["requests"].value is None
    assert Decimal(str(tiny["amount"].value)) == Decimal("0.0075")
    assert tiny["amount"].number_format == "#,##0.0000"  # not shown as 0.01


def test_xlsx_long_fractions_show_at_the_minor_unit_and_tiny_amounts_in_full():
    table = Table(
        name="t",
        title="t",
        headers=["amount"],
        rows=[(Decimal("276.531001"),), (Decimal("0.000123"),), (Decimal("0.0537"),)],
    )
    sheet = workbook(xlsx_response([table], filename="t", title="t"))["t"]
    cells = [sheet.cell(row=r, column=1) for r in (3, 4, 5)]
    assert [c.number_format for c in cells] == ["#,##0.00", "#,##0.000000", "#,##0.0000"]
    assert Decimal(str(cells[0].value)) == Decimal("276.531001")  # the cell keeps it exactly


def test_xlsx_columns_are_fitted_to_their_widest_value():
    sheet = workbook(xlsx_response([AMOUNTS], filename="c", title="c"))["costs"]
    assert sheet.column_dimensions["C"].width == len("1,234,567.891") + 2
    assert sheet.column_dimensions["B"].width == len("2026-10-01") + 2


def test_xlsx_text_is_guarded_and_cleaned():
    table = Table(name="t", title="=title", headers=["@h"], rows=[(v,) for v in HOSTILE])
    sheet = workbook(xlsx_response([table], filename="t", title="\x00t"))["t"]
    assert sheet["A1"].value == "'=title"
    assert sheet["A2"].value == "'@h"
    values = [sheet.cell(row=r, column=1) for r in range(3, 3 + len(HOSTILE))]
    assert all(c.data_type == "s" for c in values)  # no formula
    assert [c.value for c in values] == [
        '\'=HYPERLINK("http://x")',
        "'+1",
        "'-2+3",
        "'@SUM(A1)",
        "'\tx",
        "'\nx",  # XML reads a carriage return back as a line feed
        "a\ufffdb\ufffdc\ufffd",  # XML cannot hold NUL or BEL, UTF-8 no lone surrogate
    ]


def test_xlsx_takes_values_excel_cannot_hold_without_failing():
    table = Table(
        name="odd",
        title="odd",
        headers=["value"],
        rows=[
            (Decimal("NaN"),),
            (date(1, 1, 1),),  # before Excel's calendar: written as ISO text
            (datetime(2026, 11, 2, 13, 30, tzinfo=UTC),),  # Excel has no time zones
            ("x" * 40_000,),
            (True,),
        ],
    )
    sheet = workbook(xlsx_response([table], filename="odd", title="odd"))["odd"]
    assert sheet["A3"].value == "NaN"
    assert sheet["A4"].value == "0001-01-01"
    assert sheet["A5"].value == datetime(2026, 11, 2, 13, 30)  # noqa: DTZ001 (UTC wall time)
    assert len(sheet["A6"].value) == 32_767
    assert sheet["A7"].value is True


def test_xlsx_sheet_names_are_valid_and_unique():
    tables = [
        Table(name="costs/by:provider[2026]*?", title="a", headers=["x"]),
        Table(name="COSTS_BY_PROVIDER_2026___", title="b", headers=["x"]),
        Table(name="x" * 40, title="c", headers=["x"]),
        Table(name="x" * 40, title="d", headers=["x"]),
        Table(name="'quoted'", title="e", headers=["x"]),
        Table(name="", title="", headers=["x"]),
        Table(name="History", title="f", headers=["x"]),
    ]
    names = workbook(xlsx_response(tables, filename="t", title="t")).sheetnames
    assert names == [
        "costs_by_provider_2026___",
        "COSTS_BY_PROVIDER_2026___ (2)",
        "x" * 31,
        "x" * 27 + " (2)",
        "quoted",
        "Sheet",
        "History_",
    ]


def test_an_empty_workbook_still_opens():
    book = workbook(xlsx_response([], filename="empty", title="Nothing"))
    assert book.sheetnames == ["export"]


@pytest.mark.parametrize(
    ("asked", "given"),
    [
        ("costledger-month-end-2026-11.xlsx", "costledger-month-end-2026-11.xlsx"),
        ('a"b\r\nContent-Type: x.xlsx', "a_b_Content-Type_x.xlsx"),
        ("../../etc/passwd", "etc_passwd.xlsx"),
        ("ünïcode naмe", "n_code_na_e.xlsx"),
        ("", "export.xlsx"),
    ],
)
def test_download_names_are_safe(asked, given):
    assert safe_filename(asked, ".xlsx") == given


def test_sheet_names_taken_are_compared_ignoring_case():
    taken: set[str] = set()
    assert sheet_name_unique("KPIs", taken) == "KPIs"
    assert sheet_name_unique("kpis", taken) == "kpis (2)"

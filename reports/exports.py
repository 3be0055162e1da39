"""The two download writers every report uses: a `Table` as CSV, a list of tables as XLSX.

Both write the exact figures a report's tables hold, and both refuse to let a cell become a
formula: a text value beginning with = + - @, a tab or a carriage return is prefixed with `'`
(a user id or an email entered by anyone must not run in the accountant's spreadsheet). Numbers
stay numbers, negative amounts included, since the guard applies to text only.

CSV is written as UTF-8 with a byte order mark: Excel, which is what finance opens a CSV with,
reads a CSV without one in the machine's legacy code page and garbles every non-ASCII name or
email; Python (`utf-8-sig`), pandas and LibreOffice read the mark and drop it.
"""

import csv
import io
import math
import re
from datetime import UTC, date, datetime
from decimal import Decimal

from django.conf import settings
from django.http import HttpResponse
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from costledger.cells import (
    XLSX_UNWRITABLE,
    csv_text,
    xlsx_text,
)
from costledger.money import is_currency, minor_quantum, minor_unit
from reports.tables import Table, Value

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

_SHEET_NAME_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
_FILENAME_FORBIDDEN = re.compile(r"[^A-Za-z0-9._-]+")

SHEET_NAME_LIMIT = 31
MOST_DECIMALS = 10  # the ledger's columns hold 10 decimal places
SHOWN_AS_WRITTEN = 4  # decimals a cell shows as they are written (see shown_decimals)
WIDEST_COLUMN = 60
EXCEL_FIRST_DAY = date(1900, 3, 1)  # Excel's calendar is wrong before this day (1900 leap bug)


# --- CSV ---------------------------------------------------------------------------------------


def csv_response(table: Table, *, filename: str) -> HttpResponse:
    """One table as a CSV download: its header row, then its rows; no title or note lines, so
    the file reads straight into any tool."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = _attachment(filename, ".csv")
    response.write("\ufeff")
    writer = csv.writer(response)
    writer.writerow([csv_text(str(header)) for header in table.headers])
    currency_column = _currency_column(table.headers)
    for row in table.rows:
        currency = _row_currency(row, currency_column)
        writer.writerow([_csv_value(value, currency) for value in row])
    return response


def _csv_value(value: Value, currency: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, Decimal):
        return decimal_text(value, currency)
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, datetime):
        return _utc_naive(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return csv_text(str(value))


def decimal_text(value: Decimal, currency: str) -> str:
    """The exact value, never in exponent form (1E+3), without the noise zeros of a DECIMAL(24,
    10) column but with at least the currency's minor unit: 95.00, 0.0075, 1500 JPY."""
    if not value.is_finite():
        return str(value)
    text = format(value.normalize() if value else abs(value).normalize(), "f")
    whole, _, decimals = text.partition(".")
    decimals = decimals.ljust(minor_unit(currency), "0")
    return f"{whole}.{decimals}" if decimals else whole


# --- XLSX --------------------------------------------------------------------------------------


def xlsx_response(tables: list[Table], *, filename: str, title: str) -> HttpResponse:
    """The tables as one workbook (`xlsx_bytes`), downloaded."""
    response = HttpResponse(xlsx_bytes(tables, title=title), content_type=XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = _attachment(filename, ".xlsx")
    return response


def xlsx_bytes(tables: list[Table], *, title: str) -> bytes:
    """The tables as one workbook, one sheet each: the table's title and note above a bold,
    frozen header row; amounts, counts and days as real numbers and dates."""
    workbook = Workbook()
    workbook.remove(workbook.active)
    workbook.properties.title = xlsx_text(title)[:255]
    workbook.properties.creator = "costledger"
    names: set[str] = set()
    for table in tables or [Table(name="export", title=title, headers=["Nothing to export"])]:
        sheet_name = sheet_name_unique(table.name or table.title, names)
        _write_sheet(workbook.create_sheet(sheet_name), table)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def sheet_name_unique(wanted: str, taken: set[str]) -> str:
    """A sheet name Excel accepts: at most 31 characters, none of []:*?/\\, not starting or
    ending with an apostrophe, not "History" (reserved), unique ignoring case. Adds the name
    it returns to `taken`."""
    name = _SHEET_NAME_FORBIDDEN.sub("_", XLSX_UNWRITABLE.sub("", wanted))
    name = name[:SHEET_NAME_LIMIT].strip().strip("'").strip() or "Sheet"
    if name.lower() == "history":
        name = "History_"
    candidate, number = name, 1
    while candidate.lower() in taken:
        number += 1
        suffix = f" ({number})"
        candidate = name[: SHEET_NAME_LIMIT - len(suffix)] + suffix
    taken.add(candidate.lower())
    return candidate


def _write_sheet(sheet, table: Table) -> None:
    sheet.append([xlsx_text(table.title)])
    sheet["A1"].font = Font(bold=True, size=13)
    if table.note:
        sheet.append([xlsx_text(table.note)])
    sheet.append([xlsx_text(str(header)) for header in table.headers])
    header_row = sheet.max_row
    for cell in sheet[header_row]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = f"A{header_row + 1}"  # a string: sheet.cell() would add an empty row
    currency_column = _currency_column(table.headers)
    widths = [len(str(header)) for header in table.headers]
    for row in table.rows:
        currency = _row_currency(row, currency_column)
        written = [_xlsx_value(value) for value in row]
        sheet.append(written)
        for cell, value in zip(sheet[sheet.max_row], written, strict=False):
            cell.number_format = _number_format(value, currency)
        widths = _widen(widths, [_shown_width(value) for value in row])
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = min(width + 2, WIDEST_COLUMN)


def _xlsx_value(value: Value):
    if isinstance(value, Decimal | float) and not _finite(value):
        return str(value)  # NaN or infinity: no spreadsheet number holds it
    if value is None or isinstance(value, bool | int | float | Decimal):
        return value
    if isinstance(value, datetime):
        value = _utc_naive(value)
        return value if value.date() >= EXCEL_FIRST_DAY else value.isoformat()
    if isinstance(value, date):
        return value if value >= EXCEL_FIRST_DAY else value.isoformat()
    return xlsx_text(str(value))


def _number_format(value: Value, currency: str) -> str:
    if isinstance(value, datetime):
        return "yyyy-mm-dd hh:mm:ss"
    if isinstance(value, date):
        return "yyyy-mm-dd"
    if isinstance(value, bool):
        return "General"
    if isinstance(value, int):
        return "#,##0"
    if isinstance(value, Decimal) and value.is_finite():
        decimals = shown_decimals(value, currency)
        return "#,##0" + ("." + "0" * decimals if decimals > 0 else "")
    return "General"


def shown_decimals(value: Decimal, currency: str) -> int:
    """How many decimals a cell shows (the cell keeps the exact value): the currency's minor
    unit; every decimal of a value written with up to four (a price of 0.0075, a ratio of
    0.0537); and those of an amount smaller than the minor unit, so it never reads 0.00. A
    long fraction (an invoice spread over days, 276.531001) shows at the minor unit."""
    minor = minor_unit(currency)
    own = -value.normalize().as_tuple().exponent
    if own <= SHOWN_AS_WRITTEN or (value and abs(value) < minor_quantum(currency)):
        return min(max(minor, own), MOST_DECIMALS)
    return minor


def _currency_column(headers: list[str]) -> int | None:
    lowered = [str(header).strip().lower() for header in headers]
    return lowered.index("currency") if "currency" in lowered else None


def _row_currency(row: tuple, column: int | None) -> str:
    """The row's own currency when the table has a currency column, else the reporting one."""
    if column is not None and column < len(row) and isinstance(row[column], str):
        code = row[column].strip().upper()
        if is_currency(code):
            return code
    return settings.REPORTING_CURRENCY


def _shown_width(value: Value) -> int:
    if value is None:
        return 0
    if isinstance(value, Decimal) and value.is_finite():
        return len(f"{value:,f}")
    if isinstance(value, int) and not isinstance(value, bool):
        return len(f"{value:,}")
    if isinstance(value, datetime):
        return 19
    if isinstance(value, date):
        return 10
    return max((len(line) for line in str(value).splitlines()), default=0)


def _widen(widths: list[int], row_widths: list[int]) -> list[int]:
    size = max(len(widths), len(row_widths))
    padded = widths + [0] * (size - len(widths)), row_widths + [0] * (size - len(row_widths))
    return [max(w, r) for w, r in zip(*padded, strict=True)]


def _finite(number: Decimal | float) -> bool:
    return number.is_finite() if isinstance(number, Decimal) else math.isfinite(number)


# --- shared ------------------------------------------------------------------------------------


def _utc_naive(moment: datetime) -> datetime:
    """Excel has no time zones: an aware time is written as its UTC wall time."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def safe_filename(filename: str, extension: str) -> str:
    """A download name that cannot break the header or a file system: ASCII letters, digits,
    dot, dash and underscore, with the extension."""
    stem = filename[: -len(extension)] if filename.lower().endswith(extension) else filename
    stem = _FILENAME_FORBIDDEN.sub("_", stem).strip("._")[:150] or "export"
    return f"{stem}{extension}"


def _attachment(filename: str, extension: str) -> str:
    return f'attachment; filename="{safe_filename(filename, extension)}"'

"""The reports' downloads through the real views and database: the Business summary, Costs by
provider and the month-end pack, each XLSX opened with openpyxl and its figures compared with
the page's for the same range and with hand-computed values; who may download; bad parameters."""

import csv
import io
from datetime import date
from decimal import Decimal

import openpyxl
import pytest
import time_machine
from django.contrib.auth.models import User
from django.urls import reverse

from billing.models import ProviderInvoice
from billing.services import provider_invoice_save
from costledger.models import RevenueSnapshot, Source
from costledger.services import cost_entries_upsert
from reports.pages import CHARTS
from tests.factories import cost_entry, daily_costs

pytestmark = pytest.mark.django_db
SEP, OCT, NOV = date(2026, 9, 1), date(2026, 10, 1), date(2026, 11, 1)
OCTOBER = {"start": "2026-10-01", "end": "2026-10-31", "compare": "previous"}


@pytest.fixture(autouse=True)
def _today():
    with time_machine.travel("2026-11-21 10:00:00+00:00", tick=False):
        yield


@pytest.fixture
def ledger(finance_user):
    """MRR 3,000.00 from Sep 1 and 3,100.00 from Oct 1 (100.00 a day in both months). Supabase
    estimated 1.00 a day in September and October, its October replaced by an invoice of 25.00
    (entered by Finance). OpenAI billed 2.00 a day in October. Weaviate 10.00 EUR on Oct 16,
    without an exchange rate.

    October: revenue 3,100.00, LLM 62.00, infrastructure 25.00, gross margin 3,013.00.
    September: revenue 3,000.00, infrastructure 30.00, LLM 0."""
    RevenueSnapshot.objects.create(day=SEP, currency="USD", mrr=Decimal("3000.00"))
    RevenueSnapshot.objects.create(day=OCT, currency="USD", mrr=Decimal("3100.00"))
    daily_costs(provider="supabase", start=SEP, end=NOV, amount="1.00")
    daily_costs(provider="openai", start=OCT, end=NOV, amount="2.00", source=Source.API)
    cost_entries_upsert(
        entries=[
            cost_entry(provider="weaviate", day=date(2026, 10, 16), amount="10.00", currency="EUR")
        ]
    )
    provider_invoice_save(
        invoice=ProviderInvoice(
            provider="supabase", invoice_number="=SUPA-10", invoice_date=NOV,
            period_start=OCT, period_end=date(2026, 10, 31), amount=Decimal("25.00"),
            currency="USD",
        ),
        user=finance_user,
    )  # fmt: skip


def workbook(response) -> openpyxl.Workbook:
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    return openpyxl.load_workbook(io.BytesIO(response.content))


def records(sheet) -> list[dict]:
    """A sheet's rows under its header row (the first row whose first cell is bold)."""
    header_row = next(r for r in sheet.iter_rows() if r[0].font.b and r[0].row > 1)
    headers = [c.value for c in header_row]
    return [
        dict(zip(headers, (c.value for c in row), strict=False))
        for row in sheet.iter_rows(min_row=header_row[0].row + 1)
    ]


def money(value) -> Decimal:
    """A workbook number as the amount it was written from (a double holds 15 digits)."""
    return Decimal(str(value)).quantize(Decimal("0.01"))


def csv_records(response) -> list[dict]:
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


# --- Business summary --------------------------------------------------------------------------


def test_the_business_xlsx_holds_the_kpis_and_a_sheet_per_chart(admin_client, ledger):
    page = admin_client.get(reverse("admin:business"), OCTOBER).context["summary_json"]
    response = admin_client.get(reverse("admin:business_xlsx"), OCTOBER)
    assert "business-summary_2026-10-01_2026-10-31.xlsx" in response["Content-Disposition"]
    book = workbook(response)
    assert book.sheetnames[0] == "KPIs"
    assert set(CHARTS) <= set(book.sheetnames)
    kpis = {row["figure"]: row for row in records(book["KPIs"])}
    assert money(kpis["Revenue"]["value"]) == Decimal("3100.00")
    assert money(kpis["Revenue"]["previous"]) == Decimal("3000.00")
    assert money(kpis["LLM costs"]["value"]) == Decimal("62.00")
    assert money(kpis["Infrastructure costs"]["value"]) == Decimal("25.00")
    assert money(kpis["Infrastructure costs"]["previous"]) == Decimal("30.00")
    assert Decimal(str(kpis["Infrastructure costs"]["change_percent"])) == Decimal("-16.7")
    assert money(kpis["Gross margin"]["value"]) == Decimal("3013.00")
    assert "no exchange rate for EUR" in kpis["Infrastructure costs"]["incomplete"]
    for kpi in page["kpis"].values():  # every card equals the page's
        value = kpis[kpi["label"]]["value"]
        assert (value is None and kpi["value"] is None) or money(value) == Decimal(kpi["value"])
    cell = book["KPIs"].cell(row=4, column=2)
    assert cell.data_type == "n" and cell.number_format == "#,##0.00"


def test_the_business_chart_sheets_hold_numbers_and_dates(admin_client, ledger):
    book = workbook(admin_client.get(reverse("admin:business_xlsx"), OCTOBER))
    revenue = records(book["revenue_vs_costs"])
    assert revenue and all(isinstance(r["start"], type(revenue[0]["start"])) for r in revenue)
    assert revenue[0]["start"].date() == OCT  # a real date, not text
    costs = sum(money(r["costs"]) for r in revenue if r["costs"] is not None)
    assert costs == Decimal("87.00")  # 25.00 invoice + 62.00 OpenAI; the EUR cost left out


def test_the_kpis_csv(admin_client, ledger):
    rows = csv_records(admin_client.get(reverse("admin:business_kpis_csv"), OCTOBER))
    revenue = next(r for r in rows if r["figure"] == "Revenue")
    assert (revenue["value"], revenue["previous"], revenue["currency"]) == (
        "3100.00", "3000.00", "USD",
    )  # fmt: skip
    margin = next(r for r in rows if r["figure"] == "Gross margin")
    assert margin["percent_of_revenue"] == "97.20"  # 3,013 / 3,100 to 0.1, written as 97.20


def test_the_business_page_links_its_downloads_for_its_period(admin_client, ledger):
    response = admin_client.get(reverse("admin:business"), OCTOBER)
    links = dict(response.context["exports"])
    query = "start=2026-10-01&end=2026-10-31&compare=previous"
    assert links["Download XLSX"] == f"{reverse('admin:business_xlsx')}?{query}"
    assert links["KPIs as CSV"] == f"{reverse('admin:business_kpis_csv')}?{query}"
    assert links["Month-end pack"] == reverse("admin:month_end")
    page = response.content.decode()
    assert f'href="{reverse("admin:business_xlsx")}?start=2026-10-01&amp;end=2026-10-31' in page


# --- Costs by provider -------------------------------------------------------------------------


def test_the_costs_csv_has_a_row_per_provider_and_month(admin_client, ledger):
    rows = csv_records(admin_client.get(reverse("admin:costs_by_provider_csv"), OCTOBER))
    by_provider = {row["provider"]: row for row in rows}
    assert by_provider["supabase"] == {
        "provider": "supabase",
        "provider_name": "Supabase",
        "month": "2026-10-01",
        "amount": "25.00",
        "currency": "USD",
        "sources": "Invoice",
        "unconverted": "",
    }
    assert by_provider["openai"]["amount"] == "62.00"
    assert by_provider["weaviate"]["amount"] == "0.00"
    assert by_provider["weaviate"]["unconverted"] == "10.00 EUR"


def test_the_costs_xlsx_total_equals_the_page(admin_client, ledger):
    months = {"start": "2026-09-01", "end": "2026-10-31"}
    page = admin_client.get(reverse("admin:costs_by_provider"), months)
    page_totals = [total.amount for total in page.context["totals"]]
    assert page_totals == [Decimal("30.00"), Decimal("87.00")]
    book = workbook(admin_client.get(reverse("admin:costs_by_provider_xlsx"), months))
    assert book.sheetnames == ["by provider", "by category", "totals"]
    by_provider = records(book["by provider"])
    total = by_provider[-1]
    assert total["provider"] == "Total"
    assert [money(total["2026-09"]), money(total["2026-10"])] == page_totals
    assert money(total["total"]) == Decimal("117.00")
    supabase = next(r for r in by_provider if r["provider"] == "Supabase")
    assert (money(supabase["2026-09"]), money(supabase["2026-10"])) == (
        Decimal("30.00"), Decimal("25.00"),
    )  # fmt: skip
    categories = {r["category"]: r for r in records(book["by category"])}
    assert money(categories["LLM"]["2026-10"]) == Decimal("62.00")
    assert categories["LLM"]["2026-09"] is None
    totals = records(book["totals"])
    assert [(r["month"].date(), money(r["amount"]), r["complete"]) for r in totals] == [
        (SEP, Decimal("30.00"), True),
        (OCT, Decimal("87.00"), False),
    ]
    assert "Download XLSX" in page.content.decode()


def test_the_costs_downloads_default_to_the_pages_six_months(admin_client, ledger):
    rows = csv_records(admin_client.get(reverse("admin:costs_by_provider_csv")))
    assert {row["month"] for row in rows} == {"2026-09-01", "2026-10-01"}
    book = workbook(admin_client.get(reverse("admin:costs_by_provider_xlsx")))
    header = [c.value for c in book["by provider"][3]]
    assert header == ["provider", *(f"2026-{m:02d}" for m in range(6, 12)), "total"]


# --- The month-end pack ------------------------------------------------------------------------


def test_the_month_end_pack_has_every_section_for_the_month(admin_client, ledger):
    response = admin_client.get(reverse("admin:month_end_xlsx"), {"month": "2026-10"})
    assert response["Content-Disposition"] == (
        'attachment; filename="costledger-month-end-2026-10.xlsx"'
    )
    book = workbook(response)
    assert book.sheetnames == [
        "Contents", "KPIs", "by provider", "by category", "totals", "reconciliation",
        "reconciliation total", "reconciliation definitions", "top_users", "revenue_vs_costs",
        "mrr_trend", "Provider invoices", "Completeness",
    ]  # fmt: skip
    kpis = {row["figure"]: row for row in records(book["KPIs"])}
    assert money(kpis["Revenue"]["value"]) == Decimal("3100.00")
    assert money(kpis["Revenue"]["previous"]) == Decimal("3000.00")  # September
    assert money(kpis["Infrastructure costs"]["previous"]) == Decimal("30.00")
    # The costs equal Costs by provider for the same month.
    page = admin_client.get(reverse("admin:costs_by_provider"), {**OCTOBER, "compare": "none"})
    total = records(book["by provider"])[-1]
    assert money(total["2026-10"]) == page.context["totals"][0].amount == Decimal("87.00")
    invoices = records(book["Provider invoices"])
    assert len(invoices) == 1
    invoice = invoices[0]
    assert invoice["invoice_number"] == "'=SUPA-10"  # a number that would run as a formula
    assert (invoice["provider"], invoice["kind"], invoice["currency"]) == (
        "Supabase", "Invoice", "USD",
    )  # fmt: skip
    assert money(invoice["amount"]) == Decimal("25.00")
    assert invoice["period_start"].date() == OCT
    assert invoice["entered_by"] == "finance"
    completeness = records(book["Completeness"])
    missing = next(r for r in completeness if r["check"] == "missing exchange rate")
    assert (missing["subject"], missing["first_day"].date()) == ("EUR", date(2026, 10, 16))
    contents = records(book["Contents"])
    assert contents[0]["what it holds"] == "2026-10-01 to 2026-10-31 (UTC days)"


def test_the_month_end_pack_defaults_to_the_last_full_month(admin_client, ledger):
    response = admin_client.get(reverse("admin:month_end_xlsx"))
    assert "costledger-month-end-2026-10.xlsx" in response["Content-Disposition"]


def test_the_month_end_page_is_listed_on_the_index_and_offers_the_last_full_month(admin_client):
    index = admin_client.get(reverse("admin:index")).content.decode()
    assert reverse("admin:month_end") in index and "Month-end pack" in index
    page = admin_client.get(reverse("admin:month_end"))
    assert 'value="2026-10"' in page.content.decode()
    bad = admin_client.get(reverse("admin:month_end"), {"month": "2026-13"})
    assert bad.status_code == 200
    assert any("is not a month" in str(m) for m in bad.context["messages"])


@pytest.mark.parametrize(
    "month", ["2026-13", "abc", "2026-1", "0000-01", "1999-12", "3000-01", "2026-10-01", "9" * 999]
)
def test_a_month_it_cannot_read_is_a_400_naming_it(admin_client, month):
    response = admin_client.get(reverse("admin:month_end_xlsx"), {"month": month})
    assert response.status_code == 400
    assert response.content.decode().startswith("month:")


@pytest.mark.parametrize("month", ["2000-01", "2001-02", "2999-12"])
def test_an_empty_month_still_makes_a_pack(admin_client, month):
    book = workbook(admin_client.get(reverse("admin:month_end_xlsx"), {"month": month}))
    assert records(book["Provider invoices"]) == []
    assert records(book["Completeness"])[0]["check"] in ("complete", "incomplete figure")


# --- Who may download, and what is refused -----------------------------------------------------

DOWNLOADS = [
    "admin:business_xlsx",
    "admin:business_kpis_csv",
    "admin:costs_by_provider_csv",
    "admin:costs_by_provider_xlsx",
    "admin:llm_reconciliation_csv",
    "admin:llm_reconciliation_xlsx",
    "admin:month_end",
    "admin:month_end_xlsx",
]


@pytest.mark.parametrize("name", DOWNLOADS)
def test_downloads_need_staff_who_may_view_costs(client, staff_user, viewer_user, name):
    url = reverse(name)
    response = client.get(url)
    assert response.status_code == 302 and reverse("admin:login") in response["Location"]
    client.force_login(User.objects.create_user("customer", password="pw"))
    assert client.get(url).status_code == 302
    client.force_login(staff_user)
    assert client.get(url).status_code == 403
    client.force_login(viewer_user)
    assert client.get(url).status_code == 200


@pytest.mark.parametrize("name", DOWNLOADS)
def test_finance_may_download(finance_client, name):
    assert finance_client.get(reverse(name)).status_code == 200


@pytest.mark.parametrize("name", [n for n in DOWNLOADS if "month_end" not in n])
@pytest.mark.parametrize(
    ("query", "named"),
    [
        ({"period": "fortnight"}, "period"),
        ({"start": "2026-02-30", "end": "2026-03-31"}, "start"),
        ({"start": "2026-10-01"}, "end"),
        ({"start": "2020-01-01", "end": "2026-10-01"}, "end"),
        ({"start": "2026-10-01", "end": "99999-01-01"}, "end"),
        ("start=%ED%A0%80&end=2026-10-01", "start"),  # a lone surrogate, as UTF-8 bytes
        ("start=2026-10-01%00&end=2026-10-31", "start"),  # NUL
        ({"compare": "tomorrow"}, "compare"),
    ],
)
def test_a_download_refuses_a_period_it_cannot_read(admin_client, name, query, named):
    if isinstance(query, str):
        response = admin_client.get(f"{reverse(name)}?{query}")
    else:
        response = admin_client.get(reverse(name), query)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
    said = response.content.decode()
    assert f"{named}:" in said or f"parameter '{named}'" in said  # NUL: refused by middleware

"""The drill-down of a Costs by provider cell: the rows that make it, which count and which are
superseded and by what, the total equal to the cell; its CSV and XLSX; the overlap mark."""

import csv
import io
from datetime import date
from decimal import Decimal
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import load_workbook

from billing.models import ProviderInvoice
from billing.services import provider_invoice_save
from costledger.models import Source
from costledger.services import cost_entries_upsert, exchange_rate_set
from tests.factories import cost_entry, daily_costs

pytestmark = pytest.mark.django_db
PAGE = reverse("admin:costs_by_provider")
CELL = reverse("admin:cost_cell")
OCT_1, NOV_1 = date(2026, 10, 1), date(2026, 11, 1)
PDF = b"%PDF-1.7\n%%EOF\n"


@pytest.fixture(autouse=True)
def _today():
    with time_machine.travel("2026-11-21 09:00:00+00:00", tick=False):
        yield


def invoice(number="SUPA-2026-10", amount="25.00", start=OCT_1, end=date(2026, 10, 31),
            provider="supabase", currency="USD", attachment=None):  # fmt: skip
    entered = ProviderInvoice(
        provider=provider, invoice_number=number, invoice_date=NOV_1, period_start=start,
        period_end=end, amount=Decimal(amount), currency=currency,
    )  # fmt: skip
    if attachment:
        entered.attachment = SimpleUploadedFile("invoice.pdf", attachment)
    return provider_invoice_save(invoice=entered)


def cell_of(response, provider, month):
    row = next(r for r in response.context["rows"] if r["provider"] == provider)
    return row["cells"][response.context["months"].index(month)]


def test_a_cell_opens_its_rows_the_invoice_counting_and_the_estimates_superseded_by_it(
    admin_client,
):
    daily_costs(provider="supabase", start=OCT_1, end=NOV_1, amount="1.10")
    entered = invoice(attachment=PDF)
    cell = cell_of(admin_client.get(PAGE), "supabase", OCT_1)
    assert parse_qs(urlsplit(cell["url"]).query)["start"] == ["2026-10-01"]

    response = admin_client.get(cell["url"])
    assert response.status_code == 200
    explanation, rows = response.context["explanation"], response.context["rows"]
    assert explanation.total == cell["amount"] == Decimal("25.00")
    assert len(rows) == 32
    first = rows[0]
    assert (first.status, first.source, first.counted) == ("Counts", "Invoice", Decimal("25.00"))
    assert first.counted_days == "2026-10-01 to 2026-10-31"
    assert first.invoice.url == reverse("admin:billing_providerinvoice_change", args=[entered.pk])
    assert first.invoice.attachment_url == reverse(
        "admin:billing_providerinvoice_attachment", args=[entered.pk]
    )
    estimate = rows[1]
    assert (estimate.status, estimate.counted) == ("Superseded", Decimal(0))
    assert estimate.superseded == ["superseded by the entered invoice SUPA-2026-10 on 2026-10-01"]
    page = response.content.decode()
    assert first.invoice.url in page and first.invoice.attachment_url in page
    assert "25.00" in page and "Back to Costs by provider" in page


def test_a_cell_at_the_edge_of_a_range_opens_only_the_range_days(admin_client):
    daily_costs(provider="openai", start=OCT_1, end=NOV_1, amount="2.00", source=Source.API)
    daily_costs(provider="openai", start=OCT_1, end=NOV_1, amount="2.50", source=Source.USAGE)
    response = admin_client.get(PAGE, {"start": "2026-10-10", "end": "2026-11-05"})
    cell = cell_of(response, "openai", OCT_1)
    query = parse_qs(urlsplit(cell["url"]).query)
    assert (query["start"], query["end"]) == (["2026-10-10"], ["2026-10-31"])

    drill = admin_client.get(cell["url"])
    assert drill.context["explanation"].total == cell["amount"] == Decimal("44.00")
    usage = [r for r in drill.context["rows"] if r.source == "Computed"]
    assert len(usage) == 22
    assert usage[0].superseded[0].startswith("superseded by what the provider billed (API)")
    back = drill.context["back_url"]
    assert parse_qs(urlsplit(back).query)["start"] == ["2026-10-10"]


def test_the_total_equals_the_cell_with_a_credit_note_and_euros(admin_client):
    exchange_rate_set(day=date(2026, 9, 1), currency="EUR", rate=Decimal("1.0813"))
    daily_costs(provider="weaviate", start=OCT_1, end=NOV_1, amount="0.97")
    invoice(number="W-10", amount="77.77", provider="weaviate", currency="EUR")
    credit = ProviderInvoice(
        provider="weaviate", invoice_number="W-CN", invoice_date=NOV_1, kind="credit_note",
        period_start=date(2026, 10, 5), period_end=date(2026, 10, 5), amount=Decimal("3.00"),
    )  # fmt: skip
    provider_invoice_save(invoice=credit)
    cell = cell_of(admin_client.get(PAGE), "weaviate", OCT_1)
    response = admin_client.get(CELL, {"provider": "weaviate", "month": "2026-10"})
    assert response.context["explanation"].total == cell["amount"]
    assert cell["amount"] == Decimal("81.09")  # 77.77 EUR * 1.0813 = 84.093..., less 3.00


def test_the_downloads_hold_the_same_rows_and_total(admin_client):
    daily_costs(provider="supabase", start=OCT_1, end=NOV_1, amount="1.10")
    invoice(amount="25.00", start=date(2026, 10, 20), end=date(2026, 10, 31))
    query = {"provider": "supabase", "month": "2026-10"}
    cell = cell_of(admin_client.get(PAGE), "supabase", OCT_1)
    assert cell["amount"] == Decimal("45.90")  # 19 days of 1.10, then the invoice

    response = admin_client.get(reverse("admin:cost_cell_csv"), query)
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["Status", "Source", "Service"] and rows[0][8] == "Counted (USD)"
    assert len(rows) == 1 + 32 + 1
    assert sum(Decimal(r[8]) for r in rows[1:-1]) == Decimal(rows[-1][8]) == Decimal("45.90")
    assert rows[-1][0] == "Total"

    response = admin_client.get(reverse("admin:cost_cell_xlsx"), query)
    sheet = load_workbook(io.BytesIO(response.content)).active
    values = list(sheet.values)
    header = values.index(next(v for v in values if v and v[0] == "Status"))
    assert values[-1][0] == "Total" and Decimal(str(values[-1][8])) == Decimal("45.90")
    assert sum(Decimal(str(v[8])) for v in values[header + 1 : -1]) == Decimal("45.90")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"provider": "aws", "month": "2026-10"}, "No provider 'aws'"),
        ({"month": "2026-10"}, "Name one provider"),
        ({"provider": "supabase,weaviate", "month": "2026-10"}, "Name one provider"),
        ("provider=%ED%A0%80&month=2026-10", "is not a name"),  # a lone surrogate's bytes
        ("provider=supabase&month=%ED%A0%80", "not a month"),
        ("provider=supabase&start=2026-10-01&end=%ED%A0%80", "not a date"),
        ("provider=supabase&provider=weaviate&month=2026-10", "Name one provider"),
        ("provider=supabase&month=2026-10&month=2026-11", "given 2 times"),
        ({"provider": "supabase", "month": "2026-13"}, "not a month"),
        ({"provider": "supabase", "month": "0001-01"}, "not a month"),
        ({"provider": "supabase", "month": "9" * 400}, "not a month"),
        ({"provider": "supabase", "start": "2026-10-01"}, "end is missing"),
        ({"provider": "supabase", "start": "2026-10-31", "end": "2026-10-01"}, "before start"),
        ({"provider": "supabase", "start": "0001-01-01", "end": "2026-10-01"}, "outside"),
        ({"provider": "supabase", "start": "2020-01-01", "end": "2026-10-01"}, "three years"),
        ({"provider": "supabase", "start": "yesterday", "end": "2026-10-01"}, "not a date"),
        ({"provider": "supabase", "month": "2026-10", "start": "2026-10-01"}, "not both"),
    ],
)
def test_bad_parameters_are_said_never_a_500(admin_client, query, field):
    raw = query if isinstance(query, str) else urlencode(query)
    response = admin_client.get(f"{CELL}?{raw}")
    assert response.status_code == 400
    assert any(field in problem for problem in response.context["errors"]), response.context
    assert field in response.content.decode().replace("&#x27;", "'")
    for download in ("admin:cost_cell_csv", "admin:cost_cell_xlsx"):
        refused = admin_client.get(f"{reverse(download)}?{raw}")
        assert refused.status_code == 400 and field in refused.content.decode()


def test_a_nul_is_refused_before_the_page(admin_client):
    assert admin_client.get(f"{CELL}?provider=supa%00base&month=2026-10").status_code == 400


def test_the_link_back_keeps_only_the_period(admin_client):
    response = admin_client.get(
        CELL, {"provider": "supabase", "month": "2026-10", "back": "period=ytd&next=//evil.test"}
    )
    assert response.context["back_url"] == f"{PAGE}?period=ytd"
    response = admin_client.get(
        CELL, {"provider": "supabase", "month": "2026-10", "back": "start=<script>"}
    )
    assert response.context["back_url"] == PAGE


def test_viewers_may_look_other_staff_may_not(client, staff_user, viewer_user):
    invoice()
    query = {"provider": "supabase", "month": "2026-10"}
    client.force_login(staff_user)
    for name in ("admin:cost_cell", "admin:cost_cell_csv", "admin:cost_cell_xlsx"):
        assert client.get(reverse(name), query).status_code == 403
    client.force_login(viewer_user)
    response = client.get(CELL, query)
    assert response.status_code == 200
    assert response.context["explanation"].total == Decimal("25.00")


def test_overlapping_invoices_are_marked_on_their_cells_and_named(admin_client):
    invoice()
    invoice(number="SUPA-ADDON", amount="10.00", start=date(2026, 10, 15),
            end=date(2026, 11, 14))  # fmt: skip
    invoice(number="SUPA-2026-09", start=date(2026, 9, 1), end=date(2026, 9, 30))
    response = admin_client.get(PAGE)
    october, november = cell_of(response, "supabase", OCT_1), cell_of(response, "supabase", NOV_1)
    assert october["overlaps"] == [
        "SUPA-2026-10 (2026-10-01 to 2026-10-31) and SUPA-ADDON (2026-10-15 to 2026-11-14) "
        "overlap on 2026-10-15 to 2026-10-31"
    ]
    assert november["overlaps"] == []  # SUPA-ADDON alone in November
    assert cell_of(response, "supabase", date(2026, 9, 1))["overlaps"] == []
    assert 'class="ledger-overlap" title="Overlapping invoices, both counted: SUPA-2026-10' in (
        response.content.decode()
    )
    drill = admin_client.get(october["url"])
    assert "SUPA-ADDON" in drill.context["overlaps"][0]


def test_a_provider_only_the_ledger_knows_can_be_opened(admin_client):
    cost_entries_upsert(entries=[cost_entry(provider="fly-io", day=OCT_1, amount="4.00")])
    response = admin_client.get(CELL, {"provider": "fly-io", "month": "2026-10"})
    assert response.status_code == 200
    assert response.context["explanation"].total == Decimal("4.00")

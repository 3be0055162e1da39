"""The cost ledger as a FOCUS 1.2 CSV: the spec's mandatory columns, what counts of the ledger,
its sums equal to Costs by provider for the same range."""

import csv
import io
from collections import defaultdict
from datetime import date
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse

from billing.models import ProviderInvoice
from billing.services import provider_invoice_save
from costledger.models import Source
from costledger.services import cost_entries_upsert, exchange_rate_set
from tests.factories import cost_entry, daily_costs

pytestmark = pytest.mark.django_db
URL = reverse("admin:focus_csv")
OCT_1, NOV_1 = date(2026, 10, 1), date(2026, 11, 1)
# FOCUS 1.2: the 21 columns of feature level "Mandatory", and InvoiceId (recommended).
MANDATORY = [
    "BilledCost", "BillingAccountId", "BillingAccountName", "BillingCurrency",
    "BillingPeriodEnd", "BillingPeriodStart", "ChargeCategory", "ChargeClass",
    "ChargeDescription", "ChargePeriodEnd", "ChargePeriodStart", "ContractedCost",
    "EffectiveCost", "InvoiceIssuerName", "ListCost", "PricingQuantity", "PricingUnit",
    "ProviderName", "PublisherName", "ServiceCategory", "ServiceName",
]  # fmt: skip
HEADER = [
    "BilledCost", "BillingAccountId", "BillingAccountName", "BillingCurrency",
    "BillingPeriodEnd", "BillingPeriodStart", "ChargeCategory", "ChargeClass",
    "ChargeDescription", "ChargePeriodEnd", "ChargePeriodStart", "ContractedCost",
    "EffectiveCost", "InvoiceId", "InvoiceIssuerName", "ListCost", "PricingQuantity",
    "PricingUnit", "ProviderName", "PublisherName", "ServiceCategory", "ServiceName",
    "x_Source", "x_Reference", "x_Category", "x_CostEntryId", "x_EntryChargePeriodStart",
    "x_EntryChargePeriodEnd", "x_EntryBilledCost", "x_ReportingCurrency",
    "x_EffectiveCostInReportingCurrency",
]  # fmt: skip


@pytest.fixture(autouse=True)
def _today():
    with time_machine.travel("2026-11-21 09:00:00+00:00", tick=False):
        yield


def enter(provider, number, amount, start, end, currency="USD", kind="invoice"):
    return provider_invoice_save(
        invoice=ProviderInvoice(
            provider=provider, invoice_number=number, invoice_date=NOV_1, kind=kind,
            period_start=start, period_end=end, amount=Decimal(amount), currency=currency,
        )
    )  # fmt: skip


@pytest.fixture
def ledger(db):
    """Supabase: estimates of 1.00 a day, an invoice of 31.00 for Oct 16 to Nov 15 over them.
    Weaviate: 62.00 EUR for October at 1.5. OpenAI: 3.00 billed on Oct 5 for 120,000 tokens
    and a credit note of 5.00 for October."""
    exchange_rate_set(day=date(2026, 9, 1), currency="EUR", rate=Decimal("1.5"))
    daily_costs(provider="supabase", start=date(2026, 9, 1), end=date(2026, 11, 30), amount="1")
    enter("supabase", "SUPA-1", "31.00", date(2026, 10, 16), date(2026, 11, 15))
    enter("weaviate", "W-10", "62.00", OCT_1, date(2026, 10, 31), currency="EUR")
    billed = cost_entry(provider="openai", day=date(2026, 10, 5), amount="3.00",
                        source=Source.API, service="gpt-4o")  # fmt: skip
    billed.quantity, billed.unit = Decimal(120000), "tokens"
    cost_entries_upsert(entries=[billed])
    enter("openai", "CN-1", "5.00", OCT_1, date(2026, 10, 31), kind="credit_note")


def focus(client, **query):
    response = client.get(URL, query)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    text = response.content.decode("utf-8")
    assert not text.startswith("\ufeff")  # FinOps tools read the header's first name as is
    return list(csv.DictReader(io.StringIO(text))), text.splitlines()[0].split(",")


def test_the_header_is_focus_1_2s_mandatory_columns_then_ours(admin_client, ledger):
    rows, header = focus(admin_client, start="2026-10-01", end="2026-10-31")
    assert header == HEADER
    assert set(MANDATORY) <= set(header) and len(MANDATORY) == 21
    assert all(name.startswith("x_") for name in header[len(MANDATORY) + 1 :])


def test_rows_are_what_counts_with_focus_values(admin_client, ledger):
    rows, _ = focus(admin_client, start="2026-10-01", end="2026-10-31")
    # Supabase: Oct 1-15's estimates, then the invoice's Oct 16-31 (its November is not asked);
    # the estimates of Oct 16-31 are superseded: not cost, not rows.
    supabase = [r for r in rows if r["ProviderName"] == "Supabase"]
    assert len(supabase) == 16 and len(rows) == 19
    (invoice,) = [r for r in supabase if r["x_Source"] == "manual"]
    assert invoice == {
        "BilledCost": "16", "BillingAccountId": "supabase", "BillingAccountName": "",
        "BillingCurrency": "USD", "BillingPeriodEnd": "2026-11-01T00:00:00Z",
        "BillingPeriodStart": "2026-10-01T00:00:00Z", "ChargeCategory": "Usage",
        "ChargeClass": "", "ChargeDescription": "Supabase Invoice, entered invoice SUPA-1",
        "ChargePeriodEnd": "2026-11-01T00:00:00Z", "ChargePeriodStart": "2026-10-16T00:00:00Z",
        "ContractedCost": "16", "EffectiveCost": "16", "InvoiceId": "SUPA-1",
        "InvoiceIssuerName": "Supabase", "ListCost": "16", "PricingQuantity": "16",
        "PricingUnit": "Days", "ProviderName": "Supabase", "PublisherName": "Supabase",
        "ServiceCategory": "Databases", "ServiceName": "Invoice", "x_Source": "manual",
        "x_Reference": "SUPA-1", "x_Category": "infrastructure",
        "x_CostEntryId": invoice["x_CostEntryId"],
        "x_EntryChargePeriodStart": "2026-10-16T00:00:00Z",
        "x_EntryChargePeriodEnd": "2026-11-16T00:00:00Z", "x_EntryBilledCost": "31",
        "x_ReportingCurrency": "USD", "x_EffectiveCostInReportingCurrency": "16",
    }  # fmt: skip
    assert {r["ChargePeriodStart"][:10] for r in supabase} == {
        f"2026-10-{d:02d}" for d in range(1, 17)
    }
    (weaviate,) = [r for r in rows if r["ProviderName"] == "Weaviate"]
    assert (weaviate["BilledCost"], weaviate["BillingCurrency"]) == ("62", "EUR")
    assert weaviate["x_EffectiveCostInReportingCurrency"] == "93"
    (billed,) = [r for r in rows if r["x_Source"] == "api"]
    assert (billed["PricingQuantity"], billed["PricingUnit"]) == ("120000", "tokens")
    assert billed["ServiceCategory"] == "AI and Machine Learning"
    assert billed["ChargePeriodEnd"] == "2026-10-06T00:00:00Z" and billed["InvoiceId"] == ""
    (credit,) = [r for r in rows if r["ChargeCategory"] == "Credit"]
    assert (credit["BilledCost"], credit["EffectiveCost"], credit["ListCost"]) == ("-5",) * 3
    assert (credit["PricingQuantity"], credit["PricingUnit"], credit["InvoiceId"]) == (
        "",
        "",
        "CN-1",
    )


def test_a_row_never_spans_two_billing_periods(admin_client, ledger):
    rows, _ = focus(admin_client, start="2026-10-20", end="2026-11-10")
    invoice = [r for r in rows if r["InvoiceId"] == "SUPA-1"]
    assert [(r["ChargePeriodStart"], r["ChargePeriodEnd"], r["BilledCost"]) for r in invoice] == [
        ("2026-10-20T00:00:00Z", "2026-11-01T00:00:00Z", "12"),
        ("2026-11-01T00:00:00Z", "2026-11-11T00:00:00Z", "10"),
    ]
    assert [r["BillingPeriodStart"][:10] for r in invoice] == ["2026-10-01", "2026-11-01"]


@pytest.mark.parametrize(
    ("start", "end"),
    [("2026-10-01", "2026-10-31"), ("2026-09-20", "2026-10-12"), ("2026-10-10", "2026-11-20")],
)
def test_the_sums_equal_costs_by_provider_for_the_same_range(admin_client, ledger, start, end):
    rows, _ = focus(admin_client, start=start, end=end)
    page = admin_client.get(reverse("admin:costs_by_provider"), {"start": start, "end": end})
    expected = {r["name"]: sum((c["amount"] for c in r["cells"] if c), Decimal(0))
                for r in page.context["rows"]}  # fmt: skip
    reporting: dict[str, Decimal] = defaultdict(Decimal)
    billed: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for row in rows:
        reporting[row["ProviderName"]] += Decimal(row["x_EffectiveCostInReportingCurrency"])
        billed[row["ProviderName"], row["BillingCurrency"]] += Decimal(row["EffectiveCost"])
    assert reporting == expected
    for (provider, currency), amount in billed.items():
        if currency == "USD":
            assert amount == expected[provider]


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("start=2026-10-01&end=yesterday", "end"),
        ("start=2026-10-31&end=2026-10-01", "end"),
        ("start=2020-01-01&end=2026-10-01", "end"),
        ("start=0001-01-01&end=2026-10-01", "start"),
        ("start=2026-10-01", "end"),
        ("period=forever", "period"),
        ("start=%ED%A0%80&end=2026-10-01", "start"),
        ("start=2026-10-01&start=2026-10-02&end=2026-10-31", "start"),
        (f"start={'9' * 5000}&end=2026-10-01", "start"),
    ],
)
def test_hostile_parameters_are_refused_naming_them(admin_client, query, named):
    response = admin_client.get(f"{URL}?{query}")
    assert response.status_code == 400
    assert response.content.decode().startswith(f"{named}: ")


def test_a_nul_is_refused_and_the_download_is_for_who_may_view_costs(
    admin_client, client, staff_user, viewer_user
):
    assert admin_client.get(f"{URL}?start=2026-10-01%00&end=2026-10-31").status_code == 400
    client.force_login(staff_user)
    assert client.get(URL).status_code == 403
    client.force_login(viewer_user)
    assert client.get(URL).status_code == 200


def test_costs_by_provider_links_the_focus_csv_of_its_period(admin_client):
    cost_entries_upsert(entries=[cost_entry(day=date(2026, 8, 3), amount="1.00")])
    page = admin_client.get(reverse("admin:costs_by_provider"), {"period": "last_quarter"})
    assert f"{URL}?period=last_quarter" in page.content.decode()

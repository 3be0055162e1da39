"""The same figure on every page for the same range: the Business summary's cards, its charts,
Costs by provider and its XLSX, each cell's drill-down, the FOCUS export, the JSON APIs, for
ranges of every kind (a week, a month to date, a whole month, a quarter, twelve months, a custom
range cut mid-month)."""

import csv
import io
from datetime import date, timedelta
from decimal import Decimal
from urllib.parse import urlsplit

import openpyxl
import pytest
import time_machine
from django.urls import reverse

from billing.models import ProviderInvoice
from billing.services import provider_invoice_save
from costledger.models import RevenueSnapshot, Source
from costledger.providers import Category
from costledger.services import exchange_rate_set
from reports.business_json import business_summary
from reports.periods import period_custom, period_resolve
from tests.factories import daily_costs

pytestmark = pytest.mark.django_db
CATEGORIES = {c.value: c.label for c in Category}
KPI = {c: f"{c}_costs" for c in CATEGORIES}
RANGES = {
    "7d": period_resolve(key="7d", today=date(2026, 11, 21)),
    "this_month": period_resolve(key="this_month", today=date(2026, 11, 21)),
    "last_month": period_resolve(key="last_month", today=date(2026, 11, 21)),
    "last_quarter": period_resolve(key="last_quarter", today=date(2026, 11, 21)),
    "ytd": period_resolve(key="ytd", today=date(2026, 11, 21)),
    "12m": period_resolve(key="12m", today=date(2026, 11, 21)),
    "custom": period_custom(start=date(2026, 8, 15), end=date(2026, 10, 10)),
}


@pytest.fixture(autouse=True)
def _today():
    with time_machine.travel("2026-11-21 10:00:00+00:00", tick=False):
        yield


@pytest.fixture
def ledger():
    """A year of every category: Supabase estimates of 1.00 a day, replaced in September by a
    45.00 invoice; OpenAI billed 2.00 a day over its own computed 1.90; a Weaviate invoice of
    31.00 EUR for October at 1.10; Stripe fees 0.50 and Twilio 0.25 a day; an "acme" cost of
    3.00 a day in November (other). MRR 3,100.00 from Jan 1 2026, 3,720.00 from Oct 1."""
    year = (date(2025, 11, 1), date(2026, 11, 22))
    daily_costs(provider="supabase", start=year[0], end=year[1], amount="1.00")
    daily_costs(provider="openai", start=year[0], end=year[1], amount="2.00", source=Source.API)
    daily_costs(provider="openai", start=year[0], end=year[1], amount="1.90", source=Source.USAGE)
    daily_costs(provider="stripe", start=year[0], end=year[1], amount="0.50", source=Source.API)
    daily_costs(provider="twilio", start=year[0], end=year[1], amount="0.25", source=Source.API)
    daily_costs(provider="acme", start=date(2026, 11, 1), end=year[1], amount="3.00")
    for provider, number, first, last, amount, currency in [
        ("supabase", "S-09", date(2026, 9, 1), date(2026, 9, 30), "45.00", "USD"),
        ("weaviate", "W-10", date(2026, 10, 1), date(2026, 10, 31), "31.00", "EUR"),
    ]:
        provider_invoice_save(
            invoice=ProviderInvoice(
                provider=provider, invoice_number=number, invoice_date=last,
                period_start=first, period_end=last, amount=Decimal(amount), currency=currency,
            )
        )  # fmt: skip
    exchange_rate_set(day=date(2026, 1, 1), currency="EUR", rate=Decimal("1.10"))
    for day, mrr in [(date(2026, 1, 1), "3100.00"), (date(2026, 10, 1), "3720.00")]:
        RevenueSnapshot.objects.create(day=day, currency="USD", mrr=Decimal(mrr))


def _hand_computed(start: date, end: date) -> dict[str, Decimal]:
    """Each category's effective cost over [start, end], day by day, by the ledger's rules."""
    total = dict.fromkeys(CATEGORIES, Decimal(0))
    day = start
    while day <= end:
        if date(2025, 11, 1) <= day <= date(2026, 11, 21):
            supabase = Decimal("1.50") if day.month == 9 and day.year == 2026 else Decimal(1)
            weaviate = Decimal("1.10") if (day.year, day.month) == (2026, 10) else Decimal(0)
            total["infrastructure"] += supabase + weaviate
            total["llm"] += Decimal(2)  # billed wins over computed, never added to it
            total["payments"] += Decimal("0.50")
            total["communications"] += Decimal("0.25")
            total["other"] += Decimal(3) if day >= date(2026, 11, 1) else Decimal(0)
        day += timedelta(days=1)
    return total


def test_each_category_agrees_across_pages_and_with_a_hand_computation(ledger, admin_client):
    for name, period in RANGES.items():  # one ledger, every range (the ledger takes a while)
        _agree(name, period, admin_client)


def _agree(name, period, admin_client):
    expected = _hand_computed(period.start, period.end)
    query = {"start": period.start.isoformat(), "end": period.end.isoformat()}
    summary = business_summary(period=period)

    # The cards
    cards = {c: Decimal(summary["kpis"][KPI[c]]["value"]) for c in CATEGORIES}
    assert cards == expected, name

    # The chart of costs by category: its points add up to the card, whatever the buckets.
    series = {s["key"]: s["values"] for s in summary["cost_breakdown"]["series"]}
    assert {c: sum(Decimal(v) for v in series[c]) for c in CATEGORIES} == expected
    assert sum(Decimal(v) for v in summary["revenue_vs_costs"]["costs"]) == sum(expected.values())

    # Costs by provider, for the same range: its category rows over the months shown.
    page = admin_client.get(reverse("admin:costs_by_provider"), query)
    rows = {r["label"]: r["amounts"] for r in page.context["category_rows"]}
    for category, label in CATEGORIES.items():
        shown = sum((a for a in rows.get(label, []) if a is not None), Decimal(0))
        assert shown == expected[category], (name, category)

    # Its XLSX: the "by category" sheet, every month column added up.
    book = admin_client.get(reverse("admin:costs_by_provider_xlsx"), query)
    sheet = openpyxl.load_workbook(io.BytesIO(book.content))["by category"]
    header = next(r for r in sheet.iter_rows(values_only=True) if r and r[0] == "category")
    seen = set()
    for row in sheet.iter_rows(min_row=1, values_only=True):
        if row[0] in CATEGORIES.values():
            seen.add(row[0])
            months = [v for h, v in zip(header, row, strict=False) if h[:2] == "20" and v]
            category = next(c for c, label in CATEGORIES.items() if label == row[0])
            shown = sum(Decimal(str(v)) for v in months).quantize(Decimal("0.01"))
            assert shown == expected[category], (name, category, "xlsx")
    assert seen == {CATEGORIES[c] for c, amount in expected.items() if amount}, name

    # Each cell opens rows whose counted amounts add up to the cell.
    drilled = 0
    for row in page.context["rows"]:
        for cell in row["cells"]:
            if cell is None:
                continue
            url = urlsplit(cell["url"])
            drill = admin_client.get(url.path + "?" + url.query)
            counted = sum((r.counted for r in drill.context["rows"]), Decimal(0))
            assert counted == drill.context["explanation"].total == cell["amount"], (name, row)
            drilled += 1
    assert drilled >= 5, name

    # The FOCUS export: what counts, in the reporting currency, per category.
    focus = admin_client.get(reverse("admin:focus_csv"), query).content.decode()
    by_category = dict.fromkeys(CATEGORIES, Decimal(0))
    for line in csv.DictReader(io.StringIO(focus)):
        by_category[line["x_Category"]] += Decimal(line["x_EffectiveCostInReportingCurrency"])
    assert by_category == expected, (name, "focus")

    # The JSON APIs
    api = admin_client.get(reverse("api-business-summary"), query | {"compare": "previous"})
    assert api.json() == business_summary(period=period_custom(start=period.start, end=period.end))  # fmt: skip  # noqa: E501
    days = admin_client.get(reverse("api-infrastructure-costs"), query).json()["items"]
    by_category = dict.fromkeys(CATEGORIES, Decimal(0))
    for item in days:
        for category, amount in item["by_category"].items():
            by_category[category] += Decimal(amount)
    assert by_category == expected, name


def test_revenue_on_the_card_is_the_sum_of_the_chart_and_october_by_hand(ledger):
    """MRR of 3,100.00 in 31-day months accrues 100.00 a day; in 30-day months 103.33...: the
    card rounds the period's sum once, each chart point rounds its own sum."""
    for name in ["last_month", "last_quarter", "12m", "custom"]:
        summary = business_summary(period=RANGES[name])
        points = [Decimal(v) for v in summary["revenue_vs_costs"]["revenue"] if v is not None]
        card = Decimal(summary["kpis"]["revenue"]["value"])
        assert abs(sum(points) - card) <= Decimal("0.005") * len(points), name

    # October: MRR 3,720.00 over 31 days is 120.00 a day, 3,720.00; costs 31 x (1.00 + 1.10
    # + 2.00 + 0.50 + 0.25) = 150.35.
    kpis = business_summary(period=period_custom(start=date(2026, 10, 1), end=date(2026, 10, 31)))["kpis"]  # fmt: skip  # noqa: E501
    assert kpis["revenue"]["value"] == "3720.00"
    assert kpis["net_margin"]["value"] == "3569.65"

"""Which rows make a figure: `cost_entries_explained` tells each cost entry's counted and
superseded days, and its counted amounts add up to the effective cost to the last digit."""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from costledger.models import CostEntry, Source
from costledger.selectors import (
    cost_entries_explained,
    cost_ledger_counted,
    effective_cost_by_day,
    effective_cost_by_months,
)
from costledger.services import cost_entries_upsert, exchange_rate_set
from tests.factories import cost_entry, daily_costs

pytestmark = pytest.mark.django_db
OCT_1, NOV_1 = date(2026, 10, 1), date(2026, 11, 1)


def invoice(*, provider="supabase", number="SUPA-2026-10", amount="25.00", currency="USD",
            start=OCT_1, end=NOV_1, credit=False):  # fmt: skip
    entry = cost_entry(
        provider=provider, day=start, days=(end - start).days, amount=amount, currency=currency,
        source=Source.MANUAL, reference=number, service="Credit note" if credit else "Invoice",
    )  # fmt: skip
    entry.adjustment = credit
    entry.tags = {"provider_invoice_id": 7, "kind": "credit_note" if credit else "invoice"}
    cost_entries_upsert(entries=[entry])
    return CostEntry.objects.get(provider=provider, reference=number)


def cell(provider, start, last):
    """The Costs by provider cell for the days [start, last] (one month)."""
    costs = effective_cost_by_months(start=start, end=last, providers=[provider])
    return costs.by_provider[provider][date(start.year, start.month, 1)]


def explained(provider, start, last):
    return cost_entries_explained(provider=provider, start=start, end=last + timedelta(days=1))


def assert_equals_cell(explanation, provider, start, last):
    month = cell(provider, start, last)
    assert explanation.total == month.amount
    assert explanation.unconverted == month.unconverted


def by_id(explanation):
    return {e.entry["id"]: e for e in explanation.entries}


def test_an_invoice_over_a_month_counts_and_the_estimates_under_it_are_superseded_by_it():
    daily_costs(provider="supabase", start=OCT_1, end=NOV_1, amount="1.10")
    row = invoice(amount="25.00")
    explanation = explained("supabase", OCT_1, date(2026, 10, 31))

    assert explanation.total == Decimal("25.00")
    assert_equals_cell(explanation, "supabase", OCT_1, date(2026, 10, 31))
    first = explanation.entries[0]
    assert first.entry["id"] == row.id and first.status == "counts"
    assert [(p.first_day, p.last_day) for p in first.counting] == [(OCT_1, date(2026, 10, 31))]
    estimates = explanation.entries[1:]
    assert len(estimates) == 31
    for estimate in estimates:
        assert estimate.status == "superseded" and estimate.counted == 0
        (part,) = estimate.superseded
        assert part.superseded_by == "manual"
        assert part.superseded_by_entries == (row.id,)
        assert part.amount == Decimal("1.10")


def test_api_rows_supersede_usage_on_the_same_days_and_events_supersede_prometheus():
    day = date(2026, 10, 5)
    cost_entries_upsert(
        entries=[
            cost_entry(provider="openai", day=day, amount="3.00", source=Source.API,
                       service="gpt-4o"),
            cost_entry(provider="openai", day=day, amount="0.50", source=Source.API,
                       service="gpt-4o-mini"),
            cost_entry(provider="openai", day=day, amount="3.40", source=Source.USAGE,
                       service="gpt-4o", reference="events"),
            cost_entry(provider="openai", day=day + timedelta(days=1), amount="2.00",
                       source=Source.USAGE, service="gpt-4o", reference="events"),
            cost_entry(provider="openai", day=day + timedelta(days=1), amount="2.20",
                       source=Source.USAGE, service="gpt-4o", reference="prometheus"),
        ]
    )  # fmt: skip
    explanation = explained("openai", day, day + timedelta(days=1))

    assert explanation.total == Decimal("5.50")  # 3.00 + 0.50 billed, then 2.00 from events
    assert_equals_cell(explanation, "openai", day, day + timedelta(days=1))
    api_ids = set(CostEntry.objects.filter(source=Source.API).values_list("id", flat=True))
    status = {(e.entry["source"], e.entry["reference"], e.entry["charge_period_start"]): e
              for e in explanation.entries}  # fmt: skip
    usage_day_1 = status["usage", "events", day]
    assert usage_day_1.status == "superseded"
    assert usage_day_1.superseded[0].superseded_by == "api"
    assert set(usage_day_1.superseded[0].superseded_by_entries) == api_ids
    prometheus = status["usage", "prometheus", day + timedelta(days=1)]
    assert prometheus.superseded[0].superseded_by == "usage"
    assert status["usage", "events", day + timedelta(days=1)].counted == Decimal("2.00")


def test_a_credit_note_counts_on_top_of_the_estimates():
    daily_costs(provider="supabase", start=OCT_1, end=NOV_1, amount="1.00")
    credit = invoice(number="CN-1", amount="-5.00", credit=True)
    explanation = explained("supabase", OCT_1, date(2026, 10, 31))

    assert explanation.total == Decimal("26.00")
    assert_equals_cell(explanation, "supabase", OCT_1, date(2026, 10, 31))
    assert by_id(explanation)[credit.id].counted == Decimal("-5.00")
    assert all(e.status == "counts" for e in explanation.entries)


def test_an_invoice_in_euros_counts_converted_at_the_days_rates():
    exchange_rate_set(day=date(2026, 9, 1), currency="EUR", rate=Decimal("1.08"))
    exchange_rate_set(day=date(2026, 10, 16), currency="EUR", rate=Decimal("1.1"))
    daily_costs(provider="weaviate", start=OCT_1, end=NOV_1, amount="2.00")
    row = invoice(provider="weaviate", number="W-10", amount="100.00", currency="EUR")
    explanation = explained("weaviate", OCT_1, date(2026, 10, 31))

    # 100.00 EUR over 31 days: 3.23 on the first 18, 3.22 on the other 13. Oct 1-15 at 1.08:
    # 15 * 3.23 * 1.08 = 52.326; Oct 16-31 at 1.1: (3 * 3.23 + 13 * 3.22) * 1.1 = 56.705;
    # 109.031, rounded as a whole (the converted pieces keep that sum).
    assert explanation.total == Decimal("109.03")
    assert_equals_cell(explanation, "weaviate", OCT_1, date(2026, 10, 31))
    assert by_id(explanation)[row.id].counted_billed == Decimal("100.00")
    assert not explanation.unconverted and not explanation.missing_rates


def test_an_invoice_without_a_rate_is_left_unconverted_and_said_so():
    row = invoice(provider="weaviate", number="W-10", amount="100.00", currency="EUR")
    explanation = explained("weaviate", OCT_1, date(2026, 10, 31))

    assert explanation.total == Decimal(0)
    assert explanation.unconverted == {"EUR": Decimal("100.00")}
    assert by_id(explanation)[row.id].unconverted == Decimal("100.00")
    assert [(m.currency, m.first_day, m.last_day) for m in explanation.missing_rates] == [
        ("EUR", OCT_1, date(2026, 10, 31))
    ]
    assert_equals_cell(explanation, "weaviate", OCT_1, date(2026, 10, 31))


def test_a_rate_from_mid_month_converts_only_the_days_after_it():
    exchange_rate_set(day=date(2026, 10, 21), currency="EUR", rate=Decimal("1.5"))
    invoice(provider="weaviate", number="W-10", amount="31.00", currency="EUR")
    explanation = explained("weaviate", OCT_1, date(2026, 10, 31))

    assert explanation.total == Decimal("16.50")  # 11 days of 1.00 EUR at 1.5
    assert explanation.unconverted == {"EUR": Decimal("20.00")}
    assert_equals_cell(explanation, "weaviate", OCT_1, date(2026, 10, 31))


def test_a_range_clipping_the_month_counts_only_its_days():
    daily_costs(provider="supabase", start=date(2026, 9, 25), end=NOV_1, amount="0.40")
    row = invoice(amount="30.00", start=date(2026, 10, 6), end=NOV_1)  # 26 days
    start, last = date(2026, 10, 1), date(2026, 10, 10)
    explanation = explained("supabase", start, last)

    # Oct 1-5: five estimates of 0.40; Oct 6-10: the invoice's 30.00 over 26 days is 1.16 on
    # the first 10 days and 1.15 on the other 16 -> 5 * 1.16 = 5.80.
    assert explanation.total == Decimal("7.80")
    assert_equals_cell(explanation, "supabase", start, last)
    counted = by_id(explanation)[row.id]
    assert [(p.first_day, p.last_day) for p in counted.counting] == [(date(2026, 10, 6), last)]
    assert counted.counted == Decimal("5.80")
    assert len(explanation.entries) == 11  # the invoice and Oct 1-10's estimates


def test_entries_summed_as_one_group_share_its_figure_exactly():
    """Two services of one period, source and reference are cut into daily pieces together:
    their shares of a partly superseded month add up to the cell."""
    cost_entries_upsert(
        entries=[
            cost_entry(provider="digitalocean", day=OCT_1, days=31, amount="10.00",
                       source=Source.API, service="Apps", reference="INV-DO-10"),
            cost_entry(provider="digitalocean", day=OCT_1, days=31, amount="20.01",
                       source=Source.API, service="Databases", reference="INV-DO-10"),
        ]
    )  # fmt: skip
    invoice(provider="digitalocean", number="DO-FIX", amount="7.00",
            start=date(2026, 10, 20), end=date(2026, 10, 27))  # fmt: skip
    start, last = date(2026, 10, 3), date(2026, 10, 29)
    explanation = explained("digitalocean", start, last)

    assert_equals_cell(explanation, "digitalocean", start, last)
    api = [e for e in explanation.entries if e.entry["source"] == "api"]
    assert {e.status for e in api} == {"partly"}
    assert [(p.first_day, p.last_day) for p in api[0].superseded] == [
        (date(2026, 10, 20), date(2026, 10, 26))
    ]
    total = effective_cost_by_day(start=start, end=last + timedelta(days=1)).days
    assert explanation.total == sum((d.amount for d in total), Decimal(0))


def test_the_counted_ledger_adds_up_to_the_effective_cost_per_provider():
    exchange_rate_set(day=date(2026, 9, 1), currency="EUR", rate=Decimal("1.0837"))
    daily_costs(provider="supabase", start=date(2026, 9, 20), end=NOV_1, amount="1.10")
    invoice(amount="25.00", start=date(2026, 9, 15), end=date(2026, 10, 15))
    invoice(provider="weaviate", number="W-10", amount="99.99", currency="EUR")
    start, end = date(2026, 9, 22), date(2026, 10, 31)
    ledger = cost_ledger_counted(start=start, end=end)
    daily = effective_cost_by_day(start=start, end=end)

    for provider in ("supabase", "weaviate"):
        parts = [p for p in ledger.parts if ledger.entries[p.entry_id]["provider"] == provider]
        expected = sum((d.amount for d in daily.days if d.provider == provider), Decimal(0))
        assert sum((p.converted for p in parts), Decimal(0)) == expected
        assert all(p.first_day.month == p.last_day.month for p in parts)  # cut at month ends

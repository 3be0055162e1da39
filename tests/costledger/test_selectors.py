from datetime import date
from decimal import Decimal

import pytest

from costledger.models import Source
from costledger.selectors import effective_cost_by_day, effective_cost_by_month
from costledger.services import cost_entries_upsert, exchange_rate_set
from tests.factories import cost_entry, daily_costs

pytestmark = pytest.mark.django_db
OCT_1, NOV_1 = date(2026, 10, 1), date(2026, 11, 1)


def by_day(costs):
    return {(c.provider, c.day): c for c in costs.days}


def test_highest_source_wins_per_provider_and_day_and_lower_ones_are_not_added():
    day = date(2026, 10, 3)
    cost_entries_upsert(
        entries=[
            cost_entry(day=day, amount="1.00", source=Source.ESTIMATE),
            cost_entry(day=day, amount="2.00", source=Source.USAGE),
            cost_entry(day=day, amount="3.00", source=Source.API),
            cost_entry(provider="weaviate", day=day, amount="4.00", source=Source.ESTIMATE),
            cost_entry(provider="weaviate", day=day, amount="5.00", source=Source.USAGE),
        ]
    )
    costs = by_day(effective_cost_by_day(start=day, end=date(2026, 10, 4)))
    assert (costs["supabase", day].amount, costs["supabase", day].source) == (
        Decimal("3.00"),
        "api",
    )
    assert (costs["weaviate", day].amount, costs["weaviate", day].source) == (
        Decimal("5.00"),
        "usage",
    )


def test_all_charges_of_the_winning_source_are_summed():
    day = date(2026, 10, 3)
    cost_entries_upsert(
        entries=[
            cost_entry(
                provider="digitalocean", day=day, amount="1.25", source=Source.API, service="Apps"
            ),
            cost_entry(
                provider="digitalocean", day=day, amount="0.75", source=Source.API, service="DB"
            ),
            cost_entry(provider="digitalocean", day=day, amount="9.00", source=Source.ESTIMATE),
        ]
    )
    cost = by_day(effective_cost_by_day(start=day, end=date(2026, 10, 4)))["digitalocean", day]
    assert cost.amount == Decimal("2.00")
    assert cost.by_category == {"infrastructure": Decimal("2.00")}


def test_a_monthly_invoice_replaces_the_daily_estimates_and_sums_exactly():
    daily_costs(provider="supabase", start=OCT_1, end=NOV_1, amount="1.10")
    cost_entries_upsert(
        entries=[cost_entry(day=OCT_1, days=31, amount="25.00", source=Source.MANUAL)]
    )
    costs = effective_cost_by_day(start=OCT_1, end=NOV_1)
    assert len(costs.days) == 31
    assert {c.source for c in costs.days} == {"manual"}
    assert sum(c.amount for c in costs.days) == Decimal("25.00")
    assert {c.amount for c in costs.days} == {Decimal("0.81"), Decimal("0.80")}


def test_an_invoice_covering_part_of_the_month_leaves_estimates_on_the_other_days():
    daily_costs(provider="supabase", start=OCT_1, end=NOV_1, amount="1.00")
    cost_entries_upsert(
        entries=[cost_entry(day=date(2026, 10, 16), days=16, amount="16.00", source=Source.MANUAL)]
    )
    month = effective_cost_by_month(last_month=OCT_1, months=1)
    cell = month.by_provider["supabase"][OCT_1]
    assert cell.amount == Decimal("15.00") + Decimal("16.00")
    assert cell.sources == {"manual", "estimate"}


def test_an_invoice_across_the_window_boundary_counts_only_its_days_inside():
    # 20 Sep .. 19 Oct, 30 days of 1.00 each: 19 of them fall in October.
    cost_entries_upsert(
        entries=[cost_entry(day=date(2026, 9, 20), days=30, amount="30.00", source=Source.MANUAL)]
    )
    october = effective_cost_by_day(start=OCT_1, end=NOV_1)
    september = effective_cost_by_day(start=date(2026, 9, 1), end=OCT_1)
    assert sum(c.amount for c in october.days) == Decimal("19.00")
    assert sum(c.amount for c in september.days) == Decimal("11.00")


def test_two_overlapping_invoices_of_one_provider_both_count():
    cost_entries_upsert(
        entries=[
            cost_entry(day=OCT_1, days=31, amount="25.00", source=Source.MANUAL, reference="A-1"),
            cost_entry(day=OCT_1, days=31, amount="10.00", source=Source.MANUAL, reference="A-2"),
        ]
    )
    cell = effective_cost_by_month(last_month=OCT_1, months=1).by_provider["supabase"][OCT_1]
    assert cell.amount == Decimal("35.00")


def test_costs_are_converted_with_the_rate_in_force_on_each_day():
    exchange_rate_set(day=date(2026, 9, 30), currency="EUR", rate=Decimal("1.10"))
    exchange_rate_set(day=date(2026, 10, 2), currency="EUR", rate=Decimal("1.20"))
    cost_entries_upsert(
        entries=[
            cost_entry(day=OCT_1, amount="10.00", currency="EUR"),
            cost_entry(day=date(2026, 10, 2), amount="10.00", currency="EUR"),
        ]
    )
    costs = by_day(effective_cost_by_day(start=OCT_1, end=date(2026, 10, 3)))
    assert costs["supabase", OCT_1].amount == Decimal("11.00")
    assert costs["supabase", date(2026, 10, 2)].amount == Decimal("12.00")


def test_a_missing_rate_is_reported_never_taken_as_one():
    cost_entries_upsert(
        entries=[
            cost_entry(day=OCT_1, amount="10.00", currency="GBP", service="A"),
            cost_entry(day=OCT_1, amount="5.00", currency="USD", service="B"),
        ]
    )
    costs = effective_cost_by_day(start=OCT_1, end=date(2026, 10, 2))
    cost = costs.days[0]
    assert cost.amount == Decimal("5.00")
    assert cost.unconverted == {"GBP": Decimal("10.00")}
    assert not cost.complete
    assert [(m.currency, m.first_day, m.last_day) for m in costs.missing_rates] == [
        ("GBP", OCT_1, OCT_1)
    ]


def test_a_rate_dated_after_the_day_does_not_apply():
    exchange_rate_set(day=date(2026, 10, 2), currency="EUR", rate=Decimal("1.20"))
    cost_entries_upsert(entries=[cost_entry(day=OCT_1, amount="10.00", currency="EUR")])
    assert effective_cost_by_day(start=OCT_1, end=date(2026, 10, 2)).missing_rates


def test_monthly_costs_give_totals_per_month_and_category():
    daily_costs(provider="supabase", start=OCT_1, end=NOV_1, amount="1.00")
    daily_costs(provider="openai", start=OCT_1, end=NOV_1, amount="2.00", source=Source.API)
    daily_costs(
        provider="twilio", start=date(2026, 9, 1), end=OCT_1, amount="0.50", source=Source.API
    )
    months = effective_cost_by_month(last_month=OCT_1, months=2)
    sep = date(2026, 9, 1)
    assert months.months == [sep, OCT_1]
    assert months.totals[OCT_1].amount == Decimal("93.00")
    assert months.totals[sep].amount == Decimal("15.00")
    assert months.by_category() == {
        "infrastructure": {OCT_1: Decimal("31.00")},
        "llm": {OCT_1: Decimal("62.00")},
        "communications": {sep: Decimal("15.00")},
    }


def test_six_months_end_with_the_given_month_across_a_year_boundary():
    months = effective_cost_by_month(last_month=date(2027, 2, 1), months=6)
    assert months.months[0] == date(2026, 9, 1)
    assert months.months[-1] == date(2027, 2, 1)


def test_event_usage_wins_over_prometheus_usage_for_the_same_day():
    day = date(2026, 10, 3)
    cost_entries_upsert(
        entries=[
            cost_entry(
                provider="openai",
                day=day,
                amount="2.00",
                source=Source.USAGE,
                service="gpt-4o",
                reference="events",
            ),
            cost_entry(
                provider="openai",
                day=day,
                amount="1.90",
                source=Source.USAGE,
                service="gpt-4o",
                reference="prometheus",
            ),
            cost_entry(
                provider="openai",
                day=date(2026, 10, 4),
                amount="1.50",
                source=Source.USAGE,
                service="gpt-4o",
                reference="prometheus",
            ),
        ]
    )
    costs = by_day(effective_cost_by_day(start=day, end=date(2026, 10, 5)))
    assert (costs["openai", day].amount, costs["openai", day].source) == (Decimal("2.00"), "usage")
    assert costs["openai", date(2026, 10, 4)].amount == Decimal("1.50")

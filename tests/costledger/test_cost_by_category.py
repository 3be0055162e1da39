"""effective_cost_by_category adds up most providers in the database (those whose charges in
the range are each one day in the reporting currency) and the others in Python: whatever the
ledger and the range, its figures are effective_cost_by_day's, added up per day and category."""

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from costledger.models import CostEntry, Source
from costledger.providers import provider_category
from costledger.selectors import effective_cost_by_category, effective_cost_by_day
from costledger.services import cost_entries_upsert, exchange_rate_set
from tests.factories import cost_entry

START = date(2026, 3, 1)
DAYS = 75  # past the end of April, so that spans and ranges cross months
PROVIDERS = ["openai", "anthropic", "digitalocean", "stripe", "weaviate"]


def added_up(costs) -> tuple[dict, dict, bool]:
    """effective_cost_by_day per (day, category), its unconverted currencies per (day, the
    provider's category), and whether it has any day: what effective_cost_by_category keeps."""
    amounts: dict = defaultdict(Decimal)
    unconverted: dict = defaultdict(set)
    for cost in costs.days:
        for category, amount in cost.by_category.items():
            amounts[(cost.day, category)] += amount
        if cost.unconverted:
            unconverted[(cost.day, provider_category(cost.provider))] |= set(cost.unconverted)
    return dict(amounts), dict(unconverted), bool(costs.days)


def assert_same(start: date, end: date) -> None:
    fast = effective_cost_by_category(start=start, end=end)
    amounts, unconverted, recorded = added_up(effective_cost_by_day(start=start, end=end))
    assert fast.by_category == amounts, (start, end)
    assert fast.unconverted == unconverted, (start, end)
    assert fast.any_recorded == recorded, (start, end)
    assert fast.missing_rates == effective_cost_by_day(start=start, end=end).missing_rates


SOURCES = [Source.MANUAL, Source.API, Source.USAGE, Source.ESTIMATE]
DAILY = ["openai", "anthropic", "digitalocean", "stripe"]  # mostly one day in USD: read in SQL
WHOLE = ["weaviate", "supabase"]  # invoices and other currencies: read in Python


@st.composite
def charge(draw):
    provider = draw(st.sampled_from(DAILY + WHOLE))
    if provider in WHOLE or draw(st.integers(0, 30)) == 0:  # now and then a daily one spreads
        days = draw(st.sampled_from([1, 2, 30, 31]))
        currency = draw(st.sampled_from(["USD", "EUR", "JPY"]))
    else:
        days, currency = 1, "USD"
    # A few days around month ends, so that feeds meet on the same day and spans cross them.
    source = draw(st.sampled_from(SOURCES))
    first = draw(st.sampled_from([0, 1, 30, 31, 32, 60, 61, DAYS - 1]) | st.integers(0, DAYS - 1))
    return (
        provider,
        first,
        days,
        source,
        draw(st.sampled_from(["", "prometheus"] if source == Source.USAGE else ["", "INV-7"])),
        draw(st.integers(0, 4)) == 0,  # adjustment, one time in five
        currency,
        draw(st.decimals(min_value=-50, max_value=5000, places=4, allow_nan=False)),
        draw(st.sampled_from(["llm", "infrastructure", "other"])),  # not always the provider's
    )


entries = st.lists(charge(), min_size=4, max_size=60)


@pytest.mark.django_db
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    charges=entries,
    ranges=st.lists(
        st.tuples(st.integers(-3, DAYS + 3), st.integers(1, DAYS + 6)), min_size=1, max_size=3
    ),  # fmt: skip
    eur_rate_from=st.sampled_from([None, 0, 20]),
)
def test_the_same_figures_as_effective_cost_by_day_for_any_ledger_and_range(
    charges, ranges, eur_rate_from
):
    with transaction.atomic():
        if eur_rate_from is not None:
            exchange_rate_set(day=START + timedelta(days=eur_rate_from), currency="EUR",
                              rate=Decimal("1.0837"))  # fmt: skip
        rows = []
        for n, (provider, first, days, source, reference, adjustment, currency, amount,
                category) in enumerate(charges):  # fmt: skip
            entry = cost_entry(provider=provider, day=START + timedelta(days=first),
                               amount=str(amount), source=source, service=f"s{n % 3}",
                               currency=currency, days=days, reference=reference)  # fmt: skip
            entry.adjustment = adjustment
            entry.category = category
            rows.append(entry)
        CostEntry.objects.bulk_create(rows, ignore_conflicts=True)
        for offset, length in ranges:
            start = START + timedelta(days=offset)
            assert_same(start, start + timedelta(days=length))
        transaction.set_rollback(True)


@pytest.mark.django_db
def test_a_day_of_a_daily_provider_counts_its_highest_feed_with_its_adjustments():
    """Read in the database (every charge of these providers is one day in USD): the events'
    usage over Prometheus's, the bill over both, a credit note added to whichever wins, and a
    credit note alone on its day."""
    day = date(2026, 4, 2)
    cost_entries_upsert(
        entries=[
            cost_entry(provider="openai", day=day, amount="7.00", source=Source.USAGE,
                       reference="prometheus"),
            cost_entry(provider="openai", day=day, amount="5.00", source=Source.USAGE),
            cost_entry(provider="anthropic", day=day, amount="3.00", source=Source.USAGE,
                       reference="prometheus"),
            cost_entry(provider="digitalocean", day=day, amount="2.00", source=Source.USAGE),
            cost_entry(provider="digitalocean", day=day, amount="4.00", source=Source.API,
                       service="App Platform"),
            cost_entry(provider="digitalocean", day=day, amount="1.50", source=Source.API,
                       service="Spaces"),
        ]
    )  # fmt: skip
    credit = cost_entry(provider="digitalocean", day=day, amount="-0.50", source=Source.MANUAL,
                        service="Credit note")  # fmt: skip
    credit.adjustment = True
    alone = cost_entry(provider="stripe", day=day + timedelta(days=1), amount="-2.25",
                       source=Source.MANUAL, service="Refunded fee")  # fmt: skip
    alone.adjustment = True
    CostEntry.objects.bulk_create([credit, alone])

    costs = effective_cost_by_category(start=day, end=day + timedelta(days=2))

    assert costs.by_category == {
        (day, "llm"): Decimal("8.00"),  # openai's events 5.00 + anthropic's Prometheus 3.00
        (day, "infrastructure"): Decimal("5.00"),  # 4.00 + 1.50 billed - 0.50 credited
        (day + timedelta(days=1), "payments"): Decimal("-2.25"),
    }
    assert costs.any_recorded and not costs.unconverted and not costs.missing_rates
    assert_same(day, day + timedelta(days=2))


@pytest.mark.django_db
def test_a_provider_with_an_invoice_or_another_currency_is_read_whole_the_others_summed():
    """Weaviate's month invoice replaces its daily estimates on its days only; a day billed in
    EUR without a rate is left out and said, with the currency, on the provider's category."""
    exchange_rate_set(day=date(2026, 4, 10), currency="EUR", rate=Decimal("1.10"))
    cost_entries_upsert(
        entries=[
            cost_entry(provider="weaviate", day=date(2026, 4, 1), amount="300.00",
                       source=Source.MANUAL, service="Invoice", days=30),
            cost_entry(provider="weaviate", day=date(2026, 3, 31), amount="9.00"),
            cost_entry(provider="weaviate", day=date(2026, 4, 1), amount="9.00"),
            cost_entry(provider="digitalocean", day=date(2026, 4, 9), amount="10.00",
                       source=Source.API, currency="EUR"),
            cost_entry(provider="digitalocean", day=date(2026, 4, 10), amount="10.00",
                       source=Source.API, currency="EUR"),
            cost_entry(provider="openai", day=date(2026, 4, 1), amount="1.25",
                       source=Source.USAGE),
        ]
    )  # fmt: skip

    costs = effective_cost_by_category(start=date(2026, 3, 31), end=date(2026, 4, 11))

    assert costs.by_category[(date(2026, 3, 31), "infrastructure")] == Decimal("9.00")
    assert costs.by_category[(date(2026, 4, 1), "infrastructure")] == Decimal("10.00")
    assert costs.by_category[(date(2026, 4, 1), "llm")] == Decimal("1.25")
    assert costs.by_category[(date(2026, 4, 10), "infrastructure")] == Decimal("21.00")
    assert costs.unconverted == {(date(2026, 4, 9), "infrastructure"): {"EUR"}}
    assert [(m.currency, m.first_day) for m in costs.missing_rates] == [("EUR", date(2026, 4, 9))]
    assert_same(date(2026, 3, 31), date(2026, 4, 11))

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from costledger.models import CostEntry, MetricSample, RevenueSnapshot, Source
from costledger.services import (
    cost_entries_replace,
    cost_entries_upsert,
    metric_samples_upsert,
    revenue_snapshots_upsert,
)
from tests.factories import cost_entry

pytestmark = pytest.mark.django_db
DAY = date(2026, 10, 5)


def test_upserting_the_same_entries_twice_writes_them_once():
    entries = [cost_entry(day=DAY, amount="1.50"), cost_entry(day=DAY, amount="2", service="Disk")]
    cost_entries_upsert(entries=entries)
    cost_entries_upsert(
        entries=[
            cost_entry(day=DAY, amount="1.50"),
            cost_entry(day=DAY, amount="2", service="Disk"),
        ]
    )
    assert CostEntry.objects.count() == 2


def test_upsert_replaces_the_amount_of_an_existing_charge():
    cost_entries_upsert(entries=[cost_entry(day=DAY, amount="1.50")])
    cost_entries_upsert(entries=[cost_entry(day=DAY, amount="1.75")])
    assert CostEntry.objects.get().billed_cost == Decimal("1.75")


def test_a_key_repeated_in_one_batch_is_written_once_last_wins():
    cost_entries_upsert(entries=[cost_entry(day=DAY, amount="1"), cost_entry(day=DAY, amount="3")])
    assert CostEntry.objects.get().billed_cost == Decimal("3")


def test_sources_of_the_same_charge_are_kept_side_by_side():
    cost_entries_upsert(
        entries=[
            cost_entry(day=DAY, amount="1", source=Source.ESTIMATE),
            cost_entry(day=DAY, amount="2", source=Source.MANUAL),
        ]
    )
    assert CostEntry.objects.count() == 2


@pytest.mark.parametrize(
    ("field", "change"),
    [
        ("currency", {"currency": "XYZ"}),
        ("source", {"source": "guess"}),
        ("billed_cost", {"billed_cost": 1.5}),
    ],
)
def test_bad_entries_are_refused_and_nothing_is_written(field, change):
    bad = cost_entry(day=DAY, amount="1")
    for key, value in change.items():
        setattr(bad, key, value)
    with pytest.raises(ValidationError) as excinfo:
        cost_entries_upsert(entries=[cost_entry(day=DAY, amount="1", service="Fine"), bad])
    assert field in excinfo.value.message_dict
    assert CostEntry.objects.count() == 0


def test_the_database_refuses_an_empty_period():
    entry = cost_entry(day=DAY, amount="1")
    entry.charge_period_end = DAY
    with pytest.raises(IntegrityError):
        entry.save()


def test_replace_deletes_charges_that_disappeared_from_the_scope():
    cost_entries_upsert(
        entries=[
            cost_entry(day=DAY, amount="1", service="A"),
            cost_entry(day=DAY, amount="1", service="B"),
        ]
    )
    other_day = cost_entry(day=date(2026, 10, 6), amount="9", service="A")
    cost_entries_upsert(entries=[other_day])
    cost_entries_replace(
        scope={"provider": "supabase", "charge_period_start": DAY},
        entries=[cost_entry(day=DAY, amount="4", service="A")],
    )
    rows = dict(
        CostEntry.objects.values_list("charge_period_start", "billed_cost").order_by(
            "charge_period_start"
        )
    )
    assert CostEntry.objects.count() == 2
    assert rows == {DAY: Decimal("4"), date(2026, 10, 6): Decimal("9")}


def test_metric_samples_are_unique_per_dimensions_whatever_the_key_order():
    def sample(value, dimensions):
        return MetricSample(
            provider="weaviate",
            metric="objects",
            day=DAY,
            dimensions=dimensions,
            value=Decimal(value),
        )

    metric_samples_upsert(samples=[sample(10, {"collection": "Docs", "tenant": "a"})])
    metric_samples_upsert(samples=[sample(12, {"tenant": "a", "collection": "Docs"})])
    metric_samples_upsert(samples=[sample(5, {"collection": "Chunks", "tenant": "a"})])
    assert MetricSample.objects.count() == 2
    assert MetricSample.objects.get(dimensions__collection="Docs").value == 12


def test_revenue_snapshots_upsert_per_day_and_currency():
    def snapshot(mrr):
        return RevenueSnapshot(day=DAY, currency="USD", mrr=Decimal(mrr), active_subscriptions=3)

    revenue_snapshots_upsert(snapshots=[snapshot("100.00")])
    revenue_snapshots_upsert(snapshots=[snapshot("120.00")])
    assert RevenueSnapshot.objects.get().mrr == Decimal("120.00")

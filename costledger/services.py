"""Writes to the ledger. Every writer (collectors, invoices, demo data) goes through these
upserts, so a row is identified by its unique constraint and writing it again replaces it.
"""

import json
from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from costledger.models import (
    COST_ENTRY_KEY,
    CostEntry,
    CustomerMrr,
    CustomerRevenue,
    ExchangeRate,
    MetricSample,
    RevenueSnapshot,
    Source,
)
from costledger.money import is_currency
from costledger.providers import Category

COST_ENTRY_VALUES = (
    "category",
    "adjustment",
    "billed_cost",
    "currency",
    "quantity",
    "unit",
    "tags",
    "sync_run_id",
    "raw",
    "updated_at",
)


def _cost_entry_check(entry: CostEntry) -> None:
    problems = {}
    if not is_currency(entry.currency):
        problems["currency"] = f"{entry.currency!r} is not an ISO 4217 currency code."
    if entry.source not in Source.values:
        problems["source"] = f"{entry.source!r} is not one of {', '.join(Source.values)}."
    if entry.category not in Category.values:
        problems["category"] = f"{entry.category!r} is not one of {', '.join(Category.values)}."
    if entry.charge_period_end <= entry.charge_period_start:
        problems["charge_period_end"] = "The period end (exclusive) must be after its start."
    if not isinstance(entry.billed_cost, Decimal):
        problems["billed_cost"] = "Amounts must be Decimal, never float."
    if problems:
        raise ValidationError(problems)


def _cost_entry_key(entry: CostEntry) -> tuple:
    return tuple(getattr(entry, field) for field in COST_ENTRY_KEY)


@transaction.atomic
def cost_entries_upsert(*, entries: Iterable[CostEntry]) -> int:
    """Insert or update cost entries on their unique key. Returns how many were written."""
    # One row per key: PostgreSQL refuses an ON CONFLICT that touches the same row twice.
    unique = {}
    for entry in entries:
        _cost_entry_check(entry)
        unique[_cost_entry_key(entry)] = entry
    rows = list(unique.values())
    if not rows:
        return 0
    CostEntry.objects.bulk_create(
        rows,
        batch_size=1000,
        update_conflicts=True,
        unique_fields=COST_ENTRY_KEY,
        update_fields=COST_ENTRY_VALUES,
    )
    return len(rows)


@transaction.atomic
def cost_entries_replace(*, scope: dict, entries: Sequence[CostEntry]) -> int:
    """Make the rows matching `scope` exactly `entries`: upsert them and delete the others.

    A re-run of a day, or an edited invoice, replaces what was there: a charge that disappeared
    from the provider's answer, or an invoice period that shrank, leaves no stale row behind.
    """
    keep = {_cost_entry_key(entry) for entry in entries}
    stale_rows_delete(rows=CostEntry.objects.filter(**scope), key=COST_ENTRY_KEY, keep=keep)
    return cost_entries_upsert(entries=entries)


def stale_rows_delete(*, rows: QuerySet, key: Sequence[str], keep: set[tuple]) -> None:
    """Delete the rows among `rows` whose `key` fields are not one of `keep`: what a writer
    that replaces a whole scope does before upserting the rows it keeps."""
    stale = [pk for pk, *values in rows.values_list("pk", *key) if tuple(values) not in keep]
    rows.model.objects.filter(pk__in=stale).delete()


def dimensions_key(dimensions: dict) -> str:
    return json.dumps(dimensions, sort_keys=True, separators=(",", ":"))


@transaction.atomic
def metric_samples_upsert(*, samples: Iterable[MetricSample]) -> int:
    unique = {}
    for sample in samples:
        sample.dimensions_key = dimensions_key(sample.dimensions or {})
        unique[(sample.provider, sample.metric, sample.day, sample.dimensions_key)] = sample
    rows = list(unique.values())
    MetricSample.objects.bulk_create(
        rows,
        batch_size=1000,
        update_conflicts=True,
        unique_fields=("provider", "metric", "day", "dimensions_key"),
        update_fields=("dimensions", "value", "unit", "sync_run_id", "updated_at"),
    )
    return len(rows)


@transaction.atomic
def revenue_snapshots_upsert(*, snapshots: Iterable[RevenueSnapshot]) -> int:
    rows = list(snapshots)
    for snapshot in rows:
        if not is_currency(snapshot.currency):
            raise ValidationError({"currency": f"{snapshot.currency!r} is not an ISO 4217 code."})
    RevenueSnapshot.objects.bulk_create(
        rows,
        batch_size=1000,
        update_conflicts=True,
        unique_fields=("day", "currency"),
        update_fields=(
            "mrr",
            "active_subscriptions",
            "trialing_subscriptions",
            "new_mrr",
            "churned_mrr",
            "sync_run_id",
            "updated_at",
        ),
    )
    return len(rows)


CUSTOMER_ROW_KEY = ("provider", "customer_ref", "day", "currency")


@transaction.atomic
def customer_revenue_replace_days(
    *, provider: str, start: date, end: date, rows: Sequence[CustomerRevenue]
) -> int:
    """Make `provider`'s customer revenue of the days [start, end) exactly `rows`: a re-run of
    a window replaces what it wrote, a customer with nothing any more loses its rows."""
    return _customer_rows_replace(
        CustomerRevenue,
        CustomerRevenue.objects.filter(provider=provider, day__gte=start, day__lt=end),
        rows,
        ("amount", "paid", "refunded", "invoices", "refunds", "sync_run_id", "updated_at"),
    )


@transaction.atomic
def customer_mrr_replace_day(*, provider: str, day: date, rows: Sequence[CustomerMrr]) -> int:
    """Make `provider`'s per-customer MRR of `day` exactly `rows` (a snapshot replaces the
    day's: a customer whose subscriptions all ended has no row)."""
    return _customer_rows_replace(
        CustomerMrr,
        CustomerMrr.objects.filter(provider=provider, day=day),
        rows,
        ("mrr", "active_subscriptions", "trialing_subscriptions", "sync_run_id", "updated_at"),
    )


def _customer_rows_replace(model, scope: QuerySet, rows: Sequence, fields: tuple) -> int:
    for row in rows:
        if not is_currency(row.currency):
            raise ValidationError({"currency": f"{row.currency!r} is not an ISO 4217 code."})
    keep = {tuple(getattr(row, name) for name in CUSTOMER_ROW_KEY) for row in rows}
    stale_rows_delete(rows=scope, key=CUSTOMER_ROW_KEY, keep=keep)
    model.objects.bulk_create(
        rows,
        batch_size=1000,
        update_conflicts=True,
        unique_fields=CUSTOMER_ROW_KEY,
        update_fields=fields,
    )
    return len(rows)


@transaction.atomic
def exchange_rate_set(*, day: date, currency: str, rate: Decimal, source: str = "manual") -> None:
    if not is_currency(currency):
        raise ValidationError({"currency": f"{currency!r} is not an ISO 4217 currency code."})
    if rate <= 0:
        raise ValidationError({"rate": "A rate must be greater than zero."})
    ExchangeRate.objects.update_or_create(
        day=day, currency=currency, defaults={"rate": rate, "source": source}
    )


EXCHANGE_RATES_LOAD = """
INSERT INTO costledger_exchangerate AS t (day, currency, rate, source, updated_at)
VALUES {values}
ON CONFLICT (day, currency) DO UPDATE SET rate = EXCLUDED.rate, updated_at = EXCLUDED.updated_at
WHERE t.source = EXCLUDED.source AND t.rate <> EXCLUDED.rate"""


@transaction.atomic
def exchange_rates_load(*, rates: Iterable[ExchangeRate]) -> int:
    """Insert a feed's rates, or update the ones the same feed (`source`) wrote before; a rate
    of any other source, above all one an admin entered, is never replaced. Returns the rows
    written (a rate already stored unchanged is not). The condition sits in the statement
    (ON CONFLICT ... WHERE) rather than in a read before it, so that a rate entered by hand
    while a feed loads is not overwritten either."""
    unique = {}
    for rate in rates:
        if not is_currency(rate.currency) or rate.currency == settings.REPORTING_CURRENCY:
            raise ValidationError({"currency": f"{rate.currency!r} cannot have a rate."})
        if rate.rate <= 0:
            raise ValidationError({"rate": "A rate must be greater than zero."})
        unique[(rate.day, rate.currency)] = rate
    rows = list(unique.values())
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    written = 0
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 1000):
            batch = rows[start : start + 1000]
            values = ", ".join(["(%s, %s, %s, %s, %s)"] * len(batch))
            cursor.execute(
                EXCHANGE_RATES_LOAD.format(values=values),
                [v for r in batch for v in (r.day, r.currency, r.rate, r.source, now)],
            )
            written += cursor.rowcount
    return written


def cost_entries_replace_days(
    *, start: date, end: date, entries: Sequence[CostEntry], **scope
) -> int:
    """Make `scope`'s rows charged from the days [start, end) exactly `entries`: a collector's
    re-run of a window replaces what it wrote for those days, never adds to it."""
    return cost_entries_replace(
        scope={**scope, "charge_period_start__gte": start, "charge_period_start__lt": end},
        entries=entries,
    )

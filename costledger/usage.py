"""Writes of LLM usage: raw events, their daily rollups and the day's `usage` cost entries.

An accepted event updates, in the same transaction, the rollup row of its (day, user, provider,
model) and the `usage` CostEntry of its (day, provider, model), so pages never read raw events.
Events are idempotent on event_id (INSERT ... ON CONFLICT DO NOTHING RETURNING): a re-sent
event, even concurrently, is a duplicate and adds nothing anywhere.
"""

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import psycopg
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from costledger.models import (
    CostEntry,
    CostSource,
    LlmUsageDaily,
    LlmUsageEvent,
    LlmUsageSource,
    LlmUsageTagDaily,
    Source,
)
from costledger.pricing import (
    PriceBook,
    PriceMissing,
    TokenUsage,
    price_book_load,
    usage_cost,
)
from costledger.providers import Category

EVENTS_REFERENCE = "events"  # the `reference` of the usage CostEntry rows the events write
COUNTS = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
)


@dataclass
class UsageEvent:
    """A validated event, as the ingest API hands it over."""

    event_id: str
    timestamp: datetime
    provider: str
    model: str
    user_id: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    images: int = 0
    is_error: bool = False
    error_type: str = ""
    latency_ms: int | None = None
    tags: dict | None = None
    cost: Decimal | None = None  # reported by the provider: wins over the price book
    currency: str = "USD"

    @property
    def day(self) -> date:
        return self.timestamp.astimezone(UTC).date()

    @property
    def usage(self) -> TokenUsage:
        return TokenUsage(
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            cache_read_tokens=self.cache_read_tokens,
            cache_write_tokens=self.cache_write_tokens,
            reasoning_tokens=self.reasoning_tokens,
            images=self.images,
        )


def event_cost(event: UsageEvent, book: PriceBook) -> tuple[Decimal | None, str, int | None]:
    """(cost, cost source, price id): the provider's figure, else the price book's, else
    unpriced (cost None, never 0)."""
    if event.cost is not None:
        return event.cost, CostSource.PROVIDER, None
    price = book.price_for(event.provider, event.model, event.day)
    if price is None:
        return None, CostSource.UNPRICED, None
    try:
        cost = usage_cost(usage=event.usage, price=price)
    except PriceMissing:  # e.g. output tokens on a row with no output price: unknown, not 0
        return None, CostSource.UNPRICED, None
    return cost, CostSource.PRICE_BOOK, price.pk


EVENT_COLUMNS = [
    "event_id", "timestamp", "day", "user_id", "provider", "model", *COUNTS, "images",
    "is_error", "error_type", "latency_ms", "tags", "cost", "currency", "cost_source",
    "price_id", "ingest_key", "received_at",
]  # fmt: skip
EVENT_TYPES = [
    "text", "timestamptz", "date", "text", "text", "text", *["bigint"] * len(COUNTS), "integer",
    "boolean", "text", "integer", "jsonb", "numeric", "text", "text", "bigint", "text",
    "timestamptz",
]  # fmt: skip


def _event_row(event: UsageEvent, costed, ingest_key: str, now: datetime) -> tuple:
    cost, cost_source, price_id = costed
    return (
        event.event_id, event.timestamp, event.day, event.user_id, event.provider, event.model,
        *(getattr(event, c) for c in COUNTS), event.images, event.is_error, event.error_type,
        event.latency_ms, json.dumps(event.tags or {}), cost, "USD", cost_source, price_id,
        ingest_key, now,
    )  # fmt: skip


def _bulk_insert(table: str, columns: list[str], types: list[str], rows, suffix: str) -> list:
    """INSERT many rows in one statement and return what `suffix` (ON CONFLICT ... RETURNING)
    returns. On PostgreSQL the rows travel as one array per column through unnest(): the query
    text stays small whatever the batch, which keeps a 1,000-event batch in a few
    milliseconds. Elsewhere (the SQLite quick start), a VALUES list per 500 rows."""
    if not rows:
        return []
    names = ", ".join(columns)
    if connection.vendor == "postgresql":
        # A server-side-binding cursor on Django's own connection (same transaction): the
        # arrays go over in binary, where Django's client-side binding would spell every
        # value out as SQL text.
        arrays = ", ".join(f"%b::{kind}[]" for kind in types)
        connection.ensure_connection()
        with psycopg.Cursor(connection.connection) as cursor:
            cursor.execute(
                f"INSERT INTO {table} ({names}) SELECT * FROM unnest({arrays}) {suffix}",  # noqa: S608 (names from model metadata; values are parameters)
                [list(column) for column in zip(*rows, strict=True)],
            )
            return cursor.fetchall() if "RETURNING" in suffix else []
    with connection.cursor() as cursor:
        placeholders = "(" + ", ".join(["%s"] * len(columns)) + ")"
        returned = []
        for start in range(0, len(rows), 500):
            chunk = rows[start : start + 500]
            cursor.execute(
                f"INSERT INTO {table} ({names}) VALUES "  # noqa: S608 (as above)
                + ", ".join([placeholders] * len(chunk))
                + f" {suffix}",
                [value for row in chunk for value in row],
            )
            returned += cursor.fetchall() if "RETURNING" in suffix else []
        return returned


def _insert_events(rows: list[tuple]) -> set[str]:
    """INSERT the events, skipping ids already stored; the ids actually inserted.

    ON CONFLICT DO NOTHING waits for a concurrent transaction inserting the same id and then
    skips it, so two requests racing with one event store it once.
    """
    returned = _bulk_insert(
        LlmUsageEvent._meta.db_table,
        EVENT_COLUMNS,
        EVENT_TYPES,
        rows,
        "ON CONFLICT (event_id) DO NOTHING RETURNING event_id",
    )
    return {event_id for (event_id,) in returned}


def _upsert_adding(table: str, columns: list[tuple[str, str]], keys: int, adds: int, rows) -> None:
    """INSERT rows; on a conflict of the first `keys` columns, add the next `adds` columns to
    the stored ones and overwrite the rest. Rows go in key order so that concurrent batches
    lock rows in the same order and cannot deadlock."""
    names = [name for name, _ in columns]
    key, added, overwritten = names[:keys], names[keys : keys + adds], names[keys + adds :]
    updates = [f"{c} = COALESCE({table}.{c}, 0) + EXCLUDED.{c}" for c in added]
    updates += [f"{c} = EXCLUDED.{c}" for c in overwritten]
    rows = sorted(rows, key=lambda row: row[:keys])
    _bulk_insert(
        table,
        names,
        [kind for _, kind in columns],
        rows,
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {', '.join(updates)}",
    )


def _rollups_add(events: list[tuple[UsageEvent, tuple]]) -> None:
    """Add the events to their daily rollup rows and to the day's usage cost entries."""
    rollups: dict[tuple, list] = defaultdict(lambda: [0] * 10 + [Decimal(0)])
    costs: dict[tuple, list] = defaultdict(lambda: [Decimal(0), 0])
    tags: dict[tuple, list] = defaultdict(lambda: [0, 0, Decimal(0)])
    tag_keys = settings.LLM_TAG_KEYS
    for event, (cost, _, _) in events:
        for key in tag_keys:
            value = (event.tags or {}).get(key)
            if value:
                tag = tags[(event.day, key, value)]
                tag[0] += 1
                tag[1] += cost is None
                tag[2] += cost or 0
        row = rollups[(event.day, event.user_id, event.provider, event.model)]
        row[0] += 1
        row[1] += event.is_error
        for i, name in enumerate(COUNTS, start=2):
            row[i] += getattr(event, name)
        row[7] += cost is None
        row[8] += event.latency_ms or 0
        row[10] += cost or 0
        if cost is not None:
            entry = costs[(event.day, event.provider, event.model)]
            entry[0] += cost
            entry[1] += sum(getattr(event, name) for name in COUNTS)
    now = timezone.now()
    _upsert_adding(
        LlmUsageTagDaily._meta.db_table,
        [("day", "date"), ("key", "text"), ("value", "text"), ("requests", "bigint"),
         ("unpriced_requests", "bigint"), ("cost", "numeric"), ("updated_at", "timestamptz")],
        3,
        3,
        [(*key, requests, unpriced, cost, now) for key, (requests, unpriced, cost) in tags.items()],
    )  # fmt: skip
    _upsert_adding(
        LlmUsageDaily._meta.db_table,
        [*ROLLUP_KEY, *ROLLUP_ADDED, ("currency", "text"), ("updated_at", "timestamptz")],
        len(ROLLUP_KEY),
        len(ROLLUP_ADDED),
        [
            (*key, LlmUsageSource.EVENTS, *values[:9], values[10], "USD", now)
            for key, values in rollups.items()
        ],
    )
    _upsert_adding(
        CostEntry._meta.db_table,
        [*COST_KEY, ("billed_cost", "numeric"), ("quantity", "numeric"), *COST_REST],
        len(COST_KEY),
        2,
        [
            (provider, model, day, day + timedelta(days=1), Source.USAGE, EVENTS_REFERENCE,
             cost, tokens, Category.LLM, "USD", "tokens", False, "{}", now, now)
            for (day, provider, model), (cost, tokens) in costs.items()
        ],
    )  # fmt: skip


ROLLUP_KEY = [("day", "date"), ("user_id", "text"), ("provider", "text"), ("model", "text"),
              ("source", "text")]  # fmt: skip
ROLLUP_ADDED = [
    ("requests", "bigint"), ("errors", "bigint"), *[(c, "bigint") for c in COUNTS],
    ("unpriced_requests", "bigint"), ("latency_ms_sum", "bigint"), ("cost", "numeric"),
]  # fmt: skip
COST_KEY = [("provider", "text"), ("service", "text"), ("charge_period_start", "date"),
            ("charge_period_end", "date"), ("source", "text"), ("reference", "text")]  # fmt: skip
COST_REST = [("category", "text"), ("currency", "text"), ("unit", "text"),
             ("adjustment", "boolean"), ("tags", "jsonb"), ("created_at", "timestamptz"),
             ("updated_at", "timestamptz")]  # fmt: skip


@transaction.atomic
def llm_events_record(*, events: list[UsageEvent], ingest_key: str = "") -> list[str]:
    """Store the events, then add the new ones to rollups and usage costs. Returns, per event,
    "accepted", or "duplicate" when already stored or repeated earlier in the batch."""
    unique: dict[str, UsageEvent] = {}
    for event in events:
        unique.setdefault(event.event_id, event)
    if not unique:
        return []
    book = price_book_load(
        pairs={(e.provider, e.model) for e in unique.values()},
        until=max(e.day for e in unique.values()),
    )
    costed = {event_id: event_cost(event, book) for event_id, event in unique.items()}
    now = timezone.now()
    inserted = _insert_events(
        [_event_row(e, costed[event_id], ingest_key, now) for event_id, e in unique.items()]
    )
    _rollups_add([(unique[event_id], costed[event_id]) for event_id in inserted])
    outcome, first = [], set()
    for event in events:
        new = event.event_id in inserted and event.event_id not in first
        first.add(event.event_id)
        outcome.append("accepted" if new else "duplicate")
    return outcome


@transaction.atomic
def llm_usage_rebuild(*, days: Iterable[date]) -> None:
    """Recompute the events' rollups and usage cost entries of these days from the raw events
    (after a re-price; also the reference the incremental updates must always equal)."""
    days = sorted(set(days))
    LlmUsageDaily.objects.filter(source=LlmUsageSource.EVENTS, day__in=days).delete()
    LlmUsageTagDaily.objects.filter(day__in=days).delete()
    _tags_rebuild(days)
    CostEntry.objects.filter(
        source=Source.USAGE, reference=EVENTS_REFERENCE, charge_period_start__in=days
    ).delete()
    events = LlmUsageEvent.objects.filter(day__in=days).order_by()
    sums = {name: Sum(name) for name in COUNTS}
    now = timezone.now()
    LlmUsageDaily.objects.bulk_create(
        LlmUsageDaily(
            source=LlmUsageSource.EVENTS,
            currency="USD",
            **{k: v if v is not None else 0 for k, v in row.items() if k != "cost"},
            cost=row["cost"] or Decimal(0),
        )
        for row in events.values("day", "user_id", "provider", "model").annotate(
            requests=Count("pk"),
            errors=Count("pk", filter=Q(is_error=True)),
            unpriced_requests=Count("pk", filter=Q(cost__isnull=True)),
            latency_ms_sum=Sum("latency_ms"),
            cost=Sum("cost"),
            **sums,
        )
    )
    CostEntry.objects.bulk_create(
        CostEntry(
            provider=row["provider"],
            service=row["model"],
            category=Category.LLM,
            charge_period_start=row["day"],
            charge_period_end=row["day"] + timedelta(days=1),
            billed_cost=row["cost"],
            currency="USD",
            quantity=sum(row[name] or 0 for name in COUNTS),
            unit="tokens",
            source=Source.USAGE,
            reference=EVENTS_REFERENCE,
            created_at=now,
        )
        for row in events.filter(cost__isnull=False)
        .values("day", "provider", "model")
        .annotate(cost=Sum("cost"), **sums)
    )


def _tags_rebuild(days: list[date]) -> None:
    totals: dict[tuple, list] = defaultdict(lambda: [0, 0, Decimal(0)])
    events = LlmUsageEvent.objects.filter(day__in=days).values_list("day", "tags", "cost")
    for day, tags, cost in events.iterator(chunk_size=5000):
        for key in settings.LLM_TAG_KEYS:
            value = (tags or {}).get(key)
            if value:
                total = totals[(day, key, value)]
                total[0] += 1
                total[1] += cost is None
                total[2] += cost or 0
    LlmUsageTagDaily.objects.bulk_create(
        LlmUsageTagDaily(day=d, key=k, value=v, requests=r, unpriced_requests=u, cost=c)
        for (d, k, v), (r, u, c) in totals.items()
    )


@dataclass
class RepriceChange:
    provider: str
    model: str
    events: int = 0
    before: Decimal = Decimal(0)
    after: Decimal = Decimal(0)
    newly_priced: int = 0
    now_unpriced: int = 0


def _as_usage_event(stored: LlmUsageEvent) -> UsageEvent:
    return UsageEvent(
        event_id=stored.event_id,
        timestamp=stored.timestamp,
        provider=stored.provider,
        model=stored.model,
        **{name: getattr(stored, name) for name in (*COUNTS, "images")},
    )


@transaction.atomic
def llm_events_reprice(
    *, since: date, until: date, model: str | None = None
) -> list[RepriceChange]:
    """Cost again, with today's price book, the events of [since, until] that were not costed
    by their provider; then rebuild the rollups and usage costs of the days that changed.
    Returns what changed per provider and model."""
    events = LlmUsageEvent.objects.filter(day__gte=since, day__lte=until).exclude(
        cost_source=CostSource.PROVIDER
    )
    if model:
        events = events.filter(model=model)
    pairs = set(events.order_by().values_list("provider", "model").distinct())
    book = price_book_load(pairs=pairs, until=until)
    changes: dict[tuple[str, str], RepriceChange] = {}
    changed, days = [], set()
    for stored in events.iterator(chunk_size=2000):
        cost, source, price_id = event_cost(_as_usage_event(stored), book)
        if (cost, source, price_id) == (stored.cost, stored.cost_source, stored.price_id):
            continue
        change = changes.setdefault(
            (stored.provider, stored.model), RepriceChange(stored.provider, stored.model)
        )
        change.events += 1
        change.before += stored.cost or 0
        change.after += cost or 0
        change.newly_priced += stored.cost is None and cost is not None
        change.now_unpriced += stored.cost is not None and cost is None
        stored.cost, stored.cost_source, stored.price_id = cost, source, price_id
        changed.append(stored)
        days.add(stored.day)
    LlmUsageEvent.objects.bulk_update(changed, ["cost", "cost_source", "price"], batch_size=1000)
    if days:
        llm_usage_rebuild(days=days)
    return sorted(changes.values(), key=lambda c: (c.provider, c.model))

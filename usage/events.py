"""Writes of LLM usage events: each accepted event is stored and, in the same transaction, added
to every sum (usage.sums): its (day, user, provider, model) row, its day's `usage` cost entry and
its tag values, so pages never read raw events. Events are idempotent on event_id (INSERT ... ON
CONFLICT DO NOTHING RETURNING): a re-sent event, even concurrently, is a duplicate and adds
nothing anywhere.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache, cached_property

import msgspec
import psycopg
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from usage import sums
from usage.models import (
    CostSource,
)
from usage.pricing import (
    PriceBook,
    PriceMissing,
    TokenUsage,
    price_book_load,
    usage_cost,
)
from usage.rebuild import llm_usage_rebuild
from usage.retention import horizon_lock_shared, llm_events_first_day
from usage.sums import TOKEN_KINDS

# What one event may carry. Each bound fits its column, and at the largest values a day's sums
# (cost numeric(24,10), token counts bigint, the usage entry's quantity numeric(28,10)) still
# hold a billion events per user and model: more than a whole day of ingest at full speed.
MAX_TOKENS = 100_000_000  # per kind: ten times the largest context window on sale
MAX_IMAGES = 100_000
MAX_LATENCY_MS = 86_400_000  # a day
MAX_STREAM_MS = 86_400_000  # a day of streaming, for one response
MAX_BANDWIDTH_BYTES = 10**12  # a terabyte, for one response
# Cohere bills a rerank per search unit (a query with up to 100 documents, longer documents
# counted in chunks): 100,000 is ten million documents in one request, 200 USD at 2 USD / 1K.
MAX_SEARCH_UNITS = 100_000
MAX_EVENT_COST = Decimal(100_000)  # USD, reported or computed from the price book
COST_PLACES = 10  # the cost columns' scale: a reported cost with more places is refused


def too_old(first_day: date) -> str:
    """Why an event of a day before `first_day` (usage.retention) is refused."""
    return (
        f"is before {first_day}, the first day whose raw events are kept "
        f"(USAGE_EVENTS_RETENTION_DAYS={settings.USAGE_EVENTS_RETENTION_DAYS}, or pruned): an "
        "older event is refused so that a resent one can never be counted twice"
    )


COST_OVER_LIMIT = (
    f"the cost computed from the price book is over {MAX_EVENT_COST:,} USD, the most one request "
    "may cost: check the token counts and the model's price"
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
    stream_duration_ms: int = 0
    bandwidth_bytes: int = 0
    search_units: int = 0
    is_error: bool = False
    error_type: str = ""
    latency_ms: int | None = None
    tags: dict | None = None
    cost: Decimal | None = None  # reported by the provider: wins over the price book
    currency: str = "USD"

    @cached_property
    def day(self) -> date:
        timestamp = self.timestamp
        return (timestamp if timestamp.tzinfo is UTC else timestamp.astimezone(UTC)).date()

    @property
    def usage(self) -> TokenUsage:
        return TokenUsage(
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            cache_read_tokens=self.cache_read_tokens,
            cache_write_tokens=self.cache_write_tokens,
            reasoning_tokens=self.reasoning_tokens,
            images=self.images,
            search_units=self.search_units,
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
    "event_id", "timestamp", "day", "user_id", "provider", "model", *TOKEN_KINDS, "images",
    "stream_duration_ms", "bandwidth_bytes", "search_units", "is_error", "error_type",
    "latency_ms", "tags",
    "cost", "currency", "cost_source", "price_id", "ingest_key", "received_at",
]  # fmt: skip


def _event_row(event: UsageEvent, costed, ingest_key: str, now: datetime) -> tuple:
    cost, cost_source, price_id = costed
    return (
        event.event_id, event.timestamp, event.day, event.user_id, event.provider, event.model,
        event.input_tokens, event.output_tokens, event.cache_read_tokens,
        event.cache_write_tokens, event.reasoning_tokens, event.images,
        event.stream_duration_ms, event.bandwidth_bytes, event.search_units, event.is_error,
        event.error_type, event.latency_ms, msgspec.json.encode(event.tags or {}).decode(),
        cost, "USD", cost_source, price_id, ingest_key, now,
    )  # fmt: skip


# PostgreSQL: the batch goes over in one binary COPY (psycopg's C path) into a temporary table,
# and one statement stores the new events and adds them to every sum, aggregating in the
# database: no per-column arrays built in Python, two round trips per batch.
BATCH_TABLE = "costledger_llm_ingest_batch"
BATCH_TYPES = [
    "text", "timestamptz", "date", "text", "text", "text", *["int8"] * len(TOKEN_KINDS), "int4",
    "int8", "int8", "int4", "bool", "text", "int4", "text", "numeric", "text", "text", "int8",
    "text", "timestamptz",
]  # fmt: skip
BATCH_CREATE = (
    f"CREATE TEMPORARY TABLE IF NOT EXISTS {BATCH_TABLE} ("
    + ", ".join(f"{c} {t}" for c, t in zip(EVENT_COLUMNS, BATCH_TYPES, strict=True))
    + ") ON COMMIT DELETE ROWS"
)


@cache  # built once per number of tag keys, not per batch
def _batch_record(tag_keys: int) -> str:
    """The batch table is emptied by the statement that reads it (DELETE ... RETURNING), so a
    second batch in the same transaction starts empty. Rows go in key order everywhere:
    concurrent batches lock rows in the same order and cannot deadlock. ON CONFLICT DO NOTHING
    waits for a concurrent transaction inserting the same event id, then skips it: an event
    racing with itself is stored and counted once. A tag value's latest day can only move when
    it gets a new day row."""
    return f"""
WITH batch AS (
    DELETE FROM {BATCH_TABLE} RETURNING *
), new AS (
    INSERT INTO {sums.EVENTS} ({", ".join(EVENT_COLUMNS)})
    SELECT {", ".join(f"{c}::jsonb" if c == "tags" else c for c in EVENT_COLUMNS)}
    FROM batch ORDER BY event_id
    ON CONFLICT (event_id) DO NOTHING
    RETURNING *
), daily AS ({sums.daily_upsert()}
), costs AS ({sums.usage_entries_upsert("postgresql")}
), tagged AS ({sums.tagged("postgresql", tag_keys)}
), tag_keys AS ({sums.tag_sums_upsert(per_value=False)}
), user_tags AS ({sums.tag_sums_upsert(per_value=True, per_user=True)}
), tags AS ({sums.tag_sums_upsert(per_value=True)}
    RETURNING day, key, value, (t.xmax = 0) AS created
), tags_latest AS ({sums.tags_latest_forward("tags WHERE created")}
)
SELECT event_id FROM new
"""  # noqa: S608 (table and column names from model metadata; values are parameters)


def _record_postgresql(rows: list[tuple], now: datetime) -> set[str]:
    """Store the events of `rows` (as `_event_row` builds them) that are not stored yet and
    add them to every sum; the ids stored. (The per-user and per-model sums follow
    LlmUsageDaily through its trigger.)"""
    connection.ensure_connection()
    # A server-side-binding cursor on Django's own connection: same transaction.
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(BATCH_CREATE)
        with cursor.copy(
            f"COPY {BATCH_TABLE} ({', '.join(EVENT_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.set_types(BATCH_TYPES)
            for row in rows:
                copy.write_row(row)
        cursor.execute(_batch_record(len(settings.LLM_TAG_KEYS)), sums.parameters(now=now))
        return {event_id for (event_id,) in cursor.fetchall()}


def _record_portable(rows: list[tuple]) -> set[str]:
    """What `_record_postgresql` does, on any database (the SQLite quick start): the events
    inserted with ON CONFLICT DO NOTHING RETURNING, then their days' sums rebuilt from the
    events, with the statements the PostgreSQL path runs."""
    names = ", ".join(EVENT_COLUMNS)
    placeholders = "(" + ", ".join(["%s"] * len(EVENT_COLUMNS)) + ")"
    inserted, days = set(), set()
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 500):
            chunk = rows[start : start + 500]
            cursor.execute(
                f"INSERT INTO {sums.EVENTS} ({names}) VALUES "  # noqa: S608 (names from model metadata; values are parameters)
                + ", ".join([placeholders] * len(chunk))
                + " ON CONFLICT (event_id) DO NOTHING RETURNING event_id, day",
                [value for row in chunk for value in row],
            )
            for event_id, day in cursor.fetchall():
                inserted.add(event_id)
                days.add(date.fromisoformat(day) if isinstance(day, str) else day)
    if days:
        llm_usage_rebuild(days=days)
    return inserted


@transaction.atomic
def llm_events_record(*, events: list[UsageEvent], ingest_key: str = "") -> list[str]:
    """Store the events, then add the new ones to rollups and usage costs. Returns, per event,
    "accepted"; "duplicate" when already stored or repeated earlier in the batch; "rejected"
    when its cost is over MAX_EVENT_COST (COST_OVER_LIMIT says why) or its day is before the
    first day kept (usage.retention; `too_old` says why). Nothing of a rejected event is stored."""
    unique: dict[str, UsageEvent] = {}
    for event in events:
        unique.setdefault(event.event_id, event)
    if not unique:
        return []
    horizon_lock_shared()  # a pruning waits for this batch, or this batch sees its horizon
    first_day = llm_events_first_day()
    book = price_book_load(
        pairs={(e.provider, e.model) for e in unique.values()},
        until=max(e.day for e in unique.values()),
    )
    costed, refused = {}, set()
    for event_id, event in unique.items():
        cost = event_cost(event, book)
        if first_day is not None and event.day < first_day:
            refused.add(event_id)
        elif cost[0] is not None and cost[0] > MAX_EVENT_COST:
            refused.add(event_id)
        else:
            costed[event_id] = cost
    now = timezone.now()
    rows = [
        _event_row(unique[event_id], cost, ingest_key, now) for event_id, cost in costed.items()
    ]
    if not rows:
        inserted = set()
    elif connection.vendor == "postgresql":
        inserted = _record_postgresql(rows, now)
    else:
        inserted = _record_portable(rows)
    outcome, first = [], set()
    for event in events:
        new = event.event_id in inserted and event.event_id not in first
        first.add(event.event_id)
        outcome.append(
            "rejected" if event.event_id in refused else "accepted" if new else "duplicate"
        )
    return outcome

"""Writes of LLM usage: raw events, their daily rollups and the day's `usage` cost entries.

An accepted event updates, in the same transaction, the rollup row of its (day, user, provider,
model) and the `usage` CostEntry of its (day, provider, model), so pages never read raw events.
Events are idempotent on event_id (INSERT ... ON CONFLICT DO NOTHING RETURNING): a re-sent
event, even concurrently, is a duplicate and adds nothing anywhere.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import cached_property

import msgspec
import psycopg
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from costledger.models import CostEntry, Source
from costledger.providers import Category
from usage.models import (
    CostSource,
    LlmUsageDaily,
    LlmUsageEvent,
    LlmUsageSource,
    LlmUsageTagDaily,
    LlmUsageTagKeyDaily,
    LlmUsageTagLatest,
)
from usage.pricing import (
    PriceBook,
    PriceMissing,
    TokenUsage,
    price_book_load,
    usage_cost,
)

EVENTS_REFERENCE = "events"  # the `reference` of the usage CostEntry rows the events write
COUNTS = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
)

# What one event may carry. Each bound fits its column, and at the largest values a day's sums
# (cost numeric(24,10), token counts bigint, the usage entry's quantity numeric(28,10)) still
# hold a billion events per user and model: more than a whole day of ingest at full speed.
MAX_TOKENS = 100_000_000  # per kind: ten times the largest context window on sale
MAX_IMAGES = 100_000
MAX_LATENCY_MS = 86_400_000  # a day
MAX_EVENT_COST = Decimal(100_000)  # USD, reported or computed from the price book
COST_PLACES = 10  # the cost columns' scale: a reported cost with more places is refused
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


def _event_row(event: UsageEvent, costed, ingest_key: str, now: datetime) -> tuple:
    cost, cost_source, price_id = costed
    return (
        event.event_id, event.timestamp, event.day, event.user_id, event.provider, event.model,
        event.input_tokens, event.output_tokens, event.cache_read_tokens,
        event.cache_write_tokens, event.reasoning_tokens, event.images, event.is_error,
        event.error_type, event.latency_ms, msgspec.json.encode(event.tags or {}).decode(),
        cost, "USD", cost_source, price_id, ingest_key, now,
    )  # fmt: skip


# PostgreSQL: the batch goes over in one binary COPY (psycopg's C path) into a temporary table,
# and one statement stores the new events and adds them to every sum, aggregating in the
# database: no per-column arrays built in Python, two round trips per batch.
BATCH_TABLE = "costledger_llm_ingest_batch"
BATCH_TYPES = [
    "text", "timestamptz", "date", "text", "text", "text", *["int8"] * len(COUNTS), "int4",
    "bool", "text", "int4", "text", "numeric", "text", "text", "int8", "text", "timestamptz",
]  # fmt: skip
BATCH_CREATE = (
    f"CREATE TEMPORARY TABLE IF NOT EXISTS {BATCH_TABLE} ("
    + ", ".join(f"{c} {t}" for c, t in zip(EVENT_COLUMNS, BATCH_TYPES, strict=True))
    + ") ON COMMIT DELETE ROWS"
)
_SUM = ", ".join(f"sum({c})" for c in COUNTS)
_ADD = ", ".join(f"{c} = t.{c} + EXCLUDED.{c}" for c in COUNTS)
# The batch table is emptied by the statement that reads it (DELETE ... RETURNING), so a second
# batch in the same transaction starts empty. Rows go in key order everywhere: concurrent
# batches lock rows in the same order and cannot deadlock. ON CONFLICT DO NOTHING waits for a
# concurrent transaction inserting the same event id, then skips it: an event racing with
# itself is stored and counted once.
BATCH_RECORD = f"""
WITH batch AS (
    DELETE FROM {BATCH_TABLE} RETURNING *
), new AS (
    INSERT INTO {LlmUsageEvent._meta.db_table} ({", ".join(EVENT_COLUMNS)})
    SELECT {", ".join(f"{c}::jsonb" if c == "tags" else c for c in EVENT_COLUMNS)}
    FROM batch ORDER BY event_id
    ON CONFLICT (event_id) DO NOTHING
    RETURNING *
), daily AS (
    INSERT INTO {LlmUsageDaily._meta.db_table} AS t (day, user_id, provider, model, source,
        requests, errors, {", ".join(COUNTS)}, unpriced_requests, latency_ms_sum, cost,
        currency, updated_at)
    SELECT day, user_id, provider, model, %(source)s, count(*), count(*) FILTER (WHERE is_error),
        {_SUM}, count(*) FILTER (WHERE cost IS NULL), coalesce(sum(latency_ms), 0),
        coalesce(sum(cost), 0), 'USD', %(now)s
    FROM new GROUP BY day, user_id, provider, model ORDER BY day, user_id, provider, model
    ON CONFLICT (day, user_id, provider, model, source) DO UPDATE SET
        requests = t.requests + EXCLUDED.requests, errors = t.errors + EXCLUDED.errors, {_ADD},
        unpriced_requests = t.unpriced_requests + EXCLUDED.unpriced_requests,
        latency_ms_sum = t.latency_ms_sum + EXCLUDED.latency_ms_sum,
        cost = coalesce(t.cost, 0) + EXCLUDED.cost, currency = EXCLUDED.currency,
        updated_at = EXCLUDED.updated_at
), costs AS (
    INSERT INTO {CostEntry._meta.db_table} AS t (provider, service, charge_period_start,
        charge_period_end, source, reference, billed_cost, quantity, category, currency, unit,
        adjustment, tags, created_at, updated_at)
    SELECT provider, model, day, day + 1, %(usage)s, %(reference)s, sum(cost),
        sum({" + ".join(COUNTS)}), %(category)s, 'USD', 'tokens', false, '{{}}', %(now)s, %(now)s
    FROM new WHERE cost IS NOT NULL
    GROUP BY day, provider, model ORDER BY provider, model, day
    ON CONFLICT (provider, service, charge_period_start, charge_period_end, source, reference)
    DO UPDATE SET billed_cost = coalesce(t.billed_cost, 0) + EXCLUDED.billed_cost,
        quantity = coalesce(t.quantity, 0) + EXCLUDED.quantity, updated_at = EXCLUDED.updated_at
), tagged AS (
    SELECT day, tag.key, tag.value, cost
    FROM new CROSS JOIN LATERAL jsonb_each_text(new.tags) AS tag
    WHERE tag.key = ANY(%(tag_keys)s) AND tag.value <> ''
), tag_keys AS (
    INSERT INTO {LlmUsageTagKeyDaily._meta.db_table} AS t (day, key, requests,
        unpriced_requests, cost, updated_at)
    SELECT day, key, count(*), count(*) FILTER (WHERE cost IS NULL), coalesce(sum(cost), 0),
        %(now)s
    FROM tagged GROUP BY day, key ORDER BY day, key
    ON CONFLICT (day, key) DO UPDATE SET requests = t.requests + EXCLUDED.requests,
        unpriced_requests = t.unpriced_requests + EXCLUDED.unpriced_requests,
        cost = t.cost + EXCLUDED.cost, updated_at = EXCLUDED.updated_at
), tags AS (
    INSERT INTO {LlmUsageTagDaily._meta.db_table} AS t (day, key, value, requests,
        unpriced_requests, cost, updated_at)
    SELECT day, key, value, count(*), count(*) FILTER (WHERE cost IS NULL),
        coalesce(sum(cost), 0), %(now)s
    FROM tagged GROUP BY day, key, value ORDER BY day, key, value
    ON CONFLICT (day, key, value) DO UPDATE SET requests = t.requests + EXCLUDED.requests,
        unpriced_requests = t.unpriced_requests + EXCLUDED.unpriced_requests,
        cost = t.cost + EXCLUDED.cost, updated_at = EXCLUDED.updated_at
    RETURNING day, key, value, (t.xmax = 0) AS created
), tags_latest AS (
    -- A value's latest day can only move when it gets a new day row.
    INSERT INTO {LlmUsageTagLatest._meta.db_table} AS l (key, value, day)
    SELECT key, value, max(day) FROM tags WHERE created
    GROUP BY key, value ORDER BY key, value
    ON CONFLICT (key, value) DO UPDATE SET day = EXCLUDED.day WHERE l.day < EXCLUDED.day
)
SELECT event_id FROM new
"""  # noqa: S608 (table and column names from model metadata; values are parameters)


def _record_postgresql(rows: list[tuple], now: datetime) -> set[str]:
    """Store the events of `rows` (as `_event_row` builds them) that are not stored yet and
    add them to the daily rollups, the usage cost entries and the tag rollups (with each tag
    value's latest day); the ids stored.
    (The per-user and per-model sums follow LlmUsageDaily through its triggers.)"""
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
        cursor.execute(
            BATCH_RECORD,
            {
                "source": LlmUsageSource.EVENTS.value,
                "now": now,
                "usage": Source.USAGE.value,
                "reference": EVENTS_REFERENCE,
                "category": Category.LLM.value,
                "tag_keys": list(settings.LLM_TAG_KEYS),
            },
        )
        return {event_id for (event_id,) in cursor.fetchall()}


def _bulk_insert(table: str, columns: list[str], rows, suffix: str) -> list:
    """INSERT many rows, a VALUES list per 500, and return what `suffix` (ON CONFLICT ...
    RETURNING) returns. The portable writer's (the SQLite quick start)."""
    names = ", ".join(columns)
    placeholders = "(" + ", ".join(["%s"] * len(columns)) + ")"
    returned = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 500):
            chunk = rows[start : start + 500]
            cursor.execute(
                f"INSERT INTO {table} ({names}) VALUES "  # noqa: S608 (names from model metadata; values are parameters)
                + ", ".join([placeholders] * len(chunk))
                + f" {suffix}",
                [value for row in chunk for value in row],
            )
            returned += cursor.fetchall() if "RETURNING" in suffix else []
    return returned


def _upsert_adding(table: str, columns: list[str], keys: int, adds: int, rows) -> None:
    """INSERT rows; on a conflict of the first `keys` columns, add the next `adds` columns to
    the stored ones and refresh `updated_at`; the other columns keep what they were created
    with. Rows go in key order (as in BATCH_RECORD)."""
    key, added = columns[:keys], columns[keys : keys + adds]
    updates = [f"{c} = COALESCE({table}.{c}, 0) + EXCLUDED.{c}" for c in added]
    updates += ["updated_at = EXCLUDED.updated_at"]
    if rows:
        _bulk_insert(
            table,
            columns,
            sorted(rows, key=lambda row: row[:keys]),
            f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {', '.join(updates)}",
        )


def _record_portable(rows: list[tuple], events: dict[str, UsageEvent], costed) -> set[str]:
    """What `_record_postgresql` does, for any database (the SQLite quick start): the events
    inserted with ON CONFLICT DO NOTHING RETURNING, the sums added up in Python."""
    inserted = {
        event_id
        for (event_id,) in _bulk_insert(
            LlmUsageEvent._meta.db_table,
            EVENT_COLUMNS,
            rows,
            "ON CONFLICT (event_id) DO NOTHING RETURNING event_id",
        )
    }
    _rollups_add([(events[event_id], costed[event_id]) for event_id in inserted])
    return inserted


def _rollups_add(events: list[tuple[UsageEvent, tuple]]) -> None:
    """Add the events to their daily rollup rows, the day's usage cost entries and the tag
    rollups."""
    rollups: dict[tuple, list] = defaultdict(lambda: [0] * 10 + [Decimal(0)])
    costs: dict[tuple, list] = defaultdict(lambda: [Decimal(0), 0])
    tags: dict[tuple, list] = defaultdict(lambda: [0, 0, Decimal(0)])
    for event, (cost, _, _) in events:
        _tags_add(tags, event.day, event.tags, cost)
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
        ["day", "key", "value", "requests", "unpriced_requests", "cost", "updated_at"],
        3,
        3,
        [(*key, requests, unpriced, cost, now) for key, (requests, unpriced, cost) in tags.items()],
    )
    _upsert_adding(
        LlmUsageTagKeyDaily._meta.db_table,
        ["day", "key", "requests", "unpriced_requests", "cost", "updated_at"],
        2,
        3,
        [(*key, *figures, now) for key, figures in _by_key(tags).items()],
    )
    _upsert_adding(
        LlmUsageDaily._meta.db_table,
        [*ROLLUP_KEY, *ROLLUP_ADDED, "currency", "updated_at"],
        len(ROLLUP_KEY),
        len(ROLLUP_ADDED),
        [
            (*key, LlmUsageSource.EVENTS, *values[:9], values[10], "USD", now)
            for key, values in rollups.items()
        ],
    )
    _upsert_adding(
        CostEntry._meta.db_table,
        [*COST_KEY, "billed_cost", "quantity", *COST_REST],
        len(COST_KEY),
        2,
        [
            (provider, model, day, day + timedelta(days=1), Source.USAGE, EVENTS_REFERENCE,
             cost, tokens, Category.LLM, "USD", "tokens", False, "{}", now, now)
            for (day, provider, model), (cost, tokens) in costs.items()
        ],
    )  # fmt: skip


ROLLUP_KEY = ["day", "user_id", "provider", "model", "source"]
ROLLUP_ADDED = ["requests", "errors", *COUNTS, "unpriced_requests", "latency_ms_sum", "cost"]
COST_KEY = ["provider", "service", "charge_period_start", "charge_period_end", "source",
            "reference"]  # fmt: skip
COST_REST = ["category", "currency", "unit", "adjustment", "tags", "created_at", "updated_at"]


@transaction.atomic
def llm_events_record(*, events: list[UsageEvent], ingest_key: str = "") -> list[str]:
    """Store the events, then add the new ones to rollups and usage costs. Returns, per event,
    "accepted"; "duplicate" when already stored or repeated earlier in the batch; "rejected"
    when its cost is over MAX_EVENT_COST (COST_OVER_LIMIT says why; nothing of it is stored)."""
    unique: dict[str, UsageEvent] = {}
    for event in events:
        unique.setdefault(event.event_id, event)
    if not unique:
        return []
    book = price_book_load(
        pairs={(e.provider, e.model) for e in unique.values()},
        until=max(e.day for e in unique.values()),
    )
    costed, refused = {}, set()
    for event_id, event in unique.items():
        cost = event_cost(event, book)
        if cost[0] is not None and cost[0] > MAX_EVENT_COST:
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
        inserted = _record_portable(rows, unique, costed)
    outcome, first = [], set()
    for event in events:
        new = event.event_id in inserted and event.event_id not in first
        first.add(event.event_id)
        outcome.append(
            "rejected" if event.event_id in refused else "accepted" if new else "duplicate"
        )
    return outcome


@transaction.atomic
def llm_usage_rebuild(*, days: Iterable[date]) -> None:
    """Recompute the events' rollups and usage cost entries of these days from the raw events
    (after a re-price; also the reference the incremental updates must always equal)."""
    days = sorted(set(days))
    LlmUsageDaily.objects.filter(source=LlmUsageSource.EVENTS, day__in=days).delete()
    LlmUsageTagDaily.objects.filter(day__in=days).delete()
    LlmUsageTagKeyDaily.objects.filter(day__in=days).delete()
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


def _tags_add(totals: dict[tuple, list], day: date, tags: dict | None, cost) -> None:
    """Add one event to the [requests, unpriced, cost] of its day and tag values (the keys of
    LLM_TAG_KEYS it carries, with a value)."""
    for key in settings.LLM_TAG_KEYS:
        value = (tags or {}).get(key)
        if value:
            total = totals[(day, key, value)]
            total[0] += 1
            total[1] += cost is None
            total[2] += cost or 0


def _by_key(totals: dict[tuple, list]) -> dict[tuple, list]:
    """Tag totals per (day, key, value) added up per (day, key)."""
    by_key: dict[tuple, list] = defaultdict(lambda: [0, 0, Decimal(0)])
    for (day, key, _), figures in totals.items():
        for i, value in enumerate(figures):
            by_key[(day, key)][i] += value
    return by_key


def _tags_rebuild(days: list[date]) -> None:
    totals: dict[tuple, list] = defaultdict(lambda: [0, 0, Decimal(0)])
    events = LlmUsageEvent.objects.filter(day__in=days).values_list("day", "tags", "cost")
    for day, tags, cost in events.iterator(chunk_size=5000):
        _tags_add(totals, day, tags, cost)
    LlmUsageTagDaily.objects.bulk_create(
        LlmUsageTagDaily(day=d, key=k, value=v, requests=r, unpriced_requests=u, cost=c)
        for (d, k, v), (r, u, c) in totals.items()
    )
    LlmUsageTagKeyDaily.objects.bulk_create(
        LlmUsageTagKeyDaily(day=d, key=k, requests=r, unpriced_requests=u, cost=c)
        for (d, k), (r, u, c) in _by_key(totals).items()
    )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for statement in TAGS_LATEST_REBUILD:
                cursor.execute(statement, {"days": days})


# After the tag rows of `days` are rebuilt: each value's latest day moved forward to a rebuilt
# day, and a value whose latest day was rebuilt without it given the latest day left (or no
# row). Rechecked on the row as it is then, as the triggers do for users.
TAGS_LATEST_REBUILD = [
    f"""
INSERT INTO {LlmUsageTagLatest._meta.db_table} AS l (key, value, day)
SELECT key, value, max(day) FROM {LlmUsageTagDaily._meta.db_table}
WHERE day = ANY(%(days)s) GROUP BY key, value ORDER BY key, value
ON CONFLICT (key, value) DO UPDATE SET day = EXCLUDED.day WHERE l.day < EXCLUDED.day
""",  # noqa: S608 (table names from model metadata; values are parameters)
    f"""
WITH stale AS (
    SELECT l.key, l.value, l.day FROM {LlmUsageTagLatest._meta.db_table} l
    WHERE l.day = ANY(%(days)s) AND NOT EXISTS (
        SELECT 1 FROM {LlmUsageTagDaily._meta.db_table} t
        WHERE t.day = l.day AND t.key = l.key AND t.value = l.value)
), remaining AS (
    SELECT t.key, t.value, max(t.day) AS day
    FROM {LlmUsageTagDaily._meta.db_table} t JOIN stale s USING (key, value)
    GROUP BY t.key, t.value
), moved AS (
    UPDATE {LlmUsageTagLatest._meta.db_table} AS l SET day = r.day
    FROM stale s JOIN remaining r USING (key, value)
    WHERE l.key = s.key AND l.value = s.value AND l.day = s.day
)
DELETE FROM {LlmUsageTagLatest._meta.db_table} AS l USING stale s
WHERE l.key = s.key AND l.value = s.value AND l.day = s.day
    AND NOT EXISTS (SELECT 1 FROM remaining r WHERE r.key = s.key AND r.value = s.value)
""",  # noqa: S608 (as above)
]


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

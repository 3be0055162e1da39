# ruff: noqa: S608 (SQL built from model metadata and the constants here; values are parameters)
"""The LLM usage sums, defined once.

`COUNTED` lists what the daily sums count of raw events. Every writer is built from it: the
ingest statement (usage.events), the rebuild of a day from its events (usage.rebuild, also what
the SQLite quick start runs after storing events), the per-model and per-user sums kept by the
PostgreSQL trigger (its function is generated here and stored, versioned, in usage/sql/), the
per-user sums of a month once it has ended (MONTH_CLOSE, usage.months; then the trigger keeps
them), the Prometheus collector's upsert (usage.services) and the endpoint benchmark. The
triggers on the tag sums (count of values per day and next day) are generated here too.

Adding a quantity: one line in COUNTED, a field on LlmUsageDaily and LlmUsageModelDaily, and a
migration that adds the columns and runs the regenerated trigger function
(`manage.py usage_sums_sql > usage/sql/llm_usage_daily_sums_vN.sql`; a test checks that the newest
file is what this module generates).
"""

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings

from costledger.models import COST_ENTRY_KEY, CostEntry, Source
from costledger.providers import Category
from usage.models import (
    LlmUsageClosedMonth,
    LlmUsageDaily,
    LlmUsageEvent,
    LlmUsageModelDaily,
    LlmUsageSource,
    LlmUsageTagDaily,
    LlmUsageTagKeyDaily,
    LlmUsageTagLatest,
    LlmUsageTagNextDayCount,
    LlmUsageUserActiveDay,
    LlmUsageUserDaily,
    LlmUsageUserLatest,
    LlmUsageUserMonth,
    LlmUsageUserMonthly,
    LlmUsageUserNextDayCount,
    LlmUsageUserTagDaily,
)


@dataclass(frozen=True)
class Counted:
    name: str  # its column in LlmUsageDaily and LlmUsageModelDaily
    of_events: str  # its SQL aggregate over raw events
    tokens: bool = False  # a kind of token: in a user's `tokens` and a usage entry's quantity
    per_user: bool = False  # also a column of LlmUsageUserDaily


COUNTED = (
    Counted("requests", "count(*)", per_user=True),
    Counted("errors", "count(*) FILTER (WHERE is_error)"),
    Counted("input_tokens", "sum(input_tokens)", tokens=True),
    Counted("output_tokens", "sum(output_tokens)", tokens=True),
    Counted("cache_read_tokens", "sum(cache_read_tokens)", tokens=True),
    Counted("cache_write_tokens", "sum(cache_write_tokens)", tokens=True),
    Counted("reasoning_tokens", "sum(reasoning_tokens)", tokens=True),
    Counted("unpriced_requests", "count(*) FILTER (WHERE cost IS NULL)", per_user=True),
    Counted("latency_ms_sum", "coalesce(sum(latency_ms), 0)"),
    Counted("images", "sum(images)"),
    Counted("stream_duration_ms", "sum(stream_duration_ms)"),
    Counted("bandwidth_bytes", "sum(bandwidth_bytes)"),
    Counted("search_units", "sum(search_units)"),
)
TOKEN_KINDS = tuple(c.name for c in COUNTED if c.tokens)
# The tag sums count the requests carrying a tag value, the unpriced ones, and their cost.
TAG_COUNTED = tuple(c for c in COUNTED if c.name in ("requests", "unpriced_requests"))
# Not summed per user: a conversation is one user's already (LlmUsageUserTagDaily).
NOT_PER_USER_TAG = "conversation_id"

EVENTS_REFERENCE = "events"  # the `reference` of the usage cost entries the events write
DAILY = LlmUsageDaily._meta.db_table
DAILY_KEY = ("day", "user_id", "provider", "model", "source")
EVENTS = LlmUsageEvent._meta.db_table

# What differs between the two databases the sums are written on.
DIALECTS = {
    "postgresql": {
        "tag_pairs": "CROSS JOIN LATERAL jsonb_each_text(new.tags) AS tag",
        "next_day": "day + 1",
    },
    "sqlite": {
        "tag_pairs": "CROSS JOIN json_each(new.tags) AS tag",
        "next_day": "date(day, '+1 day')",
    },
}


def parameters(*, now: datetime) -> dict:
    """The parameters of the statements below that add events to the sums."""
    return {
        "source": LlmUsageSource.EVENTS.value,
        "now": now,
        "usage": Source.USAGE.value,
        "reference": EVENTS_REFERENCE,
        "category": Category.LLM.value,
        "not_per_user_tag": NOT_PER_USER_TAG,
        **{f"tag_key_{i}": key for i, key in enumerate(settings.LLM_TAG_KEYS)},
    }


def _added(names, table: str = "t") -> str:
    return ", ".join(f"{n} = {table}.{n} + EXCLUDED.{n}" for n in names)


def daily_upsert() -> str:
    """Add the events of `new` to their (day, user, provider, model) rows of the events source.
    Parameters: source, now."""
    names = [c.name for c in COUNTED]
    return f"""
    INSERT INTO {DAILY} AS t ({", ".join(DAILY_KEY)}, {", ".join(names)}, cost, currency,
        updated_at)
    SELECT day, user_id, provider, model, %(source)s, {", ".join(c.of_events for c in COUNTED)},
        coalesce(sum(cost), 0), 'USD', %(now)s
    FROM new GROUP BY day, user_id, provider, model ORDER BY day, user_id, provider, model
    ON CONFLICT ({", ".join(DAILY_KEY)}) DO UPDATE SET {_added(names)},
        cost = coalesce(t.cost, 0) + EXCLUDED.cost, currency = EXCLUDED.currency,
        updated_at = EXCLUDED.updated_at"""


def usage_entries_upsert(dialect: str) -> str:
    """Add the costed events of `new` to the `usage` cost entry of their day, provider and
    model. Parameters: usage, reference, category, now."""
    table, key = CostEntry._meta.db_table, ", ".join(COST_ENTRY_KEY)
    return f"""
    INSERT INTO {table} AS t ({key}, billed_cost, quantity, category, currency, unit, adjustment,
        tags, created_at, updated_at)
    SELECT provider, model, day, {DIALECTS[dialect]["next_day"]}, %(usage)s, %(reference)s,
        sum(cost), sum({" + ".join(TOKEN_KINDS)}), %(category)s, 'USD', 'tokens', false, '{{}}',
        %(now)s, %(now)s
    FROM new WHERE cost IS NOT NULL
    GROUP BY day, provider, model ORDER BY provider, model, day
    ON CONFLICT ({key}) DO UPDATE SET
        billed_cost = coalesce(t.billed_cost, 0) + EXCLUDED.billed_cost,
        quantity = coalesce(t.quantity, 0) + EXCLUDED.quantity, updated_at = EXCLUDED.updated_at"""


def tagged(dialect: str, tag_keys: int) -> str:
    """The (day, user_id, key, value, cost) of each tag value of `new` with a key of
    LLM_TAG_KEYS. Parameters: tag_key_0 ... tag_key_<n-1>."""
    keys = ", ".join(f"%(tag_key_{i})s" for i in range(tag_keys)) or "NULL"
    return f"""
    SELECT day, user_id, tag.key AS key, tag.value AS value, cost
    FROM new {DIALECTS[dialect]["tag_pairs"]}
    WHERE tag.key IN ({keys}) AND tag.value <> ''"""


def tag_sums_upsert(*, per_value: bool, per_user: bool = False) -> str:
    """Add `tagged` to the tag sums per (day, key, value), per (day, key), or per (day, user,
    key, value) but the conversations (`per_user`). Parameters: now, not_per_user_tag."""
    if per_user:
        table, key = LlmUsageUserTagDaily._meta.db_table, "day, user_id, key, value"
        where = "WHERE key <> %(not_per_user_tag)s"
    else:
        table = (LlmUsageTagDaily if per_value else LlmUsageTagKeyDaily)._meta.db_table
        key, where = ("day, key, value" if per_value else "day, key"), ""
    names = [c.name for c in TAG_COUNTED]
    return f"""
    INSERT INTO {table} AS t ({key}, {", ".join(names)}, cost, updated_at)
    SELECT {key}, {", ".join(c.of_events for c in TAG_COUNTED)}, coalesce(sum(cost), 0), %(now)s
    FROM tagged {where} GROUP BY {key} ORDER BY {key}
    ON CONFLICT ({key}) DO UPDATE SET {_added(names)}, cost = t.cost + EXCLUDED.cost,
        updated_at = EXCLUDED.updated_at"""


TAGS_LATEST = LlmUsageTagLatest._meta.db_table
TAG_DAILY = LlmUsageTagDaily._meta.db_table


def tags_latest_forward(rows: str) -> str:
    """Move each value's latest day forward to the newest of `rows` (key, value, day)."""
    return f"""
    INSERT INTO {TAGS_LATEST} AS l (key, value, day)
    SELECT key, value, max(day) FROM {rows} GROUP BY key, value ORDER BY key, value
    ON CONFLICT (key, value) DO UPDATE SET day = EXCLUDED.day WHERE l.day < EXCLUDED.day"""


# After the tag rows of some days were rebuilt, a value whose latest day was rebuilt without it
# gets the latest day left (or loses its row). Rechecked on the row as it is then.
TAGS_LATEST_STALE = f"""
WITH stale AS (
    SELECT l.key, l.value, l.day FROM {TAGS_LATEST} l
    WHERE l.day = ANY(%(days)s) AND NOT EXISTS (
        SELECT 1 FROM {TAG_DAILY} t WHERE t.day = l.day AND t.key = l.key AND t.value = l.value)
), remaining AS (
    SELECT t.key, t.value, max(t.day) AS day
    FROM {TAG_DAILY} t JOIN stale s USING (key, value) GROUP BY t.key, t.value
), moved AS (
    UPDATE {TAGS_LATEST} AS l SET day = r.day
    FROM stale s JOIN remaining r USING (key, value)
    WHERE l.key = s.key AND l.value = s.value AND l.day = s.day
)
DELETE FROM {TAGS_LATEST} AS l USING stale s
WHERE l.key = s.key AND l.value = s.value AND l.day = s.day
    AND NOT EXISTS (SELECT 1 FROM remaining r WHERE r.key = s.key AND r.value = s.value)
"""


# The trigger on LlmUsageDaily: it keeps LlmUsageModelDaily (summed over users) and
# LlmUsageUserDaily (summed over providers and models) equal to its sums, whoever writes it, in
# the writer's statement. The changed rows come in the statement's transition tables, added as
# new minus old (`sign`). Rows go in key order, so that concurrent writers lock them in the same
# order and cannot deadlock. `rows` counts the LlmUsageDaily rows summed: a sum left with none
# is deleted; `costed_rows` counts those with a USD cost, so that "nothing costed" stays apart
# from 0. The user sums also keep each user's active days per month (LlmUsageUserMonth, bit n-1
# for the n-th) and latest day (LlmUsageUserLatest), each user's active days as rows
# (LlmUsageUserActiveDay) and the count of users per active day and next active day
# (LlmUsageUserNextDayCount), for counting the distinct active users; and the per-user sums
# again per month (LlmUsageUserMonthly), for the top users of long ranges.
MODEL_DAILY = LlmUsageModelDaily._meta.db_table
USER_DAILY = LlmUsageUserDaily._meta.db_table
USER_MONTH = LlmUsageUserMonth._meta.db_table
USER_LATEST = LlmUsageUserLatest._meta.db_table
USER_MONTHLY = LlmUsageUserMonthly._meta.db_table
CLOSED_MONTHS = LlmUsageClosedMonth._meta.db_table
USER_ACTIVE_DAY = LlmUsageUserActiveDay._meta.db_table
USER_NEXT_DAY = LlmUsageUserNextDayCount._meta.db_table
TRIGGER_FUNCTION = "costledger_llmusagedaily_rollups"
USD_COST = """coalesce(sum(sign * cost) FILTER (WHERE currency = 'USD'), 0),
        coalesce(sum(sign) FILTER (WHERE cost IS NOT NULL AND currency = 'USD'), 0)"""
NEW = "SELECT 1 AS sign, * FROM new_rows"
OLD = "SELECT -1 AS sign, * FROM old_rows"


def _by_model(changes: str) -> str:
    names = ["rows", *(c.name for c in COUNTED), "cost", "costed_rows"]
    sums = ", ".join(f"sum(sign * {c.name})" for c in COUNTED)
    return f"""
    INSERT INTO {MODEL_DAILY} AS t (day, provider, model, source, {", ".join(names)})
    SELECT day, provider, model, source, sum(sign), {sums},
        {USD_COST}
    FROM ({changes}) AS change
    GROUP BY day, provider, model, source ORDER BY day, provider, model, source
    ON CONFLICT (day, provider, model, source) DO UPDATE SET {_added(names)}"""


PER_USER = ["rows", *(c.name for c in COUNTED if c.per_user), "tokens", "cost", "costed_rows"]


def _by_user(changes: str, *, monthly: bool = False) -> str:
    """Per (day, user, source) into LlmUsageUserDaily, or, for the changes in closed months,
    per (month, user, source) into LlmUsageUserMonthly: the same columns (PER_USER), summed
    over a day or a month."""
    per_user = [c.name for c in COUNTED if c.per_user]
    tokens = " + ".join(TOKEN_KINDS)
    table, period, of_row, closed = (USER_DAILY, "day", "day", "")
    if monthly:
        table, period, of_row = (USER_MONTHLY, "month", MONTH)
        closed = f"WHERE {MONTH} IN (SELECT month FROM {CLOSED_MONTHS})"
    return f"""
    INSERT INTO {table} AS t ({period}, user_id, source, {", ".join(PER_USER)})
    SELECT {of_row}, user_id, source, sum(sign),
        {", ".join(f"sum(sign * {n})" for n in per_user)},
        sum(sign * ({tokens})),
        {USD_COST}
    FROM ({changes}) AS change {closed}
    GROUP BY {of_row}, user_id, source ORDER BY {of_row}, user_id, source
    ON CONFLICT ({period}, user_id, source) DO UPDATE SET {_added(PER_USER)}"""


# A month that has ended, added up from its per-user days (LlmUsageUserDaily already sums
# LlmUsageDaily per user and day: its PER_USER columns add up). Parameters: month, next_month.
MONTH_CLOSE = f"""
INSERT INTO {USER_MONTHLY} (month, user_id, source, {", ".join(PER_USER)})
SELECT %(month)s, user_id, source, {", ".join(f"sum({n})" for n in PER_USER)}
FROM {USER_DAILY} WHERE day >= %(month)s AND day < %(next_month)s
GROUP BY user_id, source"""


MONTH = "date_trunc('month', day)::date"
BIT = "bit_or(1 << (extract(day FROM day)::int - 1))"
LAST_DAY = "m.month + (32 - position('1' IN m.days::bit(32)::text))"  # a month row's highest bit


def _model_sums(changes: str, *, removes: bool = True) -> str:
    return _summed(_by_model(changes), MODEL_DAILY, removes=removes)


def _user_month_sums(changes: str, *, removes: bool = True) -> str:
    return _summed(_by_user(changes, monthly=True), USER_MONTHLY, removes=removes)


def _summed(upsert: str, table: str, *, removes: bool) -> str:
    """The upsert, then the sums it left with no row deleted (by id: the ids come from the
    upsert itself; a join with the transition table would be planned on the statistics of the
    moment, a seq scan per row on a table still small when the plan was cached). An INSERT
    only adds: nothing to delete."""
    if not removes:
        return f"{upsert};"
    return f"""
    WITH summed AS ({upsert}
        RETURNING id, rows)
    SELECT array_agg(id) FILTER (WHERE rows = 0) INTO emptied FROM summed;
    IF emptied IS NOT NULL THEN
        DELETE FROM {table} WHERE id = ANY(emptied);
    END IF;"""


def _user_sums(changes: str) -> str:
    """The per-user upsert. The user days it created set their bit and move the user's latest
    day forward; those it emptied are deleted, their bits cleared (a month row goes once it has
    no bit left), and a user whose latest day went gets the latest left (or loses the row).
    Every removal is rechecked on the row as it is then: a concurrent writer may have set
    another bit or a later day meanwhile, which stays."""
    return f"""
    WITH summed AS ({_by_user(changes)}
        RETURNING id, day, user_id, source, rows, (t.xmax = 0) AS created
    ), marked AS (
        INSERT INTO {USER_MONTH} AS m (month, user_id, days)
        SELECT {MONTH}, user_id, {BIT} FROM summed
        WHERE created AND source = 'events' AND user_id <> ''
        GROUP BY 1, 2 ORDER BY 1, 2
        ON CONFLICT (month, user_id) DO UPDATE SET days = m.days | EXCLUDED.days
    ), latest AS (
        INSERT INTO {USER_LATEST} AS l (user_id, day)
        SELECT user_id, max(day) FROM summed
        WHERE created AND source = 'events' AND user_id <> ''
        GROUP BY 1 ORDER BY 1
        ON CONFLICT (user_id) DO UPDATE SET day = EXCLUDED.day WHERE l.day < EXCLUDED.day
    ), active AS (
        INSERT INTO {USER_ACTIVE_DAY} (user_id, day)
        SELECT user_id, day FROM summed
        WHERE created AND source = 'events' AND user_id <> '' ORDER BY 1, 2
    )
    SELECT array_agg(id) FILTER (WHERE rows = 0),
        array_agg(day) FILTER (WHERE created AND source = 'events' AND user_id <> ''),
        array_agg(user_id) FILTER (WHERE created AND source = 'events' AND user_id <> '')
    INTO emptied, made_days, made_users FROM summed;
    IF emptied IS NOT NULL THEN
        WITH gone AS (
            DELETE FROM {USER_DAILY} WHERE id = ANY(emptied)
            RETURNING day, user_id, source
        )
        SELECT array_agg(day), array_agg(user_id) INTO gone_days, gone_users
        FROM gone WHERE source = 'events' AND user_id <> '';
    END IF;
    IF gone_users IS NOT NULL THEN
        DELETE FROM {USER_ACTIVE_DAY} AS a USING unnest(gone_users, gone_days) AS g(user_id, day)
        WHERE a.user_id = g.user_id AND a.day = g.day;
    END IF;
    IF emptied IS NOT NULL AND gone_users IS NOT NULL THEN
        WITH cleared AS (
            UPDATE {USER_MONTH} AS m SET days = m.days & ~b.days
            FROM (SELECT {MONTH} AS month, user_id, {BIT} AS days
                  FROM unnest(gone_days, gone_users) AS g(day, user_id) GROUP BY 1, 2) AS b
            WHERE m.month = b.month AND m.user_id = b.user_id
            RETURNING m.id, m.days
        )
        SELECT array_agg(id) FILTER (WHERE days = 0) INTO emptied FROM cleared;
        IF emptied IS NOT NULL THEN
            DELETE FROM {USER_MONTH} WHERE id = ANY(emptied) AND days = 0;
        END IF;
        WITH stale AS (
            SELECT DISTINCT l.user_id, l.day FROM {USER_LATEST} l
            JOIN unnest(gone_days, gone_users) AS g(day, user_id)
                ON l.user_id = g.user_id AND l.day = g.day
        ), remaining AS (
            SELECT m.user_id, max({LAST_DAY}) AS day
            FROM {USER_MONTH} m JOIN stale USING (user_id) GROUP BY m.user_id
        ), moved AS (
            UPDATE {USER_LATEST} AS l SET day = r.day
            FROM stale s JOIN remaining r USING (user_id)
            WHERE l.user_id = s.user_id AND l.day = s.day
        )
        DELETE FROM {USER_LATEST} AS l USING stale s
        WHERE l.user_id = s.user_id AND l.day = s.day
            AND NOT EXISTS (SELECT 1 FROM remaining r WHERE r.user_id = s.user_id);
    END IF;
    -- After the latest days' upsert (a statement of its own): the user's rows are locked and
    -- this statement sees every user day committed before, so no concurrent batch is missed.
    IF made_users IS NOT NULL OR gone_users IS NOT NULL THEN{_user_next_days()}
    END IF;"""


def _user_next_days() -> str:
    """The user days the per-user upsert created (made_*) and emptied (gone_*), counted."""
    changes = """
            SELECT user_id, day, 1 AS sign FROM unnest(made_users, made_days) AS m(user_id, day)
            UNION ALL
            SELECT user_id, day, -1 FROM unnest(gone_users, gone_days) AS g(user_id, day)"""
    return _next_days_counted(
        changes, presence=USER_ACTIVE_DAY, entity=("user_id",), counts=USER_NEXT_DAY, count="users"
    )


def _next_days_counted(
    changes: str, *, presence: str, entity: tuple[str, ...], counts: str, count: str
) -> str:
    """Update the count of entities (users, tag values) per (day, next active day) for the
    active days added (+1) or removed (-1) in `changes` (entity columns, day, sign), `presence`
    holding the days as they are now (one row per entity and day, indexed by entity and day).

    Only the pairs of days around a change move: each changed day with the unchanged day just
    before and just after it (one index probe each). Counted on those days before and after the
    change (a day's next is the following one of its entity; the last has none), the pairs that
    did not move appear on both sides and cancel out. A count left at 0 is deleted (by id, as
    `_summed` does): a rebuild leaves the rows it found."""
    ent = ", ".join(entity)
    same = " AND ".join(f"p.{e} = c.{e}" for e in entity)
    group = ", ".join([*entity[:-1], "day", "next_day"])  # tags: per key; users: all together
    return f"""
        WITH changed AS ({changes}
        ), changed_days AS (
            SELECT {ent}, array_agg(day) AS days FROM changed GROUP BY {ent}
        ), around AS (
            SELECT {", ".join(f"c.{e}" for e in entity)}, near.day
            FROM changed c JOIN changed_days USING ({ent})
            CROSS JOIN LATERAL (
                (SELECT p.day FROM {presence} p WHERE {same} AND p.day < c.day
                    AND p.day <> ALL (changed_days.days) ORDER BY p.day DESC LIMIT 1)
                UNION ALL
                (SELECT p.day FROM {presence} p WHERE {same} AND p.day > c.day
                    AND p.day <> ALL (changed_days.days) ORDER BY p.day LIMIT 1)
            ) AS near
        ), days AS (  -- each day near a change: whether it was there before, and is after
            SELECT {ent}, day, true AS before, true AS after FROM around
            UNION
            SELECT {ent}, day, sign < 0, sign > 0 FROM changed
        ), pairs AS (
            SELECT {ent}, day, lead(day) OVER (PARTITION BY {ent} ORDER BY day) AS next_day,
                1 AS sign
            FROM days WHERE after
            UNION ALL
            SELECT {ent}, day, lead(day) OVER (PARTITION BY {ent} ORDER BY day), -1
            FROM days WHERE before
        ), counted AS (
            INSERT INTO {counts} AS t ({group}, {count})
            SELECT {group}, sum(sign) FROM pairs
            GROUP BY {group} HAVING sum(sign) <> 0 ORDER BY {group}
            ON CONFLICT ({group}) DO UPDATE SET {count} = t.{count} + EXCLUDED.{count}
            RETURNING id, {count}
        )
        SELECT array_agg(id) FILTER (WHERE {count} = 0) INTO emptied FROM counted;
        IF emptied IS NOT NULL THEN
            DELETE FROM {counts} WHERE id = ANY(emptied);
        END IF;"""


def trigger_function() -> str:
    """The trigger's function, as `usage/sql/llm_usage_daily_sums_v<N>.sql` stores it. Static SQL
    in each branch (not EXECUTE): PL/pgSQL prepares it once per connection."""
    both = f"{NEW} UNION ALL {OLD}"
    monthly_new = _user_month_sums(NEW, removes=False)
    return f"""-- Generated by `manage.py usage_sums_sql` from usage/sums.py: edit that, not this.
CREATE OR REPLACE FUNCTION {TRIGGER_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
    emptied bigint[];
    gone_days date[];
    gone_users text[];
    made_days date[];
    made_users text[];
BEGIN
    IF TG_OP = 'INSERT' THEN{_model_sums(NEW, removes=False)}{_user_sums(NEW)}{monthly_new}
    ELSIF TG_OP = 'UPDATE' THEN{_model_sums(both)}{_user_sums(both)}{_user_month_sums(both)}
    ELSIF TG_OP = 'DELETE' THEN{_model_sums(OLD)}{_user_sums(OLD)}{_user_month_sums(OLD)}
    ELSE  -- TRUNCATE
        DELETE FROM {MODEL_DAILY};
        DELETE FROM {USER_DAILY};
        DELETE FROM {USER_MONTHLY};
        DELETE FROM {USER_MONTH};
        DELETE FROM {USER_LATEST};
        DELETE FROM {USER_ACTIVE_DAY};
        DELETE FROM {USER_NEXT_DAY};
    END IF;
    RETURN NULL;
END
$fn$;
"""


# The triggers on LlmUsageTagDaily: they keep the count of tag values per day and next day
# (LlmUsageTagNextDayCount) as its rows come and go (ingest creates them, a rebuild deletes and
# recreates them; their keys never change, and an update only adds to their sums). At the end of
# the ingest statement, after its upsert of the values' latest days (LlmUsageTagLatest) has
# locked each value's row: a concurrent batch adding a day of the same value waits, then sees
# this one's days. A transition table is named by the event that provides it: one function per
# event.
TAG_NEXT_DAY = LlmUsageTagNextDayCount._meta.db_table
TAG_TRIGGER_FUNCTIONS = {  # the rows added and removed, as the event provides them
    "costledger_llmusagetagdaily_added": "SELECT key, value, day, 1 AS sign FROM new_rows",
    "costledger_llmusagetagdaily_removed": "SELECT key, value, day, -1 AS sign FROM old_rows",
}
TAG_TRUNCATED = "costledger_llmusagetagdaily_truncated"


def tag_trigger_functions() -> str:
    """The functions of the triggers on LlmUsageTagDaily, as
    `usage/sql/llm_usage_tag_next_days_v<N>.sql` stores them."""
    functions = [
        _plpgsql(
            name,
            _next_days_counted(
                changes,
                presence=TAG_DAILY,
                entity=("key", "value"),
                counts=TAG_NEXT_DAY,
                count='"values"',
            ),
        )
        for name, changes in TAG_TRIGGER_FUNCTIONS.items()
    ]
    functions.append(_plpgsql(TAG_TRUNCATED, f"\n    DELETE FROM {TAG_NEXT_DAY};"))
    header = (
        "-- Generated by `manage.py usage_sums_sql --tags` from usage/sums.py: edit that, not this."
    )
    return "\n\n".join([header, *functions])


def _plpgsql(name: str, body: str) -> str:
    return f"""CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
    emptied bigint[];
BEGIN{body}
    RETURN NULL;
END
$fn$;
"""

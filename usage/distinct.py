"""Distinct counts over a range: the active users and the values of a tag (conversations).

On PostgreSQL both come from a count per active day and next active day (of a user, of a tag
value), kept by triggers (usage.sums): each user active over [start, end] has exactly one last
active day in it, the day of the range whose next active day is after `end`, or none. So the
distinct users of any range are a sum over its days, a few hundred rows, where its user days
are hundreds of thousands; whether the range ends today or a year ago."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import connection
from django.db.models import Sum

from usage.effective import day_sources, effective_rows_on, summed_table
from usage.models import (
    LlmUsageSource,
    LlmUsageTagDaily,
    LlmUsageTagKeyDaily,
    LlmUsageUserDaily,
)

# The users whose last active day of [start, end] is one of its days: those whose next active
# day is after the end, or who have none.
ACTIVE_USERS = (
    "SELECT coalesce(sum(users), 0) FROM costledger_llmusageusernextdaycount "
    "WHERE day >= %(start)s AND day <= %(end)s AND (next_day > %(end)s OR next_day IS NULL)"
)


def active_users(*, start: date, end: date) -> int:
    """The distinct users (with an id) with usage that counts over [start, end].

    On PostgreSQL, when only events count in the range (no Prometheus row of a day without
    events): from the count of users per active day and next active day
    (LlmUsageUserNextDayCount). Otherwise by counting the distinct users of the day rows."""
    sources = day_sources(start=start, end=end)
    if connection.vendor == "postgresql" and not _prometheus_counts(sources):
        with connection.cursor() as cursor:
            cursor.execute(ACTIVE_USERS, {"start": start, "end": end})
            return int(cursor.fetchone()[0])
    # COUNT over a DISTINCT subquery: PostgreSQL hashes it, where COUNT(DISTINCT) sorts.
    return (
        effective_rows_on(summed_table(LlmUsageUserDaily), sources)
        .exclude(user_id="")
        .values("user_id")
        .distinct()
        .count()
    )


def _prometheus_counts(sources: list[tuple[date, str]]) -> bool:
    """Whether any Prometheus per-user row counts in the range: one on a day without events."""
    without_events = [day for day, source in sources if source == LlmUsageSource.PROMETHEUS]
    return bool(without_events) and (
        LlmUsageUserDaily.objects.filter(
            source=LlmUsageSource.PROMETHEUS, day__in=without_events
        ).exists()
    )


@dataclass(frozen=True)
class TagValueCost:
    value: str
    cost: Decimal  # USD
    requests: int


@dataclass(frozen=True)
class LlmTagTotals:
    conversations: int  # distinct `conversation_id` tag values with usage
    conversation_cost: Decimal  # USD cost of the requests that carry one
    by_tag: dict[str, list[TagValueCost]]  # per key asked: its dearest values


CONVERSATION_KEY = "conversation_id"
# The values of the tag whose last day of the range is one of its days (as ACTIVE_USERS), and
# the cost of the requests carrying the tag in the range.
TAG_VALUES = (
    'SELECT (SELECT coalesce(sum("values"), 0) FROM costledger_llmusagetagnextdaycount '
    "WHERE key = %(key)s AND day >= %(start)s AND day <= %(end)s "
    "AND (next_day > %(end)s OR next_day IS NULL)), "
    "(SELECT coalesce(sum(cost), 0) FROM costledger_llmusagetagkeydaily "
    "WHERE key = %(key)s AND day >= %(start)s AND day <= %(end)s)"
)


def llm_tag_totals(*, start: date, end: date, keys: list[str], limit: int = 10) -> LlmTagTotals:
    """Over [start, end], from the tag rollups (ingested events only): the distinct
    conversations and their cost, and for each of `keys` (agent, feature) its `limit` dearest
    values."""
    tagged = LlmUsageTagDaily.objects.filter(day__gte=start, day__lte=end)
    by_tag: dict[str, list[TagValueCost]] = {}
    for row in (
        tagged.filter(key__in=keys)
        .values("key", "value")
        .annotate(cost_sum=Sum("cost"), requests_sum=Sum("requests"))
        .order_by("key", "-cost_sum", "value")
    ):
        values = by_tag.setdefault(row["key"], [])
        if len(values) < limit:
            values.append(TagValueCost(row["value"], row["cost_sum"], row["requests_sum"]))
    conversations, cost = _distinct_values(CONVERSATION_KEY, start=start, end=end)
    return LlmTagTotals(conversations=conversations, conversation_cost=cost, by_tag=by_tag)


def _distinct_values(key: str, *, start: date, end: date) -> tuple[int, Decimal]:
    """The distinct values of tag `key` over [start, end], and the cost of the requests that
    carry it. On PostgreSQL, from the count of values per day and next day
    (LlmUsageTagNextDayCount); on SQLite by counting the distinct values of the day rows."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(TAG_VALUES, {"key": key, "start": start, "end": end})
            values, cost = cursor.fetchone()
            return int(values), cost
    cost = LlmUsageTagKeyDaily.objects.filter(day__gte=start, day__lte=end, key=key).aggregate(
        cost=Sum("cost")
    )["cost"] or Decimal(0)
    rows = LlmUsageTagDaily.objects.filter(day__gte=start, day__lte=end, key=key)
    return rows.values("value").distinct().order_by().count(), cost

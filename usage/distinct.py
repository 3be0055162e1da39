"""Distinct counts over a range: the active users (from each user's latest day or their months'
active days, tables the sums' trigger keeps) and the values of a tag (conversations)."""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db import connection
from django.db.models import Sum

from costledger.days import add_months
from usage.effective import day_sources, effective_rows_on, summed_table
from usage.models import (
    LlmUsageSource,
    LlmUsageTagDaily,
    LlmUsageTagKeyDaily,
    LlmUsageUserDaily,
)

ACTIVE_USERS_TO_DATE = (
    "SELECT (SELECT max(day) FROM costledger_llmusageuserlatest), "
    "(SELECT count(*) FROM costledger_llmusageuserlatest WHERE day >= %s)"
)
_ACTIVE = (
    "SELECT {distinct} u.user_id FROM costledger_llmusageusermonth u "
    "JOIN unnest(%s::date[], %s::integer[]) AS w(month, mask) ON u.month = w.month "
    "WHERE u.month >= %s AND u.month <= %s AND u.days & w.mask <> 0"
)
# COUNT over a DISTINCT subquery: PostgreSQL hashes it, where COUNT(DISTINCT) sorts. Within one
# month there is nothing to make distinct: a user has one row per month.
ACTIVE_USERS = f"SELECT count(*) FROM ({_ACTIVE.format(distinct='DISTINCT')}) AS active"  # noqa: S608 (constant)
ACTIVE_USERS_IN_A_MONTH = f"SELECT count(*) FROM ({_ACTIVE.format(distinct='')}) AS active"  # noqa: S608 (constant)


def active_users(*, start: date, end: date) -> int:
    """The distinct users (with an id) with usage that counts over [start, end].

    On PostgreSQL, when only events count in the range (no Prometheus row of a day without
    events): from each user's latest day (LlmUsageUserLatest) when no user has a day after the
    range, else from the users' months (LlmUsageUserMonth: one row per user and month, its days
    as bits, where LlmUsageUserDaily has one per user and day). Otherwise by counting the
    distinct users of the day rows."""
    sources = day_sources(start=start, end=end)
    if connection.vendor == "postgresql" and not _prometheus_counts(sources):
        with connection.cursor() as cursor:
            cursor.execute(ACTIVE_USERS_TO_DATE, [start])
            latest, to_date = cursor.fetchone()
            if latest is None or latest <= end:
                return to_date
            spans = _month_spans(start, end)
            months = [first.replace(day=1) for first, _ in spans]
            masks = [(1 << last.day) - (1 << (first.day - 1)) for first, last in spans]
            cursor.execute(
                ACTIVE_USERS if len(months) > 1 else ACTIVE_USERS_IN_A_MONTH,
                [months, masks, months[0], months[-1]],
            )
            return cursor.fetchone()[0]
    # COUNT over a DISTINCT subquery, as above.
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


def _month_spans(start: date, end: date) -> list[tuple[date, date]]:
    """[start, end] cut at month ends: (first, last) day of each month's part."""
    spans = []
    while start <= end:
        month_end = add_months(start.replace(day=1), 1) - timedelta(days=1)
        spans.append((start, min(end, month_end)))
        start = month_end + timedelta(days=1)
    return spans


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
# The latest day of all the tag's values, how many values have their latest day on or after the
# start (while no value has a day after the range, the count of its distinct values), and the
# cost of the requests carrying the tag in the range.
TAG_VALUES_TO_DATE = (
    "SELECT (SELECT max(day) FROM costledger_llmusagetaglatest WHERE key = %(key)s), "
    '(SELECT coalesce(sum("values"), 0) FROM costledger_llmusagetaglatestcount '
    "WHERE key = %(key)s AND day >= %(start)s), "
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
    carry it. On PostgreSQL, from the count of values per latest day (LlmUsageTagLatestCount)
    when no value has a day after the range; otherwise by counting the distinct values of the
    day rows."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(TAG_VALUES_TO_DATE, {"key": key, "start": start, "end": end})
            latest, to_date, cost = cursor.fetchone()
            if latest is None or latest <= end:
                return int(to_date), cost
    else:
        cost = LlmUsageTagKeyDaily.objects.filter(day__gte=start, day__lte=end, key=key).aggregate(
            cost=Sum("cost")
        )["cost"] or Decimal(0)
    rows = LlmUsageTagDaily.objects.filter(day__gte=start, day__lte=end, key=key)
    # COUNT over a DISTINCT subquery: hashed, where COUNT(DISTINCT) sorts (by collation).
    return rows.values("value").distinct().order_by().count(), cost

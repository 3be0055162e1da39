"""The users who cost most over a range, found without adding up every user (`_top_users`).

On PostgreSQL a range is read as whole calendar months from the per-user monthly sums
(LlmUsageUserMonthly, for the months that have ended) and the other days from the per-user
daily sums (LlmUsageUserDaily): a year is a dozen months and a few days, not 366 days."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db import connection
from django.db.models import F, QuerySet, Sum

from costledger.days import add_months
from usage.effective import (
    COMPLETION_TOKENS,
    PROMPT_TOKENS,
    day_sources,
    llm_usage_daily_effective,
    months_and_days,
    usd_cost,
)
from usage.models import (
    LlmUsageClosedMonth,
    LlmUsageSource,
    LlmUsageUserDaily,
    UsageUser,
)

# `_top_users` reads at first this many users of each day or month (or twice the users asked for).
# It gives up on the heads once they would read more than TOP_USERS_MAX_HEAD_ROWS rows, or look
# up more than TOP_USERS_MAX_LOOKUPS (user, day or month) pairs, and adds up every user of the
# range instead (as exact; slower than the heads are when they settle the top).
TOP_USERS_FIRST_DEPTH = 50
# A month's head is read this many times deeper than a day's: its tail (the last cost read) is
# a month of a user's usage, and the bound adds the tail of each period.
MONTH_DEPTH = 4
TOP_USERS_MAX_HEAD_ROWS = 20_000
TOP_USERS_MAX_LOOKUPS = 50_000


@dataclass(frozen=True)
class UserLlmCost:
    user_id: str
    email: str | None  # None: not (yet) known from Supabase auth; show the id
    requests: int
    tokens: int
    cost: Decimal | None
    unpriced_requests: int


def llm_cost_by_user(*, start: date, end: date, limit: int = 20) -> list[UserLlmCost]:
    """The `limit` users who cost most over [start, end], with their email when known."""
    if connection.vendor == "postgresql":
        rows = _top_users(start=start, end=end, limit=limit)
    else:
        rows = list(_users_ranked(llm_usage_daily_effective(start=start, end=end))[:limit])
    # The emails of the `limit` users only, in a second small query: an email subquery in the
    # aggregate would be put in its GROUP BY, and so run for every rollup row of the range.
    emails = dict(
        UsageUser.objects.filter(user_id__in=[row["user_id"] for row in rows])
        .exclude(email="")
        .values_list("user_id", "email")
    )
    return [
        UserLlmCost(
            user_id=row["user_id"],
            email=emails.get(row["user_id"]),
            requests=row["requests_sum"],
            tokens=row["tokens_sum"],
            cost=row["cost_sum"],
            unpriced_requests=row["unpriced_sum"],
        )
        for row in rows
    ]


def _users_ranked(rows: QuerySet) -> QuerySet:
    """Per user: requests, tokens, cost and unpriced requests, dearest first (a user with
    nothing costed after every costed one), then by requests, then by id."""
    model = rows.model
    tokens = Sum("tokens") if model is LlmUsageUserDaily else Sum(PROMPT_TOKENS + COMPLETION_TOKENS)
    return (
        rows.values("user_id")
        .annotate(
            requests_sum=Sum("requests"),
            tokens_sum=tokens,
            cost_sum=usd_cost(model),
            unpriced_sum=Sum("unpriced_requests"),
        )
        .order_by(F("cost_sum").desc(nulls_last=True), "-requests_sum", "user_id")
    )


def _top_users(*, start: date, end: date, limit: int) -> list[dict]:
    """The first `limit` of `_users_ranked` over [start, end], without adding up every user.

    The range is cut in periods: its whole closed months and its other days (`months_and_days`).
    A user's cost over the range is the sum of their cost in each period. Each period's users
    are read dearest first, down to `depth` (the period's head). A user met in no head cost at
    most, in each period, the last cost read there, or nothing when the whole period was read:
    at most `bound` over the range. The users met who may still rank in the top are added up
    exactly (`_candidates`); once the last of the top `limit` among them cost more than
    `bound`, no user left unread can rank before them, and the top is exact. Otherwise the heads
    are read deeper. Costs are heavy-tailed (a few users cost most), so a few dozen rows a
    period settle it where the range holds hundreds of thousands. Where they do not (large
    limits, many periods: the bound adds up a tail per period), every user of the range is
    added up instead.
    """
    sources = day_sources(start=start, end=end)
    months, days = months_and_days(sources, closed=_closed_months(start=start, end=end))
    periods = len(months) + len(days)
    if not periods:
        return []
    depth = max(2 * limit, TOP_USERS_FIRST_DEPTH)
    while depth * (len(days) + MONTH_DEPTH * len(months)) <= TOP_USERS_MAX_HEAD_ROWS:
        depths = [MONTH_DEPTH * depth] * len(months) + [depth] * len(days)
        heads, never_negative = _heads(months, days, depth)
        read_to_end = [len(rows) < read for rows, read in zip(heads, depths, strict=True)]
        tails = [
            0 if done else max(rows[-1][1], 0)
            for rows, done in zip(heads, read_to_end, strict=True)
        ]
        bound = sum(tails)
        if never_negative:
            candidates = _candidates(heads, tails, limit)
        else:
            candidates = {user_id for rows in heads for user_id, _ in rows}
        # Every (period, user) pair: one probe each in the (day or month, user_id, source)
        # index. Too many candidates: deeper heads leave fewer.
        if len(candidates) * periods <= TOP_USERS_MAX_LOOKUPS:
            top = _ranked(months, days, limit=limit, users=candidates)
            if all(read_to_end):
                return top  # every user of the range was met
            last = top[-1]["cost_sum"] if len(top) == limit else None
            if last is not None and last > bound:
                return top
        depth *= 4
    return _ranked(months, days, limit=limit)


def _closed_months(*, start: date, end: date) -> set[date]:
    """The closed months wholly in [start, end] (none to look up in a range of days)."""
    first = start if start.day == 1 else add_months(start.replace(day=1), 1)
    if add_months(first, 1) - timedelta(days=1) > end:
        return set()
    closed = LlmUsageClosedMonth.objects.filter(month__gte=first, month__lte=end)
    return set(closed.values_list("month", flat=True))


# The per-user sums of the range's periods, added up per user and ranked as `_users_ranked`
# ranks them: its days and months of each source, from LlmUsageUserDaily and
# LlmUsageUserMonthly; {users} for all users, or one lateral lookup per candidate user (one
# index probe per period: a join would be planned as a scan of every row of the periods).
RANKED = """
SELECT user_id, sum(requests) AS requests_sum, sum(tokens) AS tokens_sum,
    CASE WHEN sum(costed_rows) > 0 THEN sum(cost) END AS cost_sum,
    sum(unpriced_requests) AS unpriced_sum
FROM {users}
GROUP BY user_id
ORDER BY cost_sum DESC NULLS LAST, requests_sum DESC, user_id
LIMIT %(limit)s"""
IN_PERIODS = """(
    SELECT {user_id} requests, tokens, cost, costed_rows, unpriced_requests
    FROM costledger_llmusageuserdaily
    WHERE {of_user} ((source = 'events' AND day = ANY(%(event_days)s::date[]))
        OR (source = 'prometheus' AND day = ANY(%(prometheus_days)s::date[])))
    UNION ALL
    SELECT {user_id} requests, tokens, cost, costed_rows, unpriced_requests
    FROM costledger_llmusageusermonthly
    WHERE {of_user} ((source = 'events' AND month = ANY(%(event_months)s::date[]))
        OR (source = 'prometheus' AND month = ANY(%(prometheus_months)s::date[])))
) AS counted"""
ALL_USERS = IN_PERIODS.format(user_id="user_id,", of_user="")
FOR_USERS = "unnest(%(users)s::text[]) AS candidate(user_id) CROSS JOIN LATERAL " + (
    IN_PERIODS.format(user_id="", of_user="user_id = candidate.user_id AND")
)


def _ranked(
    months: list[tuple[date, str]],
    days: list[tuple[date, str]],
    *,
    limit: int,
    users: set[str] | None = None,
) -> list[dict]:
    """The first `limit` users over those months and days (of `users` only, when given)."""
    events, prometheus = LlmUsageSource.EVENTS, LlmUsageSource.PROMETHEUS
    params = {
        "event_days": [day for day, source in days if source == events],
        "prometheus_days": [day for day, source in days if source == prometheus],
        "event_months": [month for month, source in months if source == events],
        "prometheus_months": [month for month, source in months if source == prometheus],
        "users": sorted(users or []),
        "limit": limit,
    }
    with connection.cursor() as cursor:
        cursor.execute(RANKED.format(users=ALL_USERS if users is None else FOR_USERS), params)
        return [
            {
                "user_id": user_id,
                # sum(bigint) is numeric in PostgreSQL: counts back to int, as the ORM gives them
                "requests_sum": int(requests),
                "tokens_sum": int(tokens),
                "cost_sum": cost,
                "unpriced_sum": int(unpriced),
            }
            for user_id, requests, tokens, cost, unpriced in cursor.fetchall()
        ]


def _candidates(heads: list[list[tuple[str, Decimal]]], tails: list, limit: int) -> set[str]:
    """The users met in the heads who may rank in the top `limit`. A user cost at least what
    the heads show of them (no cost is negative) and at most that plus the tail of each period
    whose head they are not in: whoever's most is below the `limit`-th largest least is out."""
    least: dict[str, Decimal] = defaultdict(Decimal)
    bound = sum(tails)  # once: a user first met starts at it
    most = defaultdict(lambda: bound)
    for rows, tail in zip(heads, tails, strict=True):
        for user_id, cost in rows:
            least[user_id] += cost
            most[user_id] += cost - tail
    if len(least) <= limit:
        return set(least)
    floor = sorted(least.values(), reverse=True)[limit - 1]
    return {user_id for user_id in least if most[user_id] >= floor}


# For each period (a month of LlmUsageUserMonthly or a day of LlmUsageUserDaily, and a source):
# its least cost (the other end of its index range) and its first users by cost (down to the
# depth of a month or of a day: constants, which PostgreSQL plans for, unlike a column),
# dearest first, one index range scan each on (day or month, source, -cost).
HEADS = """
SELECT l.n, h.user_id, h.cost, m.least
FROM unnest(%(periods)s::date[], %(sources)s::text[], %(monthly)s::boolean[])
    WITH ORDINALITY AS l(period, source, monthly, n)
CROSS JOIN LATERAL (  -- OFFSET 0: computed once per period, not once per row of its head
    SELECT CASE WHEN l.monthly
        THEN (SELECT min(v.cost) FROM costledger_llmusageusermonthly v
              WHERE v.month = l.period AND v.source = l.source)
        ELSE (SELECT min(v.cost) FROM costledger_llmusageuserdaily v
              WHERE v.day = l.period AND v.source = l.source)
    END AS least OFFSET 0
) AS m
CROSS JOIN LATERAL (
    (SELECT u.user_id, u.cost FROM costledger_llmusageusermonthly u
     WHERE l.monthly AND u.month = l.period AND u.source = l.source
     ORDER BY u.cost DESC LIMIT %(month_depth)s)
    UNION ALL
    (SELECT u.user_id, u.cost FROM costledger_llmusageuserdaily u
     WHERE NOT l.monthly AND u.day = l.period AND u.source = l.source
     ORDER BY u.cost DESC LIMIT %(day_depth)s)
) AS h
ORDER BY l.n, h.cost DESC"""


def _heads(
    months: list[tuple[date, str]], days: list[tuple[date, str]], depth: int
) -> tuple[list[list[tuple[str, Decimal]]], bool]:
    """For each period (the months, then the days), its first users by cost, dearest first (a
    day's `depth`, a month's MONTH_DEPTH times that); and whether no cost of those periods is
    below 0 (each period's least is the other end of its range), which `_candidates` relies
    on."""
    periods = [(month, source, True) for month, source in months]
    periods += [(day, source, False) for day, source in days]
    with connection.cursor() as cursor:
        cursor.execute(
            HEADS,
            {
                "periods": [period for period, _, _ in periods],
                "sources": [str(source) for _, source, _ in periods],
                "monthly": [monthly for _, _, monthly in periods],
                "day_depth": depth,
                "month_depth": MONTH_DEPTH * depth,
            },
        )
        heads: list[list[tuple[str, Decimal]]] = [[] for _ in periods]
        never_negative = True
        for n, user_id, cost, least in cursor.fetchall():
            heads[n - 1].append((user_id, cost))
            never_negative = never_negative and least >= 0
    return heads, never_negative

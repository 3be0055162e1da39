"""The users who cost most over a range, found without adding up every user (`_top_users`)."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import connection
from django.db.models import F, QuerySet, Sum

from usage.effective import (
    COMPLETION_TOKENS,
    PROMPT_TOKENS,
    day_sources,
    effective_rows_on,
    llm_usage_daily_effective,
    usd_cost,
)
from usage.models import (
    LlmUsageUserDaily,
    UsageUser,
)

# `_top_users` reads at first this many users of each day (or twice the users asked for). It
# gives up on the heads once they would read more than TOP_USERS_MAX_HEAD_ROWS rows, or look up
# more than TOP_USERS_MAX_LOOKUPS (user, day) pairs, and adds up every user of the range instead
# (as exact; slower than the heads are when they settle the top).
TOP_USERS_FIRST_DEPTH = 50
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

    A user's cost over the range is the sum of their cost on each day. Each day's users are read
    dearest first, down to `depth` (the day's head). A user met in no head cost at most, on each
    day, the last cost read that day, or nothing when the whole day was read: at most `bound`
    over the range. The users met who may still rank in the top are added up exactly
    (`_candidates`); once the last of the top `limit` among them cost more than `bound`, no user
    left unread can rank before them, and the top is exact. Otherwise the heads are read
    deeper. Costs are heavy-tailed (a few users cost most), so a few dozen rows a day settle it
    where the range holds hundreds of thousands. Where they do not (long ranges, large
    limits: the bound adds up a tail per day), every user of the range is added up instead.
    """
    sources = day_sources(start=start, end=end)
    effective = effective_rows_on(LlmUsageUserDaily, sources)
    depth = max(2 * limit, TOP_USERS_FIRST_DEPTH)
    while depth * len(sources) <= TOP_USERS_MAX_HEAD_ROWS:
        heads, never_negative = _day_heads(sources, depth)
        read_to_end = [len(rows) < depth for rows in heads]
        tails = [
            0 if done else max(rows[-1][1], 0)
            for rows, done in zip(heads, read_to_end, strict=True)
        ]
        bound = sum(tails)
        if never_negative:
            candidates = _candidates(heads, tails, limit)
        else:
            candidates = {user_id for rows in heads for user_id, _ in rows}
        if len(candidates) * len(sources) > TOP_USERS_MAX_LOOKUPS:
            break
        # Every (day, user) pair: one probe each in the (day, user_id, source) index.
        pairs = effective.filter(day__in=[day for day, _ in sources], user_id__in=candidates)
        top = list(_users_ranked(pairs)[:limit])
        if all(read_to_end):
            return top  # every user of the range was met
        last = top[-1]["cost_sum"] if len(top) == limit else None
        if last is not None and last > bound:
            return top
        depth *= 4
    return list(_users_ranked(effective)[:limit])


def _candidates(heads: list[list[tuple[str, Decimal]]], tails: list, limit: int) -> set[str]:
    """The users met in the heads who may rank in the top `limit`. A user cost at least what
    the heads show of them (no cost is negative) and at most that plus the tail of each day
    whose head they are not in: whoever's most is below the `limit`-th largest least is out."""
    least: dict[str, Decimal] = defaultdict(Decimal)
    most = defaultdict(lambda: sum(tails))
    for rows, tail in zip(heads, tails, strict=True):
        for user_id, cost in rows:
            least[user_id] += cost
            most[user_id] += cost - tail
    if len(least) <= limit:
        return set(least)
    floor = sorted(least.values(), reverse=True)[limit - 1]
    return {user_id for user_id in least if most[user_id] >= floor}


def _day_heads(
    sources: list[tuple[date, str]], depth: int
) -> tuple[list[list[tuple[str, Decimal]]], bool]:
    """For each (day, source), its first `depth` users by cost, dearest first, one index range
    scan each on (day, source, -cost); and whether no cost of those days is below 0 (each
    day's least is the other end of its range), which `_candidates` relies on."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT l.n, h.user_id, h.cost, m.least "
            "FROM unnest(%s::date[], %s::text[]) WITH ORDINALITY AS l(day, source, n) "
            "CROSS JOIN LATERAL (SELECT min(u.cost) AS least FROM costledger_llmusageuserdaily u "
            "WHERE u.day = l.day AND u.source = l.source) AS m "
            "CROSS JOIN LATERAL (SELECT u.user_id, u.cost FROM costledger_llmusageuserdaily u "
            "WHERE u.day = l.day AND u.source = l.source ORDER BY u.cost DESC LIMIT %s) AS h "
            "ORDER BY l.n, h.cost DESC",
            [[day for day, _ in sources], [source for _, source in sources], depth],
        )
        heads: list[list[tuple[str, Decimal]]] = [[] for _ in sources]
        never_negative = True
        for n, user_id, cost, least in cursor.fetchall():
            heads[n - 1].append((user_id, cost))
            never_negative = never_negative and least >= 0
    return heads, never_negative

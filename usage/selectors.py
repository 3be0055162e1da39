"""Reads of LLM usage for the per-user, per-model and per-provider views and their JSON API.

Everything here reads rollups, never raw events. On PostgreSQL, the figures read LlmUsageDaily
summed once more, per model (LlmUsageModelDaily) and per user (LlmUsageUserDaily), tables that
triggers keep equal to its sums: a month is a few hundred rows per model where LlmUsageDaily has
one per user, day and model (half a million in the benchmark, docs/benchmarks.md). The top users
are found by reading only the head of each day's users by cost (`_top_users`); the distinct
active users are counted from each user's latest day or their months' active days
(`_active_users`), tables the same triggers keep. On SQLite (the quick start, small data, no
triggers) the same figures are aggregated from LlmUsageDaily.

Two feeds can describe the same traffic: ingested events (source "events") and the Prometheus
collector (source "prometheus"). They are never added: for each day, the events rows are used
when the day has any, else the Prometheus rows (`llm_usage_daily_effective`).

Costs are in the rollup's currency, USD (the price book's). A row costed in another currency
(a Prometheus feed configured with one) is left out of the cost rather than added to dollars.
A cost is None when nothing in the group was priced: unpriced usage is never costed at 0, and
`unpriced_requests` says how much of a group's usage its cost leaves out.
"""

import threading
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db import connection
from django.db.models import Case, Count, DecimalField, F, Max, Min, Model, Q, QuerySet, Sum, When
from django.db.models.functions import TruncMonth
from django.db.models.lookups import GreaterThan
from django.utils import timezone

from costledger.days import add_months, days_between
from usage.models import (
    CostSource,
    LlmUsageDaily,
    LlmUsageEvent,
    LlmUsageModelDaily,
    LlmUsageSource,
    LlmUsageTagDaily,
    LlmUsageTagKeyDaily,
    LlmUsageUserDaily,
    UsageUser,
)

LLM_CURRENCY = "USD"
RATIO_QUANTUM = Decimal("0.0001")
PERCENT_QUANTUM = Decimal("0.01")

PROMPT_TOKENS = F("input_tokens") + F("cache_read_tokens") + F("cache_write_tokens")
COMPLETION_TOKENS = F("output_tokens") + F("reasoning_tokens")


# `_top_users` reads at first this many users of each day (or twice the users asked for). It
# gives up on the heads once they would read more than TOP_USERS_MAX_HEAD_ROWS rows, or look up
# more than TOP_USERS_MAX_LOOKUPS (user, day) pairs, and adds up every user of the range instead
# (as exact; slower than the heads are when they settle the top).
TOP_USERS_FIRST_DEPTH = 50
TOP_USERS_MAX_HEAD_ROWS = 20_000
TOP_USERS_MAX_LOOKUPS = 50_000


def _cost(model: type[Model]) -> Case | Sum:
    """The USD cost of a group; None when nothing in it was costed in USD."""
    if model is LlmUsageDaily:
        return Sum("cost", filter=Q(currency=LLM_CURRENCY))
    # The summed rollups hold the USD cost only, and count the rows it comes from.
    return Case(
        When(GreaterThan(Sum("costed_rows"), 0), then=Sum("cost")),
        output_field=DecimalField(max_digits=24, decimal_places=10),
    )


def _summed(model: type[Model]) -> type[Model]:
    """`model`, a sum of LlmUsageDaily kept by PostgreSQL triggers, or LlmUsageDaily itself
    where there are no triggers (SQLite)."""
    return model if connection.vendor == "postgresql" else LlmUsageDaily


@dataclass(frozen=True)
class UserLlmCost:
    user_id: str
    email: str | None  # None: not (yet) known from Supabase auth; show the id
    requests: int
    tokens: int
    cost: Decimal | None
    unpriced_requests: int


@dataclass(frozen=True)
class ModelTokenRatio:
    provider: str
    model: str
    prompt_tokens: int  # input + cache read + cache write
    completion_tokens: int  # output + reasoning
    ratio: Decimal | None  # completion / prompt; None without prompt tokens


@dataclass(frozen=True)
class ProviderErrorRate:
    provider: str
    requests: int
    successes: int
    errors: int
    error_percent: Decimal | None  # None without requests


@dataclass(frozen=True)
class MonthlyLlmCost:
    month: date  # the first day of the month
    requests: int
    tokens: int
    cost: Decimal | None
    unpriced_requests: int


def llm_usage_daily_effective(*, start: date, end: date) -> QuerySet[LlmUsageDaily]:
    """The rollup rows of the UTC days [start, end] that count: per day, the events rows when
    the day has any, else the Prometheus rows. (Finding the days with events is one small
    query, run when this is called.)"""
    return _effective(LlmUsageDaily, start=start, end=end)


def _effective(model: type[Model], *, start: date, end: date) -> QuerySet:
    """The rows of `model` (LlmUsageDaily or a sum of it) that count over [start, end]."""
    return _effective_on(model, _sources(start=start, end=end))


def _effective_on(model: type[Model], sources: list[tuple[date, str]]) -> QuerySet:
    if not sources:
        return model.objects.none()
    without_events = [day for day, source in sources if source == LlmUsageSource.PROMETHEUS]
    # A literal list of days rather than a subquery: a subquery in the filter keeps PostgreSQL
    # from scanning in parallel, and the aggregates over it run twice as long.
    return model.objects.filter(day__gte=sources[0][0], day__lte=sources[-1][0]).filter(
        Q(source=LlmUsageSource.EVENTS)
        | Q(source=LlmUsageSource.PROMETHEUS, day__in=without_events)
    )


def _sources(*, start: date, end: date) -> list[tuple[date, str]]:
    """Each day of [start, end] with the source that counts on it."""
    with_events = set(_days_with_events(start=start, end=end))
    return [
        (day, LlmUsageSource.EVENTS if day in with_events else LlmUsageSource.PROMETHEUS)
        for day in days_between(start, end)
    ]


_page = threading.local()


@contextmanager
def llm_page_scope():
    """Within this block (one page building several figures over the same range), the days
    with events are looked up once per range instead of once per figure."""
    _page.days, _page.models = {}, {}
    try:
        yield
    finally:
        del _page.days, _page.models


def _days_with_events(*, start: date, end: date) -> list[date]:
    memo = getattr(_page, "days", None)
    if memo is None:
        return _days_with_events_query(start=start, end=end)
    if (start, end) not in memo:
        memo[(start, end)] = _days_with_events_query(start=start, end=end)
    return memo[(start, end)]


def _days_with_events_query(*, start: date, end: date) -> list[date]:
    if connection.vendor == "postgresql":
        # One index probe per day, stopping at the first events row: under a millisecond,
        # where SELECT DISTINCT day reads every row of the range (PostgreSQL has no skip scan).
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT d::date FROM generate_series(%s::date, %s::date, interval '1 day') AS d "
                "WHERE EXISTS (SELECT 1 FROM costledger_llmusagedaily r "
                "WHERE r.day = d::date AND r.source = %s)",
                [start, end, LlmUsageSource.EVENTS.value],
            )
            return [day for (day,) in cursor.fetchall()]
    # The SQLite quick start: small data, any plan will do.
    return list(
        LlmUsageDaily.objects.filter(day__gte=start, day__lte=end, source=LlmUsageSource.EVENTS)
        .values_list("day", flat=True)
        .distinct()
    )


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
            cost_sum=_cost(model),
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
    sources = _sources(start=start, end=end)
    effective = _effective_on(LlmUsageUserDaily, sources)
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


def _per_model(*, start: date, end: date) -> list[dict]:
    """Sums per provider and model over [start, end], the one query token ratios, error rates
    and usage totals derive from (memoised within a page scope: one query for all three)."""
    memo = getattr(_page, "models", None)
    if memo is not None and (start, end) in memo:
        return memo[(start, end)]
    model = _summed(LlmUsageModelDaily)
    cost = Sum("cost") if model is not LlmUsageDaily else Sum("cost", filter=Q(currency="USD"))
    rows = list(
        _effective(model, start=start, end=end)
        .values("provider", "model")
        .annotate(
            prompt=Sum(PROMPT_TOKENS),
            completion=Sum(COMPLETION_TOKENS),
            requests_sum=Sum("requests"),
            errors_sum=Sum("errors"),
            cost_sum=cost,
            unpriced_sum=Sum("unpriced_requests"),
        )
        .order_by("provider", "model")
    )
    if memo is not None:
        memo[(start, end)] = rows
    return rows


def llm_token_ratios(*, start: date, end: date) -> list[ModelTokenRatio]:
    """Per provider and model over [start, end]: prompt and completion tokens and their ratio."""
    return [
        ModelTokenRatio(
            provider=row["provider"],
            model=row["model"],
            prompt_tokens=row["prompt"],
            completion_tokens=row["completion"],
            ratio=_ratio(row["completion"], row["prompt"], RATIO_QUANTUM),
        )
        for row in _per_model(start=start, end=end)
    ]


def llm_error_rates(*, start: date, end: date) -> list[ProviderErrorRate]:
    """Per provider over [start, end]: requests, successes, errors and the error percentage."""
    totals: dict[str, list[int]] = {}
    for row in _per_model(start=start, end=end):
        counts = totals.setdefault(row["provider"], [0, 0])
        counts[0] += row["requests_sum"]
        counts[1] += row["errors_sum"]
    return [
        ProviderErrorRate(
            provider=provider,
            requests=requests,
            successes=requests - errors,
            errors=errors,
            error_percent=_ratio(100 * errors, requests, PERCENT_QUANTUM),
        )
        for provider, (requests, errors) in sorted(totals.items())
    ]


def llm_cost_by_month(*, months: int = 6, last_month: date | None = None) -> list[MonthlyLlmCost]:
    """LLM cost per calendar month (UTC), the `months` months up to `last_month` (any day of
    it; default: this month), oldest first. A month without usage is there with zeros."""
    last = (last_month or timezone.now().date()).replace(day=1)
    firsts = [add_months(last, -back) for back in range(months - 1, -1, -1)]
    model = _summed(LlmUsageModelDaily)
    rows = (
        _effective(model, start=firsts[0], end=add_months(last, 1) - timedelta(days=1))
        .annotate(month=TruncMonth("day"))
        .values("month")
        .annotate(
            requests_sum=Sum("requests"),
            tokens_sum=Sum(PROMPT_TOKENS + COMPLETION_TOKENS),
            cost_sum=_cost(model),
            unpriced_sum=Sum("unpriced_requests"),
        )
        .order_by("month")
    )
    by_month = {row["month"]: row for row in rows}
    result = []
    for first in firsts:
        row = by_month.get(first)
        if row is None:
            result.append(MonthlyLlmCost(first, 0, 0, Decimal(0), 0))
            continue
        result.append(
            MonthlyLlmCost(
                month=first,
                requests=row["requests_sum"],
                tokens=row["tokens_sum"],
                cost=row["cost_sum"],
                unpriced_requests=row["unpriced_sum"],
            )
        )
    return result


def _ratio(numerator: int, denominator: int, quantum: Decimal) -> Decimal | None:
    if not denominator:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(quantum, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class LlmUsageTotals:
    active_users: int  # distinct non-empty user ids with usage
    cost: Decimal  # USD cost attributed to usage (priced requests only)
    unpriced_requests: int
    unpriced_models: int


def llm_usage_totals(*, start: date, end: date) -> LlmUsageTotals:
    """Totals over [start, end] for unit economics, from the per-model sums and one count of
    distinct users."""
    rows = _per_model(start=start, end=end)
    return LlmUsageTotals(
        active_users=_active_users(start=start, end=end),
        cost=sum((r["cost_sum"] or 0 for r in rows), Decimal(0)),
        unpriced_requests=sum(r["unpriced_sum"] or 0 for r in rows),
        unpriced_models=len({r["model"] for r in rows if r["unpriced_sum"]}),
    )


# Users whose latest day is on or after the range's start, and the latest day of all: while no
# user has a day after the range, the first is the count of the range's active users.
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


def _active_users(*, start: date, end: date) -> int:
    """The distinct users (with an id) with usage that counts over [start, end].

    On PostgreSQL, when only events count in the range (no Prometheus row of a day without
    events): from each user's latest day (LlmUsageUserLatest) when no user has a day after the
    range, else from the users' months (LlmUsageUserMonth: one row per user and month, its days
    as bits, where LlmUsageUserDaily has one per user and day). Otherwise by counting the
    distinct users of the day rows."""
    sources = _sources(start=start, end=end)
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
        _effective_on(_summed(LlmUsageUserDaily), sources)
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


@dataclass
class UnpricedModel:
    provider: str
    model: str
    requests: int
    first_day: date
    last_day: date


def llm_unpriced_models() -> list[UnpricedModel]:
    """Models whose events have no price: costed at nothing, never at 0, until priced."""
    rows = (
        LlmUsageEvent.objects.filter(cost_source=CostSource.UNPRICED)
        .values("provider", "model")
        .annotate(requests=Count("pk"), first=Min("day"), last=Max("day"))
        .order_by("-requests")
    )
    return [
        UnpricedModel(r["provider"], r["model"], r["requests"], r["first"], r["last"]) for r in rows
    ]

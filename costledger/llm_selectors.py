"""Reads of LLM usage for the per-user, per-model and per-provider views and their JSON API.

Everything here reads the daily rollup (LlmUsageDaily), never raw events, with one aggregated
query per figure so that a page stays fast however many events and users there are.

Two feeds can describe the same traffic: ingested events (source "events") and the Prometheus
collector (source "prometheus"). They are never added: for each day, the events rows are used
when the day has any, else the Prometheus rows (`llm_usage_daily_effective`).

Costs are in the rollup's currency, USD (the price book's). A row costed in another currency
(a Prometheus feed configured with one) is left out of the cost rather than added to dollars.
A cost is None when nothing in the group was priced: unpriced usage is never costed at 0, and
`unpriced_requests` says how much of a group's usage its cost leaves out.
"""

import threading
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db import connection
from django.db.models import F, Q, QuerySet, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from costledger.models import LlmUsageDaily, LlmUsageSource, UsageUser

LLM_CURRENCY = "USD"
RATIO_QUANTUM = Decimal("0.0001")
PERCENT_QUANTUM = Decimal("0.01")

PROMPT_TOKENS = F("input_tokens") + F("cache_read_tokens") + F("cache_write_tokens")
COMPLETION_TOKENS = F("output_tokens") + F("reasoning_tokens")


def _cost() -> Sum:
    return Sum("cost", filter=Q(currency=LLM_CURRENCY))


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
    error_pct: Decimal | None  # None without requests


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
    with_events = set(_days_with_events(start=start, end=end))
    without_events = [day for day in _days(start, end) if day not in with_events]
    # A literal list of days rather than a subquery: a subquery in the filter keeps PostgreSQL
    # from scanning in parallel, and the aggregates over it run twice as long.
    return LlmUsageDaily.objects.filter(day__gte=start, day__lte=end).filter(
        Q(source=LlmUsageSource.EVENTS)
        | Q(source=LlmUsageSource.PROMETHEUS, day__in=without_events)
    )


_page = threading.local()


@contextmanager
def llm_page_scope():
    """Within this block (one page building several figures over the same range), the days
    with events are looked up once per range instead of once per figure."""
    _page.days = {}
    try:
        yield
    finally:
        del _page.days


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


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def llm_cost_by_user(*, start: date, end: date, limit: int = 20) -> list[UserLlmCost]:
    """The `limit` users who cost most over [start, end], with their email when known."""
    rows = list(
        llm_usage_daily_effective(start=start, end=end)
        .values("user_id")
        .annotate(
            requests_sum=Sum("requests"),
            tokens_sum=Sum(PROMPT_TOKENS + COMPLETION_TOKENS),
            cost_sum=_cost(),
            unpriced_sum=Sum("unpriced_requests"),
        )
        .order_by(F("cost_sum").desc(nulls_last=True), "-requests_sum", "user_id")[:limit]
    )
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


def llm_token_ratios(*, start: date, end: date) -> list[ModelTokenRatio]:
    """Per provider and model over [start, end]: prompt and completion tokens and their ratio."""
    rows = (
        llm_usage_daily_effective(start=start, end=end)
        .values("provider", "model")
        .annotate(prompt=Sum(PROMPT_TOKENS), completion=Sum(COMPLETION_TOKENS))
        .order_by("provider", "model")
    )
    return [
        ModelTokenRatio(
            provider=row["provider"],
            model=row["model"],
            prompt_tokens=row["prompt"],
            completion_tokens=row["completion"],
            ratio=_ratio(row["completion"], row["prompt"], RATIO_QUANTUM),
        )
        for row in rows
    ]


def llm_error_rates(*, start: date, end: date) -> list[ProviderErrorRate]:
    """Per provider over [start, end]: requests, successes, errors and the error percentage."""
    rows = (
        llm_usage_daily_effective(start=start, end=end)
        .values("provider")
        .annotate(requests_sum=Sum("requests"), errors_sum=Sum("errors"))
        .order_by("provider")
    )
    return [
        ProviderErrorRate(
            provider=row["provider"],
            requests=row["requests_sum"],
            successes=row["requests_sum"] - row["errors_sum"],
            errors=row["errors_sum"],
            error_pct=_ratio(100 * row["errors_sum"], row["requests_sum"], PERCENT_QUANTUM),
        )
        for row in rows
    ]


def llm_cost_by_month(*, months: int = 6, last_month: date | None = None) -> list[MonthlyLlmCost]:
    """LLM cost per calendar month (UTC), the `months` months up to `last_month` (any day of
    it; default: this month), oldest first. A month without usage is there with zeros."""
    last = (last_month or timezone.now().date()).replace(day=1)
    firsts = [_add_months(last, -back) for back in range(months - 1, -1, -1)]
    rows = (
        llm_usage_daily_effective(start=firsts[0], end=_add_months(last, 1) - timedelta(days=1))
        .annotate(month=TruncMonth("day"))
        .values("month")
        .annotate(
            requests_sum=Sum("requests"),
            tokens_sum=Sum(PROMPT_TOKENS + COMPLETION_TOKENS),
            cost_sum=_cost(),
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


def _add_months(first: date, months: int) -> date:
    index = first.year * 12 + first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)

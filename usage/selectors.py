"""Reads of LLM usage: the figures per user, model, provider and month that the pages and the
JSON API show. This module is the usage app's face to other apps; the parts live beside it:
which rows count (usage.effective), the top users (usage.top_users) and the distinct users and
conversations (usage.distinct).

Everything here reads sums, never raw events. On PostgreSQL, the figures read LlmUsageDaily
summed once more, per model (LlmUsageModelDaily) and per user (LlmUsageUserDaily), tables its
trigger keeps equal to its sums: a month is a few hundred rows per model where LlmUsageDaily has
one per user, day and model (half a million in the benchmark, docs/benchmarks.md).

A cost is None when nothing in the group was priced: unpriced usage is never costed at 0, and
`unpriced_requests` says how much of a group's usage its cost leaves out.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Max, Min, Q, QuerySet, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from costledger.days import add_months
from usage.distinct import LlmTagTotals as LlmTagTotals
from usage.distinct import TagValueCost as TagValueCost
from usage.distinct import active_users
from usage.distinct import llm_tag_totals as llm_tag_totals
from usage.effective import (
    COMPLETION_TOKENS,
    PROMPT_TOKENS,
    effective_rows,
    page_memo,
    summed_table,
    usd_cost,
)
from usage.effective import LLM_CURRENCY as LLM_CURRENCY
from usage.effective import llm_page_scope as llm_page_scope
from usage.effective import llm_usage_daily_effective as llm_usage_daily_effective
from usage.models import (
    LlmUsageDaily,
    LlmUsageModelDaily,
    LlmUsageSource,
)
from usage.retention import llm_events_first_day
from usage.top_users import UserLlmCost as UserLlmCost
from usage.top_users import llm_cost_by_user as llm_cost_by_user

RATIO_QUANTUM = Decimal("0.0001")
PERCENT_QUANTUM = Decimal("0.01")


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


def _per_model(*, start: date, end: date) -> list[dict]:
    """Sums per provider and model over [start, end], the one query token ratios, error rates
    and usage totals derive from (memoised within a page scope: one query for all three)."""
    memo = getattr(page_memo, "models", None)
    if memo is not None and (start, end) in memo:
        return memo[(start, end)]
    model = summed_table(LlmUsageModelDaily)
    cost = Sum("cost") if model is not LlmUsageDaily else Sum("cost", filter=Q(currency="USD"))
    rows = list(
        effective_rows(model, start=start, end=end)
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
    model = summed_table(LlmUsageModelDaily)
    rows = (
        effective_rows(model, start=firsts[0], end=add_months(last, 1) - timedelta(days=1))
        .annotate(month=TruncMonth("day"))
        .values("month")
        .annotate(
            requests_sum=Sum("requests"),
            tokens_sum=Sum(PROMPT_TOKENS + COMPLETION_TOKENS),
            cost_sum=usd_cost(model),
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
        active_users=active_users(start=start, end=end),
        cost=sum((r["cost_sum"] or 0 for r in rows), Decimal(0)),
        unpriced_requests=sum(r["unpriced_sum"] or 0 for r in rows),
        unpriced_models=len({r["model"] for r in rows if r["unpriced_sum"]}),
    )


def llm_unpriced_requests(*, start: date, end: date, providers: list[str] | None = None) -> int:
    """The requests over [start, end] that the price book could not cost, of `providers` (all
    when None): what a cost figure over those days leaves out."""
    return sum(
        row["unpriced_sum"] or 0
        for row in _per_model(start=start, end=end)
        if providers is None or row["provider"] in providers
    )


@dataclass
class UnpricedModel:
    provider: str
    model: str
    requests: int  # the requests left uncosted
    first_day: date
    last_day: date
    repriceable_from: date | None  # its first day whose raw events are kept; None: none is


def llm_unpriced_models() -> list[UnpricedModel]:
    """Models with ingested usage the price book could not cost: costed at nothing, never at 0,
    until priced. From the sums, as the reports count them, whether or not the raw events of
    those days are still kept (only kept days can be re-priced)."""
    rows = (
        unpriced_sums()
        .values("provider", "model")
        .annotate(requests=Sum("unpriced_requests"), first=Min("day"), last=Max("day"))
        .order_by("-requests", "provider", "model")
    )
    kept = llm_events_first_day()
    return [
        UnpricedModel(
            r["provider"], r["model"], r["requests"], r["first"], r["last"],
            repriceable_from=_repriceable_from(r["first"], r["last"], kept),
        )
        for r in rows
    ]  # fmt: skip


def _repriceable_from(first: date, last: date, kept: date | None) -> date | None:
    """The first day of [first, last] whose raw events are kept (`kept` on), or None."""
    if kept is None:
        return first
    return max(first, kept) if last >= kept else None


def unpriced_sums() -> QuerySet:
    """The sums of ingested usage that hold unpriced requests."""
    return summed_table(LlmUsageModelDaily).objects.filter(
        source=LlmUsageSource.EVENTS, unpriced_requests__gt=0
    )

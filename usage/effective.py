"""Which LLM usage rows count, shared by every usage selector.

Two feeds can describe the same traffic: ingested events (source "events") and the Prometheus
collector (source "prometheus"). They are never added: for each day, the events rows are used
when the day has any, else the Prometheus rows (`llm_usage_daily_effective`). On PostgreSQL the
selectors read LlmUsageDaily summed once more, per model and per user (tables its trigger keeps,
usage.sums); on SQLite (the quick start: small data, no trigger) LlmUsageDaily itself.

Costs are in the sums' currency, USD (the price book's). A row costed in another currency (a
Prometheus feed configured with one) is left out of the cost rather than added to dollars.
"""

import threading
from contextlib import contextmanager
from datetime import date

from django.db import connection
from django.db.models import Case, DecimalField, F, Model, Q, QuerySet, Sum, When
from django.db.models.lookups import GreaterThan

from costledger.days import add_months, days_between, month_start
from usage.models import (
    LlmUsageDaily,
    LlmUsageSource,
)

LLM_CURRENCY = "USD"

PROMPT_TOKENS = F("input_tokens") + F("cache_read_tokens") + F("cache_write_tokens")
COMPLETION_TOKENS = F("output_tokens") + F("reasoning_tokens")


def usd_cost(model: type[Model]) -> Case | Sum:
    """The USD cost of a group; None when nothing in it was costed in USD."""
    if model is LlmUsageDaily:
        return Sum("cost", filter=Q(currency=LLM_CURRENCY))
    # The summed rollups hold the USD cost only, and count the rows it comes from.
    return Case(
        When(GreaterThan(Sum("costed_rows"), 0), then=Sum("cost")),
        output_field=DecimalField(max_digits=24, decimal_places=10),
    )


def summed_table(model: type[Model]) -> type[Model]:
    """`model`, a sum of LlmUsageDaily kept by PostgreSQL triggers, or LlmUsageDaily itself
    where there are no triggers (SQLite)."""
    return model if connection.vendor == "postgresql" else LlmUsageDaily


def llm_usage_daily_effective(*, start: date, end: date) -> QuerySet[LlmUsageDaily]:
    """The rollup rows of the UTC days [start, end] that count: per day, the events rows when
    the day has any, else the Prometheus rows. (Finding the days with events is one small
    query, run when this is called.)"""
    return effective_rows(LlmUsageDaily, start=start, end=end)


def effective_rows(model: type[Model], *, start: date, end: date) -> QuerySet:
    """The rows of `model` (LlmUsageDaily or a sum of it) that count over [start, end]."""
    return effective_rows_on(model, day_sources(start=start, end=end))


def effective_rows_on(model: type[Model], sources: list[tuple[date, str]]) -> QuerySet:
    if not sources:
        return model.objects.none()
    without_events = [day for day, source in sources if source == LlmUsageSource.PROMETHEUS]
    # A literal list of days rather than a subquery: a subquery in the filter keeps PostgreSQL
    # from scanning in parallel, and the aggregates over it run twice as long.
    return model.objects.filter(day__gte=sources[0][0], day__lte=sources[-1][0]).filter(
        Q(source=LlmUsageSource.EVENTS)
        | Q(source=LlmUsageSource.PROMETHEUS, day__in=without_events)
    )


def day_sources(*, start: date, end: date) -> list[tuple[date, str]]:
    """Each day of [start, end] with the source that counts on it."""
    with_events = set(days_with_events(start=start, end=end))
    return [
        (day, LlmUsageSource.EVENTS if day in with_events else LlmUsageSource.PROMETHEUS)
        for day in days_between(start, end)
    ]


def months_and_days(
    sources: list[tuple[date, str]], *, closed: set[date]
) -> tuple[list[tuple[date, str]], list[tuple[date, str]]]:
    """`sources` (each day of a range with the source that counts on it) as whole calendar
    months and days, for the per-month sums: a closed month (`closed`: their first days)
    wholly in the range is (its first day, events) with its days without events kept as
    Prometheus days (events never count there, Prometheus only there), or (its first day,
    prometheus) when none of its days has events; the days of the other months stay days."""
    by_month: dict[date, list[tuple[date, str]]] = {}
    for day, source in sources:
        by_month.setdefault(month_start(day), []).append((day, source))
    months, days = [], []
    for month, in_month in by_month.items():
        if month not in closed or len(in_month) < (add_months(month, 1) - month).days:
            days += in_month
        elif any(source == LlmUsageSource.EVENTS for _, source in in_month):
            months.append((month, LlmUsageSource.EVENTS.value))
            days += [(day, source) for day, source in in_month if source != LlmUsageSource.EVENTS]
        else:
            months.append((month, LlmUsageSource.PROMETHEUS.value))
    return months, days


page_memo = threading.local()


@contextmanager
def llm_page_scope():
    """Within this block (one page building several figures over the same range), the days
    with events are looked up once per range instead of once per figure."""
    page_memo.days, page_memo.models = {}, {}
    try:
        yield
    finally:
        del page_memo.days, page_memo.models


def days_with_events(*, start: date, end: date) -> list[date]:
    memo = getattr(page_memo, "days", None)
    if memo is None:
        return __days_with_events_query(start=start, end=end)
    if (start, end) not in memo:
        memo[(start, end)] = __days_with_events_query(start=start, end=end)
    return memo[(start, end)]


def __days_with_events_query(*, start: date, end: date) -> list[date]:
    if connection.vendor == "postgresql":
        # One index probe per day, stopping at the first events row, where SELECT DISTINCT day
        # reads every row of the range (PostgreSQL has no skip scan). In the per-model sums,
        # which have an events row on a day exactly when LlmUsageDaily has one: two years are
        # 3 ms there, 10-15 ms in LlmUsageDaily's larger index.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT d::date FROM generate_series(%s::date, %s::date, interval '1 day') AS d "
                "WHERE EXISTS (SELECT 1 FROM costledger_llmusagemodeldaily r "
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

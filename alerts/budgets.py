"""What a budget has spent this month, and where the month is heading.

Actual = the effective cost of the budget's scope from the 1st to today (UTC), the figure every
report shows for those days, converted to the budget's currency at the stored rate. Forecast =
the month's projection (costledger.forecast). A cost left out for lack of an exchange rate, or
LLM usage without a price, makes the figure incomplete: it is said, and the figure is a floor.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings

from alerts.models import Budget
from costledger.days import month_start
from costledger.forecast import RUN_RATE_DAYS, month_projection
from costledger.providers import PROVIDERS, Category
from costledger.selectors import (
    effective_cost_by_category,
    effective_cost_by_day,
    exchange_rate_on,
)
from usage.selectors import llm_unpriced_requests


@dataclass
class BudgetMonth:
    """A budget's month so far: amounts in the budget's currency (None when its rate to the
    reporting currency is missing: nothing can be compared)."""

    budget: Budget
    month: date
    today: date
    actual: Decimal | None
    forecast: Decimal | None
    incomplete: list[str] = field(default_factory=list)  # why the figures are floors
    closed: bool = False  # the month is over (checked again for its late costs)

    @property
    def not_compared(self) -> str | None:
        """Why the budget could not be compared with its spend, if it could not."""
        if self.actual is not None:
            return None
        return f"Budget {self.budget.name}: {'; '.join(self.incomplete)}"

    @property
    def percent(self) -> Decimal | None:
        if self.actual is None:
            return None
        return self.actual * 100 / self.budget.amount

    def thresholds_reached(self) -> list[int]:
        if self.actual is None:
            return []
        return [
            t for t in self.budget.threshold_list if self.actual * 100 >= self.budget.amount * t
        ]

    @property
    def forecast_over(self) -> bool:
        return (
            self.budget.warn_on_forecast
            and self.forecast is not None
            and self.forecast > self.budget.amount
        )


# Providers bill a day on the next: for the first days of a month, the month just ended is
# checked again, so that its last days' costs still count against its budget.
LATE_COSTS_DAYS = 3


def budget_months(*, today: date) -> list[BudgetMonth]:
    """Every budget in force this month (UTC), with its spend to today and its projection; in
    the first LATE_COSTS_DAYS of a month, also those of the month just ended, over all of it
    (no projection: it is over)."""
    months = _months_of(month_start(today), today=today, closed=False)
    if today.day <= LATE_COSTS_DAYS:
        last_day = month_start(today) - timedelta(days=1)
        months += _months_of(month_start(last_day), today=last_day, closed=True)
    return months


def _months_of(month: date, *, today: date, closed: bool) -> list[BudgetMonth]:
    budgets = [b for b in Budget.objects.order_by("pk") if b.applies_to(month)]
    if not budgets:
        return []
    start = month if closed else min(month, today - timedelta(days=RUN_RATE_DAYS))
    end = today + timedelta(days=1)
    by_category = effective_cost_by_category(start=start, end=end)
    return [
        _budget_month(b, by_category, start=start, end=end, today=today, closed=closed)
        for b in budgets
    ]


def _budget_month(
    budget: Budget, by_category, *, start: date, end: date, today: date, closed: bool
) -> BudgetMonth:
    kind, _, slug = budget.scope.partition(":")
    daily: dict[date, Decimal] = defaultdict(Decimal)
    unconverted: set[str] = set()
    if kind == "provider":
        costs = effective_cost_by_day(start=start, end=end, providers=[slug])
        for cost in costs.days:
            daily[cost.day] += cost.amount
            if cost.day >= month_start(today):
                unconverted |= set(cost.unconverted)
    else:
        categories = [slug] if kind == "category" else list(Category.values)
        for (day, category), amount in by_category.by_category.items():
            if category in categories:
                daily[day] += amount
        for (day, category), currencies in by_category.unconverted.items():
            if category in categories and day >= month_start(today):
                unconverted |= currencies
    incomplete = [
        f"costs in {code} are left out: no exchange rate to {settings.REPORTING_CURRENCY}"
        for code in sorted(unconverted)
    ]
    unpriced = _unpriced(kind, slug, start=month_start(today), end=today)
    if unpriced:
        incomplete.append(f"{unpriced:,} LLM requests have no price")
    actual = sum((a for d, a in daily.items() if d >= month_start(today)), Decimal(0))
    forecast = (
        None
        if closed
        else month_projection(today=today, cost_on=lambda d: daily.get(d, Decimal(0)))
    )
    rate = exchange_rate_on(currency=budget.currency, day=today)
    if rate is None:
        incomplete.append(
            f"no exchange rate from {budget.currency} to {settings.REPORTING_CURRENCY}: the "
            "budget cannot be compared"
        )
        return BudgetMonth(budget, month_start(today), today, None, None, incomplete, closed)
    return BudgetMonth(
        budget,
        month_start(today),
        today,
        actual / rate,
        None if forecast is None else forecast / rate,
        incomplete,
        closed,
    )


def _unpriced(kind: str, slug: str, *, start: date, end: date) -> int:
    """The LLM requests without a price that the scope's cost leaves out."""
    if kind == "category" and slug != Category.LLM:
        return 0
    if kind == "provider":
        if slug not in PROVIDERS or PROVIDERS[slug].category != Category.LLM:
            return 0
        return llm_unpriced_requests(start=start, end=end, providers=[slug])
    return llm_unpriced_requests(start=start, end=end)

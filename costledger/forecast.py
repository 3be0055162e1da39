"""The month's projection, one definition for the Business page's monthly chart and the budget
alerts: the month to yesterday plus the daily run rate of the last 7 full days for each day
left, today included (today's own cost is still coming in)."""

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal

from costledger.days import add_months, days_between, month_start

RUN_RATE_DAYS = 7


def month_projection(*, today: date, cost_on: Callable[[date], Decimal]) -> Decimal | None:
    """Today's month at its end, from `cost_on(day)` (the day's cost); None when there is
    nothing to run (no cost this month to yesterday and none over the last 7 days)."""
    yesterday = today - timedelta(days=1)
    spent = sum((cost_on(d) for d in days_between(month_start(today), yesterday)), Decimal(0))
    week = days_between(today - timedelta(days=RUN_RATE_DAYS), yesterday)
    rate = sum((cost_on(d) for d in week), Decimal(0)) / RUN_RATE_DAYS
    if not spent and not rate:
        return None
    month_end = add_months(month_start(today), 1) - timedelta(days=1)
    return spent + rate * ((month_end - today).days + 1)

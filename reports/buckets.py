"""How a chart over a period groups its days: by day for up to two months, by ISO week (Monday
to Sunday) up to six months, by calendar month beyond. Every report's charts and tables over
time use these buckets, so a week or a month means the same on every page.

The first and last buckets are clipped to the period; a bucket is *partial* when it holds fewer
days than its week or month (clipped, or still running today), and says so.
"""

from dataclasses import dataclass
from datetime import date, timedelta

from costledger.days import add_months, month_start

DAILY_UP_TO = 62  # days: two full months of days stay readable as days
WEEKLY_UP_TO = 184  # days: half a year is 27 weeks at most; beyond, months


@dataclass(frozen=True)
class Bucket:
    start: date
    end: date  # included, never after the period's end
    full_start: date  # the whole week or month the bucket is part of
    full_end: date
    running: bool = False  # holds today: its figures are still growing

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def partial(self) -> bool:
        """Fewer days than its whole week or month: clipped by the period, or running."""
        return self.running or (self.start, self.end) != (self.full_start, self.full_end)

    def label(self, unit: str) -> str:
        if unit == "month":
            return f"{self.start:%Y-%m}"
        if unit == "week":
            return f"{self.start:%Y-%m-%d}"  # the week's first day in the period
        return self.start.isoformat()


@dataclass(frozen=True)
class Buckets:
    unit: str  # day, week or month
    items: list[Bucket]

    @property
    def description(self) -> str:
        """What one point of the chart is, for its caption."""
        return {"day": "per day", "week": "per week (Monday to Sunday)", "month": "per month"}[
            self.unit
        ]


def buckets_for(*, start: date, end: date, today: date) -> Buckets:
    """The buckets that cover [start, end], both included."""
    days = (end - start).days + 1
    unit = "day" if days <= DAILY_UP_TO else "week" if days <= WEEKLY_UP_TO else "month"
    return Buckets(unit, _split(unit, start, end, today))


def months_for(*, start: date, end: date, today: date) -> list[Bucket]:
    """The calendar months that cover [start, end], whatever its length."""
    return _split("month", start, end, today)


def _split(unit: str, start: date, end: date, today: date) -> list[Bucket]:
    items, first = [], start
    while first <= end:
        whole_start, whole_end = _whole(unit, first)
        last = min(whole_end, end)
        items.append(
            Bucket(first, last, whole_start, whole_end, running=first <= today <= whole_end)
        )
        first = last + timedelta(days=1)
    return items


def _whole(unit: str, day: date) -> tuple[date, date]:
    """The whole day, week or month `day` belongs to."""
    if unit == "day":
        return day, day
    if unit == "week":
        monday = day - timedelta(days=day.weekday())
        return monday, monday + timedelta(days=6)
    first = month_start(day)
    return first, add_months(first, 1) - timedelta(days=1)

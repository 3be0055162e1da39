"""The few calendar helpers every part uses: UTC days and calendar months, one meaning each."""

from datetime import UTC, date, datetime, time, timedelta


def days_between(first: date, last: date) -> list[date]:
    """Every day from `first` to `last`, both included (empty when last < first)."""
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def month_start(day: date) -> date:
    return day.replace(day=1)


def add_months(month: date, count: int) -> date:
    """The first day of the month `count` months after `month`'s (before, when negative)."""
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def same_day_months_later(day: date, months: int) -> date:
    """`day` moved by `months` months (back when negative), on the same day of the month or,
    when that month is shorter, on its last day: Mar 31 - 1 month is Feb 28."""
    first = add_months(month_start(day), months)
    days_in_month = (add_months(first, 1) - first).days
    return first.replace(day=min(day.day, days_in_month))


def unix_start(day: date) -> int:
    """The Unix time (seconds) at which the UTC day begins, as provider APIs take ranges."""
    return int(datetime.combine(day, time.min, tzinfo=UTC).timestamp())

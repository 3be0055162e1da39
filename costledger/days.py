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


def unix_start(day: date) -> int:
    """The Unix time (seconds) at which the UTC day begins, as provider APIs take ranges."""
    return int(datetime.combine(day, time.min, tzinfo=UTC).timestamp())

"""The periods the reports cover: presets ending today (UTC) and the period each is compared
with."""

from dataclasses import dataclass
from datetime import date, timedelta

from django.utils import timezone

from costledger.days import add_months, month_start

PRESETS = [
    ("7d", "7 days"),
    ("30d", "30 days"),
    ("this_month", "This month"),
    ("last_month", "Last month"),
    ("6m", "6 months"),
    ("12m", "12 months"),
]


@dataclass(frozen=True)
class Period:
    key: str
    label: str
    start: date
    end: date  # inclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def previous(self) -> "Period":
        """The period of the same length just before this one."""
        end = self.start - timedelta(days=1)
        return Period("previous", "Previous period", end - timedelta(days=self.days - 1), end)


def period_resolve(*, key: str | None = None, today: date | None = None) -> Period:
    """A preset period ending today (UTC). Unknown keys fall back to the last 30 days."""
    today = today or timezone.now().date()
    this_month = month_start(today)
    starts = {
        "7d": today - timedelta(days=6),
        "30d": today - timedelta(days=29),
        "this_month": this_month,
        "6m": add_months(this_month, -5),
        "12m": add_months(this_month, -11),
    }
    labels = dict(PRESETS)
    if key == "last_month":
        end = this_month - timedelta(days=1)
        return Period(key, "Last month", month_start(end), end)
    key = key if key in starts else "30d"
    return Period(key, labels[key], starts[key], today)

"""The periods the reports cover, as finance counts them: calendar presets (month, quarter and
year to date, the last full month, quarter and 12 months, the last 7 and 30 days) or any range,
each compared with the previous period of the same kind, the same period last year, or nothing.

Every report reads its period from the same parameters (`period_read`): `period=<preset>`, or
`start=YYYY-MM-DD&end=YYYY-MM-DD` (end included), and `compare=previous|last_year|none`.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import urlencode

from django.utils import timezone

from costledger.days import add_months, month_start, same_day_months_later
from costledger.query_params import QueryParams

PRESETS = [
    ("7d", "Last 7 days"),
    ("30d", "Last 30 days"),
    ("this_month", "This month"),
    ("last_month", "Last month"),
    ("this_quarter", "This quarter"),
    ("last_quarter", "Last quarter"),
    ("ytd", "Year to date"),
    ("12m", "Last 12 full months"),
]
# Accepted, not offered: the earlier preset of six months, now the last six full months.
HIDDEN_PRESETS = [("6m", "Last 6 full months")]
DEFAULT_PRESET = "30d"
COMPARISONS = [
    ("previous", "Previous period"),
    ("last_year", "Same period last year"),
    ("none", "No comparison"),
]
MAX_CUSTOM_DAYS = 3 * 366 + 1  # three years: the longest range a report is sized for


@dataclass(frozen=True)
class Period:
    key: str  # a preset's key, "custom", or what this one is compared with
    label: str
    start: date
    end: date  # included
    compare: "Period | None" = None  # the period it is compared with

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def compare_key(self) -> str:
        """How it is compared, as `compare=` asks: previous, last_year or none."""
        return self.compare.key if self.compare else "none"


def _quarter_start(day: date) -> date:
    return date(day.year, (day.month - 1) // 3 * 3 + 1, 1)


def _preset_range(key: str, today: date) -> tuple[date, date]:
    month, quarter = month_start(today), _quarter_start(today)
    return {
        "7d": (today - timedelta(days=6), today),
        "30d": (today - timedelta(days=29), today),
        "this_month": (month, today),
        "last_month": (add_months(month, -1), month - timedelta(days=1)),
        "this_quarter": (quarter, today),
        "last_quarter": (add_months(quarter, -3), quarter - timedelta(days=1)),
        "ytd": (date(today.year, 1, 1), today),
        "12m": (add_months(month, -12), month - timedelta(days=1)),
        "6m": (add_months(month, -6), month - timedelta(days=1)),
    }[key]


def _previous(key: str, start: date, end: date) -> tuple[date, date]:
    """The previous period of the same kind: the month, quarter or year before (the same days
    of it for a period to date), else the same number of days just before."""
    to_date = {"this_month": 1, "this_quarter": 3, "ytd": 12}
    whole = {"last_month": 1, "last_quarter": 3, "12m": 12, "6m": 6}
    if key in to_date:
        months = to_date[key]
        return add_months(start, -months), same_day_months_later(end, -months)
    if key in whole:
        months = whole[key]
        return add_months(start, -months), start - timedelta(days=1)
    return start - timedelta(days=(end - start).days + 1), start - timedelta(days=1)


def _comparison(key: str, start: date, end: date, compare: str) -> Period | None:
    if compare == "none":
        return None
    if compare == "last_year":
        first, last = same_day_months_later(start, -12), same_day_months_later(end, -12)
        return Period("last_year", "Same period last year", first, last)
    first, last = _previous(key, start, end)
    return Period("previous", "Previous period", first, last)


def period_resolve(
    *, key: str | None = None, today: date | None = None, compare: str = "previous"
) -> Period:
    """A preset period as of `today` (UTC). Unknown keys fall back to the last 30 days."""
    today = today or timezone.now().date()
    labels = dict(PRESETS + HIDDEN_PRESETS)
    key = key if key in labels else DEFAULT_PRESET
    start, end = _preset_range(key, today)
    return Period(key, labels[key], start, end, _comparison(key, start, end, compare))


def period_custom(*, start: date, end: date, compare: str = "previous") -> Period:
    """Any range, start and end included."""
    label = f"{start:%Y-%m-%d} to {end:%Y-%m-%d}"
    return Period("custom", label, start, end, _comparison("custom", start, end, compare))


def period_read(params: QueryParams, *, today: date | None = None) -> Period:
    """The period the query asks for; what it cannot read goes to `params.errors` (by name),
    and the default period is returned for a page to show beside its message."""
    keys = dict(PRESETS + HIDDEN_PRESETS)
    key = params.choice("period", [*keys, "custom"])
    if "period" in params.errors:  # name the presets offered, not the hidden ones
        unknown = params.errors["period"].split(";")[0]
        offered = ", ".join(k for k, _ in PRESETS)
        params.errors["period"] = f"{unknown}; use one of {offered}, or give start and end."
    compare = params.choice("compare", dict(COMPARISONS)) or "previous"
    start, end = params.date("start"), params.date("end")
    if start is None and end is None and key != "custom":
        return period_resolve(key=key, today=today, compare=compare)
    if key not in (None, "custom"):
        params.errors["period"] = "Give either period=<preset> or start and end, not both."
    elif start is None or end is None:
        missing = "start" if start is None else "end"
        params.errors.setdefault(
            missing, f"A custom range needs both start and end ({missing} is missing)."
        )
    elif end < start:
        params.errors["end"] = f"end ({end}) is before start ({start})."
    elif (end - start).days + 1 > MAX_CUSTOM_DAYS:
        params.errors["end"] = (
            f"The range {start} to {end} is {(end - start).days + 1} days; at most "
            f"{MAX_CUSTOM_DAYS} (three years) may be asked at once."
        )
    else:
        return period_custom(start=start, end=end, compare=compare)
    return period_resolve(today=today, compare=compare)


def period_query(period: Period) -> str:
    """The query string that asks for `period` again (a preset by its key, a range by its dates),
    with its comparison."""
    if period.key == "custom":
        asked = {"start": period.start.isoformat(), "end": period.end.isoformat()}
    else:
        asked = {"period": period.key}
    return urlencode({**asked, "compare": period.compare_key})

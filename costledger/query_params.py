"""The query parameters of the JSON API, read the same way by every endpoint.

Each reader returns a usable value and files what is wrong under the parameter's name, so an
endpoint answers all the mistakes of a request in one 400. A hostile value (a huge number, a
very long string, NUL, a parameter given twice) is such a mistake, never an exception.
"""

import re
from collections.abc import Collection
from datetime import UTC, date, datetime, timedelta

from django.http import JsonResponse
from django.utils import timezone

from costledger.validators import EARLIEST_DAY, LATEST_DAY, UNSTORABLE

MAX_RANGE_DAYS = 366
DEFAULT_RANGE_DAYS = 30
# No date, number, key or name the API reads is longer; a longer value is refused unread.
MAX_LENGTH = 100
WHOLE_NUMBER = re.compile("-?[0-9]{1,9}")
SLUG = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}\Z")


def _shown(raw: str) -> str:
    """A value as a message quotes it: cut short, control characters escaped."""
    return repr(raw if len(raw) <= 40 else f"{raw[:40]}…")


def _refusal(raw: str) -> str | None:
    if len(raw) > MAX_LENGTH:
        return f"{_shown(raw)} is {len(raw)} characters long; at most {MAX_LENGTH} are read."
    if UNSTORABLE.search(raw):
        return f"{_shown(raw)} holds a NUL or an unpaired surrogate character."
    return None


def _not_a_slug(raw: str) -> str | None:
    # Every name the API filters on (providers, categories) is stored as a slug.
    if SLUG.match(raw):
        return None
    return f"{_shown(raw)} is not a name: lower-case letters, digits and - _ . only."


class QueryParams:
    def __init__(self, params):
        self.params = params
        self.errors: dict[str, str] = {}

    def bad_request(self) -> JsonResponse:
        return JsonResponse({"errors": self.errors}, status=400)

    def _one(self, name: str) -> str | None:
        """The parameter's value, None when absent or empty or refused."""
        values = self.params.getlist(name)
        if len(values) > 1:
            self.errors[name] = f"{name} is given {len(values)} times; give it once."
            return None
        if not values or values[0] == "":
            return None
        if problem := _refusal(values[0]):
            self.errors[name] = problem
            return None
        return values[0]

    def date(self, name: str) -> date | None:
        raw = self._one(name)
        if raw is None:
            return None
        try:
            value = date.fromisoformat(raw)
        except ValueError:
            self.errors[name] = f"{_shown(raw)} is not a date; use YYYY-MM-DD."
            return None
        if not EARLIEST_DAY <= value <= LATEST_DAY:
            self.errors[name] = f"{value} is outside {EARLIEST_DAY} to {LATEST_DAY}."
            return None
        return value

    def instant(self, name: str) -> datetime | None:
        """A day (its midnight, UTC) or an ISO 8601 date and time (UTC when it gives no
        offset), as an aware datetime."""
        raw = self._one(name)
        if raw is None:
            return None
        try:
            value = datetime.fromisoformat(raw)
        except ValueError:
            self.errors[name] = (
                f"{_shown(raw)} is not a date or a date and time; use YYYY-MM-DD or "
                "YYYY-MM-DDTHH:MM:SSZ."
            )
            return None
        value = value if value.tzinfo else value.replace(tzinfo=UTC)
        if not EARLIEST_DAY <= value.astimezone(UTC).date() <= LATEST_DAY:
            self.errors[name] = f"{raw} is outside {EARLIEST_DAY} to {LATEST_DAY}."
            return None
        return value.astimezone(UTC)

    def date_range(self) -> tuple[date, date]:
        """`start` and `end`, both inclusive; by default the 30 days up to today (UTC)."""
        today = timezone.now().date()
        start, end = self.date("start"), self.date("end")
        if "start" in self.errors or "end" in self.errors:
            return today, today  # unused: the request is refused
        blamed = "end" if end else "start"  # the one given: the other is a default
        end = end or today
        start = start or max(end - timedelta(days=DEFAULT_RANGE_DAYS - 1), EARLIEST_DAY)
        if end < start:
            self.errors[blamed] = f"end ({end}) is before start ({start})."
        elif (end - start).days + 1 > MAX_RANGE_DAYS:
            self.errors[blamed] = (
                f"The range {start} to {end} is {(end - start).days + 1} days; "
                f"at most {MAX_RANGE_DAYS} days may be asked at once."
            )
        return start, end

    def whole_number(self, name: str, *, default: int, low: int, high: int) -> int:
        raw = self._one(name)
        if raw is None:
            return default
        if not WHOLE_NUMBER.fullmatch(raw) or not low <= int(raw) <= high:
            self.errors[name] = f"{_shown(raw)} is not a whole number from {low} to {high}."
            return default
        return int(raw)

    def choice(self, name: str, choices: Collection[str]) -> str | None:
        raw = self._one(name)
        if raw is not None and raw not in choices:
            self.errors[name] = f"Unknown {name} {_shown(raw)}; use one of {', '.join(choices)}."
            return None
        return raw

    def names(self, name: str, allowed: Collection[str] | None = None) -> list[str]:
        """A list of slugs, as repeated parameters, comma-separated values or both."""
        values = [v for raw in self.params.getlist(name) for v in raw.split(",") if v]
        refused = [problem for v in values if (problem := _refusal(v) or _not_a_slug(v))]
        unknown = sorted(set(values) - set(allowed)) if allowed is not None else []
        if refused:
            self.errors[name] = refused[0]
        elif unknown:
            self.errors[name] = (
                f"Unknown {name} {', '.join(unknown[:5])}; use one of {', '.join(sorted(allowed))}."
            )
        return [] if refused or unknown else values

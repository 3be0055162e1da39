"""Checks of what people enter, shared by the models' `clean()` methods so that every entry path
(admin form, shell, service) refuses the same values with the same words."""

import json
import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import models

from costledger.money import is_currency

# The days the ledger keeps, for everything people enter and the JSON API reads: a date outside
# is a typing mistake, and near date.max the day after an invoice's last day would overflow.
EARLIEST_DAY, LATEST_DAY = date(2000, 1, 1), date(2999, 12, 31)
# Free-text notes: a few pages. Longer is a paste gone wrong, not a note.
MAX_NOTES_LENGTH = 10_000
# JSON people type (a price's tiers, a beat task's arguments): a few lines, a few levels deep.
MAX_JSON_LENGTH = 10_000
MAX_JSON_DEPTH = 20
JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')

# PostgreSQL text cannot hold NUL, and a lone surrogate cannot be encoded to UTF-8 at all:
# either one in a value stored or filtered on makes the query fail.
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# U+FFFD is what Django puts where a request's bytes were not UTF-8 (%ED%A0%80): the text that
# was sent is lost, and storing the replacement would keep a garbled name or number.
REPLACEMENT = "\ufffd"


def unstorable_reason(value: str) -> str | None:
    """Why PostgreSQL cannot store `value` (it holds NUL or a lone surrogate), or None."""
    found = UNSTORABLE.search(value)
    if found is None:
        return None
    if found.group() == "\x00":
        return "contains a NUL character (\\u0000), which cannot be stored"
    return f"contains a lone surrogate (\\u{ord(found.group()):04x}), which is not valid Unicode"


def validate_currency_code(value: str) -> None:
    if not is_currency(value):
        raise ValidationError(
            f"{value!r} is not an ISO 4217 currency code. Use the three letters on the invoice, "
            "e.g. USD, EUR, GBP.",
            code="unknown_currency",
        )


def validate_ledger_day(value: date) -> None:
    if not EARLIEST_DAY <= value <= LATEST_DAY:
        raise ValidationError(
            f"{value.isoformat()} is outside the days the ledger keeps ({EARLIEST_DAY} to "
            f"{LATEST_DAY}): check the year.",
            code="day_out_of_range",
        )


def validate_text(value: str) -> None:
    """Refuse what cannot be stored, or could only be stored garbled."""
    if reason := unstorable_reason(value):
        raise ValidationError(f"The text {reason}. Retype it.", code="unreadable_text")
    if REPLACEMENT in value:
        raise ValidationError(
            f"The text holds the replacement character {REPLACEMENT}, left where the text sent "
            "was not valid UTF-8. Retype it, or paste it again from the original.",
            code="unreadable_text",
        )


def validate_notes(value: str) -> None:
    validate_text(value)
    if len(value) > MAX_NOTES_LENGTH:
        raise ValidationError(
            f"Notes may be at most {MAX_NOTES_LENGTH:,} characters long (these are "
            f"{len(value):,}). Attach a long document as a file instead.",
            code="too_long",
        )


def json_text_load(text: str) -> object:
    """The value of JSON text someone entered, or a ValidationError saying why it cannot be read.
    Bounded before json.loads, which meets deep nesting with RecursionError and a number of
    thousands of digits with ValueError, where callers expect JSONDecodeError."""
    if len(text) > MAX_JSON_LENGTH:
        raise ValidationError(
            f"JSON may be at most {MAX_JSON_LENGTH:,} characters long (this is {len(text):,}).",
            code="too_long",
        )
    if _json_depth(text) > MAX_JSON_DEPTH:
        raise ValidationError(
            f"JSON may nest at most {MAX_JSON_DEPTH} levels of [] and {{}}.", code="too_deep"
        )
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ValidationError(f"This is not valid JSON: {error}.", code="invalid_json") from error
    except ValueError as error:  # int() refuses more than 4,300 digits
        raise ValidationError(
            "A number in this JSON has thousands of digits: no value needs that many.",
            code="invalid_json",
        ) from error


def _json_depth(text: str) -> int:
    """How deep the brackets of JSON text nest, those inside strings left out."""
    depth = deepest = 0
    for bracket in re.findall(r"[\[\]{}]", JSON_STRING.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def decimal_text_problem(text: str, *, max_digits: int, decimal_places: int) -> str | None:
    """Why a number written as a string does not fit a DECIMAL(max_digits, decimal_places)
    column, non-negative; None when it does."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        return f"{text[:40]!r} is not a number."
    if not value.is_finite() or value < 0:
        return f"{text[:40]!r} is not a number of zero or more."
    if value and value.adjusted() >= max_digits - decimal_places:
        return f"{text[:40]!r} has more than {max_digits - decimal_places} digits before the point."
    if value != value.quantize(Decimal(1).scaleb(-decimal_places)):
        return f"{text[:40]!r} has more than {decimal_places} decimal places."
    return None


def field_errors(instance: models.Model, **checks: Callable[[object], None]) -> dict:
    """Run each check on the attribute of its name (empty values skipped): the errors by field
    name, for a `clean()` to raise together with its own."""
    errors = {}
    for name, check in checks.items():
        value = getattr(instance, name)
        if value is None or value == "":
            continue
        try:
            check(value)
        except ValidationError as error:
            errors[name] = error
    return errors


class CurrencyField(models.CharField):
    """An ISO 4217 code: stored upper case, refused when unknown."""

    default_validators = [validate_currency_code]

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_length", 3)
        super().__init__(*args, **kwargs)

    def to_python(self, value):
        value = super().to_python(value)
        return value.strip().upper() if isinstance(value, str) else value

"""What the ingest API accepts as an event: each field checked on its own, with a reason a
client can act on (`event_parse`), and a fast path for batches in which every event is valid
(`batch_fast`, msgspec), which must take exactly what the full check takes."""

import re
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Annotated, Literal

import msgspec
from django.utils import timezone

from costledger.validators import EARLIEST_DAY, unstorable_reason
from usage.events import (
    COST_PLACES,
    MAX_BANDWIDTH_BYTES,
    MAX_EVENT_COST,
    MAX_IMAGES,
    MAX_LATENCY_MS,
    MAX_SEARCH_UNITS,
    MAX_STREAM_MS,
    MAX_TOKENS,
    UsageEvent,
    too_old,
)

MAX_EVENTS = 1000
MAX_BYTES = 5 * 1024 * 1024
MAX_TAGS = 32
SLUG = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}\Z")  # \Z: "$" would let a final newline in
COUNT_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "images",
    "stream_duration_ms",
    "bandwidth_bytes",
    "search_units",
)
LIMITS = {
    **dict.fromkeys(COUNT_FIELDS, MAX_TOKENS),
    "images": MAX_IMAGES,
    "stream_duration_ms": MAX_STREAM_MS,
    "bandwidth_bytes": MAX_BANDWIDTH_BYTES,
    "search_units": MAX_SEARCH_UNITS,
    "latency_ms": MAX_LATENCY_MS,
}
FIELDS = {
    "event_id", "timestamp", "user_id", "provider", "model", *COUNT_FIELDS, "cost",
    "currency", "status", "error_type", "latency_ms", "tags",
}  # fmt: skip
CLOCK_SKEW = timedelta(hours=1)
EARLIEST = datetime.combine(EARLIEST_DAY, time(), UTC)  # before it, a clock is wrong
COST_QUANTUM = Decimal(1).scaleb(-COST_PLACES)
# A cost sent as a string is written as a JSON number would be: Python's Decimal() would also
# read "1_000", " 7 ", "+3" and other scripts' digits, which no client means.
DECIMAL_TEXT = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?\Z")


def _text(event, name, errors, *, required=False, limit=200) -> str:
    value = event.get(name)
    if type(value) is str and 0 < len(value) <= limit:  # the usual case, checked first
        if (reason := unstorable_reason(value)) is not None:
            errors[name] = reason
        return value
    if value is None or value == "":
        if required:
            errors[name] = "is required"
        return ""
    if not isinstance(value, str):
        errors[name] = "must be a string"
        return ""
    if len(value) > limit:
        errors[name] = f"is longer than {limit} characters"
    return value


def _count(event, name, errors) -> int:
    value, limit = event.get(name, 0), LIMITS[name]
    if type(value) is int and 0 <= value <= limit:  # the usual case, checked first
        return value
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        errors[name] = "must be a whole number"
        return 0
    if isinstance(value, Decimal) and value != value.to_integral_value():
        errors[name] = "must be a whole number"
        return 0
    if value < 0:
        errors[name] = "cannot be negative"
        return 0
    if value > limit:
        errors[name] = f"is over {limit:,}, the most one request may carry"
        return 0
    return int(value)


def _timestamp(event, errors, latest: datetime, first_day: date | None) -> datetime | None:
    raw = event.get("timestamp")
    if raw is None:
        errors["timestamp"] = "is required"
        return None
    try:
        value = datetime.fromisoformat(raw) if isinstance(raw, str) else None
    except ValueError:
        value = None
    if value is None:
        errors["timestamp"] = "must be an ISO 8601 date-time, e.g. 2026-11-21T09:30:00Z"
        return None
    if value.tzinfo is None:
        errors["timestamp"] = "must carry a time zone (Z or +00:00): a naive time is ambiguous"
        return None
    if value < EARLIEST:
        errors["timestamp"] = f"is before {EARLIEST:%Y-%m-%d}: check the client's clock"
        return None
    if value > latest:
        errors["timestamp"] = "is in the future"
        return None
    if first_day is not None and value.astimezone(UTC).date() < first_day:
        errors["timestamp"] = too_old(first_day)
        return None
    return value


def _cost(event, errors) -> Decimal | None:
    raw = event.get("cost")
    currency = event.get("currency")
    if raw is None:
        if currency not in (None, "", "USD"):
            errors["currency"] = "is given without a cost"
        return None
    if isinstance(raw, Decimal):
        value = raw
    elif type(raw) is int or (isinstance(raw, str) and DECIMAL_TEXT.match(raw)):
        value = Decimal(raw)
    else:
        value = None
    if value is None or isinstance(raw, bool) or not value.is_finite():
        errors["cost"] = "must be a decimal number (as a JSON number or a string)"
        return None
    if value < 0:
        errors["cost"] = "cannot be negative"
    elif value > MAX_EVENT_COST:
        errors["cost"] = (
            f"is over {MAX_EVENT_COST:,} USD, the most one request may cost (a cost in cents?)"
        )
    elif value != value.quantize(COST_QUANTUM):
        errors["cost"] = (
            f"has more than {COST_PLACES} decimal places, which would be rounded; round it to "
            f"{COST_PLACES} places (0.0000000001 USD) before sending"
        )
    if currency is None:
        errors["currency"] = "is required with a cost (USD)"
    elif currency != "USD":
        errors["currency"] = (
            "is not supported: LLM costs are recorded in USD; send the cost in USD, or leave "
            "cost out to use the price book"
        )
    return value


def _tags(event, errors) -> dict:
    tags = event.get("tags")
    if tags is None:
        return {}
    if not isinstance(tags, dict):
        errors["tags"] = "must be an object of strings"
        return {}
    if len(tags) > MAX_TAGS:
        errors["tags"] = f"has more than {MAX_TAGS} tags"
    elif not all(
        isinstance(k, str) and isinstance(v, str) and len(k) <= 64 and len(v) <= 200
        for k, v in tags.items()
    ):
        errors["tags"] = "must map names (64 characters at most) to strings (200 at most)"
    else:
        reason = next(filter(None, map(unstorable_reason, (*tags, *tags.values()))), None)
        if reason is not None:
            errors["tags"] = f"a tag name or value {reason}"
    return tags


def event_parse(
    event, latest: datetime | None = None, first_day: date | None = None
) -> tuple[UsageEvent | None, dict[str, str]]:
    """A validated UsageEvent, or None with the reason for each bad field. `latest`: the
    latest acceptable timestamp (now plus the clock skew allowed; a batch computes it once);
    `first_day`: the first day whose events are kept (usage.retention)."""
    if not isinstance(event, dict):
        return None, {"event": "must be a JSON object"}
    errors: dict[str, str] = {}
    if not FIELDS.issuperset(event):
        for name in sorted(set(event) - FIELDS):
            errors[name] = "is not a known field"
    event_id = _text(event, "event_id", errors, required=True)
    provider = _text(event, "provider", errors, required=True, limit=64)
    if provider and "provider" not in errors and not SLUG.match(provider):
        errors["provider"] = "must be a lower-case slug, e.g. openai, anthropic, openrouter"
    status = event.get("status", "ok")
    if status not in ("ok", "error"):
        errors["status"] = "must be 'ok' or 'error'"
    latency = event.get("latency_ms")
    parsed = UsageEvent(
        event_id=event_id,
        timestamp=_timestamp(event, errors, latest or timezone.now() + CLOCK_SKEW, first_day),
        provider=provider,
        model=_text(event, "model", errors, required=True),
        user_id=_text(event, "user_id", errors),
        **{name: _count(event, name, errors) for name in COUNT_FIELDS},
        is_error=status == "error",
        error_type=_text(event, "error_type", errors, limit=100),
        latency_ms=None if latency is None else _count(event, "latency_ms", errors),
        tags=_tags(event, errors),
        cost=_cost(event, errors),
    )
    return (None, errors) if errors else (parsed, {})


# The usual batch, every event valid, is decoded and checked in one pass by msgspec against the
# types below: exactly what `event_parse` accepts, less its leniencies (nulls, counts written as
# 5.0, times with a space...). Anything they refuse goes through `event_parse`, which is the
# reference and names every bad field.
_Count = Annotated[int, msgspec.Meta(ge=0, le=MAX_TOKENS)]
_Tags = Annotated[
    dict[Annotated[str, msgspec.Meta(max_length=64)], Annotated[str, msgspec.Meta(max_length=200)]],
    msgspec.Meta(max_length=MAX_TAGS),
]


class _EventIn(msgspec.Struct, forbid_unknown_fields=True):
    event_id: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    timestamp: str  # read by datetime.fromisoformat, as `_timestamp` does (see _batch_fast)
    provider: Annotated[str, msgspec.Meta(pattern=SLUG.pattern)]
    model: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    user_id: Annotated[str, msgspec.Meta(max_length=200)] = ""
    input_tokens: _Count = 0
    output_tokens: _Count = 0
    cache_read_tokens: _Count = 0
    cache_write_tokens: _Count = 0
    reasoning_tokens: _Count = 0
    images: Annotated[int, msgspec.Meta(ge=0, le=MAX_IMAGES)] = 0
    stream_duration_ms: Annotated[int, msgspec.Meta(ge=0, le=MAX_STREAM_MS)] = 0
    bandwidth_bytes: Annotated[int, msgspec.Meta(ge=0, le=MAX_BANDWIDTH_BYTES)] = 0
    search_units: Annotated[int, msgspec.Meta(ge=0, le=MAX_SEARCH_UNITS)] = 0
    cost: msgspec.Raw = msgspec.Raw(b"null")  # a string cost goes to `_cost` (DECIMAL_TEXT)
    currency: str | None = None
    status: Literal["ok", "error"] = "ok"
    error_type: Annotated[str, msgspec.Meta(max_length=100)] = ""
    latency_ms: Annotated[int, msgspec.Meta(ge=0, le=MAX_LATENCY_MS)] | None = None
    tags: _Tags = {}


class _BatchIn(msgspec.Struct, forbid_unknown_fields=True):
    events: Annotated[list[_EventIn], msgspec.Meta(min_length=1, max_length=MAX_EVENTS)]


_BATCH = msgspec.json.Decoder(_BatchIn)
assert FIELDS == set(_EventIn.__struct_fields__)


def _cost_fast(raw: msgspec.Raw) -> Decimal | None | bool:
    """The cost the fast path may take as it is (None: no cost), or False: let `_cost` judge.
    `raw` is valid JSON (msgspec checked it): a JSON number reads as Decimal exactly."""
    text = bytes(raw)
    if text == b"null":
        return None
    if not text[:1].isdigit():  # a string, a negative number, anything else
        return False
    cost = Decimal(text.decode())
    if cost > MAX_EVENT_COST or cost.as_tuple().exponent < -COST_PLACES:
        return False
    return cost


def batch_fast(
    body: bytes, latest: datetime, first_day: date | None = None
) -> list[UsageEvent] | None:
    """The events of a batch in which every one is valid, or None: let `event_parse` judge."""
    if b"\\u0000" in body:  # msgspec refuses lone surrogates itself, but takes NUL
        return None
    try:
        events = _BATCH.decode(body).events
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    parsed = []
    for e in events:
        # Not msgspec's datetime: it rounds a fraction finer than a microsecond where
        # fromisoformat drops it, and an event must be stored the same way on either path.
        try:
            timestamp = datetime.fromisoformat(e.timestamp)
        except ValueError:
            return None
        cost = _cost_fast(e.cost)
        if cost is False or timestamp.tzinfo is None or not EARLIEST <= timestamp <= latest or (
            first_day is not None and timestamp.astimezone(UTC).date() < first_day
        ) or (
            e.currency not in (None, "", "USD") if cost is None else e.currency != "USD"
        ):  # fmt: skip
            return None
        parsed.append(
            UsageEvent(
                event_id=e.event_id, timestamp=timestamp, provider=e.provider, model=e.model,
                user_id=e.user_id, input_tokens=e.input_tokens, output_tokens=e.output_tokens,
                cache_read_tokens=e.cache_read_tokens, cache_write_tokens=e.cache_write_tokens,
                reasoning_tokens=e.reasoning_tokens, images=e.images,
                stream_duration_ms=e.stream_duration_ms, bandwidth_bytes=e.bandwidth_bytes,
                search_units=e.search_units,
                is_error=e.status == "error", error_type=e.error_type, latency_ms=e.latency_ms,
                tags=e.tags, cost=cost,
            )
        )  # fmt: skip
    return parsed

"""POST /api/v1/usage/events: LLM usage events from our own backend.

Each event is checked on its own; valid ones are stored even when others in the batch are
refused, and the answer says, by index, what became of each: accepted, duplicate, or rejected
with the reason per field.
"""

import json
import re
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Annotated, Literal

import msgspec
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from collectors.ingest_keys import ingest_key_check
from costledger.api import unauthorized
from costledger.usage import UsageEvent, llm_events_record

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
)
FIELDS = {
    "event_id", "timestamp", "user_id", "provider", "model", *COUNT_FIELDS, "cost",
    "currency", "status", "error_type", "latency_ms", "tags",
}  # fmt: skip
CLOCK_SKEW = timedelta(hours=1)
MAX_COUNT = 10**15


def _text(event, name, errors, *, required=False, limit=200) -> str:
    value = event.get(name)
    if type(value) is str and 0 < len(value) <= limit:  # the usual case, checked first
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
    value = event.get(name, 0)
    if type(value) is int and 0 <= value <= MAX_COUNT:  # the usual case, checked first
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
    if value > MAX_COUNT:
        errors[name] = "is too large"
        return 0
    return int(value)


def _timestamp(event, errors, latest: datetime) -> datetime | None:
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
    if value > latest:
        errors["timestamp"] = "is in the future"
        return None
    return value


def _cost(event, errors) -> Decimal | None:
    raw = event.get("cost")
    currency = event.get("currency")
    if raw is None:
        if currency not in (None, "", "USD"):
            errors["currency"] = "is given without a cost"
        return None
    try:
        value = (
            raw if isinstance(raw, Decimal)
            else Decimal(raw) if isinstance(raw, str) or type(raw) is int
            else None
        )  # fmt: skip
    except InvalidOperation:
        value = None
    if value is None or isinstance(raw, bool) or not value.is_finite():
        errors["cost"] = "must be a decimal number (as a JSON number or a string)"
        return None
    if value < 0:
        errors["cost"] = "cannot be negative"
    if currency is None:
        errors["currency"] = "is required with a cost (USD)"
    elif currency != "USD":
        errors["currency"] = (
            f"{currency!r} is not supported: LLM costs are recorded in USD; send the cost in "
            "USD, or leave cost out to use the price book"
        )
    return value


def _tags(event, errors) -> dict:
    tags = event.get("tags") or {}
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
    return tags


def event_parse(event, latest: datetime | None = None) -> tuple[UsageEvent | None, dict[str, str]]:
    """A validated UsageEvent, or None with the reason for each bad field. `latest`: the
    latest acceptable timestamp (now plus the clock skew allowed; a batch computes it once)."""
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
        timestamp=_timestamp(event, errors, latest or timezone.now() + CLOCK_SKEW),
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
_Count = Annotated[int, msgspec.Meta(ge=0, le=MAX_COUNT)]
_Tags = Annotated[
    dict[Annotated[str, msgspec.Meta(max_length=64)], Annotated[str, msgspec.Meta(max_length=200)]],
    msgspec.Meta(max_length=MAX_TAGS),
]


class _EventIn(msgspec.Struct, forbid_unknown_fields=True):
    event_id: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    timestamp: Annotated[datetime, msgspec.Meta(tz=True)]
    provider: Annotated[str, msgspec.Meta(pattern=SLUG.pattern)]
    model: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    user_id: Annotated[str, msgspec.Meta(max_length=200)] = ""
    input_tokens: _Count = 0
    output_tokens: _Count = 0
    cache_read_tokens: _Count = 0
    cache_write_tokens: _Count = 0
    reasoning_tokens: _Count = 0
    images: _Count = 0
    cost: Decimal | None = None
    currency: str | None = None
    status: Literal["ok", "error"] = "ok"
    error_type: Annotated[str, msgspec.Meta(max_length=100)] = ""
    latency_ms: _Count | None = None
    tags: _Tags = {}


class _BatchIn(msgspec.Struct, forbid_unknown_fields=True):
    events: Annotated[list[_EventIn], msgspec.Meta(min_length=1, max_length=MAX_EVENTS)]


_BATCH = msgspec.json.Decoder(_BatchIn)
assert FIELDS == set(_EventIn.__struct_fields__)


def _batch_fast(body: bytes, latest: datetime) -> list[UsageEvent] | None:
    """The events of a batch in which every one is valid, or None: let `event_parse` judge."""
    try:
        events = _BATCH.decode(body).events
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    parsed = []
    for e in events:
        if e.timestamp > latest or (
            (e.currency not in (None, "", "USD")) if e.cost is None
            else (e.currency != "USD" or not e.cost.is_finite() or e.cost < 0)
        ):  # fmt: skip
            return None
        parsed.append(
            UsageEvent(
                event_id=e.event_id, timestamp=e.timestamp, provider=e.provider, model=e.model,
                user_id=e.user_id, input_tokens=e.input_tokens, output_tokens=e.output_tokens,
                cache_read_tokens=e.cache_read_tokens, cache_write_tokens=e.cache_write_tokens,
                reasoning_tokens=e.reasoning_tokens, images=e.images,
                is_error=e.status == "error", error_type=e.error_type, latency_ms=e.latency_ms,
                tags=e.tags, cost=e.cost,
            )
        )  # fmt: skip
    return parsed


def _body(request):
    try:
        body = json.loads(request.body, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError):
        return None, JsonResponse({"errors": {"body": "is not valid JSON"}}, status=400)
    events = body.get("events") if isinstance(body, dict) else None
    if not isinstance(events, list) or not events:
        return None, JsonResponse(
            {"errors": {"events": 'is required: {"events": [ ... ]} with at least one event'}},
            status=400,
        )
    if len(events) > MAX_EVENTS:
        return None, _too_large(
            f"{len(events)} events in one request; send at most {MAX_EVENTS} per request."
        )
    return events, None


def _too_large(message):
    return JsonResponse({"errors": {"events": message}}, status=413)


@csrf_exempt  # API-key authenticated, never by cookie
@require_POST
def usage_events(request):
    header = request.headers.get("Authorization", "")
    scheme, _, presented = header.partition(" ")
    key = ingest_key_check(presented=presented.strip()) if scheme.lower() == "bearer" else None
    if key is None:
        return unauthorized(
            "Send `Authorization: Bearer <key>` with an active usage API key (admin: "
            "Collectors > Usage ingest API keys)."
        )
    if (
        request.META.get("CONTENT_LENGTH", "0").isdigit()
        and int(request.META.get("CONTENT_LENGTH") or 0) > MAX_BYTES
    ) or len(request.body) > MAX_BYTES:
        return _too_large(f"The body is over {MAX_BYTES // 2**20} MB; send smaller batches.")
    latest = timezone.now() + CLOCK_SKEW
    fast = _batch_fast(request.body, latest)
    if fast is not None:
        parsed, ids = [(event, {}) for event in fast], [event.event_id for event in fast]
    else:
        events, error = _body(request)
        if error:
            return error
        parsed = [event_parse(event, latest) for event in events]
        ids = [e.get("event_id") if isinstance(e, dict) else None for e in events]
    valid = [event for event, _ in parsed if event is not None]
    outcomes = iter(llm_events_record(events=valid, ingest_key=key.name)) if valid else iter(())
    results, counts = [], {"accepted": 0, "duplicate": 0, "rejected": 0}
    for index, (event, errors) in enumerate(parsed):
        status = next(outcomes) if event is not None else "rejected"
        counts[status] += 1
        result = {"index": index, "status": status}
        if isinstance(ids[index], str):
            result["event_id"] = ids[index]
        if errors:
            result["errors"] = errors
        results.append(result)
    code = 400 if not valid else 207 if counts["rejected"] else 200
    return HttpResponse(
        msgspec.json.encode({**counts, "results": results}),
        status=code,
        content_type="application/json",
    )

"""POST /api/v1/usage/events: LLM usage events from our own backend.

Each event is checked on its own; valid ones are stored even when others in the batch are
refused, and the answer says, by index, what became of each: accepted, duplicate, or rejected
with the reason per field.
"""

import json
from datetime import date
from decimal import Decimal

import msgspec
import psycopg
from django.db import DataError
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from costledger.api_auth import unauthorized
from usage.events import (
    COST_OVER_LIMIT,
    UsageEvent,
    llm_events_record,
    too_old,
)
from usage.ingest_parse import CLOCK_SKEW, MAX_BYTES, MAX_EVENTS, batch_fast, event_parse
from usage.keys import ingest_key_check
from usage.retention import llm_events_first_day


def _rejected_why(event: UsageEvent, first_day: date | None) -> dict[str, str]:
    """Why llm_events_record rejected a valid event: its day was pruned meanwhile (a pruning
    ran between the check above and the write: `first_day` is read again after it), or its
    cost is over the limit."""
    if first_day is not None and event.day < first_day:
        return {"timestamp": too_old(first_day)}
    return {"cost": COST_OVER_LIMIT}


def _bad_request(field: str, message: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"errors": {field: message}}, status=status)


def _events(body: bytes):
    """The batch's list of events, or the 4xx saying why there is none."""
    try:
        # Decoded here: json.loads would take UTF-16 and UTF-32 bodies too.
        data = json.loads(body.decode(), parse_float=Decimal)
    except RecursionError:
        return None, _bad_request("body", "is nested too deeply to be a batch of events")
    except UnicodeDecodeError:
        return None, _bad_request("body", "is not UTF-8")
    except ValueError as error:  # JSONDecodeError, or an integer of over 4,300 digits
        return None, _bad_request("body", f"is not valid JSON: {error}"[:300])
    if isinstance(data, dict) and set(data) - {"events"}:
        unknown = sorted(set(data) - {"events"})[:10]
        return None, _bad_request(
            "body", f"has fields other than events: {', '.join(map(repr, unknown))}"[:300]
        )
    events = data.get("events") if isinstance(data, dict) else None
    if not isinstance(events, list) or not events:
        return None, _bad_request(
            "events", 'is required: {"events": [ ... ]} with at least one event'
        )
    if len(events) > MAX_EVENTS:
        return None, _bad_request(
            "events",
            f"{len(events)} events in one request; send at most {MAX_EVENTS} per request.",
            413,
        )
    return events, None


def _body(request) -> bytes | None:
    """The request body, or None when it is over MAX_BYTES. Read here rather than through
    `request.body`, whose limit (DATA_UPLOAD_MAX_MEMORY_SIZE) is the admin forms'."""
    declared = request.META.get("CONTENT_LENGTH") or ""
    if declared.isdigit() and int(declared) > MAX_BYTES:
        return None
    stream = request
    if not declared and "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
        # Django reads Content-Length bytes, none here; gunicorn's input undoes the chunking.
        stream = request.environ["wsgi.input"]
    body = stream.read(MAX_BYTES + 1)
    return body if len(body) <= MAX_BYTES else None


def _answer(payload: dict, status: int) -> HttpResponse:
    """The JSON answer, whatever the client sent: an event id holding a lone surrogate is
    escaped (\\ud800) rather than failing after the batch was committed."""
    try:
        content = msgspec.json.encode(payload)
    except UnicodeEncodeError:
        content = json.dumps(payload).encode()
    return HttpResponse(content, status=status, content_type="application/json")


@csrf_exempt  # API-key authenticated, never by cookie
@require_POST
def usage_events(request):
    header = request.headers.get("Authorization", "")
    scheme, _, presented = header.partition(" ")
    key = ingest_key_check(presented=presented.strip()) if scheme.lower() == "bearer" else None
    if key is None:
        return unauthorized(
            "Send `Authorization: Bearer <key>` with an active usage API key (admin: "
            "LLM usage > Usage ingest API keys)."
        )
    body = _body(request)
    if body is None:
        return _bad_request(
            "body", f"is over {MAX_BYTES // 2**20} MB; send smaller batches.", status=413
        )
    latest, first_day = timezone.now() + CLOCK_SKEW, llm_events_first_day()
    fast = batch_fast(body, latest, first_day)
    if fast is not None:
        parsed, ids = [(event, {}) for event in fast], [event.event_id for event in fast]
    else:
        events, error = _events(body)
        if error:
            return error
        parsed = [event_parse(event, latest, first_day) for event in events]
        ids = [e.get("event_id") if isinstance(e, dict) else None for e in events]
    valid = [event for event, _ in parsed if event is not None]
    try:
        recorded = llm_events_record(events=valid, ingest_key=key.name) if valid else []
    except (DataError, psycopg.DataError):  # a day's sums full: the batch was rolled back
        return _bad_request(
            "events",
            "would take a day's usage sums past what they can hold; nothing was stored. "
            "Check the counts and costs, or send the events in smaller batches over time.",
        )
    results, counts = [], {"accepted": 0, "duplicate": 0, "rejected": 0}
    # Read again after the write, once, and only when the write refused something.
    first_day_now = llm_events_first_day() if "rejected" in recorded else None
    outcomes = iter(recorded)
    for index, (event, errors) in enumerate(parsed):
        status = next(outcomes) if event is not None else "rejected"
        counts[status] += 1
        result = {"index": index, "status": status}
        if isinstance(ids[index], str):
            result["event_id"] = ids[index]
        if errors or status == "rejected":
            result["errors"] = errors or _rejected_why(event, first_day_now)
        results.append(result)
    code = (
        400 if not counts["accepted"] + counts["duplicate"] else 207 if counts["rejected"] else 200
    )
    return _answer({**counts, "results": results}, code)

"""The ingest API against hostile clients: every limit at its edge, values PostgreSQL cannot
hold, bodies at the size limit, sums that would overflow, and a generated fuzz through the real
view and database. Whatever is sent: no 5xx, every accepted event stored exactly as sent,
nothing stored that was not accepted."""

import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from io import BytesIO

import pytest
import time_machine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from costledger.models import CostEntry
from usage.events import (
    COST_OVER_LIMIT,
    MAX_EVENT_COST,
    MAX_IMAGES,
    MAX_LATENCY_MS,
    MAX_SEARCH_UNITS,
    MAX_TOKENS,
)
from usage.ingest import MAX_BYTES, usage_events
from usage.models import LlmUsageDaily, LlmUsageEvent, ModelPrice

pytestmark = pytest.mark.django_db
URL = "/api/v1/usage/events"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
TOKENS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
          "reasoning_tokens")  # fmt: skip


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def event(event_id="e1", **fields):
    return {"event_id": event_id, "timestamp": "2026-11-20T09:30:00Z", "user_id": "u1",
            "provider": "openai", "model": "gpt-4o", "input_tokens": 1000, **fields}  # fmt: skip


def post(client, key, events=None, raw: str | bytes | None = None):
    body = raw if raw is not None else json.dumps({"events": events})
    return client.post(
        URL, body, content_type="application/json", headers={"Authorization": f"Bearer {key}"}
    )


def nothing_stored():
    return not (
        LlmUsageEvent.objects.exists()
        or LlmUsageDaily.objects.exists()
        or CostEntry.objects.exists()
    )


# --- Every limit at its edge: the largest accepted value is stored exactly -------------------


def test_the_largest_value_of_every_field_is_stored_exactly(client, key):
    """Every field at its limit (the longest strings, the largest counts, the most tags, the
    earliest and latest times), stored and read back unchanged, and the sums hold it."""
    tags = {f"{i:02d}" + "k" * 62: "v" * 199 + "é" for i in range(32)}
    largest = {
        "event_id": "\U0001f600" * 200,  # astral characters count once, as in PostgreSQL
        "timestamp": "2026-11-20T13:00:00+00:00",  # now + the hour of clock skew allowed
        "user_id": "u" * 200,
        "provider": "p" * 64,
        "model": "m" * 200,
        **dict.fromkeys(TOKENS, MAX_TOKENS),
        "images": MAX_IMAGES,
        "search_units": MAX_SEARCH_UNITS,
        "status": "error",
        "error_type": "e" * 100,
        "latency_ms": MAX_LATENCY_MS,
        "tags": tags,
        "cost": "99999.9999999999",
        "currency": "USD",
    }
    earliest = {**largest, "event_id": "first", "timestamp": "2000-01-01T00:00:00Z",
                "cost": str(MAX_EVENT_COST)}  # fmt: skip
    response = post(client, key, [largest, earliest])
    assert response.status_code == 200, response.json()
    stored = LlmUsageEvent.objects.get(event_id=largest["event_id"])
    for name in ("user_id", "provider", "model", *TOKENS, "images", "search_units", "error_type",
                 "latency_ms", "tags"):  # fmt: skip
        assert getattr(stored, name) == largest[name], name
    assert stored.timestamp == NOW + timedelta(hours=1) and stored.is_error
    assert stored.cost == Decimal("99999.9999999999")
    first = LlmUsageEvent.objects.get(event_id="first")
    assert first.timestamp == datetime(2000, 1, 1, tzinfo=UTC) and first.cost == MAX_EVENT_COST
    rollup = LlmUsageDaily.objects.get(day=date(2026, 11, 20))
    assert (rollup.input_tokens, rollup.latency_ms_sum) == (MAX_TOKENS, MAX_LATENCY_MS)
    assert rollup.search_units == MAX_SEARCH_UNITS
    assert rollup.cost == Decimal("99999.9999999999")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        *[(name, MAX_TOKENS + 1, "is over 100,000,000") for name in TOKENS],
        ("images", MAX_IMAGES + 1, "is over 100,000"),
        ("images", 2**32, "is over 100,000"),  # a 32-bit column would have stored 0
        ("search_units", MAX_SEARCH_UNITS + 1, "is over 100,000"),
        ("search_units", 2**32, "is over 100,000"),
        ("latency_ms", MAX_LATENCY_MS + 1, "is over 86,400,000"),
        ("latency_ms", 4294967296, "is over 86,400,000"),
        ("event_id", "e" * 201, "longer than 200"),
        ("user_id", "u" * 201, "longer than 200"),
        ("model", "m" * 201, "longer than 200"),
        ("provider", "p" * 65, "longer than 64"),
        ("error_type", "e" * 101, "longer than 100"),
        ("tags", {f"k{i}": "v" for i in range(33)}, "more than 32 tags"),
        ("tags", {"k" * 65: "v"}, "64 characters at most"),
        ("tags", {"k": "v" * 201}, "200 at most"),
        ("timestamp", "1999-12-31T23:59:59Z", "before 2000-01-01"),
        ("timestamp", "2026-11-20T13:00:01Z", "in the future"),
    ],
)
def test_one_past_each_limit_is_refused_naming_the_field(client, key, field, value, message):
    response = post(client, key, [event(**{field: value})])
    assert response.status_code == 400
    assert message in response.json()["results"][0]["errors"][field]
    assert nothing_stored()


# --- Values PostgreSQL cannot hold, and the answer that must always be sent ------------------


@pytest.mark.parametrize("bad", ["\x00", "\ud800", "\udfff"])
@pytest.mark.parametrize("field", ["event_id", "user_id", "model", "error_type"])
def test_nul_and_lone_surrogates_are_refused_in_every_string(client, key, gpt4o, field, bad):
    response = post(client, key, [event("ok"), {**event("bad"), field: f"x{bad}y"}])
    assert response.status_code == 207
    result = response.json()["results"][1]
    reason = "NUL" if bad == "\x00" else "lone surrogate"
    assert result["status"] == "rejected" and reason in result["errors"][field]
    assert list(LlmUsageEvent.objects.values_list("event_id", flat=True)) == ["ok"]


@pytest.mark.parametrize("tags", [{"agent": "a\x00"}, {"a\x00": "x"}, {"agent": "\ud83d"},
                                  {"\udc00": "x"}])  # fmt: skip
def test_nul_and_lone_surrogates_are_refused_in_tags(client, key, gpt4o, tags):
    response = post(client, key, [event("ok"), event("bad", tags=tags)])
    assert response.status_code == 207
    assert "tag name or value" in response.json()["results"][1]["errors"]["tags"]
    assert LlmUsageEvent.objects.count() == 1


def test_an_event_id_holding_a_lone_surrogate_is_answered_after_the_commit(client, key, gpt4o):
    """The rejected event's id cannot be written as UTF-8: the answer escapes it (as JSON
    allows) instead of failing after the valid events were committed."""
    response = post(client, key, [event("A"), event("B\ud800", provider="Bad"), event("C")])
    assert response.status_code == 207
    body = json.loads(response.content)
    assert [r["status"] for r in body["results"]] == ["accepted", "rejected", "accepted"]
    assert body["results"][1]["event_id"] == "B\ud800" and b"B\\ud800" in response.content
    assert set(body["results"][1]["errors"]) == {"event_id", "provider"}
    assert set(LlmUsageEvent.objects.values_list("event_id", flat=True)) == {"A", "C"}


def test_an_unknown_field_named_with_a_lone_surrogate_is_answered(client, key, gpt4o):
    response = post(client, key, [event("A", **{"x\udfff": 1})])
    assert response.status_code == 400
    assert json.loads(response.content)["results"][0]["errors"] == {
        "x\udfff": "is not a known field"
    }


@pytest.mark.parametrize("depth", [1000, 5000, 100_000])
def test_json_nested_deeply_is_a_400(client, key, depth):
    response = post(client, key, raw="[" * depth + "]" * depth)
    assert response.status_code == 400
    assert response.json()["errors"]["body"]
    nested = '{"events": [' + "[" * depth + "]" * depth + "]}"
    assert post(client, key, raw=nested).status_code == 400
    assert nothing_stored()


def test_a_deeply_nested_tag_is_refused_as_tags(client, key, gpt4o):
    tags = {"agent": json.loads("[" * 500 + "]" * 500)}
    response = post(client, key, [event("ok"), event("bad", tags=tags)])
    assert response.status_code == 207
    assert "to strings" in response.json()["results"][1]["errors"]["tags"]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("1e14", "is over 100,000 USD"),
        ("99999999999999", "is over 100,000 USD"),
        ("1e400", "is over 100,000 USD"),
        ('"1E+99999999999"', "is over 100,000 USD"),
        ('"1e-11"', "more than 10 decimal places"),
        ("1e-11", "more than 10 decimal places"),
        ("0.30000000000000004", "more than 10 decimal places"),
        ('"NaN"', "decimal number"),
        ('"-Infinity"', "decimal number"),
        ("NaN", "decimal number"),
        ("-1e-400", "cannot be negative"),
    ],
)
def test_costs_out_of_range_or_too_precise_are_refused(client, key, raw, message):
    body = '{"events": [' + json.dumps(event())[:-1] + f', "cost": {raw}, "currency": "USD"}}]}}'
    response = post(client, key, raw=body)
    assert response.status_code == 400
    assert message in response.json()["results"][0]["errors"]["cost"]
    assert nothing_stored()


def test_a_cost_with_ten_places_or_trailing_zeros_is_stored_exactly(client, key):
    costs = ["0.0000000001", "1.50000000000000000000", "0"]
    events = [event(f"e{i}", cost=cost, currency="USD") for i, cost in enumerate(costs)]
    assert post(client, key, events).status_code == 200
    stored = dict(LlmUsageEvent.objects.values_list("event_id", "cost"))
    assert stored == {"e0": Decimal("1E-10"), "e1": Decimal("1.5"), "e2": Decimal(0)}


@pytest.mark.parametrize(
    "timestamp",
    ["0001-01-01T00:30:00+01:00", "0001-01-01T00:00:00Z", "0001-01-01T23:59:59+23:59",
     "9999-12-31T23:30:00-01:00", "9999-12-31T23:59:59Z"],
)  # fmt: skip
def test_times_near_the_ends_of_the_calendar_are_refused(client, key, timestamp):
    response = post(client, key, [event(timestamp=timestamp)])
    assert response.status_code == 400
    assert response.json()["results"][0]["errors"]["timestamp"]
    assert nothing_stored()


# --- Sums that would overflow --------------------------------------------------------------


def test_costs_whose_sum_would_overflow_are_refused_one_by_one(client, key):
    events = [event(f"e{i}", cost="99999999999999", currency="USD") for i in range(2)]
    response = post(client, key, events)
    assert response.status_code == 400
    assert all("is over 100,000 USD" in r["errors"]["cost"] for r in response.json()["results"])
    assert nothing_stored()


def test_a_thousand_events_of_huge_token_counts_are_refused(client, key, gpt4o):
    events = [event(f"e{i}", input_tokens=10**15, output_tokens=10**15) for i in range(1000)]
    response = post(client, key, events)
    assert response.status_code == 400 and response.json()["rejected"] == 1000
    assert nothing_stored()


def test_a_cost_computed_over_the_limit_is_refused(client, key):
    """Within every count limit, but priced so that one request would cost over 100,000 USD:
    refused by name, the other events stored."""
    ModelPrice.objects.create(provider="openai", model="o-dear", effective_from=date(2024, 1, 1),
                              input_mtok=Decimal("2000"), output_mtok=Decimal("8000"))  # fmt: skip
    big = event("big", model="o-dear", input_tokens=MAX_TOKENS, output_tokens=MAX_TOKENS)
    response = post(client, key, [event("small", model="o-dear"), big, event("big", model="x")])
    assert response.status_code == 207
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["accepted", "rejected", "rejected"]
    assert results[1]["errors"] == {"cost": COST_OVER_LIMIT}
    assert list(LlmUsageEvent.objects.values_list("event_id", flat=True)) == ["small"]
    assert LlmUsageDaily.objects.get().requests == 1


def test_a_day_whose_sums_are_full_refuses_the_batch_and_stores_nothing(client, key, gpt4o):
    """Unreachable within the limits (a day holds a billion events at the largest values), but
    if a sum would pass its column anyway, the batch is refused whole with a 400, never a 500."""
    LlmUsageDaily.objects.create(day=date(2026, 11, 20), user_id="u1", provider="openai",
                                 model="gpt-4o", source="events", requests=1,
                                 input_tokens=2**63 - 10)  # fmt: skip
    response = post(client, key, [event("e1"), event("e2")])
    assert response.status_code == 400
    assert "nothing was stored" in response.json()["errors"]["events"]
    assert not LlmUsageEvent.objects.exists() and not CostEntry.objects.exists()
    assert LlmUsageDaily.objects.get().input_tokens == 2**63 - 10
    # Still serving (another user and model: their per-user and per-model sums are full too).
    assert post(client, key, [event("e3", user_id="u2", model="gpt-4o-mini")]).status_code == 200


# --- Bodies up to the documented 5 MB ------------------------------------------------------


def _padded_body(size: int) -> bytes:
    """A batch of 1,000 valid events with realistic tags, padded with JSON whitespace."""
    events = [event(f"e{i}", tags={"agent": "support", "note": "n" * 150}) for i in range(1000)]
    body = json.dumps({"events": events}).encode()
    assert len(body) <= size
    return body[:-1] + b" " * (size - len(body)) + b"}"


@pytest.mark.parametrize("size", [3 * 2**20, int(4.5 * 2**20), MAX_BYTES])
def test_bodies_up_to_5_mb_are_taken(client, key, gpt4o, size):
    response = post(client, key, raw=_padded_body(size))
    assert response.status_code == 200, response.content[:300]
    assert response.json()["accepted"] == 1000


def test_a_body_over_5_mb_is_a_413_in_json(client, key, gpt4o):
    response = post(client, key, raw=_padded_body(MAX_BYTES + 1))
    assert response.status_code == 413
    assert "5 MB" in response.json()["errors"]["body"]
    assert nothing_stored()


# --- The fuzz: generated hostile batches through the view and the database ------------------

ANY_CHAR = st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=())
# Characters that break things, one at least in half the strings; then anything Unicode has.
NASTY_CHAR = st.sampled_from(["\x00", "\ud800", "\udfff", "\ud83d", "\n", '"', "\\", "😀"])
ANY_TEXT = st.text(ANY_CHAR, max_size=100)
HOSTILE_TEXT = st.one_of(
    st.builds(lambda head, nasty, tail: head + nasty + tail, ANY_TEXT, NASTY_CHAR, ANY_TEXT),
    st.text(ANY_CHAR, max_size=210),
)
HOSTILE_NUMBER = st.one_of(
    st.sampled_from([0, 1, MAX_TOKENS, MAX_TOKENS + 1, MAX_IMAGES, MAX_LATENCY_MS,
                     MAX_LATENCY_MS + 1, 2**31, 2**32, 2**63, 10**15, 10**30, -1]),
    st.integers(),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    HOSTILE_TEXT,
)  # fmt: skip


def _time_text(moment: datetime) -> str:
    return moment.isoformat()


TIMES = st.one_of(
    st.sampled_from(["0001-01-01T00:30:00+01:00", "1999-12-31T23:59:59Z", "2000-01-01T00:00:00Z",
                     "9999-12-31T23:59:59-01:00", "2026-11-20T13:00:00Z", "2026-11-20T13:00:01Z",
                     "2026-11-20T12:00:00+23:59", "2026-11-20 09:30:00Z", "2026-11-20"]),
    st.datetimes(min_value=datetime(2026, 11, 19), max_value=datetime(2026, 11, 21),  # noqa: DTZ001
                 timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30))]))
    .map(_time_text),
    st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=1)),
                                            timezone(timedelta(hours=-23, minutes=-59))]))
    .map(_time_text),
    st.datetimes().map(_time_text),  # naive
    HOSTILE_TEXT,
    st.none(),
)  # fmt: skip
COSTS = st.one_of(
    st.none(),
    st.decimals(min_value=0, max_value=MAX_EVENT_COST, places=10),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.sampled_from(["1e400", "1E+99999999999", "1e-11", "99999999999999", "-0", "0.1"]),
    HOSTILE_TEXT,
)
TAGS = st.one_of(
    st.none(),
    st.dictionaries(st.sampled_from(["agent", "feature", "conversation_id"]),
                    st.sampled_from(["support", "chat", "c1", "c2"]), max_size=3),
    st.dictionaries(HOSTILE_TEXT, st.one_of(HOSTILE_TEXT, HOSTILE_NUMBER), max_size=4),
    st.lists(HOSTILE_TEXT, max_size=2),
)  # fmt: skip


STRINGS = ("event_id", "provider", "model", "user_id", "error_type")
HOSTILE = {
    **dict.fromkeys(STRINGS, HOSTILE_TEXT),
    **dict.fromkeys((*TOKENS, "images", "search_units", "latency_ms"), HOSTILE_NUMBER),
    "timestamp": TIMES,
    "cost": COSTS,
    "currency": st.sampled_from(["EUR", "usd", "USD\x00", "", None]),
    "status": st.one_of(st.sampled_from(["failed", "", None]), HOSTILE_TEXT),
    "tags": TAGS,
    "x\x00unknown": st.just(1),
}


@st.composite
def events(draw):
    """A valid event (limits included), then up to three of its fields made hostile or
    dropped: each bad value is met beside otherwise good ones, as a client sends them."""
    event = {
        "event_id": draw(st.sampled_from(["a", "b", "c", "d", "é" * 200])),
        "timestamp": draw(
            st.datetimes(min_value=datetime(2026, 11, 18), max_value=datetime(2026, 11, 20, 12),  # noqa: DTZ001
                         timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5))]))
        ).isoformat(),
        "provider": draw(st.sampled_from(["openai", "anthropic", "p" * 64])),
        "model": draw(st.sampled_from(["gpt-4o", "unknown-model"])),
        "user_id": draw(st.sampled_from(["u1", "u2", "", "u" * 200])),
        **{name: draw(st.sampled_from([0, 7, 1234, MAX_TOKENS])) for name in TOKENS},
        "latency_ms": draw(st.sampled_from([None, 0, 950, MAX_LATENCY_MS])),
        "tags": draw(st.sampled_from([{}, {"agent": "support", "conversation_id": "c1"}])),
    }  # fmt: skip
    if draw(st.booleans()):
        event["cost"] = draw(st.decimals(min_value=0, max_value=MAX_EVENT_COST, places=10))
        event["currency"] = "USD"
    fields = st.sampled_from([*sorted(HOSTILE), *STRINGS, *STRINGS])  # strings hurt the most
    for name in draw(st.lists(fields, max_size=3, unique=True)):
        if draw(st.integers(0, 4)) == 0:
            event.pop(name, None)
        else:
            event[name] = draw(HOSTILE[name])
    return event


def _dumps(value) -> str:
    """JSON as a client may write it: decimals as JSON numbers, never through float."""
    if isinstance(value, Decimal):
        return str(value) if value.is_finite() else json.dumps(str(value))
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{_dumps(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(map(_dumps, value)) + "]"
    return json.dumps(value)


def _assert_stored_as_sent(stored: LlmUsageEvent, sent: dict) -> None:
    for name in ("provider", "model"):
        assert getattr(stored, name) == sent[name]
    for name in ("user_id", "error_type"):
        assert getattr(stored, name) == (sent.get(name) or "")
    for name in (*TOKENS, "images", "search_units"):
        assert getattr(stored, name) == int(sent.get(name) or 0), name
    latency = sent.get("latency_ms")
    assert stored.latency_ms == (None if latency is None else int(latency))
    assert stored.timestamp == datetime.fromisoformat(sent["timestamp"])
    assert stored.tags == (sent.get("tags") or {})
    assert stored.is_error == (sent.get("status") == "error")
    if sent.get("cost") is not None:
        assert stored.cost == Decimal(str(sent["cost"])) and stored.cost_source == "provider"
    else:
        assert stored.cost_source in ("price_book", "unpriced")


@settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batch=st.lists(events(), min_size=1, max_size=6))
def test_fuzz_no_5xx_and_every_accepted_event_stored_exactly(client, key, gpt4o, batch):
    LlmUsageEvent.objects.all().delete()
    LlmUsageDaily.objects.all().delete()
    response = post(client, key, raw=_dumps({"events": batch}))
    assert response.status_code in (200, 207, 400), response.content[:500]
    results = json.loads(response.content)["results"]
    assert [r["index"] for r in results] == list(range(len(batch)))  # every event answered
    accepted = {}
    for sent, result in zip(batch, results, strict=True):
        if result["status"] == "rejected":
            assert result["errors"]  # with a reason per field
        else:
            assert result["status"] in ("accepted", "duplicate") and "errors" not in result
        if result["status"] == "accepted":
            accepted[sent["event_id"]] = sent
    stored = {e.event_id: e for e in LlmUsageEvent.objects.all()}
    assert set(stored) == set(accepted)  # nothing stored that was not accepted
    for event_id, sent in accepted.items():
        _assert_stored_as_sent(stored[event_id], sent)
    sums = [(r.requests, r.input_tokens) for r in LlmUsageDaily.objects.all()]
    assert sum(r for r, _ in sums) == len(stored)  # nothing lost, nothing counted twice
    assert sum(t for _, t in sums) == sum(e.input_tokens for e in stored.values())


def test_a_time_finer_than_a_microsecond_is_stored_the_same_on_either_path(client, key, gpt4o):
    """A nanosecond time (Go's RFC3339Nano) keeps its microseconds, the finer digits dropped,
    never rounded into the next second or day, whether its batch is all valid or not."""
    late = "2026-11-19T23:59:59.9999995Z"
    post(client, key, [event("fast", timestamp=late)])
    post(client, key, [event("slow", timestamp=late), event("bad", provider="Bad")])
    stored = LlmUsageEvent.objects.in_bulk(["fast", "slow"], field_name="event_id")
    moment = datetime(2026, 11, 19, 23, 59, 59, 999999, tzinfo=UTC)
    assert {e.timestamp for e in stored.values()} == {moment}
    assert {e.day for e in stored.values()} == {date(2026, 11, 19)}


def test_a_chunked_body_is_read(rf, key, gpt4o):
    """Without Content-Length (Transfer-Encoding: chunked, as gunicorn hands it over), the body
    is read from the server's input, not taken as empty."""
    body = json.dumps({"events": [event("c1")]}).encode()
    headers = {"Authorization": f"Bearer {key}", "Transfer-Encoding": "chunked"}
    request = rf.post(URL, b"", content_type="application/json", headers=headers)
    request.META.pop("CONTENT_LENGTH", None)
    request.environ["wsgi.input"] = BytesIO(body)
    response = usage_events(request)
    assert response.status_code == 200, response.content
    assert LlmUsageEvent.objects.filter(event_id="c1").exists()


@pytest.mark.parametrize("raw", ['"1_000"', '"+3"', '" 7 "', '"\u0661\u0662"', '"1."', '".5"',
                                 '"0x10"', '"1e5 "'])  # fmt: skip
def test_a_cost_string_is_written_as_a_json_number_would_be(client, key, raw):
    """Python's Decimal() reads "1_000" as 1000 and Arabic-Indic digits as digits: a client
    sending them meant something else, or nothing."""
    body = '{"events": [' + json.dumps(event())[:-1] + f', "cost": {raw}, "currency": "USD"}}]}}'
    response = post(client, key, raw=body)
    assert response.status_code == 400
    assert "decimal number" in response.json()["results"][0]["errors"]["cost"]
    assert nothing_stored()


@pytest.mark.parametrize("tags", ["", 0, [], False])
def test_tags_that_are_not_an_object_are_refused_even_when_empty(client, key, tags):
    response = post(client, key, [event(tags=tags)])
    assert response.status_code == 400
    assert "object of strings" in response.json()["results"][0]["errors"]["tags"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (json.dumps({"events": [event()]}).encode("utf-16"), "not UTF-8"),
        (json.dumps({"events": [event()]}).encode("utf-32"), "not UTF-8"),
        (json.dumps({"events": [event()]}).encode("utf-16-le"), "not valid JSON"),
        (b'{"events": [{"event_id": "\xed\xa0\x80"}]}', "not UTF-8"),
        ("\ufeff" + json.dumps({"events": [event()]}), "not valid JSON"),
        (json.dumps({"events": [event()], "foo": 1}), "fields other than events: 'foo'"),
    ],
    ids=["utf-16", "utf-32", "utf-16-le", "invalid-utf-8", "bom", "unknown-top-level-field"],
)
def test_a_body_that_is_not_a_utf8_batch_is_a_400_naming_body(client, key, body, message):
    response = post(client, key, raw=body)
    assert response.status_code == 400
    assert message in response.json()["errors"]["body"]
    assert nothing_stored()

"""POST /api/v1/usage/events: auth, per-event outcomes, duplicates, costs and rollups."""

import json
import random
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from costledger.models import CostEntry
from usage import ingest_parse
from usage.keys import ingest_keys_revoke
from usage.models import IngestKey, LlmUsageDaily, LlmUsageEvent
from usage.rebuild import llm_usage_rebuild

pytestmark = pytest.mark.django_db
URL = "/api/v1/usage/events"
DAY = date(2026, 11, 20)


def event(event_id="e1", **fields):
    return {
        "event_id": event_id,
        "timestamp": "2026-11-20T09:30:00Z",
        "user_id": "u1",
        "provider": "openai",
        "model": "gpt-4o",
        "input_tokens": 1000,
        "output_tokens": 200,
        "cache_read_tokens": 400,
        **fields,
    }


def post(client, key, events, raw=None):
    body = raw if raw is not None else json.dumps({"events": events})
    return client.post(
        URL, body, content_type="application/json", headers={"Authorization": f"Bearer {key}"}
    )


def test_accepted_events_are_costed_and_rolled_up(client, key, gpt4o):
    response = post(client, key, [event("e1"), event("e2", user_id="u2", output_tokens=0)])
    assert response.status_code == 200
    body = response.json()
    assert (body["accepted"], body["duplicate"], body["rejected"]) == (2, 0, 0)
    assert [r["status"] for r in body["results"]] == ["accepted", "accepted"]
    first = LlmUsageEvent.objects.get(event_id="e1")
    # 1,000 x 2.50 + 200 x 10 + 400 x 1.25 per million = 0.0025 + 0.002 + 0.0005
    assert first.cost == Decimal("0.005") and first.cost_source == "price_book"
    assert first.price == gpt4o and first.ingest_key == "backend"
    rollup = LlmUsageDaily.objects.get(day=DAY, user_id="u1", source="events")
    assert (rollup.requests, rollup.input_tokens, rollup.cost) == (1, 1000, Decimal("0.005"))
    usage = CostEntry.objects.get(source="usage", provider="openai", service="gpt-4o")
    assert usage.billed_cost == Decimal("0.005") + Decimal("0.003")
    assert usage.charge_period_start == DAY and usage.category == "llm"
    assert IngestKey.objects.get().last_used_at is not None


def test_resending_changes_nothing(client, key, gpt4o):
    post(client, key, [event("e1"), event("e2")])
    before = list(LlmUsageDaily.objects.values_list("requests", "cost"))
    response = post(client, key, [event("e1"), event("e2")])
    assert response.status_code == 200
    assert response.json()["duplicate"] == 2
    assert list(LlmUsageDaily.objects.values_list("requests", "cost")) == before
    assert CostEntry.objects.get(source="usage").billed_cost == Decimal("0.010")


def test_an_id_repeated_in_one_batch_counts_once(client, key, gpt4o):
    body = post(client, key, [event("e1"), event("e1")]).json()
    assert [r["status"] for r in body["results"]] == ["accepted", "duplicate"]
    assert LlmUsageDaily.objects.get().requests == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_resends_store_each_event_once(key, gpt4o):
    batch = [event(f"e{i}", user_id=f"u{i % 3}") for i in range(50)]

    def send(_):
        try:
            return post(Client(), key, batch).status_code
        finally:
            connection.close()  # each thread's own connection

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert set(pool.map(send, range(8))) == {200}
    assert LlmUsageEvent.objects.count() == 50
    assert sum(LlmUsageDaily.objects.values_list("requests", flat=True)) == 50
    assert CostEntry.objects.get(source="usage").billed_cost == Decimal("0.005") * 50


def test_mixed_batch_is_207_and_stores_the_valid_events(client, key, gpt4o):
    response = post(client, key, [event("ok1"), event("bad", input_tokens=-5), event("ok2")])
    assert response.status_code == 207
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["accepted", "rejected", "accepted"]
    assert results[1] == {
        "index": 1, "status": "rejected", "event_id": "bad",
        "errors": {"input_tokens": "cannot be negative"},
    }  # fmt: skip
    assert set(LlmUsageEvent.objects.values_list("event_id", flat=True)) == {"ok1", "ok2"}


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"event_id": None}, "event_id", "is required"),
        ({"event_id": 17}, "event_id", "must be a string"),
        ({"timestamp": None}, "timestamp", "is required"),
        ({"timestamp": "2026-11-20T09:30:00"}, "timestamp", "must carry a time zone"),
        ({"timestamp": "yesterday"}, "timestamp", "ISO 8601"),
        ({"timestamp": "2099-01-01T00:00:00Z"}, "timestamp", "is in the future"),
        ({"provider": "Open AI"}, "provider", "lower-case slug"),
        ({"model": ""}, "model", "is required"),
        ({"input_tokens": 1.5}, "input_tokens", "whole number"),
        ({"output_tokens": "12"}, "output_tokens", "whole number"),
        ({"reasoning_tokens": True}, "reasoning_tokens", "whole number"),
        ({"cache_write_tokens": -1}, "cache_write_tokens", "cannot be negative"),
        ({"images": 10**16}, "images", "is over 100,000"),
        ({"latency_ms": 86_400_001}, "latency_ms", "is over 86,400,000"),
        ({"stream_duration_ms": 86_400_001}, "stream_duration_ms", "is over 86,400,000"),
        ({"stream_duration_ms": -5}, "stream_duration_ms", "cannot be negative"),
        ({"bandwidth_bytes": 10**12 + 1}, "bandwidth_bytes", "is over 1,000,000,000,000"),
        ({"bandwidth_bytes": 2.5}, "bandwidth_bytes", "whole number"),
        ({"search_units": -1}, "search_units", "cannot be negative"),
        ({"search_units": 100_001}, "search_units", "is over 100,000"),
        ({"search_units": 10**30}, "search_units", "is over 100,000"),
        ({"search_units": 2.5}, "search_units", "whole number"),
        ({"search_units": "3"}, "search_units", "whole number"),
        ({"search_units": "3.0"}, "search_units", "whole number"),
        ({"search_units": "1e3"}, "search_units", "whole number"),
        ({"search_units": True}, "search_units", "whole number"),
        ({"search_units": False}, "search_units", "whole number"),
        ({"search_units": [3]}, "search_units", "whole number"),
        ({"input_tokens": 10**8 + 1}, "input_tokens", "is over 100,000,000"),
        ({"timestamp": "1999-12-31T23:59:59Z"}, "timestamp", "before 2000-01-01"),
        ({"cost": "0.00000000001", "currency": "USD"}, "cost", "more than 10 decimal"),
        ({"cost": 100001, "currency": "USD"}, "cost", "is over 100,000 USD"),
        ({"status": "failed"}, "status", "'ok' or 'error'"),
        ({"cost": "cheap", "currency": "USD"}, "cost", "decimal number"),
        ({"cost": -0.5, "currency": "USD"}, "cost", "cannot be negative"),
        ({"cost": 0.5}, "currency", "is required with a cost"),
        ({"cost": 0.5, "currency": "EUR"}, "currency", "recorded in USD"),
        ({"currency": "EUR"}, "currency", "without a cost"),
        ({"tags": ["agent"]}, "tags", "object of strings"),
        ({"tags": {"agent": {"name": "x"}}}, "tags", "to strings"),
        ({"prompt": "hello"}, "prompt", "is not a known field"),
        ({"user_id": "u" * 201}, "user_id", "longer than 200"),
    ],
)
def test_each_bad_field_is_rejected_naming_it(client, key, gpt4o, change, field, message):
    response = post(client, key, [{**event("x1"), **change}])
    assert response.status_code == 400  # nothing valid in the batch
    errors = response.json()["results"][0]["errors"]
    assert message in errors[field]
    assert not LlmUsageEvent.objects.exists() and not LlmUsageDaily.objects.exists()


def test_an_event_that_is_not_an_object(client, key):
    response = post(client, key, ["e1"])
    assert response.status_code == 400
    assert response.json()["results"][0]["errors"] == {"event": "must be a JSON object"}


@pytest.mark.parametrize(
    ("raw", "field"),
    [("not json", "body"), ("{}", "events"), ('{"events": []}', "events"), ("[1]", "events")],
)
def test_a_malformed_body_is_400(client, key, raw, field):
    response = post(client, key, None, raw=raw)
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_over_1000_events_is_413(client, key):
    response = post(client, key, [event(f"e{i}") for i in range(1001)])
    assert response.status_code == 413
    assert "at most 1000" in response.json()["errors"]["events"]
    assert not LlmUsageEvent.objects.exists()


def test_over_5_mb_is_413(client, key):
    big = [event(f"e{i}", tags={"t": "x" * 200}) for i in range(1000)]
    raw = json.dumps({"events": big, "padding": "x" * (5 * 1024 * 1024)})
    assert post(client, key, None, raw=raw).status_code == 413


def test_without_a_valid_key_401(client, key):
    assert client.post(URL, "{}", content_type="application/json").status_code == 401
    assert post(client, "clk_nothere_abc", [event()]).status_code == 401
    assert post(client, key.replace("_", "-"), [event()]).status_code == 401
    ingest_keys_revoke(keys=IngestKey.objects.all())
    response = post(client, key, [event()])
    assert response.status_code == 401
    assert not LlmUsageEvent.objects.exists()


def test_an_unknown_model_is_unpriced_never_zero(client, key):
    post(client, key, [event("e1", model="brand-new-model", provider="acme")])
    stored = LlmUsageEvent.objects.get()
    assert stored.cost is None and stored.cost_source == "unpriced"
    rollup = LlmUsageDaily.objects.get()
    assert (rollup.unpriced_requests, rollup.requests) == (1, 1)
    assert not CostEntry.objects.filter(source="usage").exists()


def test_a_provider_reported_cost_wins(client, key, gpt4o):
    post(client, key, [event("e1", cost="0.0123", currency="USD")])
    stored = LlmUsageEvent.objects.get()
    assert (stored.cost, stored.cost_source, stored.price) == (Decimal("0.0123"), "provider", None)


def test_json_numbers_are_exact(client, key, gpt4o):
    post(
        client,
        key,
        None,
        raw='{"events": [' + json.dumps(event("e1"))[:-1] + ', "cost": 0.1, "currency": "USD"}]}',
    )
    assert LlmUsageEvent.objects.get().cost == Decimal("0.1")


def test_rollups_equal_the_sum_of_their_events(client, key, gpt4o):
    batches = [
        [
            event(f"a{i}", user_id=f"u{i % 4}", output_tokens=i * 7, cache_read_tokens=i)
            for i in range(30)
        ],
        [
            event(f"b{i}", user_id=f"u{i % 3}", model="unknown-x", status="error", latency_ms=120)
            for i in range(10)
        ],
        [event(f"a{i}") for i in range(5)],  # duplicates
    ]
    for batch in batches:
        post(client, key, batch)
    incremental = sorted(
        LlmUsageDaily.objects.values_list(
            "user_id", "model", "requests", "errors", "input_tokens", "output_tokens",
            "cache_read_tokens", "cost", "unpriced_requests", "latency_ms_sum",
        )
    )  # fmt: skip
    usage = list(CostEntry.objects.filter(source="usage").values_list("service", "billed_cost"))
    llm_usage_rebuild(days=[DAY])
    rebuilt = sorted(
        LlmUsageDaily.objects.values_list(
            "user_id", "model", "requests", "errors", "input_tokens", "output_tokens",
            "cache_read_tokens", "cost", "unpriced_requests", "latency_ms_sum",
        )
    )  # fmt: skip
    assert incremental == rebuilt
    assert (
        list(CostEntry.objects.filter(source="usage").values_list("service", "billed_cost"))
        == usage
    )


def test_streaming_time_bandwidth_and_images_are_summed_per_day_user_and_model(client, key, gpt4o):
    """The quantities customer billing charges: summed by ingest as by a rebuild, into the
    per-day rows and the per-model sums."""
    post(client, key, [
        event("s1", stream_duration_ms=1500, bandwidth_bytes=2048, images=1),
        event("s2", stream_duration_ms=500, bandwidth_bytes=1000, images=2),
        event("s3", user_id="u2", stream_duration_ms=7),
        event("s4"),  # none of them: 0
    ])  # fmt: skip
    fields = ("user_id", "stream_duration_ms", "bandwidth_bytes", "images")
    daily = sorted(LlmUsageDaily.objects.values_list(*fields))
    assert daily == [("u1", 2000, 3048, 3), ("u2", 7, 0, 0)]
    from usage.models import LlmUsageModelDaily

    assert LlmUsageModelDaily.objects.values_list(*fields[1:]).get() == (2007, 3048, 3)
    assert LlmUsageEvent.objects.get(event_id="s1").bandwidth_bytes == 2048
    llm_usage_rebuild(days=[DAY])
    assert sorted(LlmUsageDaily.objects.values_list(*fields)) == daily


def test_the_route_is_post_only(client, key):
    assert client.get(URL, headers={"Authorization": f"Bearer {key}"}).status_code == 405
    assert reverse("api-usage-events") == URL


# --- The fast path: a batch msgspec decodes and checks in one pass ----------------------------

# Values of each field, good and bad: what a client may send. The fast path must take exactly
# what `event_parse` takes, or hand the batch over to it.
VARIANTS = {
    "event_id": ["e", "x" * 200, "x" * 201, "", None, 7],
    "timestamp": ["2026-11-20T09:30:00Z", "2026-11-20T09:30:00+02:00", "2026-11-20 09:30:00Z",
                  "2026-11-20T09:30:00", "2026-11-20T09:30:00.123456+00:00", "2099-01-01T00:00:00Z",
                  "soon", None, "2000-01-01T00:00:00Z", "1999-12-31T23:59:59Z",
                  "0001-01-01T00:30:00+01:00", "9999-12-31T23:30:00-01:00",
                  "2026-11-20T09:30:00.123456789Z", "2026-11-20T23:59:59.9999995Z",
                  "2026-W47-5T09:30Z", "2026-11-20T09:30:00,5+01:00"],
    "provider": ["openai", "open-router.v2", "Open AI", "openai\n", "", "a" * 65, None],
    "model": ["gpt-4o", "", "m" * 201, 5, "gpt\x00", "gpt\ud800"],
    "user_id": ["u1", "", None, "u" * 201, 3],
    "input_tokens": [0, 1200, -1, 1.0, 1.5, "12", True, None, 10**8, 10**8 + 1, 10**15],
    "cache_read_tokens": [0, 400, Decimal("2.0")],
    "images": [0, 2, -3, 100_000, 100_001],
    "stream_duration_ms": [0, 1500, -1, 1.5, 86_400_000, 86_400_001, "9"],
    "bandwidth_bytes": [0, 2_048, 10**12, 10**12 + 1, -7, True],
    "search_units": [0, 3, 100_000, 100_001, -1, 2.5, Decimal("4.0"), "3", False],
    "latency_ms": [None, 0, 350, -2, 2.5, 86_400_000, 86_400_001, 2**32],
    "status": ["ok", "error", "failed", None],
    "error_type": ["", "rate_limit", "e" * 101, 1],
    "cost": [None, 0, 1, Decimal("0.0123"), "0.5", -1, True, "cheap", Decimal("1E-10"),
             Decimal("1E-11"), Decimal("100000"), Decimal("100000.0000000001"), Decimal("1E+400"),
             "1E+99999999999", "NaN", Decimal("0.50000000000000000000"), "1_000", "+3", " 7 ",
             "\u0661\u0662", "1.", ".5", "2.50", Decimal("-0")],
    "currency": [None, "USD", "EUR", ""],
    "tags": [None, {}, "", 0, [], {"agent": "a"}, {"agent": "a\x00"}, {"\udfff": "a"},
             {"a" * 65: "x"}, {"k": "v" * 201}, {"k": 1}, ["x"],
             {f"k{i}": "v" for i in range(33)}],
    "prompt": ["hello"],
}  # fmt: skip


def _random_event(rng: random.Random) -> dict:
    event = {"event_id": "e", "timestamp": "2026-11-20T09:30:00Z", "provider": "openai",
             "model": "gpt-4o"}  # fmt: skip
    for name in rng.sample(sorted(VARIANTS), rng.randrange(0, 4)):
        value = rng.choice(VARIANTS[name])
        if value is None and rng.random() < 0.5:
            event.pop(name, None)  # absent rather than null
        else:
            event[name] = value
    return event


@pytest.mark.parametrize("seed", range(4))
def test_the_fast_path_takes_exactly_what_the_full_check_takes(seed):
    rng = random.Random(seed)
    latest = datetime(2026, 11, 21, tzinfo=UTC)
    taken = 0
    for _ in range(600):
        event = _random_event(rng)
        # Decimals travel as JSON numbers, as a client writes them.
        body = (
            json.dumps({"events": [event]}, default=lambda d: f"__n{d}__")
            .replace('"__n', "")
            .replace('__"', "")
        )
        fast = ingest_parse.batch_fast(body.encode(), latest)
        full, errors = ingest_parse.event_parse(
            json.loads(body, parse_float=Decimal)["events"][0], latest
        )
        if fast is None:
            continue  # the full check judges it, as the view does
        taken += 1
        assert errors == {} and fast == [full], body
    assert taken > 50  # the fast path does take the usual events


def test_a_batch_with_one_bad_event_gets_every_reason_by_index(client, key, gpt4o):
    """One bad event sends the whole batch through the full check: the good ones are stored
    all the same, the bad one names each of its bad fields."""
    events = [event("ok1"), event("bad", provider="Open AI", timestamp="2026-11-20T09:30:00"),
              event("ok2")]  # fmt: skip
    results = post(client, key, events).json()["results"]
    assert [r["status"] for r in results] == ["accepted", "rejected", "accepted"]
    assert set(results[1]["errors"]) == {"provider", "timestamp"}


@pytest.mark.parametrize("raw", ["0", "1", '"0.00"'])
def test_a_whole_number_cost_is_a_cost(client, key, gpt4o, raw):
    body = (
        '{"events": [' + json.dumps(event("e1"))[:-1] + f', "cost": {raw}, "currency": "USD"}}]}}'
    )
    assert post(client, key, None, raw=body).status_code == 200
    stored = LlmUsageEvent.objects.get()
    assert (stored.cost, stored.cost_source) == (Decimal(json.loads(raw)), "provider")


def test_a_provider_with_a_final_newline_is_refused(client, key):
    response = post(client, key, [event("e1", provider="openai\n")])
    assert response.status_code == 400
    assert "lower-case slug" in response.json()["results"][0]["errors"]["provider"]

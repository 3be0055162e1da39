"""The Weaviate collector against fake responses shaped like Weaviate's documented answers.

Where the shapes come from: Weaviate's OpenAPI spec (github.com/weaviate/weaviate,
openapi-specs/schema.json: Schema/Class, NodesStatusResponse/NodeShardStatus,
ObjectsListResponse/Object) and the examples of its REST reference (docs: "Cluster node data"
for `GET /v1/nodes?output=verbose`, "REST - /v1/schema", "REST - /v1/objects"). The fixtures are
weaviate_schema.json, weaviate_nodes_verbose.json and weaviate_objects.json.
"""

import copy
from datetime import date
from decimal import Decimal

import pytest
import responses
import time_machine

from costledger.models import CostEntry, MetricSample
from tests.collectors.conftest import fixture, run_collector
from tests.fakeproviders.weaviate import sample_object

pytestmark = pytest.mark.django_db
DAY = date(2026, 11, 20)


@pytest.fixture(autouse=True)
def _today_is_day():
    """The collector reads state as it is now: the tests run on DAY."""
    with time_machine.travel("2026-11-20 12:00:00+00:00", tick=False):
        yield


def test_a_past_day_is_not_back_filled_with_todays_state(fake_http, weaviate):
    run = run_collector("weaviate", date(2026, 11, 19))
    assert (run.status, run.rows_written) == ("ok", 0)
    assert "is not back-filled" in run.notes[0]
    assert not fake_http.calls
    assert not CostEntry.objects.exists() and not MetricSample.objects.exists()


BASE = "https://cluster-abc.weaviate.test"


@pytest.fixture
def weaviate(settings):
    settings.WEAVIATE_URL = BASE
    settings.WEAVIATE_API_KEY = "weaviate-key-secret"


def serve(fake_http, *, schema=None, nodes=None, samples=None):
    """The schema, the nodes and one sample object per collection ({name: body})."""
    fake_http.get(f"{BASE}/v1/schema", json=schema or fixture("weaviate_schema.json"))
    fake_http.get(f"{BASE}/v1/nodes", json=nodes or fixture("weaviate_nodes_verbose.json"))
    samples = samples or {
        "Article": sample_object("Article", 1536),
        "Author": sample_object("Author", 384),
    }
    for collection, body in samples.items():
        fake_http.get(
            f"{BASE}/v1/objects",
            json=body,
            match=[
                responses.matchers.query_param_matcher({"class": collection}, strict_match=False)
            ],
        )


def metrics() -> dict[tuple[str, str], Decimal]:
    return {
        (s.dimensions["collection"], s.metric): s.value
        for s in MetricSample.objects.filter(provider="weaviate")
    }


def nodes_with(shards_by_node: list[list[dict]], status="HEALTHY") -> dict:
    body = fixture("weaviate_nodes_verbose.json")
    body["nodes"] = [
        copy.deepcopy(body["nodes"][0]) | {"name": f"weaviate-{n}", "shards": shards}
        for n, shards in enumerate(shards_by_node)
    ]
    body["nodes"][-1]["status"] = status
    return body


def shard(collection, name, count):
    template = fixture("weaviate_nodes_verbose.json")["nodes"][0]["shards"][0]
    return template | {"class": collection, "name": name, "objectCount": count}


def test_objects_dimensions_per_collection_and_the_daily_estimate(fake_http, weaviate):
    serve(fake_http)
    run = run_collector("weaviate", DAY)
    assert (run.status, run.reason, run.notes) == ("ok", "", [])
    assert metrics() == {
        # Article: two shards on two nodes; Author: one shard replicated on both, counted once.
        ("Article", "objects"): 1_200_000,
        ("Article", "vector_dimensions"): 1_843_200_000,
        ("Article", "vector_storage"): Decimal("7372.8"),
        ("Author", "objects"): 250_000,
        ("Author", "vector_dimensions"): 96_000_000,
        ("Author", "vector_storage"): 384,
    }
    entry = CostEntry.objects.get()
    # 1939.2 million dimensions x 0.095 = 184.224 a month; 184,224 thousandths over 30 days.
    assert (entry.billed_cost, entry.currency, entry.source, entry.service) == (
        Decimal("6.141"),
        "USD",
        "estimate",
        "vector_dimensions",
    )
    assert (entry.quantity, entry.unit) == (Decimal("1939.2"), "million dimensions")
    assert (entry.charge_period_start, entry.charge_period_end) == (DAY, date(2026, 11, 21))
    assert (entry.category, entry.sync_run_id) == ("infrastructure", run.sync_run_id)
    assert entry.raw == {
        "monthly": "184.2240",
        "days_in_month": 30,
        "vector_dimensions": 1939200000,
        "per_million_dimensions": "0.095",
        "minimum_monthly": "25",
    }
    assert run.figures == {
        "collections": 2,
        "objects": 1450000,
        "vector_dimensions": 1939200000,
        "estimate": "6.141",
        "estimate_monthly": "184.2240",
        "currency": "USD",
    }
    assert {c.request.headers["Authorization"] for c in fake_http.calls} == {
        "Bearer weaviate-key-secret"
    }
    assert "output=verbose" in fake_http.calls[1].request.url
    sampled = [c.request.url for c in fake_http.calls if "/v1/objects" in c.request.url]
    assert len(sampled) == 2
    assert all("limit=1" in url and "include=vector" in url for url in sampled)


def test_the_daily_pieces_of_a_month_sum_to_its_estimate(fake_http, weaviate):
    serve(fake_http)
    for day in range(1, 31):  # each day's run on its own day, as the daily sync does
        with time_machine.travel(f"2026-11-{day:02d} 12:00:00+00:00", tick=False):
            assert run_collector("weaviate", date(2026, 11, day)).status == "ok"
    total = sum(CostEntry.objects.values_list("billed_cost", flat=True))
    assert (CostEntry.objects.count(), total) == (30, Decimal("184.224"))


def test_the_minimum_monthly_fee_applies_to_a_small_cluster(fake_http, weaviate):
    nodes = nodes_with([[shard("Article", "Kx3yq3Bf7tLm", 1000), shard("Author", "Qw9", 0)]])
    serve(fake_http, nodes=nodes, samples={"Article": sample_object("Article", 1536)})
    run = run_collector("weaviate", DAY)
    # 1.536 million dimensions x 0.095 = 0.14592 < 25: 25.00 a month, 0.83 on the 20th.
    assert CostEntry.objects.get().billed_cost == Decimal("0.83")
    assert run.figures["estimate_monthly"] == "25"
    # An empty collection is not sampled.
    assert not any("class=Author" in c.request.url for c in fake_http.calls)
    assert metrics()[("Author", "vector_dimensions")] == 0


def test_prices_come_from_weaviate_prices(fake_http, weaviate, settings):
    settings.WEAVIATE_PRICES = '{"per_million_dimensions": 0.145, "minimum_monthly": "0"}'
    serve(fake_http)
    run = run_collector("weaviate", DAY)
    # 1939.2 x 0.145 = 281.184 a month: 281,184 thousandths over 30 days -> 9.373 on day 20.
    assert run.figures["estimate_monthly"] == "281.1840"
    assert CostEntry.objects.get().billed_cost == Decimal("9.373")


def test_named_vectors_add_up(fake_http, weaviate):
    named = sample_object("Article", 0)
    del named["objects"][0]["vector"]
    named["objects"][0]["vectors"] = {"title": [0.5] * 256, "body": [0.25] * 1024}
    serve(fake_http, samples={"Article": named, "Author": sample_object("Author", 384)})
    run_collector("weaviate", DAY)
    assert metrics()[("Article", "vector_dimensions")] == 1_200_000 * 1280


def test_a_multi_tenant_collection_is_sampled_from_its_largest_tenant(fake_http, weaviate):
    schema = fixture("weaviate_schema.json")
    schema["classes"] = [schema["classes"][1] | {"class": "Notes"}]
    schema["classes"][0]["multiTenancyConfig"]["enabled"] = True
    nodes = nodes_with(
        [
            [shard("Notes", "tenantA", 10), shard("Notes", "tenantB", 30)],
            [shard("Notes", "tenantC", 5)],
        ]
    )
    serve(fake_http, schema=schema, nodes=nodes, samples={"Notes": sample_object("Notes", 768)})
    run = run_collector("weaviate", DAY)
    assert run.status == "ok"
    assert metrics()[("Notes", "objects")] == 45
    assert metrics()[("Notes", "vector_dimensions")] == 45 * 768
    sampled = next(c.request.url for c in fake_http.calls if "/v1/objects" in c.request.url)
    assert "tenant=tenantB" in sampled


def test_an_unhealthy_node_is_noted(fake_http, weaviate):
    nodes = nodes_with(
        [[shard("Article", "Kx3yq3Bf7tLm", 10)], [shard("Author", "Qw9", 0)]], status="UNAVAILABLE"
    )
    serve(fake_http, nodes=nodes)
    run = run_collector("weaviate", DAY)
    assert run.status == "ok"
    assert run.notes == [
        "Weaviate node weaviate-1 is UNAVAILABLE: objects on shards only it holds may be missing "
        "from the counts"
    ]


def test_a_collection_counted_but_listing_no_object_counts_no_dimensions(fake_http, weaviate):
    empty = sample_object("Article", 1536) | {"objects": [], "totalResults": 0}
    serve(fake_http, samples={"Article": empty, "Author": sample_object("Author", 384)})
    run = run_collector("weaviate", DAY)
    assert run.status == "ok"
    assert metrics()[("Article", "vector_dimensions")] == 0
    assert run.notes[0].startswith("Weaviate counted objects in Article but listed none")


def test_without_an_api_key_no_authorization_is_sent(fake_http, weaviate, settings):
    settings.WEAVIATE_API_KEY = ""
    serve(fake_http)
    assert run_collector("weaviate", DAY).status == "ok"
    assert not any("Authorization" in c.request.headers for c in fake_http.calls)


def test_running_twice_writes_the_same_rows(fake_http, weaviate):
    serve(fake_http)
    run_collector("weaviate", DAY)
    run_collector("weaviate", DAY)
    assert CostEntry.objects.count() == 1
    assert MetricSample.objects.count() == 6


def test_without_credentials_it_is_skipped_naming_the_variable(fake_http):
    run = run_collector("weaviate", DAY)
    assert run.status == "skipped"
    assert (
        run.reason == "WEAVIATE_URL is not set: add it to the environment "
        "(.env; see .env.example) and restart"
    )
    assert not fake_http.calls


@pytest.mark.parametrize("status", [401, 403])
def test_a_rejected_key_fails_saying_so(fake_http, weaviate, status):
    fake_http.get(f"{BASE}/v1/schema", status=status, json={"error": [{"message": "unauthorized"}]})
    run = run_collector("weaviate", DAY)
    assert run.status == "failed"
    assert run.reason.startswith(f"credentials rejected by Weaviate (HTTP {status})")
    assert "weaviate-key-secret" not in run.reason


def test_an_undocumented_nodes_answer_fails_and_writes_nothing(fake_http, weaviate):
    serve(fake_http, nodes={"cluster": []})
    run = run_collector("weaviate", DAY)
    assert run.status == "failed"
    assert "Weaviate answered without 'nodes'" in run.reason
    assert not CostEntry.objects.exists() and not MetricSample.objects.exists()


def test_an_object_count_that_is_not_a_count_fails(fake_http, weaviate):
    serve(fake_http, nodes=nodes_with([[shard("Article", "Kx3yq3Bf7tLm", "lots")]]))
    run = run_collector("weaviate", DAY)
    assert run.status == "failed"
    assert run.reason == "Weaviate answered objectCount='lots', not a number"
    assert not CostEntry.objects.exists()


def test_a_vector_that_is_not_numbers_fails(fake_http, weaviate):
    broken = sample_object("Article", 0)
    broken["objects"][0]["vector"] = "AAECAw=="
    serve(fake_http, samples={"Article": broken, "Author": sample_object("Author", 384)})
    run = run_collector("weaviate", DAY)
    assert run.status == "failed"
    assert run.reason == "Weaviate answered a vector that is not a list of numbers"


def test_an_invalid_price_table_fails_naming_the_setting(fake_http, weaviate, settings):
    settings.WEAVIATE_PRICES = {"minimum_monthly": "-5"}
    serve(fake_http)
    run = run_collector("weaviate", DAY)
    assert run.status == "failed"
    assert run.reason.startswith("WEAVIATE_PRICES minimum_monthly='-5' is not a price")

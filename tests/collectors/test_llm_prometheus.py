"""The Prometheus LLM usage collector against fake instant-query answers.

Shapes: Prometheus HTTP API, "Instant queries" and "Format overview" (envelope
{"status", "data": {"resultType": "vector", "result": [{"metric": {...}, "value": [<unix time>,
"<value as string>"]}]}}, and the error envelope {"status": "error", "errorType", "error"} sent
with HTTP 400 for a bad query). Label sets: LiteLLM's Prometheus docs and
litellm/types/integrations/prometheus.py (end_user, user, hashed_api_key, model, api_provider;
prometheus_client writes an unset label as "None"), OpenTelemetry's GenAI metric conventions
(gen_ai_provider_name / gen_ai_system, gen_ai_request_model, gen_ai_response_model) for the otel
preset. A `sum by (...)` answer carries only the grouping labels that have a value.
"""

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
import time_machine

from collectors.sources.llm_prometheus import PrometheusLLMCollector
from costledger.models import CostEntry
from tests.collectors.conftest import fixture, run_collector
from tests.fakeproviders.llm_prometheus import EXPECTED, VALUES, litellm_answer
from usage.models import LlmUsageDaily

pytestmark = pytest.mark.django_db
BASE = "https://prometheus.test"
URL = f"{BASE}/api/v1/query"
DAY = date(2026, 11, 20)
END_OF_DAY = 1795219200  # 2026-11-21T00:00:00Z
HASHED_KEY = "915a03d152ff7a30ae8f155ea6cb8c214addc17206ff71feacf5a06e4c8fa454"


@pytest.fixture
def prometheus(settings):
    settings.PROMETHEUS_URL = BASE
    settings.PROMETHEUS_BEARER_TOKEN = "prom-token-secret"


def serve(fake_http, answer=litellm_answer, queries=None):
    """Answer every query with answer(query, time); record the queries in `queries`."""

    def callback(request):
        params = parse_qs(urlsplit(request.url).query)
        query, at = params["query"][0], int(params["time"][0])
        if queries is not None:
            queries.append((query, at))
        return 200, {"Content-Type": "application/json"}, json.dumps(answer(query, at))

    fake_http.add_callback(responses.GET, URL, callback=callback)


def usage_rows():
    return {
        (r.user_id, r.provider, r.model): (
            r.requests,
            r.errors,
            r.input_tokens,
            r.output_tokens,
            r.cost,
        )
        for r in LlmUsageDaily.objects.filter(source="prometheus")
    }


def test_usage_per_user_provider_and_model_from_litellm_metrics(fake_http, prometheus):
    queries = []
    serve(fake_http, queries=queries)
    run = run_collector("llm_prometheus", DAY)
    assert (run.status, run.reason) == ("ok", "")
    # Counts rounded half up after increase()'s fractions; LiteLLM's requests counter counts
    # successes only, so failures are added to it; end_user "None" falls back to the key.
    assert usage_rows() == {
        ("cus_8f3a21", "openai", "gpt-4o"): (43, 1, 18235, 5120, Decimal("0.0967")),
        (HASHED_KEY, "anthropic", "claude-sonnet-4-5-20250929"): (
            17,
            0,
            9876,
            2345,
            Decimal("0.064803"),
        ),
        ("cus_8f3a21", "openai", "gpt-4o-mini"): (123, 3, 40210, 8001, Decimal("0.01085415")),
    }
    row = LlmUsageDaily.objects.get(model="gpt-4o")
    assert (row.day, row.currency, row.sync_run_id) == (DAY, "USD", run.sync_run_id)
    entries = {
        (e.provider, e.service): (e.billed_cost, e.currency, e.quantity)
        for e in CostEntry.objects.all()
    }
    assert entries == {
        ("openai", "gpt-4o"): (Decimal("0.0967"), "USD", 23355),
        ("anthropic", "claude-sonnet-4-5-20250929"): (Decimal("0.064803"), "USD", 12221),
        ("openai", "gpt-4o-mini"): (Decimal("0.01085415"), "USD", 48211),
    }
    entry = CostEntry.objects.get(service="gpt-4o")
    assert (entry.source, entry.reference, entry.category) == ("usage", "prometheus", "llm")
    assert (entry.charge_period_start, entry.charge_period_end) == (DAY, date(2026, 11, 21))
    assert entry.raw["metric"] == "litellm_spend_metric_total"
    assert entry.raw["series"][0]["value"] == [END_OF_DAY, "0.0967"]
    assert {k: run.figures[k] for k in EXPECTED} == {
        "requests": 183,
        "errors": 4,
        "input_tokens": 68321,
        "output_tokens": 15466,
        "cost": "0.17235715",
        "users": 2,
    }
    assert run.figures["currency"] == "USD"
    assert "increase() gave fractional counts: rounded to whole numbers" in run.notes
    assert queries[0] == (
        "sum by (end_user, user, hashed_api_key, model, api_provider, custom_llm_provider) "
        "(increase(litellm_requests_metric_total[1d]))",
        END_OF_DAY,
    )
    assert {q.split("(increase(")[1].split("[")[0] for q, _ in queries} == set(VALUES)
    request = fake_http.calls[0].request
    assert request.headers["Authorization"] == "Bearer prom-token-secret"


def test_running_twice_writes_the_same_rows_and_drops_what_vanished(fake_http, prometheus):
    serve(fake_http)
    run_collector("llm_prometheus", DAY)
    run_collector("llm_prometheus", DAY)
    assert LlmUsageDaily.objects.count() == 3
    assert CostEntry.objects.count() == 3

    def without_mini(query, at):
        answer = litellm_answer(query, at)
        answer["data"]["result"] = [
            s for s in answer["data"]["result"] if s["metric"]["model"] != "gpt-4o-mini"
        ]
        return answer

    fake_http.reset()
    serve(fake_http, answer=without_mini)
    run = run_collector("llm_prometheus", DAY)
    assert run.status == "ok"
    assert set(LlmUsageDaily.objects.values_list("model", flat=True)) == {
        "gpt-4o",
        "claude-sonnet-4-5-20250929",
    }
    assert set(CostEntry.objects.values_list("service", flat=True)) == {
        "gpt-4o",
        "claude-sonnet-4-5-20250929",
    }


def test_other_feeds_rows_are_never_replaced(fake_http, prometheus):
    """The LLM event ingest also writes `usage` cost entries and daily rows: another reference
    and another source keep them apart."""
    ingest_entry = CostEntry.objects.create(
        provider="openai",
        service="gpt-4o",
        category="llm",
        charge_period_start=DAY,
        charge_period_end=date(2026, 11, 21),
        billed_cost=Decimal("1.25"),
        currency="USD",
        source="usage",
    )
    ingest_row = LlmUsageDaily.objects.create(
        day=DAY, user_id="cus_8f3a21", provider="openai", model="gpt-4o", source="events"
    )
    serve(fake_http)
    assert run_collector("llm_prometheus", DAY).status == "ok"
    assert CostEntry.objects.get(pk=ingest_entry.pk).billed_cost == Decimal("1.25")
    assert LlmUsageDaily.objects.filter(pk=ingest_row.pk).exists()
    assert CostEntry.objects.filter(reference="prometheus").count() == 3


def test_otel_preset_reads_gen_ai_metrics_and_leaves_cost_empty(fake_http, prometheus, settings):
    settings.LLM_PROMETHEUS_PRESET = "otel"
    values = {
        "gen_ai_client_operation_duration_seconds_count[": {"gpt_4o": "12", "claude": "5"},
        'gen_ai_client_operation_duration_seconds_count{error_type!=""}': {
            "gpt_4o": "2",
            "claude": "0",
        },
        'gen_ai_token_type="input"': {"gpt_4o": "3000.4", "claude": "800"},
        'gen_ai_token_type="output"': {"gpt_4o": "950", "claude": "120.5"},
    }
    queries = []

    def otel(query, at):
        selector = query.split("(increase(")[1]
        placeholders = next(v for k, v in values.items() if k in selector)
        return fixture("llm_prometheus_otel_query.json", **placeholders)

    serve(fake_http, answer=otel, queries=queries)
    run = run_collector("llm_prometheus", DAY)
    assert (run.status, run.reason) == ("ok", "")
    assert usage_rows() == {
        ("", "openai", "gpt-4o-2024-08-06"): (12, 2, 3000, 950, None),
        ("cus_8f3a21", "anthropic", "claude-3-5-haiku-20241022"): (5, 0, 800, 121, None),
    }
    assert not CostEntry.objects.exists()
    assert (run.figures["cost"], run.figures["preset"]) == (None, "otel")
    assert len(queries) == 4  # no cost query: the conventions have no cost
    assert queries[2][0] == (
        "sum by (user_id, enduser_id, gen_ai_response_model, gen_ai_request_model, "
        "gen_ai_provider_name, gen_ai_system) "
        '(increase(gen_ai_client_token_usage_sum{gen_ai_token_type="input"}[1d]))'
    )


def test_metric_and_label_names_can_be_overridden(fake_http, prometheus, settings):
    settings.LLM_PROMETHEUS_METRICS = json.dumps(
        {
            "requests": "",
            "errors": "",
            "output_tokens": "",
            "cost": "",
            "input_tokens": "gateway_prompt_tokens_total",
            "user_labels": ["customer"],
            "model_labels": ["llm"],
            "provider_labels": ["vendor"],
        }
    )
    answer = {
        "status": "success",
        "data": {
            "resultType": "vector",
            "result": [
                {"metric": {"customer": "acme", "llm": "openai/gpt-4.1"}, "value": [1, "10"]},
                {"metric": {"llm": "mistral-large", "vendor": "Mistral AI"}, "value": [1, "7"]},
                {
                    "metric": {"llm": "anthropic/claude-3.5-sonnet", "vendor": "OpenRouter"},
                    "value": [1, "3"],
                },
            ],
        },
    }
    queries = []
    serve(fake_http, answer=lambda query, at: answer, queries=queries)
    run = run_collector("llm_prometheus", DAY)
    assert (run.status, run.reason) == ("ok", "")
    assert queries == [
        (
            "sum by (customer, llm, vendor) (increase(gateway_prompt_tokens_total[1d]))",
            END_OF_DAY,
        )
    ]
    # A provider prefix on the model names the provider; an unknown provider label is kept as
    # a slug; OpenRouter's vendor/model ids stay whole.
    assert {k: v[2] for k, v in usage_rows().items()} == {
        ("acme", "openai", "gpt-4.1"): 10,
        ("", "mistral-ai", "mistral-large"): 7,
        ("", "openrouter", "anthropic/claude-3.5-sonnet"): 3,
    }


@pytest.mark.parametrize(
    ("preset", "metrics", "message"),
    [
        ("prom", "", "LLM_PROMETHEUS_PRESET='prom' is not a preset; use one of litellm, otel"),
        ("", "{not json", "LLM_PROMETHEUS_METRICS is not valid JSON"),
        ("", '{"tokens": "x"}', "LLM_PROMETHEUS_METRICS has unknown keys tokens;"),
        ("", '{"user_labels": ["end-user"]}', "user_labels must be a list of Prometheus label"),
        ("", '{"currency": "usd"}', "currency must be an ISO 4217 currency code"),
    ],
)
def test_a_configuration_that_cannot_work_fails_naming_the_setting(
    fake_http, prometheus, settings, preset, metrics, message
):
    settings.LLM_PROMETHEUS_PRESET = preset
    settings.LLM_PROMETHEUS_METRICS = metrics
    run = run_collector("llm_prometheus", DAY)
    assert run.status == "failed"
    assert message in run.reason
    assert not fake_http.calls


def test_today_is_read_up_to_now(fake_http, prometheus):
    queries = []
    serve(fake_http, queries=queries)
    with time_machine.travel(datetime(2026, 11, 20, 12, 0, tzinfo=UTC), tick=False):
        assert run_collector("llm_prometheus", DAY).status == "ok"
    noon = END_OF_DAY - 12 * 3600
    assert queries[0] == (
        "sum by (end_user, user, hashed_api_key, model, api_provider, custom_llm_provider) "
        "(increase(litellm_requests_metric_total[43200s]))",
        noon,
    )


def test_without_the_url_it_is_skipped_naming_the_variable(fake_http):
    run = run_collector("llm_prometheus", DAY)
    assert (run.status, run.reason) == (
        "skipped",
        "PROMETHEUS_URL is not set: add it to the environment (.env; see .env.example) and restart",
    )
    assert not fake_http.calls


@pytest.mark.parametrize("status", [401, 403])
def test_a_rejected_token_fails_saying_so(fake_http, prometheus, status):
    fake_http.get(URL, status=status, body="Unauthorized")
    run = run_collector("llm_prometheus", DAY)
    assert run.status == "failed"
    assert run.reason.startswith(f"credentials rejected by Prometheus (HTTP {status})")
    assert "prom-token-secret" not in run.reason


def test_a_refused_query_fails_with_prometheus_error(fake_http, prometheus):
    fake_http.get(URL, status=400, json=fixture("llm_prometheus_error.json"))
    run = run_collector("llm_prometheus", DAY)
    assert run.status == "failed"
    assert "HTTP 400" in run.reason and "bad_data" in run.reason


def test_an_error_envelope_fails_and_writes_nothing(fake_http, prometheus):
    fake_http.get(URL, json=fixture("llm_prometheus_error.json"))
    run = run_collector("llm_prometheus", DAY)
    assert run.status == "failed"
    assert "bad_data: invalid parameter" in run.reason


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        (lambda a: a["data"].update(resultType="matrix"), "answered a 'matrix' result"),
        (lambda a: a["data"].pop("result"), "without 'data.result'"),
        (lambda a: a["data"]["result"][1].update(value=[1, 9876]), "not the documented"),
        (lambda a: a["data"]["result"][1].update(value=[1, "NaN"]), "'NaN'"),
    ],
)
def test_an_undocumented_answer_fails_and_writes_nothing(fake_http, prometheus, breakage, message):
    calls = []

    def broken_spend(query, at):
        answer = litellm_answer(query, at)
        calls.append(query)
        if "litellm_spend_metric_total" in query:  # the last query: the others went well
            breakage(answer)
        return answer

    serve(fake_http, answer=broken_spend)
    run = run_collector("llm_prometheus", DAY)
    assert run.status == "failed"
    assert message in run.reason
    assert len(calls) == 5
    assert not LlmUsageDaily.objects.exists() and not CostEntry.objects.exists()


def test_the_collector_is_registered_under_its_name():
    from collectors.registry import collector_class

    assert collector_class("llm_prometheus") is PrometheusLLMCollector

"""The OpenRouter collector against fake activity API answers.

The fixture (openrouter_activity.json) is the documented example answer of GET /api/v1/activity
in OpenRouter's API reference ("Get user activity grouped by endpoint", its OpenAPI
`ActivityResponse` example): `data` rows with `date` (YYYY-MM-DD), `model`, `model_permaslug`,
`endpoint_id`, `provider_name`, `usage` and `byok_usage_inference` as JSON numbers in dollars,
and integer `requests`, `prompt_tokens`, `completion_tokens`, `reasoning_tokens`.
"""

import copy
from datetime import date
from decimal import Decimal

import pytest
import time_machine

from costledger.models import CostEntry
from costledger.services import cost_entries_upsert
from tests.collectors.conftest import fixture, run_collector
from tests.factories import cost_entry

pytestmark = pytest.mark.django_db
BASE = "https://openrouter.test/api"
URL = f"{BASE}/v1/activity"
DAY = date(2026, 11, 20)
GPT, CLAUDE = "openai/gpt-4.1", "anthropic/claude-sonnet-4"


@pytest.fixture(autouse=True)
def _day_after():
    """DAY is complete: the runs happen the morning after."""
    with time_machine.travel("2026-11-21 06:00:00+00:00", tick=False):
        yield


@pytest.fixture
def openrouter(settings):
    settings.OPENROUTER_API_KEY = "sk-or-v1-management-secret"
    settings.OPENROUTER_API_URL = BASE


def activity(*rows):
    """The documented answer with `rows`, each the documented row with some fields changed
    (the JSON numbers as float literals: json.dumps writes them back as the same digits)."""
    answer = fixture("openrouter_activity.json", day=DAY.isoformat())
    documented = answer["data"][0]
    answer["data"] = [{**copy.deepcopy(documented), **changes} for changes in rows]
    return answer


def test_daily_cost_per_model_in_exact_dollars(fake_http, openrouter):
    fake_http.get(
        URL,
        json=activity(
            {},  # the documented row: 0.015 for 5 requests
            {"provider_name": "Azure", "endpoint_id": "e2", "usage": 0.1, "requests": 2},
            {"model": CLAUDE, "provider_name": "Anthropic", "usage": 0.2, "requests": 1},
        ),
    )
    run = run_collector("openrouter", DAY)
    assert (run.status, run.reason, run.notes) == ("ok", "", [])
    rows = {e.service: e for e in CostEntry.objects.filter(provider="openrouter")}
    assert {model: (e.billed_cost, e.currency, e.quantity) for model, e in rows.items()} == {
        GPT: (Decimal("0.115"), "USD", Decimal("7")),
        CLAUDE: (Decimal("0.2"), "USD", Decimal("1")),
    }
    entry = rows[GPT]
    assert (entry.source, entry.category, entry.unit) == ("api", "llm", "requests")
    assert (entry.charge_period_start, entry.charge_period_end, entry.sync_run_id) == (
        DAY,
        date(2026, 11, 21),
        run.sync_run_id,
    )
    assert [e["provider_name"] for e in entry.raw["endpoints"]] == ["OpenAI", "Azure"]
    assert entry.raw["endpoints"][0]["usage"] == "0.015"
    assert run.figures == {
        "cost": "0.315",
        "currency": "USD",
        "models": 2,
        "requests": "8",
        "byok_usage": "0.036",
    }
    request = fake_http.calls[0].request
    assert request.headers["Authorization"] == "Bearer sk-or-v1-management-secret"


def test_byok_usage_is_not_added_to_the_cost(fake_http, openrouter):
    fake_http.get(URL, json=activity({"usage": 0.0008, "byok_usage_inference": 0.016}))
    run = run_collector("openrouter", DAY)
    assert CostEntry.objects.get().billed_cost == Decimal("0.0008")
    assert (run.figures["cost"], run.figures["byok_usage"]) == ("0.0008", "0.016")


def test_rows_of_other_days_are_ignored(fake_http, openrouter):
    fake_http.get(
        URL,
        json=activity({"date": "2026-11-19", "usage": 9.0}, {"usage": 1.25}),
    )
    assert run_collector("openrouter", DAY).status == "ok"
    assert list(CostEntry.objects.values_list("charge_period_start", "billed_cost")) == [
        (DAY, Decimal("1.25"))
    ]


def test_running_twice_writes_the_same_rows(fake_http, openrouter):
    fake_http.get(URL, json=activity({}, {"model": CLAUDE, "usage": 0.2}))
    run_collector("openrouter", DAY)
    first = sorted(CostEntry.objects.values_list("service", "billed_cost", "quantity"))
    run_collector("openrouter", DAY)
    assert sorted(CostEntry.objects.values_list("service", "billed_cost", "quantity")) == first
    assert len(first) == 2


def test_a_reported_day_without_activity_is_emptied_of_api_rows_only(fake_http, openrouter):
    cost_entries_upsert(
        entries=[
            cost_entry(provider="openrouter", service=GPT, day=DAY, amount="3", source="api"),
            cost_entry(
                provider="openrouter", service="Invoice", day=DAY, amount="9", source="manual"
            ),
        ]
    )
    fake_http.get(URL, json={"data": []})
    run = run_collector("openrouter", DAY)
    assert (run.status, run.notes) == ("ok", [])
    assert list(CostEntry.objects.values_list("service", flat=True)) == ["Invoice"]


@pytest.mark.parametrize("day", [date(2026, 11, 21), date(2026, 10, 21)])
def test_a_day_the_api_cannot_report_is_left_as_it_was(fake_http, openrouter, day):
    """Today is not complete yet; 31 days ago is out of the API's reach."""
    cost_entries_upsert(
        entries=[cost_entry(provider="openrouter", service=GPT, day=day, amount="3", source="api")]
    )
    fake_http.get(URL, json=activity())
    run = run_collector("openrouter", day)
    assert run.status == "ok"
    assert run.notes == [
        f"{day}: OpenRouter reports only the last 30 completed UTC days; its rows were left as "
        "they were"
    ]
    assert CostEntry.objects.get().billed_cost == Decimal("3")


def test_the_oldest_day_the_api_reports_is_replaced(fake_http, openrouter):
    oldest = date(2026, 10, 22)
    fake_http.get(URL, json=activity({"date": oldest.isoformat()}))
    run = run_collector("openrouter", oldest)
    assert (run.status, run.notes) == ("ok", [])
    assert CostEntry.objects.get().charge_period_start == oldest


@pytest.mark.parametrize("status", [401, 403])
def test_a_rejected_key_fails_saying_so_and_that_a_management_key_is_needed(
    fake_http, openrouter, status
):
    error = {
        "error": {"code": status, "message": "Only management keys can perform this operation"}
    }
    fake_http.get(URL, status=status, json=error)
    run = run_collector("openrouter", DAY)
    assert run.status == "failed"
    assert run.reason.startswith(f"credentials rejected by OpenRouter (HTTP {status})")
    assert "management keys only" in run.reason
    assert "sk-or-v1-management-secret" not in run.reason


def test_without_the_key_it_is_skipped_naming_it(fake_http):
    run = run_collector("openrouter", DAY)
    assert (run.status, run.reason) == (
        "skipped",
        "OPENROUTER_API_KEY is not set: add it to the environment "
        "(.env; see .env.example) and restart",
    )
    assert not fake_http.calls


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ({"activity": []}, "OpenRouter answered without 'data'"),
        (activity({"usage": None}), "OpenRouter answered usage=None, not a number"),
        (activity({"usage": "lots"}), "OpenRouter answered usage='lots', not a number"),
        (activity({"model": None}), "OpenRouter answered an activity row without a model"),
        (activity({"date": "20/11/2026"}), "OpenRouter answered date='20/11/2026', not a date"),
        (activity({"byok_usage_inference": "?"}), "OpenRouter answered byok_usage_inference='?'"),
    ],
)
def test_an_undocumented_answer_fails_and_writes_nothing(fake_http, openrouter, answer, reason):
    cost_entries_upsert(
        entries=[
            cost_entry(provider="openrouter", service="Kept", day=DAY, amount="3", source="api")
        ]
    )
    fake_http.get(URL, json=answer)
    run = run_collector("openrouter", DAY)
    assert run.status == "failed"
    assert run.reason.startswith(reason)
    assert list(CostEntry.objects.values_list("service", flat=True)) == ["Kept"]

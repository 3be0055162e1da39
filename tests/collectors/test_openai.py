"""The OpenAI collector against fake Costs API answers.

The fixture (openai_costs_page.json) is the documented example answer of
GET /v1/organization/costs in OpenAI's OpenAPI spec (openai/openai-openapi, the "Costs" page of
the API reference): a `page` object with `data` buckets (`start_time`/`end_time` Unix seconds)
whose `results` are `organization.costs.result` objects with `amount.value` as a JSON number in
dollars, `amount.currency` "usd", `line_item` and `project_id`.
"""

import copy
from datetime import UTC, date, datetime, time
from decimal import Decimal

import pytest
import responses

from costledger.models import CostEntry, Source
from costledger.services import cost_entries_upsert
from tests.collectors.conftest import fixture, run_collector
from tests.factories import cost_entry

pytestmark = pytest.mark.django_db
BASE = "https://openai.test"
URL = f"{BASE}/v1/organization/costs"
DAY = date(2026, 11, 20)
START = int(datetime.combine(DAY, time.min, tzinfo=UTC).timestamp())


@pytest.fixture
def openai(settings):
    settings.OPENAI_ADMIN_KEY = "sk-admin-secret"
    settings.OPENAI_API_URL = BASE


def costs_page(*results, start=START, next_page=None):
    """The documented page, its one bucket starting at `start` and holding `results`, given as
    (value, line_item): value is the JSON number on the wire (a float literal here only because
    json.dumps writes it back as the same digits)."""
    page = fixture("openai_costs_page.json")
    bucket = page["data"][0]
    documented = bucket["results"][0]
    bucket["start_time"], bucket["end_time"] = start, start + 86_400
    bucket["results"] = []
    for value, line_item in results:
        result = copy.deepcopy(documented)
        result["amount"]["value"] = value
        result["line_item"] = line_item
        bucket["results"].append(result)
    page["has_more"], page["next_page"] = next_page is not None, next_page
    return page


def test_daily_cost_per_line_item_in_exact_dollars(fake_http, openai):
    fake_http.get(
        URL,
        json=costs_page(
            (0.06, "Image models"),
            (0.1, "gpt-4o-2024-08-06, input"),
            (0.2, "gpt-4o-2024-08-06, input"),  # same line twice: added as Decimal, 0.3 exactly
        ),
    )
    run = run_collector("openai", DAY)
    assert (run.status, run.reason) == ("ok", "")
    rows = CostEntry.objects.filter(provider="openai").order_by("service")
    assert [(e.service, e.billed_cost, e.currency) for e in rows] == [
        ("Image models", Decimal("0.06"), "USD"),
        ("gpt-4o-2024-08-06, input", Decimal("0.3"), "USD"),
    ]
    entry = rows[0]
    assert (entry.source, entry.category, entry.sync_run_id) == ("api", "llm", run.sync_run_id)
    assert (entry.charge_period_start, entry.charge_period_end) == (DAY, date(2026, 11, 21))
    assert entry.raw["results"][0]["amount"] == {"value": "0.06", "currency": "usd"}
    assert run.figures == {"cost": "0.36", "currency": "USD", "line_items": 2}
    request = fake_http.calls[0].request
    assert request.headers["Authorization"] == "Bearer sk-admin-secret"
    query = responses.matchers.query_param_matcher(
        {
            "start_time": str(START),
            "end_time": str(START + 86_400),
            "bucket_width": "1d",
            "group_by": "line_item",
            "limit": "1",
        }
    )
    assert query(request)[0], query(request)[1]


def test_a_result_without_line_item_is_kept_under_its_own_name(fake_http, openai):
    fake_http.get(URL, json=costs_page((12.5, None)))
    assert run_collector("openai", DAY).status == "ok"
    assert CostEntry.objects.get().service == "(no line item)"


def test_buckets_outside_the_window_are_ignored(fake_http, openai):
    page = costs_page((1.5, "Image models"))
    page["data"].append(costs_page((9.0, "Image models"), start=START + 86_400)["data"][0])
    fake_http.get(URL, json=page)
    run = run_collector("openai", DAY)
    assert run.status == "ok"
    assert CostEntry.objects.get().billed_cost == Decimal("1.5")


CURSOR = "page_AAAAAGdGxdEiJdKOAAAAAGcqsYA="


def test_pages_are_followed_through_next_page(fake_http, openai):
    fake_http.get(
        URL,
        json=costs_page((2.25, "Audio models")),
        match=[responses.matchers.query_param_matcher({"page": CURSOR}, strict_match=False)],
    )
    fake_http.get(URL, json=costs_page((0.06, "Image models"), next_page=CURSOR))
    run = run_collector("openai", DAY)
    assert run.status == "ok"
    assert dict(CostEntry.objects.values_list("service", "billed_cost")) == {
        "Image models": Decimal("0.06"),
        "Audio models": Decimal("2.25"),
    }
    second = fake_http.calls[1].request.url
    assert f"start_time={START}" in second and "group_by=line_item" in second


def test_has_more_without_a_cursor_fails(fake_http, openai):
    page = costs_page((0.06, "Image models"))
    page["has_more"] = True
    fake_http.get(URL, json=page)
    run = run_collector("openai", DAY)
    assert (run.status, run.reason) == ("failed", "OpenAI answered has_more without a next_page")
    assert not CostEntry.objects.exists()


def test_running_twice_writes_the_same_rows(fake_http, openai):
    fake_http.get(URL, json=costs_page((0.06, "Image models"), (1.0, "Embedding models")))
    run_collector("openai", DAY)
    first = list(CostEntry.objects.values_list("service", "billed_cost").order_by("service"))
    run_collector("openai", DAY)
    again = list(CostEntry.objects.values_list("service", "billed_cost").order_by("service"))
    assert first == again and len(again) == 2


def test_a_rerun_replaces_the_days_api_rows_and_nothing_else(fake_http, openai):
    before = date(2026, 11, 19)
    cost_entries_upsert(
        entries=[
            cost_entry(provider="openai", service="Gone", day=DAY, amount="3", source=Source.API),
            cost_entry(provider="openai", service="Invoice", day=DAY, amount="7", source="manual"),
            cost_entry(provider="openai", service="Old", day=before, amount="1", source=Source.API),
        ]
    )
    fake_http.get(URL, json=costs_page((0.06, "Image models")))
    assert run_collector("openai", DAY).status == "ok"
    assert sorted(CostEntry.objects.values_list("service", "source")) == [
        ("Image models", "api"),
        ("Invoice", "manual"),
        ("Old", "api"),
    ]


@pytest.mark.parametrize("status", [401, 403])
def test_a_rejected_key_fails_saying_so(fake_http, openai, status):
    error = {"error": {"message": "Invalid admin key", "type": "invalid_request_error"}}
    fake_http.get(URL, status=status, json=error)
    run = run_collector("openai", DAY)
    assert run.status == "failed"
    assert run.reason.startswith(f"credentials rejected by OpenAI (HTTP {status})")
    assert "sk-admin-secret" not in run.reason


def test_without_the_admin_key_it_is_skipped_naming_it(fake_http):
    run = run_collector("openai", DAY)
    assert (run.status, run.reason) == (
        "skipped",
        "OPENAI_ADMIN_KEY is not set: add it to the environment "
        "(.env; see .env.example) and restart",
    )
    assert not fake_http.calls


@pytest.mark.parametrize(
    ("breakage", "reason"),
    [
        (lambda page: page.pop("data"), "OpenAI answered without 'data'"),
        (
            lambda page: page["data"][0]["results"][0].pop("amount"),
            "OpenAI answered without 'amount'",
        ),
        (
            lambda page: page["data"][0]["results"][0]["amount"].update(value="n/a"),
            "OpenAI answered amount.value='n/a', not a number",
        ),
        (
            lambda page: page["data"][0]["results"][0]["amount"].update(currency="credits"),
            "OpenAI answered amount.currency='CREDITS'",
        ),
        (
            lambda page: page["data"][0].update(start_time="2026-11-20"),
            "OpenAI answered start_time='2026-11-20', not a Unix time",
        ),
    ],
)
def test_an_undocumented_answer_fails_and_writes_nothing(fake_http, openai, breakage, reason):
    cost_entries_upsert(
        entries=[cost_entry(provider="openai", service="Kept", day=DAY, amount="3", source="api")]
    )
    page = costs_page((0.06, "Image models"), (1.0, "Embedding models"))
    breakage(page)
    fake_http.get(URL, json=page)
    run = run_collector("openai", DAY)
    assert run.status == "failed"
    assert run.reason.startswith(reason)
    assert list(CostEntry.objects.values_list("service", flat=True)) == ["Kept"]

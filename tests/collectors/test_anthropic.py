"""The Anthropic collector against fake cost report answers.

The fixture (anthropic_cost_report.json) is the documented example answer of
GET /v1/organizations/cost_report in Anthropic's Admin API reference ("Get Cost Report"): `data`
buckets with RFC 3339 `starting_at`/`ending_at`, whose `results` carry `amount` as a decimal
string in the currency's lowest unit (cents for "USD"), `currency`, `description`, `model`,
`cost_type`, `token_type`, `service_tier`, `context_window`, `inference_geo`, `workspace_id`;
then `has_more` and `next_page`.
"""

import copy
from datetime import date, timedelta
from decimal import Decimal

import pytest
import responses

from costledger.models import CostEntry
from costledger.services import cost_entries_upsert
from tests.collectors.conftest import fixture, run_collector
from tests.factories import cost_entry

pytestmark = pytest.mark.django_db
BASE = "https://anthropic.test"
URL = f"{BASE}/v1/organizations/cost_report"
DAY = date(2026, 11, 20)
INPUT = "Claude Opus 5 Usage - Input Tokens"
OUTPUT = "Claude Opus 5 Usage - Output Tokens"


@pytest.fixture
def anthropic(settings):
    settings.ANTHROPIC_ADMIN_KEY = "sk-ant-admin01-secret"
    settings.ANTHROPIC_API_URL = BASE


def report(*results, day=DAY, next_page=None):
    """The documented answer, its one bucket on `day` holding `results`, given as
    (amount, description) or (amount, description, {field: value})."""
    page = fixture(
        "anthropic_cost_report.json",
        starting_at=f"{day}T00:00:00Z",
        ending_at=f"{day + timedelta(days=1)}T00:00:00Z",
    )
    bucket = page["data"][0]
    documented = bucket["results"][0]
    bucket["results"] = []
    for amount, description, *changes in results:
        result = copy.deepcopy(documented)
        result.update(amount=amount, description=description, **(changes[0] if changes else {}))
        bucket["results"].append(result)
    page["has_more"], page["next_page"] = next_page is not None, next_page
    return page


def test_daily_cost_per_line_item_from_cents_to_exact_dollars(fake_http, anthropic):
    fake_http.get(
        URL,
        json=report(
            ("123.78912", INPUT),
            ("123.45", OUTPUT, {"token_type": "output_tokens"}),
            ("0.55", "Web Search Usage", {"cost_type": "web_search", "model": None}),
        ),
    )
    run = run_collector("anthropic", DAY)
    assert (run.status, run.reason) == ("ok", "")
    rows = {e.service: e for e in CostEntry.objects.filter(provider="anthropic")}
    assert {service: (e.billed_cost, e.currency) for service, e in rows.items()} == {
        INPUT: (Decimal("1.2378912"), "USD"),
        OUTPUT: (Decimal("1.2345"), "USD"),
        "Web Search Usage": (Decimal("0.0055"), "USD"),
    }
    entry = rows[INPUT]
    assert (entry.source, entry.category, entry.sync_run_id) == ("api", "llm", run.sync_run_id)
    assert (entry.charge_period_start, entry.charge_period_end) == (DAY, date(2026, 11, 21))
    assert entry.tags == {
        "model": "claude-opus-5",
        "cost_type": "tokens",
        "token_type": "uncached_input_tokens",
        "service_tier": "standard",
        "context_window": "0-200k",
    }
    assert rows["Web Search Usage"].tags["cost_type"] == "web_search"
    assert "model" not in rows["Web Search Usage"].tags
    assert entry.raw["results"][0]["amount"] == "123.78912"
    assert run.figures == {"cost": "2.4778912", "currency": "USD", "line_items": 3}
    request = fake_http.calls[0].request
    assert request.headers["x-api-key"] == "sk-ant-admin01-secret"
    assert request.headers["anthropic-version"] == "2023-06-01"
    query = responses.matchers.query_param_matcher(
        {
            "starting_at": "2026-11-20T00:00:00Z",
            "ending_at": "2026-11-21T00:00:00Z",
            "bucket_width": "1d",
            "group_by[]": "description",
            "limit": "1",
        }
    )
    assert query(request)[0], query(request)[1]


def test_results_of_one_line_item_are_added_exactly(fake_http, anthropic):
    fake_http.get(
        URL,
        json=report(("0.1", INPUT, {"service_tier": "batch"}), ("0.2", INPUT)),
    )
    assert run_collector("anthropic", DAY).status == "ok"
    entry = CostEntry.objects.get()
    assert entry.billed_cost == Decimal("0.003")
    assert "service_tier" not in entry.tags  # the two results disagree on it
    assert len(entry.raw["results"]) == 2


def test_buckets_outside_the_window_are_ignored(fake_http, anthropic):
    page = report(("100", INPUT))
    page["data"].append(report(("900", INPUT), day=DAY + timedelta(days=1))["data"][0])
    fake_http.get(URL, json=page)
    assert run_collector("anthropic", DAY).status == "ok"
    assert CostEntry.objects.get().billed_cost == Decimal("1")


def test_an_empty_day_removes_that_days_api_rows(fake_http, anthropic):
    cost_entries_upsert(
        entries=[cost_entry(provider="anthropic", service=INPUT, day=DAY, amount="3", source="api")]
    )
    fake_http.get(URL, json=report())
    run = run_collector("anthropic", DAY)
    assert run.status == "ok"
    assert run.figures == {"cost": "0", "currency": "", "line_items": 0}
    assert not CostEntry.objects.exists()


CURSOR = "page_MjAyNS0wNS0xNFQwMDowMDowMFo="


def test_pages_are_followed_through_next_page(fake_http, anthropic):
    fake_http.get(
        URL,
        json=report(("250", OUTPUT)),
        match=[responses.matchers.query_param_matcher({"page": CURSOR}, strict_match=False)],
    )
    fake_http.get(URL, json=report(("123.78912", INPUT), next_page=CURSOR))
    run = run_collector("anthropic", DAY)
    assert run.status == "ok"
    assert dict(CostEntry.objects.values_list("service", "billed_cost")) == {
        INPUT: Decimal("1.2378912"),
        OUTPUT: Decimal("2.5"),
    }
    second = fake_http.calls[1].request.url
    assert (
        "starting_at=2026-11-20T00%3A00%3A00Z" in second and "group_by%5B%5D=description" in second
    )


def test_a_next_page_pointing_back_fails_instead_of_looping(fake_http, anthropic):
    fake_http.get(URL, json=report(("1", INPUT), next_page=CURSOR))
    run = run_collector("anthropic", DAY)
    assert run.status == "failed"
    assert "kept paginating" in run.reason
    assert not CostEntry.objects.exists()


def test_running_twice_writes_the_same_rows(fake_http, anthropic):
    fake_http.get(URL, json=report(("123.78912", INPUT), ("123.45", OUTPUT)))
    run_collector("anthropic", DAY)
    first = sorted(CostEntry.objects.values_list("service", "billed_cost", "source"))
    run_collector("anthropic", DAY)
    assert sorted(CostEntry.objects.values_list("service", "billed_cost", "source")) == first
    assert len(first) == 2


def test_a_rerun_leaves_other_sources_and_days_alone(fake_http, anthropic):
    before = DAY - timedelta(days=1)
    cost_entries_upsert(
        entries=[
            cost_entry(provider="anthropic", service="Gone", day=DAY, amount="3", source="api"),
            cost_entry(
                provider="anthropic", service="Invoice", day=DAY, amount="9", source="manual"
            ),
            cost_entry(provider="anthropic", service="Old", day=before, amount="1", source="api"),
        ]
    )
    fake_http.get(URL, json=report(("123.78912", INPUT)))
    assert run_collector("anthropic", DAY).status == "ok"
    assert sorted(CostEntry.objects.values_list("service", "source")) == [
        (INPUT, "api"),
        ("Invoice", "manual"),
        ("Old", "api"),
    ]


@pytest.mark.parametrize("status", [401, 403])
def test_a_rejected_key_fails_saying_so(fake_http, anthropic, status):
    error = {
        "type": "error",
        "error": {"type": "authentication_error", "message": "invalid x-api-key"},
    }
    fake_http.get(URL, status=status, json=error)
    run = run_collector("anthropic", DAY)
    assert run.status == "failed"
    assert run.reason.startswith(f"credentials rejected by Anthropic (HTTP {status})")
    assert "sk-ant-admin01-secret" not in run.reason


def test_without_the_admin_key_it_is_skipped_naming_it(fake_http):
    run = run_collector("anthropic", DAY)
    assert (run.status, run.reason) == (
        "skipped",
        "ANTHROPIC_ADMIN_KEY is not set: add it to the environment "
        "(.env; see .env.example) and restart",
    )
    assert not fake_http.calls


@pytest.mark.parametrize(
    ("breakage", "reason"),
    [
        (lambda page: page.pop("data"), "Anthropic answered without 'data'"),
        (lambda page: page.pop("has_more"), "Anthropic answered without 'has_more'"),
        (
            lambda page: page["data"][0]["results"][0].pop("amount"),
            "Anthropic answered without 'amount'",
        ),
        (
            lambda page: page["data"][0]["results"][0].update(amount="12,5"),
            "Anthropic answered amount='12,5', not a number",
        ),
        (
            lambda page: page["data"][0]["results"][0].update(currency="credits"),
            "Anthropic answered currency='CREDITS'",
        ),
        (
            lambda page: page["data"][0].update(starting_at="2026-11-20"),
            "Anthropic answered starting_at='2026-11-20', not an RFC 3339 time",
        ),
        (
            lambda page: page["data"][0]["results"][1].update(currency="EUR"),
            "Anthropic answered costs in several currencies (EUR, USD)",
        ),
    ],
)
def test_an_undocumented_answer_fails_and_writes_nothing(fake_http, anthropic, breakage, reason):
    cost_entries_upsert(
        entries=[
            cost_entry(provider="anthropic", service="Kept", day=DAY, amount="3", source="api")
        ]
    )
    page = report(("123.78912", INPUT), ("123.45", OUTPUT))
    breakage(page)
    fake_http.get(URL, json=page)
    run = run_collector("anthropic", DAY)
    assert run.status == "failed"
    assert run.reason.startswith(reason)
    assert list(CostEntry.objects.values_list("service", flat=True)) == ["Kept"]

"""The LLM usage JSON endpoints kept from the old system, and the selectors behind them.

Every figure is hand-computed from the rollup rows built in each test."""

from datetime import date
from decimal import Decimal

import pytest
import time_machine
from django.contrib.auth.models import User
from django.urls import reverse

from usage.models import LlmUsageDaily, UsageUser
from usage.selectors import (
    MonthlyLlmCost,
    llm_cost_by_month,
    llm_cost_by_user,
    llm_usage_daily_effective,
)

pytestmark = pytest.mark.django_db
TOKEN = "s3cret-sync-token"
OCT_1, OCT_2, OCT_3 = date(2026, 10, 1), date(2026, 10, 2), date(2026, 10, 3)
COST_BY_USER = reverse("api-cost-by-user")
TOKEN_RATIOS = reverse("api-token-ratios")
ERROR_RATES = reverse("api-error-rates")
MONTHLY = reverse("api-metrics-monthly-summary")
DATED = [COST_BY_USER, TOKEN_RATIOS, ERROR_RATES]
ALL = [*DATED, MONTHLY]


@pytest.fixture(autouse=True)
def _token(settings):
    settings.SYNC_API_TOKEN = TOKEN


def get(client, url, token=TOKEN, **params):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.get(url, params, headers=headers)


def usage(
    *,
    day=OCT_1,
    user="u1",
    provider="openai",
    model="gpt-4o",
    source="events",
    cost=None,
    **figures,
) -> LlmUsageDaily:
    return LlmUsageDaily.objects.create(
        day=day,
        user_id=user,
        provider=provider,
        model=model,
        source=source,
        cost=None if cost is None else Decimal(cost),
        **figures,
    )


# The events-over-Prometheus rule ------------------------------------------------------------


def test_a_day_with_events_uses_them_and_a_day_without_uses_prometheus():
    usage(day=OCT_1, source="events", requests=1)
    usage(day=OCT_1, source="prometheus", requests=10)
    usage(day=OCT_1, user="u2", source="prometheus", requests=20)  # still the events' day
    usage(day=OCT_2, source="prometheus", requests=30)
    usage(day=OCT_3, user="u2", model="o3", source="events", requests=40)
    rows = llm_usage_daily_effective(start=OCT_1, end=OCT_3)
    assert sorted(rows.values_list("day", "source", "requests")) == [
        (OCT_1, "events", 1),
        (OCT_2, "prometheus", 30),
        (OCT_3, "events", 40),
    ]


def test_a_range_where_every_day_has_events_reads_no_prometheus_row():
    usage(day=OCT_1, source="events", requests=1)
    usage(day=OCT_1, source="prometheus", requests=10)
    usage(day=OCT_2, source="events", requests=2)
    rows = llm_usage_daily_effective(start=OCT_1, end=OCT_2)
    assert sorted(rows.values_list("day", "source")) == [(OCT_1, "events"), (OCT_2, "events")]


def test_the_rule_decides_per_day_inside_the_range_only():
    usage(day=OCT_2, source="prometheus", requests=30)
    usage(day=OCT_3, source="events", requests=40)  # outside the range: decides nothing on 2nd
    assert list(llm_usage_daily_effective(start=OCT_1, end=OCT_2).values_list("requests")) == [
        (30,)
    ]


def test_prometheus_and_events_are_never_added_in_any_endpoint(client):
    usage(day=OCT_1, source="events", requests=4, errors=1, input_tokens=100, cost="1.00")
    usage(day=OCT_1, source="prometheus", requests=5, errors=5, input_tokens=900, cost="9.00")
    usage(day=OCT_2, source="prometheus", requests=6, input_tokens=60, output_tokens=6, cost="2")
    params = {"start": "2026-10-01", "end": "2026-10-02"}
    [user] = get(client, COST_BY_USER, **params).json()["items"]
    assert (user["requests"], user["tokens"], user["cost"]) == (10, 166, "3.00")
    [ratio] = get(client, TOKEN_RATIOS, **params).json()["items"]
    assert (ratio["prompt_tokens"], ratio["completion_tokens"]) == (160, 6)
    [rate] = get(client, ERROR_RATES, **params).json()["items"]
    assert (rate["requests"], rate["errors"]) == (10, 1)


# cost-by-user -------------------------------------------------------------------------------


def test_cost_by_user_sums_days_providers_and_models_with_emails(client):
    UsageUser.objects.create(user_id="u1", email="ada@example.com")
    UsageUser.objects.create(user_id="u3", email="")  # known to Supabase, without an email
    usage(
        user="u1",
        requests=3,
        input_tokens=1000,
        output_tokens=200,
        cache_read_tokens=50,
        cache_write_tokens=5,
        reasoning_tokens=7,
        cost="1.2500000000",
    )
    usage(
        day=OCT_2,
        user="u1",
        provider="anthropic",
        model="claude-sonnet-4-5",
        requests=2,
        input_tokens=10,
        output_tokens=3,
        cost="0.0001234",
        unpriced_requests=1,
    )
    usage(user="u2", requests=1, input_tokens=5, cost="3.10")
    usage(user="u3", requests=7, output_tokens=1, cost="0.5")
    usage(day=date(2026, 10, 4), user="u3", requests=1, cost="100")  # after the range
    body = get(client, COST_BY_USER, start="2026-10-01", end="2026-10-03").json()
    assert body["start"] == "2026-10-01" and body["end"] == "2026-10-03"
    assert (body["currency"], body["limit"]) == ("USD", 20)
    assert body["items"] == [
        {
            "user_id": "u2",
            "email": None,
            "requests": 1,
            "tokens": 5,
            "cost": "3.10",
            "unpriced_requests": 0,
        },
        {
            "user_id": "u1",
            "email": "ada@example.com",
            "requests": 5,
            "tokens": 1275,  # 1000 + 200 + 50 + 5 + 7 + 10 + 3
            "cost": "1.2501234",  # exact: 1.25 + 0.0001234
            "unpriced_requests": 1,
        },
        {
            "user_id": "u3",
            "email": None,
            "requests": 7,
            "tokens": 1,
            "cost": "0.50",
            "unpriced_requests": 0,
        },
    ]


def test_limit_keeps_the_top_users_and_unpriced_only_users_come_last(client):
    usage(user="cheap", requests=1, cost="0.01")
    usage(user="dear", requests=1, cost="2")
    usage(user="unknown-model", model="mystery-1", requests=9, unpriced_requests=9)
    body = get(client, COST_BY_USER, start="2026-10-01", end="2026-10-01").json()
    assert [(i["user_id"], i["cost"], i["unpriced_requests"]) for i in body["items"]] == [
        ("dear", "2.00", 0),
        ("cheap", "0.01", 0),
        ("unknown-model", None, 9),  # unpriced: no cost, never 0
    ]
    body = get(client, COST_BY_USER, start="2026-10-01", end="2026-10-01", limit="1").json()
    assert [i["user_id"] for i in body["items"]] == ["dear"]
    assert body["limit"] == 1


def test_a_cost_in_another_currency_is_not_added_to_dollars():
    usage(user="u1", requests=1, cost="1.00")
    usage(user="u1", model="gpt-4o-mini", requests=1, cost="5.00")
    LlmUsageDaily.objects.filter(model="gpt-4o-mini").update(currency="EUR")
    [user] = llm_cost_by_user(start=OCT_1, end=OCT_1)
    assert (user.requests, user.cost) == (2, Decimal("1.00"))


# token-ratios -------------------------------------------------------------------------------


def test_token_ratios_per_model(client):
    usage(input_tokens=1000, cache_read_tokens=400, cache_write_tokens=100, output_tokens=300)
    usage(day=OCT_2, user="u2", input_tokens=500, output_tokens=100, reasoning_tokens=50)
    usage(provider="anthropic", model="claude-haiku-4-5", input_tokens=3, output_tokens=1)
    usage(provider="openai", model="embed-only", output_tokens=0)
    usage(provider="openai", model="no-prompt", output_tokens=8)
    body = get(client, TOKEN_RATIOS, start="2026-10-01", end="2026-10-02").json()
    assert body["items"] == [
        {
            "provider": "anthropic",
            "model": "claude-haiku-4-5",
            "prompt_tokens": 3,
            "completion_tokens": 1,
            "ratio": "0.3333",
        },
        {
            "provider": "openai",
            "model": "embed-only",
            "prompt_tokens": 0,
            "completion_tokens": 0,
            "ratio": None,
        },
        {
            "provider": "openai",
            "model": "gpt-4o",
            "prompt_tokens": 2000,  # 1000 + 400 + 100 + 500
            "completion_tokens": 450,  # 300 + 100 + 50
            "ratio": "0.2250",
        },
        {
            "provider": "openai",
            "model": "no-prompt",
            "prompt_tokens": 0,
            "completion_tokens": 8,
            "ratio": None,
        },
    ]


# error-rates --------------------------------------------------------------------------------


def test_error_rates_per_provider_round_half_up(client):
    usage(requests=500, errors=1)
    usage(day=OCT_2, model="gpt-4o-mini", requests=300, errors=0)  # openai: 1 / 800 = 0.125 %
    usage(provider="anthropic", model="claude-sonnet-4-5", requests=3, errors=1)
    usage(provider="mistral", model="mistral-large", requests=0, errors=0)
    body = get(client, ERROR_RATES, start="2026-10-01", end="2026-10-02").json()
    assert body["items"] == [
        {
            "provider": "anthropic",
            "requests": 3,
            "successes": 2,
            "errors": 1,
            "error_percent": "33.33",
            "error_pct": "33.33",
        },
        {
            "provider": "mistral",
            "requests": 0,
            "successes": 0,
            "errors": 0,
            "error_percent": None,
            "error_pct": None,
        },  # fmt: skip
        {
            "provider": "openai",
            "requests": 800,
            "successes": 799,
            "errors": 1,
            "error_percent": "0.13",  # 0.125 rounds half up (half-even would give 0.12)
            "error_pct": "0.13",
        },
    ]


# metrics-monthly-summary --------------------------------------------------------------------


@time_machine.travel("2026-11-21 12:00:00+00:00", tick=False)
def test_monthly_summary_is_the_last_six_months_with_empty_months(client):
    usage(day=date(2026, 5, 31), requests=99, cost="99")  # before June: left out
    usage(day=date(2026, 6, 1), requests=2, input_tokens=10, cost="1.10")
    usage(day=date(2026, 6, 30), user="u2", requests=1, output_tokens=5, cost="0.0000005")
    usage(day=date(2026, 8, 15), model="mystery-1", requests=4, unpriced_requests=4)
    usage(day=date(2026, 11, 21), requests=1, cost="2.00")
    usage(day=date(2026, 11, 21), model="mystery-1", requests=3, unpriced_requests=3)
    usage(day=date(2026, 11, 21), source="prometheus", requests=50, cost="50")  # events win
    body = get(client, MONTHLY).json()
    assert (body["months"], body["currency"]) == (6, "USD")
    assert body["items"] == [
        {
            "month": "2026-06",
            "requests": 3,
            "tokens": 15,
            "cost": "1.1000005",
            "unpriced_requests": 0,
        },
        {"month": "2026-07", "requests": 0, "tokens": 0, "cost": "0.00", "unpriced_requests": 0},
        {"month": "2026-08", "requests": 4, "tokens": 0, "cost": None, "unpriced_requests": 4},
        {"month": "2026-09", "requests": 0, "tokens": 0, "cost": "0.00", "unpriced_requests": 0},
        {"month": "2026-10", "requests": 0, "tokens": 0, "cost": "0.00", "unpriced_requests": 0},
        {"month": "2026-11", "requests": 4, "tokens": 0, "cost": "2.00", "unpriced_requests": 3},
    ]
    body = get(client, MONTHLY, months="1").json()
    assert [i["month"] for i in body["items"]] == ["2026-11"]


def test_monthly_costs_across_a_year_end():
    usage(day=date(2025, 12, 31), requests=1, cost="1")
    usage(day=date(2026, 2, 28), requests=2, cost="2")
    usage(day=date(2026, 3, 1), requests=3, cost="3")  # after the last month
    assert llm_cost_by_month(months=3, last_month=date(2026, 2, 10)) == [
        MonthlyLlmCost(date(2025, 12, 1), 1, 0, Decimal("1"), 0),
        MonthlyLlmCost(date(2026, 1, 1), 0, 0, Decimal(0), 0),
        MonthlyLlmCost(date(2026, 2, 1), 2, 0, Decimal("2"), 0),
    ]


# Bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize("url", DATED)
@pytest.mark.parametrize(
    ("params", "field", "text"),
    [
        ({"start": "2026-13-01"}, "start", "is not a date"),
        ({"end": "yesterday"}, "end", "YYYY-MM-DD"),
        ({"start": "2026-10-02", "end": "2026-10-01"}, "end", "before start"),
        ({"start": "2025-01-01", "end": "2026-01-02"}, "end", "at most 366 days"),
        ({"start": "0001-01-01", "end": "0001-01-05"}, "start", "outside"),
    ],
)
def test_bad_dates_are_400_naming_the_field(client, url, params, field, text):
    response = get(client, url, **params)
    assert response.status_code == 400
    assert text in response.json()["errors"][field]


@pytest.mark.parametrize("limit", ["0", "1001", "-3", "ten", "1.5"])
def test_a_bad_limit_is_400_naming_it(client, limit):
    response = get(client, COST_BY_USER, start="2026-10-01", end="2026-10-01", limit=limit)
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["limit"]
    assert "1 to 1000" in response.json()["errors"]["limit"]


def test_a_bad_limit_and_a_bad_date_are_named_together(client):
    response = get(client, COST_BY_USER, start="soon", limit="0")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"start", "limit"}


def test_the_limit_bounds_are_allowed(client):
    for limit in ("1", "1000"):
        assert get(client, COST_BY_USER, limit=limit).status_code == 200


@pytest.mark.parametrize("months", ["0", "25", "six", "-1"])
def test_bad_months_are_400_naming_it(client, months):
    response = get(client, MONTHLY, months=months)
    assert response.status_code == 400
    assert "1 to 24" in response.json()["errors"]["months"]


def test_24_months_are_allowed(client):
    assert len(get(client, MONTHLY, months="24").json()["items"]) == 24


# Authentication ------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ALL)
def test_without_credentials_or_with_a_wrong_token_401(client, url):
    assert get(client, url, token=None).status_code == 401
    assert get(client, url, token="nope").status_code == 401


@pytest.mark.parametrize("url", ALL)
def test_sessions_need_staff_and_the_cost_permission(client, url, viewer_user):
    user = User.objects.create_user("customer", password="pw")
    client.force_login(user)
    assert get(client, url, token=None).status_code == 403
    user.is_staff = True
    user.save()
    assert get(client, url, token=None).status_code == 403
    client.force_login(viewer_user)
    assert get(client, url, token=None).status_code == 200


@pytest.mark.parametrize("url", ALL)
def test_only_get(client, url):
    assert client.post(url, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 405

"""The Supabase collector against fake responses shaped like Supabase's documented answers.

Where the shapes come from:
- supabase_admin_users.json: GoTrue's openapi.yaml (github.com/supabase/auth), `GET
  /admin/users` -> `{"aud", "users": [UserSchema]}`, with a user as GoTrue serialises it
  (RFC 3339 times with microseconds, `last_sign_in_at` omitted for users who never signed in).
- supabase_project.json, supabase_organization.json, supabase_billing_addons.json,
  supabase_disk.json, supabase_disk_util.json: the Management API's OpenAPI spec
  (api.supabase.com/api/v1-json; V1ProjectWithDatabaseResponse, V1OrganizationSlugResponse,
  ListProjectAddonsResponse, DiskResponse, DiskUtilMetricsResponse) and its reference examples.
"""

from datetime import date
from decimal import Decimal

import pytest
import responses
import time_machine

from costledger.models import CostEntry, MetricSample
from tests.collectors.conftest import fixture, run_collector
from tests.fakeproviders.supabase import ORG, REF, users_page

pytestmark = pytest.mark.django_db
DAY = date(2026, 11, 20)


@pytest.fixture(autouse=True)
def _today_is_day():
    """The collector reads state as it is now: the tests run on DAY."""
    with time_machine.travel("2026-11-20 12:00:00+00:00", tick=False):
        yield


def test_a_past_day_is_not_back_filled_with_todays_state(fake_http, supabase):
    run = run_collector("supabase", date(2026, 11, 19))
    assert (run.status, run.rows_written) == ("ok", 0)
    assert "is not back-filled" in run.notes[0]
    assert not fake_http.calls
    assert not CostEntry.objects.exists() and not MetricSample.objects.exists()


AUTH = f"https://{REF}.supabase.co"
USERS = f"{AUTH}/auth/v1/admin/users"
API = "https://api.supabase.test"
PROJECT = f"{API}/v1/projects/{REF}"


@pytest.fixture
def supabase(settings):
    settings.SUPABASE_URL = AUTH
    settings.SUPABASE_KEY = "service-role-secret"
    settings.SUPABASE_API_URL = API
    settings.SUPABASE_ACCESS_TOKEN = "sbp_access-token-secret"


def serve_users(fake_http, *pages: list[str | None]):
    first = 0
    for number, sign_ins in enumerate(pages, start=1):
        fake_http.get(
            USERS,
            json=users_page(sign_ins, first=first),
            match=[
                responses.matchers.query_param_matcher({"page": str(number)}, strict_match=False)
            ],
        )
        first += len(sign_ins)


def serve_management(fake_http, *, plan="pro", size_gb=18, addons=None):
    organization = fixture("supabase_organization.json") | {"plan": plan}
    disk = fixture("supabase_disk.json")
    disk["attributes"]["size_gb"] = size_gb
    billing = fixture("supabase_billing_addons.json")
    if addons is not None:
        billing["selected_addons"] = addons
    fake_http.get(PROJECT, json=fixture("supabase_project.json"))
    fake_http.get(f"{API}/v1/organizations/{ORG}", json=organization)
    fake_http.get(f"{PROJECT}/billing/addons", json=billing)
    fake_http.get(f"{PROJECT}/config/disk", json=disk)
    fake_http.get(f"{PROJECT}/config/disk/util", json=fixture("supabase_disk_util.json"))


SIGN_INS = [
    "2026-11-20T08:01:02.123456Z",  # the day itself: active
    "2026-11-01T00:00:00Z",  # first instant of the month: active
    "2026-10-31T23:59:59.999999Z",  # last month: not active
    "2026-11-21T00:00:00Z",  # after the day collected: not (yet) active on the 20th
    None,  # never signed in
]


def costs() -> dict[str, Decimal]:
    return dict(CostEntry.objects.values_list("service", "billed_cost"))


def metrics() -> dict[str, Decimal]:
    return dict(MetricSample.objects.values_list("metric", "value"))


def test_mau_disk_plan_add_ons_and_the_daily_estimate(fake_http, supabase):
    serve_users(fake_http, SIGN_INS)
    serve_management(fake_http)
    run = run_collector("supabase", DAY)
    assert (run.status, run.reason, run.notes) == ("ok", "", [])
    assert metrics() == {
        "mau": 2,
        "users_total": 5,
        "disk_size": 18,
        "disk_used": 6982000640,
    }
    # November has 30 days. Pro 25.00 -> 0.84 on days 1-10, 0.83 after; disk (18 - 8) GB x
    # 0.125 = 1.25 -> 0.04 after day 5; IPv4 4.00 -> 0.13 after day 10; the Micro compute
    # (0.01344/h x 720 h = 9.6768) is covered by the 10.00 compute credit; MAU under 100,000.
    assert costs() == {"plan": Decimal("0.83"), "disk": Decimal("0.04"), "ipv4": Decimal("0.13")}
    plan = CostEntry.objects.get(service="plan")
    assert (plan.source, plan.currency, plan.category, plan.provider) == (
        "estimate",
        "USD",
        "infrastructure",
        "supabase",
    )
    assert (plan.charge_period_start, plan.charge_period_end) == (DAY, date(2026, 11, 21))
    assert plan.sync_run_id == run.sync_run_id
    assert plan.tags == {"plan": "pro"}
    assert plan.raw == {"monthly": "25", "days_in_month": 30, "plan": "pro"}
    disk = CostEntry.objects.get(service="disk")
    assert (disk.quantity, disk.unit) == (Decimal("10"), "GB")
    assert run.figures == {
        "mau": 2,
        "users_total": 5,
        "plan": "pro",
        "disk_size_gb": "18",
        "disk_used_bytes": "6982000640",
        "estimate": "1.00",
        "estimate_monthly": "30.250",
        "currency": "USD",
    }
    auth = fake_http.calls[0].request
    assert auth.headers["apikey"] == "service-role-secret"
    assert auth.headers["Authorization"] == "Bearer service-role-secret"
    assert "page=1" in auth.url and "per_page=1000" in auth.url
    management = [c.request for c in fake_http.calls if c.request.url.startswith(API)]
    assert len(management) == 5
    assert {r.headers["Authorization"] for r in management} == {"Bearer sbp_access-token-secret"}


def test_the_daily_pieces_of_a_month_sum_to_its_estimate(fake_http, supabase):
    serve_users(fake_http, SIGN_INS)
    serve_management(fake_http)
    for day in range(1, 31):  # each day's run on its own day, as the daily sync does
        with time_machine.travel(f"2026-11-{day:02d} 12:00:00+00:00", tick=False):
            assert run_collector("supabase", date(2026, 11, day)).status == "ok"
    by_service = {
        service: sum(
            CostEntry.objects.filter(service=service).values_list("billed_cost", flat=True)
        )
        for service in ("plan", "disk", "ipv4")
    }
    assert by_service == {"plan": Decimal("25"), "disk": Decimal("1.25"), "ipv4": Decimal("4")}


def test_users_are_read_page_by_page_until_a_short_page(fake_http, supabase, monkeypatch):
    monkeypatch.setattr("collectors.sources.supabase.USERS_PER_PAGE", 2)
    serve_users(fake_http, SIGN_INS[:2], SIGN_INS[2:4], SIGN_INS[4:])
    serve_management(fake_http)
    run = run_collector("supabase", DAY)
    assert run.status == "ok"
    assert (run.figures["mau"], run.figures["users_total"]) == (2, 5)
    pages = [c.request.url for c in fake_http.calls if c.request.url.startswith(USERS)]
    assert len(pages) == 3
    for number, url in enumerate(pages, start=1):
        assert f"page={number}&" in url and url.endswith("per_page=2")


def test_a_provider_repeating_the_same_page_fails_instead_of_looping(
    fake_http, supabase, monkeypatch
):
    monkeypatch.setattr("collectors.sources.supabase.USERS_PER_PAGE", 2)
    fake_http.get(USERS, json=users_page(SIGN_INS[:2]))  # whatever the page asked for
    run = run_collector("supabase", DAY)
    assert run.status == "failed"
    assert "page 2 of the users with page 1 again" in run.reason
    assert not CostEntry.objects.exists() and not MetricSample.objects.exists()


def test_without_an_access_token_it_is_ok_and_says_what_it_left_out(fake_http, supabase, settings):
    settings.SUPABASE_ACCESS_TOKEN = ""
    serve_users(fake_http, SIGN_INS)
    run = run_collector("supabase", DAY)
    assert run.status == "ok"
    assert run.notes == [
        "SUPABASE_ACCESS_TOKEN is not set, so the plan, add-ons and disk size are left out (the "
        "estimate assumes the 'pro' plan and counts MAU only); set it to a Supabase access token "
        "to include them"
    ]
    assert metrics() == {"mau": 2, "users_total": 5}
    assert costs() == {"plan": Decimal("0.83")}
    assert CostEntry.objects.get().tags == {"plan": "pro", "assumed": True}
    assert run.figures["plan"] == ""
    assert run.figures["estimate_monthly"] == "25"
    assert all(c.request.url.startswith(USERS) for c in fake_http.calls)


def test_mau_over_the_included_users_is_priced(fake_http, supabase, settings):
    settings.SUPABASE_PRICES = '{"plans": {"pro": {"mau_included": 1, "mau_per_user": 0.00325}}}'
    serve_users(fake_http, SIGN_INS)
    serve_management(fake_http, addons=[])
    run = run_collector("supabase", DAY)
    assert run.status == "ok"
    mau = CostEntry.objects.get(service="mau")
    # (2 - 1) x 0.00325 = 0.00325 a month: 325 quanta of 0.00001 over 30 days -> 0.00011 on
    # days 1-25, 0.00010 after.
    assert (mau.billed_cost, mau.quantity, mau.unit) == (Decimal("0.00011"), 1, "users")
    assert mau.raw == {"monthly": "0.00325", "days_in_month": 30, "mau": 2, "included": "1"}


def test_add_on_prices_can_be_overridden_per_variant(fake_http, supabase, settings):
    settings.SUPABASE_PRICES = {"addons": {"ci_micro": "40", "ipv4_default": "0"}}
    serve_users(fake_http, SIGN_INS)
    serve_management(fake_http)
    run = run_collector("supabase", DAY)
    # 40 - the 10.00 compute credit = 30.00 a month -> 1.00 a day; a 0 add-on is not written.
    assert costs() == {
        "plan": Decimal("0.83"),
        "disk": Decimal("0.04"),
        "compute_instance": Decimal("1.00"),
    }
    assert CostEntry.objects.get(service="compute_instance").tags == {"variant": "ci_micro"}
    assert run.figures["estimate_monthly"] == "56.250"


def test_a_plan_without_prices_writes_no_estimate_and_says_so(fake_http, supabase):
    serve_users(fake_http, SIGN_INS)
    serve_management(fake_http, plan="enterprise")
    run = run_collector("supabase", DAY)
    assert run.status == "ok"
    assert run.notes == [
        "no prices for the 'enterprise' plan in SUPABASE_PRICES, so no estimate was written; add "
        "the plan to SUPABASE_PRICES or enter Supabase's invoice"
    ]
    assert not CostEntry.objects.exists()
    assert metrics()["mau"] == 2
    assert "estimate" not in run.figures


def test_running_twice_writes_the_same_rows_and_drops_a_removed_add_on(fake_http, supabase):
    serve_users(fake_http, SIGN_INS)
    serve_management(fake_http)
    run_collector("supabase", DAY)
    run_collector("supabase", DAY)
    assert CostEntry.objects.count() == 3
    assert MetricSample.objects.count() == 4
    fake_http.reset()
    serve_users(fake_http, SIGN_INS)
    serve_management(fake_http, addons=[])
    run_collector("supabase", DAY)
    assert set(costs()) == {"plan", "disk"}


def test_without_credentials_it_is_skipped_naming_the_variables(fake_http):
    run = run_collector("supabase", DAY)
    assert run.status == "skipped"
    assert (
        run.reason == "SUPABASE_URL and SUPABASE_KEY are not set: add them to the environment "
        "(.env; see .env.example) and restart"
    )
    assert not fake_http.calls


@pytest.mark.parametrize("status", [401, 403])
def test_a_rejected_service_role_key_fails_saying_so(fake_http, supabase, status):
    fake_http.get(USERS, status=status, json={"code": status, "msg": "Invalid API key"})
    run = run_collector("supabase", DAY)
    assert run.status == "failed"
    assert run.reason.startswith(f"credentials rejected by Supabase (HTTP {status})")
    assert "service-role-secret" not in run.reason


def test_a_rejected_access_token_fails_naming_the_management_api(fake_http, supabase):
    serve_users(fake_http, SIGN_INS)
    fake_http.get(PROJECT, status=401, json={"message": "Unauthorized"})
    run = run_collector("supabase", DAY)
    assert run.status == "failed"
    assert run.reason.startswith("credentials rejected by Supabase Management API (HTTP 401)")
    assert not MetricSample.objects.exists()


def test_an_undocumented_users_answer_fails_and_writes_nothing(fake_http, supabase):
    fake_http.get(USERS, json={"aud": "authenticated", "data": []})
    run = run_collector("supabase", DAY)
    assert run.status == "failed"
    assert "without 'users'" in run.reason
    assert not CostEntry.objects.exists() and not MetricSample.objects.exists()


def test_a_sign_in_time_that_is_not_a_time_fails(fake_http, supabase):
    serve_users(fake_http, ["yesterday"])
    run = run_collector("supabase", DAY)
    assert run.status == "failed"
    assert run.reason == "Supabase answered last_sign_in_at='yesterday', not a time"


def test_an_undocumented_disk_answer_fails_and_writes_nothing(fake_http, supabase):
    serve_users(fake_http, SIGN_INS)
    serve_management(fake_http)
    fake_http.replace(responses.GET, f"{PROJECT}/config/disk", json={"size_gb": 18})
    run = run_collector("supabase", DAY)
    assert run.status == "failed"
    assert "Supabase Management API answered without 'attributes'" in run.reason
    assert not CostEntry.objects.exists() and not MetricSample.objects.exists()


def test_the_project_ref_comes_from_the_setting_before_the_url(fake_http, supabase, settings):
    settings.SUPABASE_URL = "https://auth.example.com"
    settings.SUPABASE_PROJECT_REF = REF
    fake_http.get("https://auth.example.com/auth/v1/admin/users", json=users_page(SIGN_INS[:1]))
    serve_management(fake_http)
    assert run_collector("supabase", DAY).status == "ok"
    assert any(c.request.url == PROJECT for c in fake_http.calls)


def test_a_url_without_a_project_subdomain_leaves_the_management_api_out(
    fake_http, supabase, settings
):
    settings.SUPABASE_URL = "http://127.0.0.1:54321"
    fake_http.get("http://127.0.0.1:54321/auth/v1/admin/users", json=users_page([]))
    run = run_collector("supabase", DAY)
    assert run.status == "ok"
    assert run.notes[0].startswith("SUPABASE_PROJECT_REF is not set and SUPABASE_URL has no")


def test_an_invalid_price_table_fails_naming_the_setting(fake_http, supabase, settings):
    settings.SUPABASE_PRICES = '{"plans": {"pro": {"base": "twenty"}}}'
    serve_users(fake_http, SIGN_INS)
    serve_management(fake_http)
    run = run_collector("supabase", DAY)
    assert run.status == "failed"
    assert (
        run.reason
        == "SUPABASE_PRICES plans.pro.base='twenty' is not a price; fix it in the environment"
    )


def test_user_emails_are_cached_for_the_per_user_pages_in_one_upsert(
    fake_http, supabase, monkeypatch
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from usage.models import UsageUser

    monkeypatch.setattr("collectors.sources.supabase.USERS_PER_PAGE", 2)
    UsageUser.objects.create(user_id="deleted-from-supabase", email="gone@example.com")
    serve_users(fake_http, SIGN_INS[:2], SIGN_INS[2:4], SIGN_INS[4:])
    serve_management(fake_http)
    with CaptureQueriesContext(connection) as queries:
        assert run_collector("supabase", DAY).status == "ok"
    inserts = [q for q in queries if q["sql"].startswith('INSERT INTO "costledger_usageuser"')]
    assert len(inserts) == 1
    assert dict(UsageUser.objects.values_list("user_id", "email")) == {
        "00000000-0000-4000-8000-000000000000": "user0@example.com",
        "00000000-0000-4000-8000-000000000001": "user1@example.com",
        "00000000-0000-4000-8000-000000000002": "user2@example.com",
        "00000000-0000-4000-8000-000000000003": "user3@example.com",
        "00000000-0000-4000-8000-000000000004": "user4@example.com",
        "deleted-from-supabase": "gone@example.com",  # kept: its past usage still needs a name
    }


def test_a_changed_email_replaces_the_cached_one_and_a_phone_user_has_none(fake_http, supabase):
    from usage.models import UsageUser

    page = users_page(SIGN_INS[:2])
    page["users"][0]["email"] = "renamed@example.com"
    page["users"][1]["email"] = ""  # signed up with a phone number
    UsageUser.objects.create(user_id=page["users"][0]["id"], email="user0@example.com")
    fake_http.get(USERS, json=page)
    serve_management(fake_http)
    assert run_collector("supabase", DAY).status == "ok"
    assert dict(UsageUser.objects.values_list("user_id", "email")) == {
        "00000000-0000-4000-8000-000000000000": "renamed@example.com",
        "00000000-0000-4000-8000-000000000001": "",
    }

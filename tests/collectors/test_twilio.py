from datetime import date
from decimal import Decimal

import pytest
import responses

from costledger.models import CostEntry, MetricSample
from tests.collectors.conftest import fixture, run_collector

pytestmark = pytest.mark.django_db
SID = "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
BASE = "https://twilio.test"
URL = f"{BASE}/2010-04-01/Accounts/{SID}/Usage/Records/Daily.json"
DAY = date(2026, 11, 20)


@pytest.fixture
def twilio(settings):
    settings.TWILIO_ACCOUNT_SID = SID
    settings.TWILIO_AUTH_TOKEN = "auth-token-secret"
    settings.TWILIO_API_URL = BASE


def record(category, day=DAY, price="0", count="0"):
    units = {"totalprice": ("", "usd"), "sms-outbound": ("messages", "messages")}
    count_unit, usage_unit = units.get(category, ("messages", "messages"))
    return fixture(
        "twilio_usage_records_daily.json",
        category=category,
        day=day.isoformat(),
        price=price,
        count=count,
        count_unit=count_unit,
        usage=price if category == "totalprice" else count,
        usage_unit=usage_unit,
        description=category,
    )


def serve(fake_http, pages: dict[str, dict]):
    for category, body in pages.items():
        fake_http.get(
            URL,
            json=body,
            match=[
                responses.matchers.query_param_matcher({"Category": category}, strict_match=False)
            ],
        )


def test_daily_cost_from_totalprice_and_messages_sent(fake_http, twilio):
    serve(
        fake_http,
        {
            "totalprice": record("totalprice", price="2.19285"),
            "sms-outbound": record("sms-outbound", count="412"),
            "mms-outbound": record("mms-outbound", count="8"),
        },
    )
    run = run_collector("twilio", DAY)
    assert (run.status, run.reason) == ("ok", "")
    entry = CostEntry.objects.get(provider="twilio")
    assert (entry.billed_cost, entry.currency, entry.source, entry.service) == (
        Decimal("2.19285"),
        "USD",
        "api",
        "totalprice",
    )
    assert (entry.charge_period_start, entry.sync_run_id) == (DAY, run.sync_run_id)
    assert MetricSample.objects.get(metric="messages_sent").value == 420
    assert run.figures["messages_sent"] == "420"
    request = fake_http.calls[0].request
    assert request.headers["Authorization"].startswith("Basic ")
    assert "StartDate=2026-11-20" in request.url and "EndDate=2026-11-20" in request.url


def test_running_twice_writes_the_same_rows(fake_http, twilio):
    serve(
        fake_http,
        {
            "totalprice": record("totalprice", price="1.50"),
            "sms-outbound": record("sms-outbound", count="3"),
            "mms-outbound": record("mms-outbound"),
        },
    )
    run_collector("twilio", DAY)
    run_collector("twilio", DAY)
    assert CostEntry.objects.count() == 1
    assert MetricSample.objects.count() == 1


NEXT_PAGE = (
    f"/2010-04-01/Accounts/{SID}/Usage/Records/Daily.json?Category=totalprice&Page=1&PageToken=PA1"
)
ON_PAGE_ONE = [responses.matchers.query_param_matcher({"Page": "1"}, strict_match=False)]


def test_pages_are_followed_through_next_page_uri(fake_http, twilio):
    first = record("totalprice", price="1.00")
    first["usage_records"][0]["start_date"] = "2026-11-19"  # outside the window: ignored
    first["next_page_uri"] = NEXT_PAGE
    fake_http.get(URL, json=record("totalprice", price="2.00"), match=ON_PAGE_ONE)
    serve(
        fake_http,
        {
            "totalprice": first,
            "sms-outbound": record("sms-outbound"),
            "mms-outbound": record("mms-outbound"),
        },
    )
    run = run_collector("twilio", DAY)
    assert run.status == "ok"
    assert dict(CostEntry.objects.values_list("charge_period_start", "billed_cost")) == {
        DAY: Decimal("2.00")
    }


def test_a_next_page_pointing_back_fails_instead_of_looping(fake_http, twilio):
    looping = record("totalprice", price="1.00")
    looping["next_page_uri"] = NEXT_PAGE
    fake_http.get(URL, json=looping)
    run = run_collector("twilio", DAY)
    assert run.status == "failed"
    assert "kept paginating" in run.reason


def test_without_credentials_it_is_skipped_naming_the_variables(fake_http):
    run = run_collector("twilio", DAY)
    assert run.status == "skipped"
    assert (
        run.reason
        == "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are not set: add them to the environment "
        "(.env; see .env.example) and restart"
    )
    assert not fake_http.calls


@pytest.mark.parametrize("status", [401, 403])
def test_a_rejected_credential_fails_saying_so(fake_http, twilio, status):
    fake_http.get(
        URL, status=status, json={"code": 20003, "message": "Authenticate", "status": status}
    )
    run = run_collector("twilio", DAY)
    assert run.status == "failed"
    assert run.reason.startswith(f"credentials rejected by Twilio (HTTP {status})")
    assert "auth-token-secret" not in run.reason


def test_5xx_is_retried_with_backoff_then_succeeds(fake_http, twilio, slept):
    fake_http.get(URL, status=503)
    fake_http.get(URL, status=502)
    serve(
        fake_http,
        {
            "totalprice": record("totalprice", price="1.00"),
            "sms-outbound": record("sms-outbound"),
            "mms-outbound": record("mms-outbound"),
        },
    )
    run = run_collector("twilio", DAY)
    assert run.status == "ok"
    assert len(slept) == 2


def test_429_honours_retry_after(fake_http, twilio, slept):
    fake_http.get(URL, status=429, headers={"Retry-After": "7"})
    serve(
        fake_http,
        {
            "totalprice": record("totalprice", price="1.00"),
            "sms-outbound": record("sms-outbound"),
            "mms-outbound": record("mms-outbound"),
        },
    )
    assert run_collector("twilio", DAY).status == "ok"
    assert slept == [7.0]


def test_a_provider_that_stays_down_fails_with_the_last_error(fake_http, twilio, slept, settings):
    settings.COLLECTOR_HTTP_RETRIES = 3
    fake_http.get(URL, status=500)
    run = run_collector("twilio", DAY)
    assert run.status == "failed"
    assert "with HTTP 500 after 3 retries" in run.reason
    assert len(slept) == 3
    assert not CostEntry.objects.exists()


def test_an_undocumented_answer_fails_and_writes_nothing(fake_http, twilio):
    serve(
        fake_http,
        {"totalprice": record("totalprice", price="1.00"), "sms-outbound": {"records": []}},
    )
    run = run_collector("twilio", DAY)
    assert run.status == "failed"
    assert "without 'usage_records'" in run.reason
    assert not CostEntry.objects.exists() and not MetricSample.objects.exists()

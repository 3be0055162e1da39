"""The Providers page (every collector, its variables, Test connection), the Sync now message
and the state of a sync run in the run list.

Providers are faked with `responses` at the HTTP level, with answers shaped like their
documented examples (tests/collectors/fixtures/). Every credential below is a distinctive
string, checked to appear nowhere in a page or a message.
"""

import re
import socket
from datetime import date, timedelta

import pytest
import requests
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone

from collectors.base import SyncWindow
from collectors.engine import sync_run_create, sync_run_execute
from collectors.models import CollectorRun, RunStatus, SyncRun, Trigger
from collectors.registry import COLLECTOR_NAMES, collector_class
from costledger.celery import app as celery_app
from costledger.models import CostEntry, MetricSample
from tests.collectors.conftest import fixture

pytestmark = pytest.mark.django_db
COMMITTED = pytest.mark.django_db(transaction=True)
PROVIDERS = "/admin/providers/"
SID = "AC0123456789abcdef0123456789abcdef"

# Per collector: the settings that configure it (secrets are the values with S3CR3T in them).
CONFIG = {
    "digitalocean": {"DO_API_TOKEN": "dop_v1_S3CR3T_do_token", "DO_API_URL": "https://do.test"},
    "stripe": {"STRIPE_SECRET_KEY": "sk_live_S3CR3T_stripe", "STRIPE_API_URL": "https://st.test"},
    "twilio": {
        "TWILIO_ACCOUNT_SID": SID,
        "TWILIO_AUTH_TOKEN": "S3CR3T_twilio_auth_token",
        "TWILIO_API_URL": "https://twilio.test",
    },
    "supabase": {
        "SUPABASE_URL": "https://abcdefghij.supabase.test",
        "SUPABASE_KEY": "eyJS3CR3T_supabase_service_role",
    },
    "weaviate": {"WEAVIATE_URL": "https://wv.test", "WEAVIATE_API_KEY": "S3CR3T_weaviate_key"},
    "llm_prometheus": {
        "PROMETHEUS_URL": "https://prom.test/prometheus",
        "PROMETHEUS_BEARER_TOKEN": "S3CR3T_prometheus_token",
    },
    "openai": {"OPENAI_ADMIN_KEY": "sk-admin-S3CR3T_openai", "OPENAI_API_URL": "https://oa.test"},
    "anthropic": {
        "ANTHROPIC_ADMIN_KEY": "sk-ant-admin01-S3CR3T_anthropic",
        "ANTHROPIC_API_URL": "https://an.test",
    },
    "openrouter": {
        "OPENROUTER_API_KEY": "sk-or-v1-S3CR3T_openrouter",
        "OPENROUTER_API_URL": "https://or.test/api",
    },
    "paypal": {
        "PAYPAL_CLIENT_ID": "AbCdEf-paypal-client-id",
        "PAYPAL_CLIENT_SECRET": "S3CR3T_paypal_client_secret",
        "PAYPAL_API_URL": "https://pp.test",
    },
    "ecb": {"ECB_RATES_URL": "https://ecb.test/stats/eurofxref/eurofxref-hist-90d.xml"},
}
# Before the probe, what a collector must ask first: PayPal's OAuth access token (a POST).
TOKENS = {"paypal": ("https://pp.test/v1/oauth2/token", "paypal_oauth_token.json")}
# Per collector: the URL Test connection requests, and the documented answer (an example).
PROBES = {
    "digitalocean": (
        "https://do.test/v2/customers/my/balance",
        lambda: fixture(
            "digitalocean_balance.json",
            month_to_date_balance="23.44",
            account_balance="12.23",
            month_to_date_usage="11.21",
            generated_at="2026-12-02T09:00:00Z",
        ),
    ),
    "stripe": (
        "https://st.test/v1/balance_transactions",
        lambda: {
            "object": "list",
            "url": "/v1/balance_transactions",
            "has_more": True,
            "data": [fixture("stripe_balance_transaction.json")],
        },
    ),
    "twilio": (
        f"https://twilio.test/2010-04-01/Accounts/{SID}.json",
        # Twilio's Account resource carries the auth token itself: never shown.
        lambda: {
            "auth_token": "S3CR3T_twilio_auth_token",
            "date_created": "Thu, 30 Jul 2015 20:00:00 +0000",
            "friendly_name": "Ledger account",
            "owner_account_sid": SID,
            "sid": SID,
            "status": "active",
            "type": "Full",
            "uri": f"/2010-04-01/Accounts/{SID}.json",
        },
    ),
    "supabase": (
        "https://abcdefghij.supabase.test/auth/v1/admin/users",
        lambda: fixture(
            "supabase_admin_users.json",
            id="8d5f7a1e-2c4b-4f7e-9a3d-1b2c3d4e5f60",
            email="ada@example.com",
            last_sign_in_at="2026-12-01T08:00:00Z",
        ),
    ),
    "weaviate": (
        "https://wv.test/v1/meta",
        lambda: {"hostname": "http://[::]:8080", "modules": {}, "version": "1.28.2"},
    ),
    "llm_prometheus": (
        "https://prom.test/prometheus/api/v1/query",
        lambda: {
            "status": "success",
            "data": {"resultType": "vector", "result": [{"metric": {}, "value": [1, "1"]}]},
        },
    ),
    "openai": ("https://oa.test/v1/organization/costs", lambda: fixture("openai_costs_page.json")),
    "anthropic": (
        "https://an.test/v1/organizations/cost_report",
        lambda: fixture(
            "anthropic_cost_report.json",
            starting_at="2026-12-02T00:00:00Z",
            ending_at="2026-12-03T00:00:00Z",
        ),
    ),
    "openrouter": (
        "https://or.test/api/v1/activity",
        lambda: fixture("openrouter_activity.json", day="2026-12-01"),
    ),
    "paypal": (
        "https://pp.test/v1/reporting/transactions",
        lambda: fixture("paypal_transactions.json", day="2026-12-01"),
    ),
    # The ECB's feed is XML (text): answered as it is.
    "ecb": (
        "https://ecb.test/stats/eurofxref/eurofxref-hist-90d.xml",
        lambda: fixture(
            "ecb_eurofxref_hist_90d.xml", day0="2026-12-01", day1="2026-11-30", day2="2026-11-27"
        ),
    ),
}
S3CR3TS = [value for config in CONFIG.values() for value in config.values() if "S3CR3T" in value]


def answered(body) -> dict:
    """`responses` keyword arguments answering `body`: JSON, or text (XML) as it is."""
    return {"body": body, "content_type": "text/xml"} if isinstance(body, str) else {"json": body}


def configure(settings, *names: str) -> None:
    for name in names:
        for key, value in CONFIG[name].items():
            setattr(settings, key, value)


def superuser(client) -> User:
    user = User.objects.create_superuser("root", password="pw")
    client.force_login(user)
    return user


def page_messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def connection_tested(client, name: str):
    return client.post(PROVIDERS, {"collector": name}, follow=True)


def assert_no_secret(response) -> None:
    body = response.content.decode()
    for secret in S3CR3TS:
        assert secret not in body
    assert "S3CR3T" not in body


def assert_nothing_written() -> None:
    assert not CostEntry.objects.exists()
    assert not MetricSample.objects.exists()
    assert not SyncRun.objects.exists() and not CollectorRun.objects.exists()


# The Providers page --------------------------------------------------------------------------


def test_superuser_sees_every_collector_its_variables_and_test_buttons(client, settings):
    superuser(client)
    configure(settings, *COLLECTOR_NAMES)
    settings.TWILIO_AUTH_TOKEN = ""  # one collector not configured
    # User info in a URL is a credential too: the page shows the address without it.
    settings.PROMETHEUS_URL = "https://metrics:S3CR3T_prom_password@prom.test/prometheus?t=S3CR3T"
    response = client.get(PROVIDERS)
    assert response.status_code == 200
    rows = {row.health.name: row for row in response.context["providers"]}
    assert list(rows) == COLLECTOR_NAMES
    twilio = {v.name: v for v in rows["twilio"].variables}
    assert (twilio["TWILIO_ACCOUNT_SID"].is_set, twilio["TWILIO_AUTH_TOKEN"].is_set) == (
        True,
        False,
    )
    assert not rows["twilio"].health.configured and rows["openai"].health.configured
    body = response.content.decode()
    for name in COLLECTOR_NAMES:
        assert f'data-collector="{name}"' in body
        for variable in (*collector_class(name).required_settings,):
            assert f"<code>{variable}</code>" in body
    # The Twilio button is disabled, saying why; the others are not.
    twilio_form = re.search(r'data-collector="twilio">.*?</form>', body, re.S).group(0)
    assert "disabled" in twilio_form and "Set TWILIO_AUTH_TOKEN first" in twilio_form
    openai_form = re.search(r'data-collector="openai">.*?</form>', body, re.S).group(0)
    assert "disabled" not in openai_form
    # Base URLs are shown (without user info); account ids and keys never are.
    assert "https://do.test" in body and "https://prom.test/prometheus" in body
    assert SID not in body and "metrics:" not in body
    assert "GET /v2/customers/my/balance" in body  # what the test sends
    assert_no_secret(response)


def test_the_page_shows_last_success_and_last_run_with_its_error(client, settings):
    superuser(client)
    configure(settings, "openai")
    run = SyncRun.objects.create(
        trigger=Trigger.COMMAND,
        status=RunStatus.FAILED,
        window_start=date(2026, 11, 30),
        window_end=date(2026, 12, 1),
    )
    succeeded = timezone.now() - timedelta(days=2)
    for status, finished, reason in [
        (RunStatus.OK, succeeded, ""),
        (RunStatus.FAILED, timezone.now(), "credentials rejected by OpenAI (HTTP 401)"),
    ]:
        CollectorRun.objects.create(
            sync_run=run, collector="openai", window_start=finished.date(),
            window_end=finished.date() + timedelta(days=1), status=status,
            finished_at=finished, reason=reason,
        )  # fmt: skip
    response = client.get(PROVIDERS)
    openai = next(r for r in response.context["providers"] if r.health.name == "openai")
    assert openai.health.last_success == succeeded
    assert openai.health.last_run.status == RunStatus.FAILED
    row = re.search(r'<tr id="provider-openai">.*?</tr>', response.content.decode(), re.S)
    assert succeeded.strftime("%Y-%m-%d %H:%M") in row.group(0)
    assert "credentials rejected by OpenAI (HTTP 401)" in row.group(0)


def test_finance_may_test(finance_client):
    response = finance_client.get(PROVIDERS)
    assert response.status_code == 200 and response.context["can_test"]
    assert 'name="collector"' in response.content.decode()


def test_viewer_sees_the_page_without_buttons_and_may_not_test(client, viewer_user, settings):
    configure(settings, "openai")
    client.force_login(viewer_user)
    response = client.get(PROVIDERS)
    assert response.status_code == 200 and not response.context["can_test"]
    body = response.content.decode()
    assert "OPENAI_ADMIN_KEY" in body
    assert 'name="collector"' not in body and "<form" not in body.split('id="content-main"')[1]
    # No request is registered: one sent would fail the test with a ConnectionError.
    assert client.post(PROVIDERS, {"collector": "openai"}).status_code == 403


def test_anonymous_and_staff_without_the_right_are_kept_out(client, settings):
    configure(settings, "openai")
    for response in (client.get(PROVIDERS), client.post(PROVIDERS, {"collector": "openai"})):
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    client.force_login(User.objects.create_user("staff", password="pw", is_staff=True))
    assert client.get(PROVIDERS).status_code == 403
    assert client.post(PROVIDERS, {"collector": "openai"}).status_code == 403


def test_the_index_lists_the_providers_page(client):
    superuser(client)
    assert PROVIDERS in client.get("/admin/").content.decode()


# Test connection -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", COLLECTOR_NAMES)
def test_connection_ok_says_the_status_and_the_time_and_writes_nothing(
    name, client, settings, fake_http
):
    superuser(client)
    configure(settings, name)
    url, body = PROBES[name]
    fake_http.get(url, **answered(body()))
    if name in TOKENS:
        token_url, token = TOKENS[name]
        fake_http.post(token_url, json=fixture(token))
    response = connection_tested(client, name)
    assert response.redirect_chain == [(PROVIDERS, 302)]
    (message,) = page_messages(response)
    provider = collector_class(name).provider_name
    assert re.fullmatch(rf"{provider}: connection OK, HTTP 200 in \d+ ms \(GET /.+\)\.", message)
    calls = [c for c in fake_http.calls if c.request.url != TOKENS.get(name, ("",))[0]]
    (call,) = calls  # one request, read-only (after the access token where one is needed)
    assert call.request.method == "GET" and call.request.url.startswith(url)
    assert_no_secret(response)
    assert_nothing_written()


def test_connection_sends_the_credentials_as_each_provider_documents(client, settings, fake_http):
    superuser(client)
    configure(settings, "digitalocean", "twilio", "anthropic", "stripe")
    for name in ("digitalocean", "twilio", "anthropic", "stripe"):
        url, body = PROBES[name]
        fake_http.get(url, json=body())
        connection_tested(client, name)
    do, twilio, anthropic, stripe = (call.request for call in fake_http.calls)
    assert do.headers["Authorization"] == "Bearer dop_v1_S3CR3T_do_token"
    assert twilio.headers["Authorization"].startswith("Basic ")
    assert anthropic.headers["x-api-key"] == "sk-ant-admin01-S3CR3T_anthropic"
    assert anthropic.headers["anthropic-version"] == "2023-06-01"
    assert "limit=1" in anthropic.url and "limit=1" in stripe.url
    assert stripe.headers["Authorization"] == "Bearer sk_live_S3CR3T_stripe"


ECHO = '{"error": {"message": "Invalid API key provided: %s"}}'
JSON = "application/json"
# fault -> (the faulted answer, given the collector's secret; the expected message after the
# provider's name, where {url_setting} and {variables} stand for the collector's)
FAULTS = {
    "http-401": (
        lambda secret: {"status": 401, "body": ECHO % secret, "content_type": JSON},
        "the key was refused (HTTP 401): check {variables} in the environment and that the "
        "key may read what the collector needs.",
    ),
    "http-403": (
        lambda secret: {"status": 403, "body": ECHO % secret, "content_type": JSON},
        "the key was refused (HTTP 403): check {variables} in the environment and that the "
        "key may read what the collector needs.",
    ),
    "read-timeout": (
        lambda secret: {"body": requests.exceptions.ReadTimeout(f"timed out {secret}")},
        "no answer: timed out after 10 s.",
    ),
    "connect-timeout": (
        lambda secret: {"body": requests.exceptions.ConnectTimeout(f"timed out {secret}")},
        "no answer: could not connect to {host}: timed out after 10 s.",
    ),
    "host-not-found": (
        lambda secret: {
            "body": requests.exceptions.ConnectionError(socket.gaierror(-2, "Name not known"))
        },
        "no answer: could not connect to {host} (host not found).",
    ),
    "connection-refused": (
        lambda secret: {
            "body": requests.exceptions.ConnectionError(ConnectionRefusedError(111, secret))
        },
        "no answer: connection refused by {host}.",
    ),
    "http-500": (
        lambda secret: {"status": 500, "body": ECHO % secret, "content_type": JSON},
        "the provider answered HTTP 500 (a fault on its side): try again later.",
    ),
    "http-429": (
        lambda secret: {"status": 429, "body": ECHO % secret, "content_type": JSON},
        "too many requests (HTTP 429): the provider asks to wait; try again in a minute.",
    ),
    "http-404": (
        lambda secret: {"status": 404, "body": ECHO % secret, "content_type": JSON},
        "the request was refused (HTTP 404) for {request}: check that {url_setting} points at "
        "its API.",
    ),
    "not-json": (
        lambda secret: {"body": f"<html>{secret}</html>", "content_type": "text/html"},
        "HTTP 200, but the answer is not JSON (text/html): check that {url_setting} points at "
        "its API.",
    ),
    "json-of-another-shape": (
        lambda secret: {"json": {"unexpected": secret}},
        "HTTP 200, but an unexpected answer (no '{expect}', which its API documents for "
        "{request}): check that {url_setting} points at its API.",
    ),
}
TESTED = {
    "digitalocean": ("do.test", "DO_API_URL", "month_to_date_usage"),
    "openai": ("oa.test", "OPENAI_API_URL", "data"),
    "twilio": ("twilio.test", "TWILIO_API_URL", "status"),
    "supabase": ("abcdefghij.supabase.test", "SUPABASE_URL / SUPABASE_API_URL", "users"),
}


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("name", TESTED)
def test_connection_failures_are_said_in_words_without_the_secret(
    name, fault, client, settings, fake_http
):
    superuser(client)
    configure(settings, name)
    cls = collector_class(name)
    secret = next(v for v in CONFIG[name].values() if "S3CR3T" in v)
    answer, expected = FAULTS[fault]
    host, url_setting, expect = TESTED[name]
    fake_http.get(PROBES[name][0], **answer(secret))
    response = connection_tested(client, name)
    assert response.status_code == 200
    probe = cls().connection_probe()
    expected = expected.format(
        variables=" and ".join(cls.required_settings),
        host=host,
        url_setting=url_setting,
        expect=expect,
        request=probe.request_shown,
    )
    assert page_messages(response) == [f"{cls.provider_name}: {expected}"]
    assert len(fake_http.calls) == 1  # tried once: a person is waiting
    assert_no_secret(response)
    assert_nothing_written()


def test_a_refused_openrouter_key_says_a_management_key_is_needed(client, settings, fake_http):
    superuser(client)
    configure(settings, "openrouter")
    fake_http.get(PROBES["openrouter"][0], status=401, json={"error": {"code": 401}})
    (message,) = page_messages(connection_tested(client, "openrouter"))
    assert message.startswith("OpenRouter: the key was refused (HTTP 401)")
    assert "management-keys" in message and "OPENROUTER_API_KEY" in message


def test_a_collector_that_is_not_configured_is_not_tested(client, settings, fake_http):
    superuser(client)
    response = connection_tested(client, "stripe")
    assert page_messages(response) == [
        "Stripe is not configured (STRIPE_SECRET_KEY not set): nothing was sent."
    ]
    assert not fake_http.calls


@pytest.mark.parametrize(
    "data", [{"collector": "nope"}, {"collector": "openai\x00"}, {"collector": ""}, {}]
)
def test_a_hostile_post_is_refused_with_a_message(data, client, settings, fake_http):
    superuser(client)
    configure(settings, "openai")
    response = client.post(PROVIDERS, data, follow=True)
    assert response.status_code == 200
    assert page_messages(response) == ["Test connection needs one of the collectors listed below."]
    assert not fake_http.calls


def test_get_with_a_collector_only_shows_the_page_and_other_methods_are_refused(
    client, settings, fake_http
):
    superuser(client)
    configure(settings, "openai")
    response = client.get(PROVIDERS, {"collector": "openai"})
    assert response.status_code == 200 and not page_messages(response)
    assert client.put(PROVIDERS, {"collector": "openai"}).status_code == 405
    assert not fake_http.calls


# Skip reasons and the Sync now message -------------------------------------------------------


def test_each_skip_reason_names_the_variables_and_where_to_set_them():
    run = sync_run_create(trigger=Trigger.COMMAND, window=SyncWindow.day(date(2026, 11, 20)))
    sync_run_execute(sync_run_id=run.pk, parallel=False)
    reasons = dict(run.collector_runs.values_list("collector", "reason"))
    assert reasons["digitalocean"] == (
        "DO_API_TOKEN is not set: add it to the environment (.env; see .env.example) and restart"
    )
    assert reasons["supabase"] == (
        "SUPABASE_URL and SUPABASE_KEY are not set: add them to the environment (.env; see "
        ".env.example) and restart"
    )
    for name in COLLECTOR_NAMES:
        assert all(v in reasons[name] for v in collector_class(name).required_settings)
    run.refresh_from_db()
    assert run.status == RunStatus.SKIPPED  # nothing ran: not "ok"


@pytest.fixture
def eager_celery():
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


def status_cells(response) -> dict[int, str]:
    """Sync run id -> the text of its Status cell in the run list."""
    body = response.content.decode()
    rows = re.findall(
        r'<tr>.*?/syncrun/(\d+)/change/.*?field-status_display">(.*?)</td>', body, re.S
    )
    return {int(pk): re.sub(r"<[^>]+>", "", cell) for pk, cell in rows}


@COMMITTED  # the quick start: no transaction around the request, Celery eager
def test_sync_now_with_nothing_configured_says_so_and_the_finished_state(client, eager_celery):
    superuser(client)  # a superuser: a committed test's flushes leave no groups behind
    response = client.post(reverse("admin:collectors_syncrun_sync_now"), follow=True)
    run = SyncRun.objects.get()
    assert (run.status, run.finished_at is not None) == (RunStatus.SKIPPED, True)
    (message,) = page_messages(response)
    assert message == (
        "Nothing is configured yet: set the variables of a collector in the environment (.env; "
        'see .env.example) and restart — the <a href="/admin/providers/">Providers page</a> '
        "lists each collector's variables. "
        f"Sync run #{run.pk} finished (skipped: nothing ran): 0 succeeded, 0 failed, "
        f"{2 * len(COLLECTOR_NAMES)} skipped (one run per collector and day)."
    )
    body = response.content.decode()
    assert f'<a href="{PROVIDERS}">Providers page</a>' in body  # a link, not escaped HTML
    assert "Running" not in body and not re.search(r"\bOK\b", body)
    assert "Skipped: nothing ran" in body  # the run's page
    listing = client.get(reverse("admin:collectors_syncrun_changelist"))
    assert status_cells(listing) == {run.pk: "Skipped: nothing ran"}


@COMMITTED
def test_sync_now_says_how_a_run_that_finished_went(client, eager_celery, settings, fake_http):
    superuser(client)
    configure(settings, "openai")
    fake_http.get(PROBES["openai"][0], json={"object": "page", "data": [], "has_more": False})
    response = client.post(reverse("admin:collectors_syncrun_sync_now"), follow=True)
    run = SyncRun.objects.get()
    assert page_messages(response) == [
        f"Sync run #{run.pk} finished (ok): 2 succeeded, 0 failed, "
        f"{2 * len(COLLECTOR_NAMES) - 2} skipped (one run per collector and day)."
    ]
    assert status_cells(client.get(reverse("admin:collectors_syncrun_changelist"))) == {
        run.pk: "OK"
    }


@pytest.fixture
def worker(monkeypatch):
    """A Celery worker has the run: the request only records it."""
    monkeypatch.setattr("collectors.services.sync_all_task.delay", lambda run_id: None)


def test_sync_now_with_a_worker_and_nothing_configured_says_both(client, worker):
    superuser(client)
    response = client.post(reverse("admin:collectors_syncrun_sync_now"), follow=True)
    run = SyncRun.objects.get()
    (message,) = page_messages(response)
    assert message.startswith("Nothing is configured yet: set the variables of a collector")
    assert message.endswith(
        f"Sync run #{run.pk} started and runs in the background: refresh this page to follow it."
    )


def test_sync_now_with_a_worker_and_a_collector_configured_says_it_started(
    client, worker, settings
):
    superuser(client)
    configure(settings, "openai")
    response = client.post(reverse("admin:collectors_syncrun_sync_now"), follow=True)
    run = SyncRun.objects.get()
    assert page_messages(response) == [
        f"Sync run #{run.pk} started and runs in the background: refresh this page to follow it."
    ]
    assert status_cells(client.get(reverse("admin:collectors_syncrun_changelist"))) == {
        run.pk: "Running"
    }


def test_the_run_list_shows_each_run_s_real_state(client, viewer_user):
    client.force_login(viewer_user)
    day = date(2026, 11, 20)
    # run -> (stored status, its collector runs' statuses)
    cases = {
        "OK": (RunStatus.OK, [RunStatus.OK, RunStatus.OK, RunStatus.SKIPPED]),
        "Partly failed": (RunStatus.FAILED, [RunStatus.OK, RunStatus.FAILED]),
        "Failed": (RunStatus.FAILED, [RunStatus.FAILED, RunStatus.FAILED, RunStatus.SKIPPED]),
        "Skipped: nothing ran": (RunStatus.OK, [RunStatus.SKIPPED, RunStatus.SKIPPED]),
        "Running": (RunStatus.RUNNING, [RunStatus.OK, RunStatus.PENDING]),
    }
    expected = {}
    for label, (status, statuses) in cases.items():
        run = SyncRun.objects.create(
            trigger=Trigger.COMMAND, status=status, window_start=day,
            window_end=day + timedelta(days=1),
            finished_at=None if status == RunStatus.RUNNING else timezone.now(),
        )  # fmt: skip
        for name, collector_status in zip(COLLECTOR_NAMES, statuses, strict=False):
            CollectorRun.objects.create(
                sync_run=run, collector=name, window_start=day,
                window_end=day + timedelta(days=1), status=collector_status,
            )  # fmt: skip
        expected[run.pk] = label
    response = client.get(reverse("admin:collectors_syncrun_changelist"))
    assert status_cells(response) == expected

"""Every collector x every way a provider fails, through `sync_metrics --json --only NAME`.

Each provider answers as its fake (tests/fakeproviders/) does, except the request in LAST_PATH,
which is faulted: for collectors that write before their last request (DigitalOcean's costs,
Stripe's fees, Supabase's user directory) that proves the run's writes are rolled back too.
The run must fail (skip, without a credential) with a reason naming the cause in words, write
nothing and exit 1 (0 when skipped).
"""

import json
import re
import socket
from datetime import date
from io import StringIO
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import stripe
import time_machine
from django.apps import apps
from django.core.management import call_command

from collectors.errors import ProviderRefused, ProviderUnavailable
from collectors.http import ProviderHTTP
from collectors.registry import COLLECTOR_NAMES, collector_class
from costledger.models import CostEntry, MetricSample
from tests.fakeproviders.server import environment, provider_module

DAY = date(2026, 11, 20)
RETRIES = 2
TIMEOUT = 20
RETRY_AFTER = 7
# The path of the last request each collector makes (a regular expression).
LAST_PATH = {
    "digitalocean": r"/v2/registry/subscription$",
    "stripe": r"/v1/subscriptions$",
    "supabase": r"/config/disk/util$",
    "weaviate": r"/v1/objects$",
    "llm_prometheus": r"/api/v1/query$",
    "twilio": r"/Usage/Records/Daily\.json$",
    "openai": r"/v1/organization/costs$",
    "anthropic": r"/v1/organizations/cost_report$",
    "openrouter": r"/v1/activity$",
    "paypal": r"/v1/reporting/transactions$",
    "ecb": r"/eurofxref-hist-90d\.xml$",
}
ERROR_BODY = json.dumps({"error": {"message": "something went wrong"}})
JSON = {"Content-Type": "application/json"}
AFTER_RETRIES = f"after {RETRIES} retries"
# fault -> (what the faulted request gets, a regular expression of the reason, where {host} and
# {provider} stand for the collector's)
FAULTS = {
    "read-timeout": (
        lambda: requests.exceptions.ReadTimeout("Read timed out."),
        f"did not answer .* {AFTER_RETRIES}: timed out after {TIMEOUT} s",
    ),
    "connect-timeout": (
        lambda: requests.exceptions.ConnectTimeout("Connect timed out."),
        f"did not answer .* {AFTER_RETRIES}: could not connect to {{host}}: timed out after "
        f"{TIMEOUT} s",
    ),
    "connection-refused": (
        lambda: requests.exceptions.ConnectionError(ConnectionRefusedError(111, "refused")),
        f"did not answer .* {AFTER_RETRIES}: connection refused by {{host}}$",
    ),
    "host-not-found": (
        lambda: requests.exceptions.ConnectionError(socket.gaierror(-2, "Name not known")),
        f"did not answer .* {AFTER_RETRIES}: could not connect to {{host}} \\(host not found\\)$",
    ),
    "http-500": (
        lambda: (500, JSON, ERROR_BODY),
        f"answered .* with HTTP 500 {AFTER_RETRIES}$",
    ),
    "http-429-retry-after": (
        lambda: (429, {**JSON, "Retry-After": str(RETRY_AFTER)}, ERROR_BODY),
        f"answered .* with HTTP 429 {AFTER_RETRIES} \\(too many requests; Retry-After asked to "
        f"wait {RETRY_AFTER} s\\)$",
    ),
    "not-json": (
        lambda: (200, {"Content-Type": "text/html"}, "<html>Down for maintenance</html>"),
        "{provider}.* answered .* with something that is not JSON",
    ),
    "json-of-the-wrong-shape": (
        lambda: (200, JSON, '{"unexpected": []}'),
        "{provider}.* answered (without '[a-z_]+', which its API documents|.* with no list object)",
    ),
    "http-401": (
        lambda: (401, JSON, ERROR_BODY),
        r"^credentials rejected by {provider}\b.* \(HTTP 401\)",
    ),
}
# The ECB's feed is XML: to it, an HTML page or JSON is not its feed.
NOT_THE_FEED = (
    "{provider} answered .* with (something that is not XML|a document that is not its euro "
    "reference rates feed)"
)
WORDS_OF = {("ecb", "not-json"): NOT_THE_FEED, ("ecb", "json-of-the-wrong-shape"): NOT_THE_FEED}
RETRIED = {
    "read-timeout",
    "connect-timeout",
    "connection-refused",
    "host-not-found",
    "http-500",
    "http-429-retry-after",
}


@pytest.fixture(autouse=True)
def _fast_and_today(settings, monkeypatch):
    settings.COLLECTOR_HTTP_RETRIES = RETRIES
    settings.COLLECTOR_HTTP_TIMEOUT = float(TIMEOUT)
    # The Stripe SDK retries timeouts and 5xx itself, sleeping between them.
    monkeypatch.setattr(stripe.HTTPClient, "INITIAL_DELAY", 0)
    monkeypatch.setattr(stripe.HTTPClient, "MAX_DELAY", 0)
    # Supabase and Weaviate read their state for today only.
    with time_machine.travel("2026-11-20 12:00:00+00:00", tick=False):
        yield


def host(name: str) -> str:
    return f"{name.replace('_', '-')}.test"


def configure(settings, name: str) -> dict[str, str]:
    """Point the collector at https://<name>.test with its fake's credentials."""
    env = environment(f"https://{host(name)}", [name])
    for key, value in env.items():
        setattr(settings, key, value)
    return env


def serve(fake_http, name: str, fault=None) -> None:
    """Answer as the provider's fake does; the LAST_PATH request gets `fault()` instead."""
    routes = provider_module(name).ROUTES

    def answer(request):
        url = urlsplit(request.url)
        if fault and re.search(LAST_PATH[name], url.path):
            return fault()
        route = next((r for r in routes if r.matches(request.method, url.path)), None)
        if route is None:
            return 404, {"Content-Type": "application/json"}, '{"error": "no fake route"}'
        query = parse_qs(url.query, keep_blank_values=True)
        body = route.body(query, DAY) if callable(route.body) else route.body
        return route.status, {"Content-Type": route.content_type}, route.encoded(body)

    pattern = re.compile(rf"https://{re.escape(host(name))}/.*")
    for method in ("GET", "POST"):  # POST: an OAuth token (PayPal)
        fake_http.add_callback(method, pattern, callback=answer, content_type=None)


def sync_metrics(*names: str) -> tuple[int, dict]:
    out = StringIO()
    args = ["--json", "--date", DAY.isoformat(), *(f"--only={name}" for name in names)]
    try:
        call_command("sync_metrics", *args, stdout=out)
    except SystemExit as exit_:
        return exit_.code, json.loads(out.getvalue())
    return 0, json.loads(out.getvalue())


def ledger_counts() -> dict[str, int]:
    """Rows in every table of the ledger (costledger), UsageUser included."""
    return {m.__name__: m.objects.count() for m in apps.get_app_config("costledger").get_models()}


def secrets(env: dict[str, str]) -> list[str]:
    return [value for key, value in env.items() if key.endswith(("_KEY", "_TOKEN"))]


@pytest.mark.django_db
@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("name", COLLECTOR_NAMES)
def test_a_fault_fails_the_collector_naming_the_cause_and_writes_nothing(
    name, fault, settings, fake_http, slept
):
    env = configure(settings, name)
    answer, words = FAULTS[fault]
    words = WORDS_OF.get((name, fault), words)
    serve(fake_http, name, answer)
    before = ledger_counts()
    code, body = sync_metrics(name)
    (run,) = body["collectors"]
    assert (code, run["status"], run["rows_written"]) == (1, "failed", 0)
    provider = collector_class(name).provider_name
    assert provider in run["reason"]
    pattern = words.format(host=re.escape(host(name)), provider=re.escape(provider))
    assert re.search(pattern, run["reason"]), run["reason"]
    assert ledger_counts() == before
    assert "?" not in run["reason"] and not any(s in run["reason"] for s in secrets(env))
    faulted = [
        c for c in fake_http.calls if re.search(LAST_PATH[name], urlsplit(c.request.url).path)
    ]
    if fault in RETRIED:
        assert len(faulted) == RETRIES + 1
    if fault == "http-429-retry-after":
        assert slept == [float(RETRY_AFTER)] * RETRIES


@pytest.mark.django_db
@pytest.mark.parametrize("name", COLLECTOR_NAMES)
def test_a_missing_credential_skips_the_collector_naming_it(name, fake_http):
    before = ledger_counts()
    code, body = sync_metrics(name)
    (run,) = body["collectors"]
    required = collector_class(name).required_settings
    assert (code, run["status"], run["rows_written"]) == (0, "skipped", 0)
    assert re.fullmatch(
        rf"{required[0]}( and \w+)* (is|are) not set: add (it|them) to the environment "
        r"\(\.env; see \.env\.example\) and restart",
        run["reason"],
    )
    assert ledger_counts() == before
    assert not fake_http.calls


@pytest.mark.django_db(transaction=True)  # several collectors run in threads, each connected
@pytest.mark.parametrize("fault", ["read-timeout", "http-500", "not-json"])
def test_other_collectors_are_unaffected(fault, settings, fake_http):
    faulted = [name for name in COLLECTOR_NAMES if name != "twilio"]
    for name in faulted:
        configure(settings, name)
        serve(fake_http, name, FAULTS[fault][0])
    configure(settings, "twilio")
    serve(fake_http, "twilio")
    before = ledger_counts()
    code, body = sync_metrics(*COLLECTOR_NAMES)
    runs = {run["collector"]: run for run in body["collectors"]}
    assert code == 1
    assert {name: runs[name]["status"] for name in faulted} == dict.fromkeys(faulted, "failed")
    twilio = runs["twilio"]
    assert (twilio["status"], twilio["reason"], twilio["rows_written"]) == ("ok", "", 2)
    expected = provider_module("twilio").EXPECTED
    assert {k: str(twilio["figures"][k]) for k in expected} == expected
    after = ledger_counts()
    written = {
        table: after[table] - before[table] for table in after if after[table] != before[table]
    }
    assert written == {"CostEntry": 1, "MetricSample": 1}
    assert CostEntry.objects.get().provider == MetricSample.objects.get().provider == "twilio"


# The same words from the exceptions requests raises on real sockets (local ones, never the
# network), where the cause sits a few wrappers down.


@pytest.fixture
def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def silent_port():
    """A port that accepts connections and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_a_real_refused_connection_is_named(closed_port, settings):
    settings.COLLECTOR_HTTP_RETRIES = 0
    client = ProviderHTTP("Fake", f"http://127.0.0.1:{closed_port}")
    with pytest.raises(ProviderUnavailable) as raised:
        client.get_json("/v1/costs", params={"key": "secret-in-query"})
    assert str(raised.value) == (
        f"Fake did not answer GET http://127.0.0.1:{closed_port}/v1/costs after 0 retries: "
        f"connection refused by 127.0.0.1:{closed_port}"
    )


def test_a_real_timeout_is_named_with_the_setting(silent_port, settings):
    settings.COLLECTOR_HTTP_RETRIES, settings.COLLECTOR_HTTP_TIMEOUT = 0, 0.2
    client = ProviderHTTP("Fake", f"http://127.0.0.1:{silent_port}")
    with pytest.raises(ProviderUnavailable, match=r"timed out after 0\.2 s \(COLLECTOR_HTTP_TIM"):
        client.get_json("/v1/costs")


@pytest.mark.django_db
def test_stripe_names_the_cause_the_sdk_wraps(closed_port, settings):
    settings.COLLECTOR_HTTP_RETRIES = 0
    settings.STRIPE_SECRET_KEY, settings.STRIPE_API_URL = (
        "sk_test_x",
        f"http://127.0.0.1:{closed_port}",
    )
    code, body = sync_metrics("stripe")
    assert (code, body["collectors"][0]["reason"]) == (
        1,
        "Stripe did not answer GET /v1/balance_transactions after 0 retries: connection refused "
        f"by 127.0.0.1:{closed_port}",
    )


def test_a_credential_that_cannot_be_sent_is_named_without_quoting_it(settings):
    client = ProviderHTTP("Fake", "https://fake.test", headers={"Authorization": "Bearer a\nb"})
    with pytest.raises(ProviderRefused) as raised:
        client.get_json("/v1/costs")
    assert str(raised.value) == (
        "the request to Fake could not be sent (a header is not valid); check its credential "
        "and URL settings for stray spaces or newlines"
    )

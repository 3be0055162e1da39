"""The ECB collector: the euro reference rates, as exchange rates for the currencies the ledger
holds. The feed is faked from a document shaped as the ECB publishes it
(fixtures/ecb_eurofxref_hist_90d.xml: three days instead of ninety, newest first)."""

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest

from alerts.models import Budget
from billing.models import Customer
from collectors.base import SyncWindow
from collectors.connection import collector_connection_test
from collectors.engine import sync_run_create, sync_run_execute
from collectors.models import CollectorRun, Trigger
from collectors.sources.ecb import cross_rate
from costledger.models import CustomerRevenue, ExchangeRate, RevenueSnapshot
from costledger.selectors import exchange_rate_on
from tests.collectors.conftest import fixture, run_collector
from tests.factories import cost_entry
from usage.models import LlmUsageDaily

pytestmark = pytest.mark.django_db
URL = "https://ecb.test/stats/eurofxref/eurofxref-hist-90d.xml"
THURSDAY, FRIDAY, MONDAY = date(2026, 11, 19), date(2026, 11, 20), date(2026, 11, 23)
SATURDAY, SUNDAY = date(2026, 11, 21), date(2026, 11, 22)


@pytest.fixture
def ecb(settings):
    settings.ECB_RATES_URL = URL
    settings.REPORTING_CURRENCY = "USD"


def feed() -> str:
    """The feed: Monday, then the Friday and Thursday before (no weekend day)."""
    return fixture("ecb_eurofxref_hist_90d.xml", day0=MONDAY, day1=FRIDAY, day2=THURSDAY)


def serve(fake_http, body: str | None = None, content_type: str = "text/xml") -> None:
    fake_http.get(URL, body=feed() if body is None else body, content_type=content_type)


def holds(*currencies: str) -> None:
    """Ledger rows in each currency, one table after another."""
    for i, currency in enumerate(currencies):
        if i % 3 == 0:
            cost_entry(day=FRIDAY, amount="1", currency=currency, service=currency).save()
        elif i % 3 == 1:
            RevenueSnapshot.objects.create(day=FRIDAY, currency=currency, mrr=Decimal(1))
        else:
            CustomerRevenue.objects.create(
                day=FRIDAY, provider="stripe", customer_ref="cus_1", currency=currency,
                amount=Decimal(1),
            )  # fmt: skip


def run_days(first: date, last: date) -> dict[date, CollectorRun]:
    """The collector over the days first..last, as a back-fill runs it: one run per day."""
    window = SyncWindow(first, last + timedelta(days=1))
    sync_run = sync_run_create(trigger=Trigger.COMMAND, window=window, collectors=["ecb"])
    sync_run_execute(sync_run_id=sync_run.pk, parallel=False)
    return {run.window_start: run for run in CollectorRun.objects.filter(sync_run=sync_run)}


def rates() -> dict[tuple[date, str], tuple[Decimal, str]]:
    return {(r.day, r.currency): (r.rate, r.source) for r in ExchangeRate.objects.all()}


def test_each_currency_the_ledger_holds_in_the_reporting_currency(fake_http, ecb):
    holds("EUR", "GBP", "JPY", "USD")  # USD: the reporting currency, never given a rate
    serve(fake_http)
    run = run_collector("ecb", FRIDAY)
    assert (run.status, run.reason, run.rows_written) == ("ok", "", 3)
    # Friday's quotes: 1 EUR = 1.1552 USD = 0.87930 GBP = 180.56 JPY.
    assert rates() == {
        (FRIDAY, "EUR"): (Decimal("1.1552000000"), "ecb"),
        # 1.1552 / 0.87930 = 1.31377231889002...: the 11th place (8) rounds the 10th up.
        (FRIDAY, "GBP"): (Decimal("1.3137723189"), "ecb"),
        # 1.1552 / 180.56 = 0.00639787328311...: the 11th place (8) rounds the 10th up.
        (FRIDAY, "JPY"): (Decimal("0.0063978733"), "ecb"),
    }
    assert run.figures == {"days_published": 1, "currencies": "EUR, GBP, JPY"}
    assert run.notes == []
    (call,) = fake_http.calls
    assert call.request.url == URL and "xml" in call.request.headers["Accept"]


def test_a_day_without_publication_has_no_row_and_keeps_the_day_before(fake_http, ecb):
    serve(fake_http)
    runs = run_days(FRIDAY, MONDAY)
    assert {day: (run.status, run.rows_written) for day, run in runs.items()} == {
        FRIDAY: ("ok", 1),
        SATURDAY: ("ok", 0),  # Friday's rate, in force on Saturday, already stored
        SUNDAY: ("ok", 0),
        MONDAY: ("ok", 1),
    }
    assert rates() == {
        (FRIDAY, "EUR"): (Decimal("1.1552000000"), "ecb"),
        (MONDAY, "EUR"): (Decimal("1.1589000000"), "ecb"),
    }
    assert exchange_rate_on(currency="EUR", day=SUNDAY) == Decimal("1.1552")
    assert runs[SATURDAY].notes == [
        "no publication on 2026-11-21 (a weekend or a TARGET holiday): the latest earlier rate "
        "stays in force"
    ]


def test_a_first_run_on_a_sunday_loads_the_rate_in_force(fake_http, ecb):
    serve(fake_http)
    run = run_collector("ecb", SUNDAY)
    assert (run.status, run.rows_written) == ("ok", 1)
    assert rates() == {(FRIDAY, "EUR"): (Decimal("1.1552000000"), "ecb")}
    assert exchange_rate_on(currency="EUR", day=SUNDAY) == Decimal("1.1552")


def test_a_rate_entered_by_hand_is_kept(fake_http, ecb):
    holds("EUR", "GBP", "JPY")
    ExchangeRate.objects.create(day=FRIDAY, currency="GBP", rate=Decimal("1.25"), source="manual")
    ExchangeRate.objects.create(day=FRIDAY, currency="JPY", rate=Decimal("0.0065"), source="bank")
    serve(fake_http)
    run = run_collector("ecb", FRIDAY)
    assert (run.status, run.rows_written) == ("ok", 1)
    assert rates() == {
        (FRIDAY, "EUR"): (Decimal("1.1552000000"), "ecb"),
        (FRIDAY, "GBP"): (Decimal("1.2500000000"), "manual"),
        (FRIDAY, "JPY"): (Decimal("0.0065000000"), "bank"),
    }
    assert run.notes == [
        "2 rates entered by hand kept: a rate of another source is never replaced by the ECB's"
    ]


def test_running_again_changes_nothing_and_corrects_its_own_rows(fake_http, ecb):
    holds("EUR", "GBP")
    serve(fake_http)
    first = run_days(THURSDAY, MONDAY)
    written = {(r.day, r.currency): (r.pk, r.rate, r.source) for r in ExchangeRate.objects.all()}
    assert sum(run.rows_written for run in first.values()) == len(written) == 6  # 3 days x 2
    ExchangeRate.objects.filter(day=FRIDAY, currency="GBP").update(rate=Decimal("9"))
    again = run_days(THURSDAY, MONDAY)
    assert {run.status for run in again.values()} == {"ok"}
    # the one wrong row corrected; the rest already held the same rate: not written again
    assert sum(run.rows_written for run in again.values()) == 1
    assert {
        (r.day, r.currency): (r.pk, r.rate, r.source) for r in ExchangeRate.objects.all()
    } == written


def test_reporting_in_euros_each_rate_is_the_inverse_of_the_quote(fake_http, ecb, settings):
    settings.REPORTING_CURRENCY = "EUR"
    holds("USD", "GBP", "EUR")
    serve(fake_http)
    run = run_collector("ecb", FRIDAY)
    assert (run.status, run.rows_written) == ("ok", 2)
    assert rates() == {
        # 1 / 1.1552 = 0.86565096952908...
        (FRIDAY, "USD"): (Decimal("0.8656509695"), "ecb"),
        # 1 / 0.87930 = 1.13726828158762...: the 11th place (8) rounds the 10th up.
        (FRIDAY, "GBP"): (Decimal("1.1372682816"), "ecb"),
    }


def test_the_rounding_is_half_up_once():
    # 1.0000000001 / 2 = 0.50000000005 exactly: half-up, not half-even (0.5000000000).
    assert cross_rate(Decimal("1.0000000001"), Decimal("2")) == Decimal("0.5000000001")
    # 1.00000000009 / 2 = 0.500000000045, just under the half-way point: down.
    assert cross_rate(Decimal("1.00000000009"), Decimal("2")) == Decimal("0.5000000000")
    # 2 / 3 = 0.66666666666...: up; 1 / 3 = 0.33333333333...: down.
    assert cross_rate(Decimal(2), Decimal(3)) == Decimal("0.6666666667")
    assert cross_rate(Decimal(1), Decimal(3)) == Decimal("0.3333333333")


def test_customers_budgets_and_usage_currencies_get_rates_too(fake_http, ecb, settings):
    settings.REPORTING_CURRENCY = "EUR"
    Customer.objects.create(
        name="Acme AG", email="billing@acme.test", billing_address="Zürich", country="CH",
        currency="CHF",
    )  # fmt: skip
    Budget.objects.create(
        name="LLM", scope="total", amount=Decimal(100), currency="SEK",
        effective_from=date(2026, 11, 1),
    )  # fmt: skip
    LlmUsageDaily.objects.create(day=FRIDAY, provider="openai", model="gpt-4o", source="events")
    serve(fake_http)
    run = run_collector("ecb", FRIDAY)
    assert run.status == "ok"
    assert run.figures["currencies"] == "CHF, SEK, USD"  # usage costs are USD
    # 1 / 0.9297 = 1.07561579003979...
    assert rates()[(FRIDAY, "CHF")] == (Decimal("1.0756157900"), "ecb")


def test_a_currency_the_ecb_does_not_publish_is_noted(fake_http, ecb):
    holds("AED", "EUR")
    serve(fake_http)
    run = run_collector("ecb", FRIDAY)
    assert (run.status, run.rows_written) == ("ok", 1)
    assert set(rates()) == {(FRIDAY, "EUR")}
    assert run.notes == [
        "the ECB publishes no rate for AED on 2026-11-20: enter its rates by hand in Exchange rates"
    ]


def test_a_reporting_currency_the_ecb_does_not_publish_gives_no_rate(fake_http, ecb, settings):
    settings.REPORTING_CURRENCY = "AED"
    serve(fake_http)
    run = run_collector("ecb", FRIDAY)
    assert (run.status, run.rows_written) == ("ok", 0)
    assert run.notes == [
        "the ECB publishes no rate for the reporting currency AED on 2026-11-20: no rate "
        "derived; enter them by hand in Exchange rates"
    ]


def test_days_outside_the_feed_are_noted(fake_http, ecb):
    serve(fake_http)
    before = run_collector("ecb", date(2026, 11, 10))
    assert (before.status, before.rows_written) == ("ok", 0)
    assert before.notes == [
        "the feed holds 2026-11-19 to 2026-11-23: 2026-11-10 before it not loaded (for an older "
        "back-fill point ECB_RATES_URL at eurofxref-hist.xml, which goes back to 1999)"
    ]
    assert not ExchangeRate.objects.exists()
    after = run_collector("ecb", date(2026, 11, 24))
    assert (after.status, after.rows_written) == ("ok", 1)  # Monday's, the latest, in force
    assert after.notes == [
        "2026-11-24 not published yet (the ECB publishes around 16:00 CET on working days): the "
        "latest rate stays in force"
    ]
    assert rates() == {(MONDAY, "EUR"): (Decimal("1.1589000000"), "ecb")}


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01"><Cube>&lol2;</Cube>
</gesmes:Envelope>"""
EMPTY_FEED = """<?xml version="1.0" encoding="UTF-8"?>
<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01"
 xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref"><Cube></Cube></gesmes:Envelope>"""
# what is wrong -> (the answer, what the reason says)
MALFORMED = {
    "no time": (
        lambda: feed().replace(f'time="{MONDAY}"', ""),
        "European Central Bank answered a day of rates with time=None, not a date",
    ),
    "a time that is no date": (
        lambda: feed().replace(f'time="{MONDAY}"', 'time="2026-13-01"'),
        "time='2026-13-01', not a date",
    ),
    "a rate that is no number": (
        lambda: feed().replace('rate="1.1589"', 'rate="1,1589"'),
        "answered rate='1,1589' for USD on 2026-11-23, not a positive number",
    ),
    "a negative rate": (
        lambda: feed().replace('rate="0.88055"', 'rate="-0.88055"'),
        "answered rate='-0.88055' for GBP on 2026-11-23, not a positive number",
    ),
    "a zero rate": (
        lambda: feed().replace('rate="181.21"', 'rate="0.00"'),
        "answered rate='0.00' for JPY on 2026-11-23, not a positive number",
    ),
    "a rate without currency": (
        lambda: feed().replace('currency="CHF" ', ""),
        "answered currency=None on 2026-11-23, not a currency code",
    ),
    "a currency that is no code": (
        lambda: feed().replace('currency="CHF"', 'currency="chf"'),
        "answered currency='chf' on 2026-11-23, not a currency code",
    ),
    "a day twice": (
        lambda: feed().replace(f'time="{THURSDAY}"', f'time="{FRIDAY}"'),
        "answered the rates of 2026-11-20 twice",
    ),
    "a rate no exchange rate can be": (
        lambda: feed().replace('rate="0.87930"', 'rate="0.00000000000001"'),
        "answered rates giving 1 GBP = 115520000000000.0000000000 USD on 2026-11-20, which no "
        "exchange rate can be",
    ),
    "no day at all": (lambda: EMPTY_FEED, "answered a feed without a single day of rates"),
    "not XML": (
        lambda: "<!DOCTYPE html><html><head><meta charset=utf-8></head><body>Oops</body></html>",
        f"answered {URL} with something that is not XML (text/html)",
    ),
    "an HTML page": (
        lambda: "<html><body><h1>Service unavailable</h1></body></html>",
        f"answered {URL} with a document that is not its euro reference rates feed (<html>, no "
        "gesmes:Envelope holding a Cube): check ECB_RATES_URL",
    ),
    "entities (billion laughs)": (
        lambda: BILLION_LAUGHS,
        f"answered {URL} with XML that declares entities (refused unread)",
    ),
}


@pytest.mark.parametrize("problem", MALFORMED)
def test_a_malformed_feed_fails_naming_the_problem_and_writes_nothing(problem, fake_http, ecb):
    holds("EUR", "GBP")
    ExchangeRate.objects.create(day=FRIDAY, currency="EUR", rate=Decimal("1.2"), source="ecb")
    body, words = MALFORMED[problem]
    serve(fake_http, body(), content_type="text/html" if problem == "not XML" else "text/xml")
    run = run_collector("ecb", FRIDAY)
    assert (run.status, run.rows_written) == ("failed", 0)
    assert run.reason.startswith("European Central Bank answered") and words in run.reason
    assert rates() == {(FRIDAY, "EUR"): (Decimal("1.2000000000"), "ecb")}


def test_an_empty_setting_turns_the_collector_off(fake_http):
    run = run_collector("ecb", FRIDAY)
    assert (run.status, run.reason) == (
        "skipped",
        "ECB_RATES_URL is not set: add it to the environment (.env; see .env.example) and restart",
    )
    assert not fake_http.calls


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (
            lambda: {"body": feed(), "content_type": "text/xml"},
            r"connection OK, HTTP 200 in \d+ ms \(GET /stats/eurofxref/eurofxref-hist-90d\.xml\)\.",
        ),
        (
            lambda: {"body": "<!DOCTYPE html><html><p>Oops</html>", "content_type": "text/html"},
            r"HTTP 200, but the answer is not XML \(text/html\): check that ECB_RATES_URL points "
            r"at its API\.",
        ),
        (
            lambda: {"body": "<html><p>Oops</p></html>", "content_type": "text/html"},
            r"HTTP 200, but an unexpected answer \(no 'Cube', which its API documents for GET "
            r"/stats/eurofxref/eurofxref-hist-90d\.xml\): check that ECB_RATES_URL points at its "
            r"API\.",
        ),
    ],
)
def test_test_connection_reads_the_feed(answer, message, fake_http, ecb):
    fake_http.get(URL, **answer())
    said = collector_connection_test(name="ecb").message
    assert re.fullmatch(f"European Central Bank: {message}", said), said
    assert len(fake_http.calls) == 1 and not ExchangeRate.objects.exists()

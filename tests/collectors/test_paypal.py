"""The PayPal collector against answers shaped like PayPal's documented examples: the OAuth token
response (paypal_oauth_token.json) and Transaction Search's (paypal_transactions.json).

By hand, for 2026-11-19 and 2026-11-20:
- 19th, USD: completed payments with fees -13.79 and -0.64 -> 14.43 (2 transactions); a pending
  (-5.00) and a denied (-2.00) one are not charged.
- 19th, EUR: a completed payment with a fee of -1.20 -> 1.20.
- 20th, USD: -3.20 on a payment, +0.30 given back on a refund, -0.50 on a payment later reversed
  (V: still charged) -> 3.40 (3 transactions); a transfer without a fee and one with a fee of
  0.00 count nothing; a payment at 23:30 on the 20th at UTC-2 is 01:30 on the 21st in UTC:
  outside the window.
"""

import base64
import copy
import json
from datetime import date, timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from django.db import transaction

from collectors.base import SyncWindow
from collectors.sources.paypal import PayPalCollector
from costledger.models import CostEntry, Source
from costledger.providers import Category
from tests.collectors.conftest import fixture, run_collector

pytestmark = pytest.mark.django_db
BASE = "https://paypal.test"
TOKEN_URL = f"{BASE}/v1/oauth2/token"
SEARCH_URL = f"{BASE}/v1/reporting/transactions"
CLIENT_ID, SECRET = "AbCdEf-client-id", "s3cret-client-secret-value"
NOV_19, NOV_20, NOV_21 = date(2026, 11, 19), date(2026, 11, 20), date(2026, 11, 21)
TOKEN = fixture("paypal_oauth_token.json")["access_token"]
ABSENT = "absent"


@pytest.fixture
def paypal(settings):
    settings.PAYPAL_CLIENT_ID = CLIENT_ID
    settings.PAYPAL_CLIENT_SECRET = SECRET
    settings.PAYPAL_API_URL = BASE


def transaction_of(day: str, fee: str | None, *, status="S", currency="USD", time="04:03:52+0000",
                   code="T0006") -> dict:  # fmt: skip
    body = copy.deepcopy(fixture("paypal_transactions.json", day=day)["transaction_details"][0])
    info = body["transaction_info"]
    info.update(transaction_initiation_date=f"{day}T{time}", transaction_status=status,
                transaction_event_code=code)  # fmt: skip
    if fee is None:
        del info["fee_amount"]
    else:
        info["fee_amount"] = {"currency_code": currency, "value": fee}
    return body


def page(details: list[dict], number: int = 1, pages: int = 1) -> dict:
    body = fixture("paypal_transactions.json", day="2026-11-19")
    body.update(transaction_details=details, page=number, total_pages=pages,
                total_items=len(details))  # fmt: skip
    return body


def serve(fake_http, pages_by_day: dict[str, list[dict]], refreshed: str | None = None):
    """The token, and per searched day its pages (page=N). PayPal's data is refreshed up to
    `refreshed` (ABSENT: the answer does not say), by default to the end of the search."""
    fake_http.post(TOKEN_URL, json=fixture("paypal_oauth_token.json"))

    def answer(request):
        query = parse_qs(urlsplit(request.url).query)
        pages = pages_by_day.get(query["start_date"][0][:10], [page([])])
        body = dict(pages[int(query["page"][0]) - 1])
        body["last_refreshed_datetime"] = refreshed or query["end_date"][0][:19] + "+0000"
        if refreshed == ABSENT:
            del body["last_refreshed_datetime"]
        return 200, {}, json.dumps(body)

    fake_http.add_callback("GET", SEARCH_URL, callback=answer, content_type="application/json")


def two_days() -> dict[str, list[dict]]:
    t = transaction_of
    return {
        "2026-11-19": [
            page([t("2026-11-19", "-13.79"), t("2026-11-19", "-0.64"),
                  t("2026-11-19", "-5.00", status="P")], 1, 2),
            page([t("2026-11-19", "-2.00", status="D"),
                  t("2026-11-19", "-1.20", currency="EUR")], 2, 2),
        ],
        "2026-11-20": [
            page([t("2026-11-20", "-3.20"), t("2026-11-20", "0.30", code="T1107"),
                  t("2026-11-20", "-0.50", status="V"), t("2026-11-20", None, code="T0400"),
                  t("2026-11-20", "0.00"), t("2026-11-20", "-9.99", time="23:30:00-0200")]),
        ],
    }  # fmt: skip


def fees() -> dict[tuple[date, str], tuple[Decimal, Decimal]]:
    return {
        (e.charge_period_start, e.currency): (e.billed_cost, e.quantity)
        for e in CostEntry.objects.filter(provider="paypal")
    }


def test_fees_per_day_and_currency(fake_http, paypal):
    serve(fake_http, two_days())
    runs = [run_collector("paypal", day) for day in (NOV_19, NOV_20)]
    assert [(r.status, r.reason) for r in runs] == [("ok", ""), ("ok", "")]
    assert fees() == {
        (NOV_19, "USD"): (Decimal("14.43"), Decimal(2)),
        (NOV_19, "EUR"): (Decimal("1.20"), Decimal(1)),
        (NOV_20, "USD"): (Decimal("3.40"), Decimal(3)),
    }
    entry = CostEntry.objects.get(charge_period_start=NOV_20)
    assert (entry.category, entry.source, entry.service) == ("payments", "api", "transaction fees")
    assert (entry.reference, entry.unit) == ("USD", "transactions")
    assert entry.charge_period_end == NOV_20 + timedelta(days=1)
    assert runs[0].figures == {"fees": {"EUR": "1.20", "USD": "14.43"}, "transactions": 5}
    assert runs[1].figures == {"fees": {"USD": "3.40"}, "transactions": 6}
    assert [r.notes for r in runs] == [[], []]


def test_the_token_is_asked_once_with_the_client_credentials_and_sent_as_bearer(fake_http, paypal):
    serve(fake_http, two_days())
    run_collector("paypal", NOV_19)
    token_calls = [c for c in fake_http.calls if c.request.url == TOKEN_URL]
    assert len(token_calls) == 1
    sent = token_calls[0].request
    assert sent.method == "POST" and sent.body == "grant_type=client_credentials"
    basic = base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()
    assert sent.headers["Authorization"] == f"Basic {basic}"
    searches = [c for c in fake_http.calls if c.request.url.startswith(SEARCH_URL)]
    assert len(searches) == 2  # two pages
    assert {c.request.headers["Authorization"] for c in searches} == {f"Bearer {TOKEN}"}
    query = parse_qs(urlsplit(searches[0].request.url).query)
    assert query["start_date"] == ["2026-11-19T00:00:00Z"]
    assert query["end_date"] == ["2026-11-19T23:59:59Z"]
    assert (query["page_size"], query["fields"]) == (["500"], ["transaction_info"])
    assert query["balance_affecting_records_only"] == ["Y"]  # a non-balance copy is not a fee
    assert [parse_qs(urlsplit(c.request.url).query)["page"] for c in searches] == [["1"], ["2"]]


def test_a_window_longer_than_31_days_is_searched_31_days_at_a_time(fake_http, paypal):
    t = transaction_of
    serve(
        fake_http,
        {
            "2026-10-01": [page([t("2026-10-15", "-1.00"),
                                 t("2026-10-31", "-2.00", time="23:59:59+0000")])],
            "2026-11-01": [page([t("2026-11-01", "-4.00"), t("2026-11-19", "-8.00")])],
        },
    )  # fmt: skip
    with transaction.atomic():
        result = PayPalCollector().collect(SyncWindow(date(2026, 10, 1), date(2026, 11, 21)))
    searches = [
        parse_qs(urlsplit(c.request.url).query)
        for c in fake_http.calls
        if c.request.url.startswith(SEARCH_URL)
    ]
    assert [(q["start_date"][0], q["end_date"][0], q["page"][0]) for q in searches] == [
        ("2026-10-01T00:00:00Z", "2026-10-31T23:59:59Z", "1"),
        ("2026-11-01T00:00:00Z", "2026-11-20T23:59:59Z", "1"),
    ]
    assert result.rows_written == 4
    assert fees() == {
        (date(2026, 10, 15), "USD"): (Decimal("1.00"), Decimal(1)),
        (date(2026, 10, 31), "USD"): (Decimal("2.00"), Decimal(1)),
        (date(2026, 11, 1), "USD"): (Decimal("4.00"), Decimal(1)),
        (date(2026, 11, 19), "USD"): (Decimal("8.00"), Decimal(1)),
    }


def test_running_again_writes_the_same_rows(fake_http, paypal):
    serve(fake_http, two_days())
    run_collector("paypal", NOV_20)
    first = {e.pk: (e.billed_cost, e.quantity) for e in CostEntry.objects.all()}
    run_collector("paypal", NOV_20)
    assert {e.pk: (e.billed_cost, e.quantity) for e in CostEntry.objects.all()} == first


def test_running_again_replaces_its_own_rows_and_leaves_a_manual_one(fake_http, paypal):
    manual = CostEntry.objects.create(
        provider="paypal", service="Invoice", category=Category.PAYMENTS,
        charge_period_start=NOV_20, charge_period_end=NOV_20 + timedelta(days=1),
        billed_cost=Decimal("25.00"), currency="USD", source=Source.MANUAL, reference="PP-1",
    )  # fmt: skip
    serve(fake_http, two_days())
    run_collector("paypal", NOV_20)
    serve(fake_http, {"2026-11-20": [page([transaction_of("2026-11-20", "-1.10")])]})
    run_collector("paypal", NOV_20)
    assert fees()[(NOV_20, "USD")] == (Decimal("1.10"), Decimal(1))
    assert CostEntry.objects.filter(provider="paypal", source=Source.API).count() == 1
    assert CostEntry.objects.filter(pk=manual.pk).exists()  # an invoice entered by hand stays


def test_without_credentials_it_is_skipped_naming_both(fake_http):
    run = run_collector("paypal", NOV_19)
    assert run.status == "skipped"
    assert run.reason.startswith("PAYPAL_CLIENT_ID and PAYPAL_CLIENT_SECRET are not set")
    assert not fake_http.calls


@pytest.mark.parametrize("unset", ["PAYPAL_CLIENT_ID", "PAYPAL_CLIENT_SECRET"])
def test_without_one_credential_it_is_skipped_naming_it(fake_http, paypal, settings, unset):
    setattr(settings, unset, "")
    run = run_collector("paypal", NOV_19)
    assert run.status == "skipped"
    assert run.reason.startswith(f"{unset} is not set: add it to the environment")
    assert not fake_http.calls


def test_refused_client_credentials_fail_saying_so_without_the_secret(fake_http, paypal):
    fake_http.post(
        TOKEN_URL,
        status=401,
        json={"error": "invalid_client", "error_description": "Client Authentication failed"},
    )
    run = run_collector("paypal", NOV_19)
    assert run.status == "failed"
    assert "credentials rejected by PayPal" in run.reason and "401" in run.reason
    assert SECRET not in run.reason and CLIENT_ID not in run.reason
    assert not CostEntry.objects.exists()
    assert [c.request.url for c in fake_http.calls] == [TOKEN_URL]  # no search without a token


def test_a_token_answer_without_a_token_fails_naming_it(fake_http, paypal):
    token = fixture("paypal_oauth_token.json")
    del token["access_token"]
    fake_http.post(TOKEN_URL, json=token)
    run = run_collector("paypal", NOV_19)
    assert run.status == "failed"
    assert "PayPal answered without 'access_token'" in run.reason


def test_neither_the_secret_nor_the_token_is_logged_or_in_a_reason(fake_http, paypal, caplog):
    fake_http.post(TOKEN_URL, json=fixture("paypal_oauth_token.json"))
    fake_http.get(SEARCH_URL, status=503, body="unavailable")
    caplog.set_level("DEBUG")
    run = run_collector("paypal", NOV_19)
    assert run.status == "failed" and "HTTP 503" in run.reason
    assert "retry" in caplog.text  # the retries were logged...
    for secret in (SECRET, TOKEN, base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()):
        assert secret not in caplog.text and secret not in run.reason  # ...without a secret


def _malformed(change):
    day = two_days()
    body = copy.deepcopy(day["2026-11-20"][0])
    change(body)
    return {"2026-11-20": [body]}


def _fee(**fields):
    def change(body):
        body["transaction_details"][0]["transaction_info"]["fee_amount"].update(fields)

    return change


def _info_without(key):
    return lambda body: body["transaction_details"][0]["transaction_info"].pop(key)


def _fee_without(key):
    return lambda body: body["transaction_details"][0]["transaction_info"]["fee_amount"].pop(key)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda b: b.pop("transaction_details"), "without 'transaction_details'"),
        (lambda b: b.update(transaction_details={"a": 1}), "not a list"),
        (_fee(value="abc"), "fee_amount.value='abc', not a number"),
        (_fee(value="NaN"), "fee_amount.value='NaN'"),
        (_fee(value="1e400"), "fee_amount.value='1e400'"),
        (_fee(currency_code="XYZ"), "currency_code='XYZ', not a currency"),
        (
            lambda b: b["transaction_details"][0]["transaction_info"].update(
                transaction_initiation_date="yesterday"
            ),
            "transaction_initiation_date='yesterday', not a time",
        ),
        (lambda b: b.update(total_pages="2"), "total_pages='2', not a count"),
        (lambda b: b["transaction_details"].append("x"), "without 'transaction_info'"),
        (_fee_without("value"), "without 'value'"),
        (_fee(value=None), "fee_amount.value=None, not a number"),
        (_fee_without("currency_code"), "without 'currency_code'"),
        (_info_without("transaction_initiation_date"), "without 'transaction_initiation_date'"),
    ],
)
def test_an_undocumented_answer_fails_and_writes_nothing(fake_http, paypal, change, reason):
    serve(fake_http, two_days())
    run_collector("paypal", NOV_19)
    before = fees()
    serve(fake_http, _malformed(change))
    run = run_collector("paypal", NOV_20)
    assert run.status == "failed"
    assert reason in run.reason, run.reason
    assert fees() == before


def test_the_day_after_the_window_is_not_written(fake_http, paypal):
    serve(fake_http, two_days())
    run_collector("paypal", NOV_20)
    assert not CostEntry.objects.filter(charge_period_start=NOV_20 + timedelta(days=1)).exists()


@time_machine.travel("2026-11-21 02:15:00+00:00", tick=False)  # the daily sync's time
def test_a_day_paypal_has_not_listed_to_its_end_gets_a_note(fake_http, paypal):
    serve(fake_http, two_days(), refreshed="2026-11-20T23:15:00+0000")
    yesterday, today = run_collector("paypal", NOV_20), run_collector("paypal", NOV_21)
    assert (yesterday.status, today.status) == ("ok", "ok")
    assert yesterday.notes == [
        "PayPal had listed transactions up to 2026-11-20 23:15 UTC (it lists them up to three "
        "hours late): fees of 2026-11-20 after that are not in yet; run `manage.py sync_metrics "
        "--only paypal --date 2026-11-20` again later"
    ]
    assert today.notes == []  # today is only so far, for every collector
    assert fees()[(NOV_20, "USD")] == (Decimal("3.40"), Decimal(3))  # what was listed, written


@time_machine.travel("2026-11-21 05:00:00+00:00", tick=False)
@pytest.mark.parametrize("refreshed", ["2026-11-21T02:00:00+0000", ABSENT])
def test_a_day_listed_to_its_end_or_without_a_refresh_time_has_no_note(
    fake_http, paypal, refreshed
):
    serve(fake_http, two_days(), refreshed=refreshed)
    run = run_collector("paypal", NOV_20)
    assert (run.status, run.notes) == ("ok", [])


def test_a_refresh_time_that_is_not_a_time_fails(fake_http, paypal):
    serve(fake_http, two_days(), refreshed="soon")
    run = run_collector("paypal", NOV_20)
    assert run.status == "failed"
    assert "PayPal answered last_refreshed_datetime='soon', not a time" in run.reason

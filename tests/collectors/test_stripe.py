"""The Stripe collector against fake answers shaped like Stripe's documented objects.

Shapes: stripe_subscription.json is the example of "The Subscription object" in Stripe's API
reference (docs.stripe.com/api/subscriptions/object) for the 2025+ API versions the SDK pins
(per-item current_period_*, a `discounts` array); stripe_discount.json is "The Discount object"
(coupon under `source`), stripe_discount_legacy.json the older Discount with the coupon inline
(stripe/openapi fixtures3.json); stripe_coupon.json, stripe_balance_transaction.json (with the
`fee_details` of a charge) and stripe_price_tiered.json (with `expand[]=tiers`) follow the
reference's Coupon, Balance Transaction and Price objects. Lists are Stripe's list object:
`object: "list"`, `data`, `has_more`, `url`.
"""

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
import stripe
import time_machine

from costledger.models import CostEntry, CustomerMrr, CustomerRevenue, RevenueSnapshot
from tests.collectors.conftest import fixture, run_collector
from tests.fakeproviders import stripe as fake
from tests.fakeproviders.stripe import (
    balance_transaction,
    coupon,
    discount,
    item,
    legacy_discount,
    price,
    stripe_list,
    subscription,
    timestamp,
)

pytestmark = pytest.mark.django_db
BASE = "https://stripe.test"
KEY = "sk_test_4eC39HqLyjWDarjtT1zdp7dc"
DAY = date(2026, 11, 20)
SUBSCRIPTIONS = f"{BASE}/v1/subscriptions"
BALANCE_TRANSACTIONS = f"{BASE}/v1/balance_transactions"
INVOICES = f"{BASE}/v1/invoices"
REFUNDS = f"{BASE}/v1/refunds"
UNAUTHORIZED = {
    "error": {
        "message": "Invalid API Key provided: sk_test_****p7dc",
        "type": "invalid_request_error",
    }
}


@pytest.fixture
def account(settings):
    settings.STRIPE_SECRET_KEY = KEY
    settings.STRIPE_API_URL = BASE


@pytest.fixture
def today():
    """DAY is today (UTC): the run writes the revenue snapshot."""
    with time_machine.travel(datetime(2026, 11, 20, 12, tzinfo=UTC), tick=False):
        yield DAY


@pytest.fixture(autouse=True)
def _no_payments(fake_http):
    """No paid invoice and no refund unless a test serves some (serve(invoices=, refunds=))."""
    fake_http.get(INVOICES, json=stripe_list([], "/v1/invoices"))
    fake_http.get(REFUNDS, json=stripe_list([], "/v1/refunds"))


@pytest.fixture(autouse=True)
def _sdk_retries_do_not_sleep(monkeypatch):
    monkeypatch.setattr(stripe.HTTPClient, "INITIAL_DELAY", 0)
    monkeypatch.setattr(stripe.HTTPClient, "MAX_DELAY", 0)


def query(call) -> dict[str, list[str]]:
    return parse_qs(urlsplit(call.request.url).query)


def serve_pages(fake_http, url: str, pages: list[list[dict]], path: str):
    """Answer a Stripe list page by page, following the SDK's `starting_after` cursor."""

    def answer(request):
        after = parse_qs(urlsplit(request.url).query).get("starting_after", [None])[0]
        index = next((i + 1 for i, page in enumerate(pages) if page and page[-1]["id"] == after), 0)
        body = stripe_list(pages[index], path, has_more=index + 1 < len(pages))
        return 200, {}, json.dumps(body)

    fake_http.add_callback("GET", url, callback=answer, content_type="application/json")


def serve(fake_http, *, subscriptions=(), transactions=(), invoices=(), refunds=()):
    serve_pages(fake_http, SUBSCRIPTIONS, [list(subscriptions)], "/v1/subscriptions")
    fake_http.get(
        BALANCE_TRANSACTIONS, json=stripe_list(list(transactions), "/v1/balance_transactions")
    )
    fake_http.replace("GET", INVOICES, json=stripe_list(list(invoices), "/v1/invoices"))
    fake_http.replace("GET", REFUNDS, json=stripe_list(list(refunds), "/v1/refunds"))


def serve_coupon(fake_http, body):
    fake_http.get(f"{BASE}/v1/coupons/{body['id']}", json=body)


def snapshots() -> dict[str, tuple]:
    return {
        s.currency: (
            s.mrr,
            s.active_subscriptions,
            s.trialing_subscriptions,
            s.new_mrr,
            s.churned_mrr,
        )
        for s in RevenueSnapshot.objects.filter(day=DAY)
    }


def legacy_subscription(sub_id, *items, forever_off):
    """A subscription as API versions before `discounts` had it: one `discount`."""
    body = subscription(sub_id, *items)
    del body["discounts"]
    body["discount"] = legacy_discount(coupon("LEGACY5", amount_off=forever_off, currency="usd"))
    return body


def test_mrr_per_currency_follows_stripes_definition(fake_http, account, today):
    serve_coupon(fake_http, coupon("FOREVER25", percent_off=25.0))
    serve_coupon(fake_http, coupon("SEATS2OFF", amount_off=200, currency="usd"))
    serve_coupon(fake_http, coupon("HALF3M", duration="repeating", percent_off=50.0))
    yearly_with_forever_coupon = subscription(
        "sub_B",
        item(price(12000, interval="year"), quantity=3),
        discounts=[discount("FOREVER25")],
    )
    seats_metered_and_one_off = subscription(
        "sub_E",
        item(price(500), quantity=2, discounts=[discount("SEATS2OFF", "di_seats")]),
        item(price(3, usage_type="metered"), quantity=None, item_id="si_tokens"),
        item(price(4900, one_off=True), item_id="si_setup"),
        discounts=[discount("HALF3M", "di_half")],  # repeating: MRR unchanged
    )
    serve(
        fake_http,
        subscriptions=[
            subscription("sub_A", item(price(2000))),
            yearly_with_forever_coupon,
            subscription(
                "sub_C",
                item(
                    price(
                        None,
                        currency="eur",
                        interval="week",
                        interval_count=2,
                        unit_amount_decimal="999.5",
                    )
                ),
                status="past_due",
                currency="eur",
            ),
            subscription("sub_D", item(price(2000)), status="trialing"),
            seats_metered_and_one_off,
            legacy_subscription("sub_F", item(price(3000)), forever_off=500),
            subscription("sub_G", item(price(9999)), status="incomplete"),
            subscription("sub_H", discounts=[discount("FOREVER25", "di_again")]),
        ],
    )
    run = run_collector("stripe", DAY)
    assert (run.status, run.reason) == ("ok", "")
    # USD: 20.00 + 12000*3/12*0.75 + (500*2 - 2.00) + (30.00 - 5.00) + 10.00*0.75
    assert snapshots() == {
        "EUR": (Decimal("21.6558333333"), 1, 0, Decimal(0), Decimal(0)),
        "USD": (Decimal("83.00"), 5, 1, Decimal(0), Decimal(0)),
    }
    assert run.figures["mrr"] == {"EUR": "21.6558333333", "USD": "83.00"}
    assert (run.figures["active_subscriptions"], run.figures["trialing_subscriptions"]) == (6, 1)
    coupon_calls = [c for c in fake_http.calls if "/v1/coupons/FOREVER25" in c.request.url]
    assert len(coupon_calls) == 1  # fetched once per run, whatever the number of subscriptions
    listing = next(c for c in fake_http.calls if c.request.url.startswith(SUBSCRIPTIONS))
    assert listing.request.headers["Authorization"] == f"Bearer {KEY}"
    assert query(listing)["expand[0]"] == ["data.discounts"]
    assert query(listing)["expand[1]"] == ["data.items.data.discounts"]
    assert "status" not in query(listing)  # every subscription but canceled ones


@pytest.mark.parametrize(
    ("interval", "count", "unit_amount", "mrr"),
    [
        ("day", 1, "100", "30.4166666667"),  # 1.00 a day: 365/12 days a month
        ("week", 1, "1000", "43.3333333333"),  # 10.00 a week: 52/12 weeks a month
        ("month", 3, "3000", "10.00"),
        ("year", 1, "12000", "10.00"),
        ("month", 1, "1234.5678", "12.345678"),  # unit_amount_decimal: sub-cent prices
    ],
)
def test_intervals_are_normalised_to_a_month(
    fake_http, account, today, interval, count, unit_amount, mrr
):
    body = price(None, interval=interval, interval_count=count, unit_amount_decimal=unit_amount)
    serve(fake_http, subscriptions=[subscription("sub_A", item(body))])
    assert run_collector("stripe", DAY).figures["mrr"] == {"USD": mrr}


@pytest.mark.parametrize(("mode", "mrr"), [("graduated", "70.00"), ("volume", "45.00")])
def test_tiered_prices_are_fetched_with_their_tiers_once(fake_http, account, today, mode, mrr):
    tiered = fixture("stripe_price_tiered.json")
    tiered["tiers_mode"] = mode
    listed = {**tiered, "tiers": None}  # a subscription list cannot expand tiers (too deep)
    fake_http.get(f"{BASE}/v1/prices/{tiered['id']}", json=tiered)
    serve(
        fake_http,
        subscriptions=[
            subscription("sub_A", item(listed, quantity=7)),
            subscription("sub_B", item(listed, quantity=0)),
        ],
    )
    run = run_collector("stripe", DAY)
    # graduated: 5 x 10.00 + 2 x 5.00 + 10.00 flat; volume: 7 x 5.00 + 10.00 flat
    assert run.figures["mrr"] == {"USD": mrr}
    price_calls = [c for c in fake_http.calls if "/v1/prices/" in c.request.url]
    assert len(price_calls) == 1 and query(price_calls[0])["expand[0]"] == ["tiers"]


def test_items_beyond_the_embedded_page_are_listed(fake_http, account, today):
    body = subscription("sub_A", item(price(1000), item_id="si_first"))
    body["items"]["has_more"] = True
    more = item(price(2500), item_id="si_second")
    fake_http.get(
        f"{BASE}/v1/subscription_items",
        json=stripe_list([more], "/v1/subscription_items"),
    )
    serve(fake_http, subscriptions=[body])
    assert run_collector("stripe", DAY).figures["mrr"] == {"USD": "35.00"}
    items_call = next(c for c in fake_http.calls if "/v1/subscription_items" in c.request.url)
    assert query(items_call)["subscription"] == ["sub_A"]
    assert query(items_call)["starting_after"] == ["si_first"]


def test_new_and_churned_mrr_against_the_previous_snapshot(fake_http, account, today):
    for day, currency, mrr, active in [
        (DAY - timedelta(days=5), "USD", "1.00", 1),
        (DAY - timedelta(days=1), "USD", "100.00", 5),
        (DAY - timedelta(days=3), "GBP", "10.00", 1),
    ]:
        RevenueSnapshot.objects.create(
            day=day, currency=currency, mrr=Decimal(mrr), active_subscriptions=active
        )
    serve(
        fake_http,
        subscriptions=[
            subscription("sub_A", item(price(2000))),
            subscription("sub_B", item(price(1500, currency="eur")), currency="eur"),
        ],
    )
    run = run_collector("stripe", DAY)
    assert snapshots() == {
        "EUR": (Decimal("15.00"), 1, 0, Decimal(0), Decimal(0)),
        "GBP": (Decimal(0), 0, 0, Decimal(0), Decimal("10.00")),  # every subscription churned
        "USD": (Decimal("20.00"), 1, 0, Decimal(0), Decimal("80.00")),
    }
    assert run.figures["churned_mrr"] == {"EUR": "0.00", "GBP": "10.00", "USD": "80.00"}
    assert run.notes == [
        "no earlier revenue snapshot in EUR: new and churned MRR are counted from the next "
        "snapshot on"
    ]


def test_a_rise_is_new_mrr(fake_http, account, today):
    RevenueSnapshot.objects.create(day=DAY - timedelta(days=1), currency="USD", mrr=Decimal(5))
    serve(fake_http, subscriptions=[subscription("sub_A", item(price(2000)))])
    run = run_collector("stripe", DAY)
    assert (run.figures["new_mrr"], run.figures["churned_mrr"]) == (
        {"USD": "15.00"},
        {"USD": "0.00"},
    )


def test_processing_fees_per_day_and_currency(fake_http, account, today):
    at = timestamp(DAY, 9)
    serve(
        fake_http,
        transactions=[
            balance_transaction("txn_1", created=at, fee=59),
            balance_transaction("txn_2", created=at + 60, fee=320, amount=10000),
            balance_transaction(
                "txn_3", created=at, fee=0, amount=-1000, kind="refund", reporting_category="refund"
            ),
            balance_transaction("txn_4", created=at, fee=36, amount=1000, currency="jpy"),
            balance_transaction("txn_5", created=at, fee=1000, amount=50000, currency="isk"),
            balance_transaction(
                "txn_6", created=at, fee=0, amount=-125, kind="stripe_fee", reporting_category="fee"
            ),
            balance_transaction("txn_0", created=timestamp(DAY) - 1, fee=999),  # the day before
        ],
    )
    run = run_collector("stripe", DAY)
    assert (run.status, run.reason) == ("ok", "")
    rows = {
        (e.service, e.currency): (e.billed_cost, e.quantity)
        for e in CostEntry.objects.filter(provider="stripe")
    }
    assert rows == {
        ("processing fees", "USD"): (Decimal("3.79"), 3),
        ("processing fees", "JPY"): (Decimal("36"), 1),  # zero-decimal
        ("processing fees", "ISK"): (Decimal("10.00"), 1),  # two decimals at Stripe, not ISO's 0
        ("product fees", "USD"): (Decimal("1.25"), 1),
    }
    entry = CostEntry.objects.get(service="processing fees", currency="USD")
    assert (entry.category, entry.source, entry.reference, entry.unit) == (
        "payments",
        "api",
        "USD",
        "balance transactions",
    )
    assert (entry.charge_period_start, entry.charge_period_end) == (DAY, DAY + timedelta(days=1))
    assert entry.sync_run_id == run.sync_run_id
    assert entry.raw["fee"] == 379 and entry.raw["count"] == 3
    assert run.figures["processing_fees"] == {"ISK": "10.00", "JPY": "36", "USD": "3.79"}
    assert run.figures["product_fees"] == {"USD": "1.25"}
    assert run.figures["balance_transactions"] == 6
    sent = query(next(c for c in fake_http.calls if c.request.url.startswith(BALANCE_TRANSACTIONS)))
    assert sent["created[gte]"] == [str(timestamp(DAY))]
    assert sent["created[lt]"] == [str(timestamp(DAY + timedelta(days=1)))]


def test_a_past_day_gets_fees_but_no_back_filled_mrr(fake_http, account):
    serve(
        fake_http,
        subscriptions=[subscription("sub_A", item(price(2000)))],
        transactions=[balance_transaction("txn_1", created=timestamp(DAY, 9), fee=59)],
    )
    with time_machine.travel(datetime(2026, 11, 21, 8, tzinfo=UTC), tick=False):
        run = run_collector("stripe", DAY)
    assert run.status == "ok"
    assert CostEntry.objects.get().billed_cost == Decimal("0.59")
    assert not RevenueSnapshot.objects.exists()
    assert "mrr" not in run.figures
    assert run.notes == [
        "MRR is a snapshot of now and is not back-filled: for 2026-11-20 only the fees and "
        "payments were written; today's (2026-11-21) run records the revenue snapshot"
    ]
    assert not [c for c in fake_http.calls if c.request.url.startswith(SUBSCRIPTIONS)]


def test_subscription_pages_are_followed_with_starting_after(fake_http, account, today):
    pages = [
        [subscription(f"sub_{page}{i}", item(price(1000))) for i in range(3)] for page in "abc"
    ]
    serve_pages(fake_http, SUBSCRIPTIONS, pages, "/v1/subscriptions")
    fake_http.get(BALANCE_TRANSACTIONS, json=stripe_list([], "/v1/balance_transactions"))
    run = run_collector("stripe", DAY)
    assert run.figures["mrr"] == {"USD": "90.00"}
    assert run.figures["active_subscriptions"] == 9
    cursors = [
        query(c).get("starting_after") for c in fake_http.calls if SUBSCRIPTIONS in c.request.url
    ]
    assert cursors == [None, ["sub_a2"], ["sub_b2"]]


def test_many_pages_from_the_fake_server_add_up(fake_http, account, today, monkeypatch):
    monkeypatch.setattr(fake, "PAGES", 12)
    monkeypatch.setattr(fake, "PAGE_SIZE", 100)

    def answer(request):
        sent = parse_qs(urlsplit(request.url).query)
        return 200, {}, json.dumps(fake._subscriptions(sent, DAY))

    fake_http.add_callback("GET", SUBSCRIPTIONS, callback=answer, content_type="application/json")
    fake_http.get(BALANCE_TRANSACTIONS, json=stripe_list([], "/v1/balance_transactions"))
    run = run_collector("stripe", DAY)
    expected = fake.expected_today(12, 100)
    assert {k: run.figures[k] for k in expected} == expected
    assert len([c for c in fake_http.calls if SUBSCRIPTIONS in c.request.url]) == 12


def test_running_twice_writes_the_same_rows(fake_http, account, today):
    serve(
        fake_http,
        subscriptions=[subscription("sub_A", item(price(2000)))],
        transactions=[balance_transaction("txn_1", created=timestamp(DAY, 9), fee=59)],
    )
    first = run_collector("stripe", DAY)
    second = run_collector("stripe", DAY)
    assert (CostEntry.objects.count(), RevenueSnapshot.objects.count()) == (1, 1)
    assert first.figures == second.figures
    assert CostEntry.objects.get().sync_run_id == second.sync_run_id


def test_without_credentials_it_is_skipped_naming_the_variable(fake_http):
    run = run_collector("stripe", DAY)
    assert (run.status, run.reason) == (
        "skipped",
        "STRIPE_SECRET_KEY is not set: add it to the environment "
        "(.env; see .env.example) and restart",
    )
    assert not fake_http.calls


@pytest.mark.parametrize("status", [401, 403])
def test_a_rejected_key_fails_saying_so(fake_http, account, status):
    fake_http.get(BALANCE_TRANSACTIONS, status=status, json=UNAUTHORIZED)
    run = run_collector("stripe", DAY)
    assert run.status == "failed"
    assert run.reason.startswith(f"credentials rejected by Stripe (HTTP {status})")
    assert KEY not in run.reason and "p7dc" not in run.reason
    assert len(fake_http.calls) == 1  # not retried


def test_a_refused_request_says_what_stripe_said(fake_http, account):
    refused = {
        "error": {
            "message": "Received unknown parameter: foo",
            "param": "foo",
            "type": "invalid_request_error",
        }
    }
    fake_http.get(BALANCE_TRANSACTIONS, status=400, json=refused)
    run = run_collector("stripe", DAY)
    assert (run.status, run.reason) == (
        "failed",
        "Stripe refused GET /v1/balance_transactions: HTTP 400 Received unknown parameter: foo",
    )


def test_5xx_is_retried_by_the_sdk(fake_http, account):
    fake_http.get(BALANCE_TRANSACTIONS, status=503, json={"error": {"message": "unavailable"}})
    fake_http.get(BALANCE_TRANSACTIONS, json=stripe_list([], "/v1/balance_transactions"))
    with time_machine.travel(datetime(2026, 11, 21, 8, tzinfo=UTC), tick=False):
        run = run_collector("stripe", DAY)
    assert run.status == "ok"
    fee_calls = [c for c in fake_http.calls if c.request.url.startswith(BALANCE_TRANSACTIONS)]
    assert len(fee_calls) == 2


def test_a_stripe_that_stays_down_fails_with_the_last_error(fake_http, account, settings):
    settings.COLLECTOR_HTTP_RETRIES = 2
    fake_http.get(BALANCE_TRANSACTIONS, status=500, json={"error": {"message": "oops"}})
    run = run_collector("stripe", DAY)
    assert (run.status, run.reason) == (
        "failed",
        "Stripe answered GET /v1/balance_transactions with HTTP 500 after 2 retries",
    )
    assert len(fake_http.calls) == 3


def test_429_waits_retry_after_and_resumes_after_the_last_subscription(
    fake_http, account, today, slept
):
    pages = [[subscription("sub_a", item(price(1000)))], [subscription("sub_b", item(price(500)))]]
    answers = iter(
        [
            (200, {}, json.dumps(stripe_list(pages[0], "/v1/subscriptions", has_more=True))),
            (429, {"Retry-After": "7"}, json.dumps({"error": {"message": "Too many requests"}})),
            (200, {}, json.dumps(stripe_list(pages[1], "/v1/subscriptions"))),
        ]
    )
    fake_http.add_callback(
        "GET",
        SUBSCRIPTIONS,
        callback=lambda request: next(answers),
        content_type="application/json",
    )
    fake_http.get(BALANCE_TRANSACTIONS, json=stripe_list([], "/v1/balance_transactions"))
    run = run_collector("stripe", DAY)
    assert (run.status, run.figures["mrr"]) == ("ok", {"USD": "15.00"})
    assert slept == [7.0]
    cursors = [
        query(c).get("starting_after") for c in fake_http.calls if SUBSCRIPTIONS in c.request.url
    ]
    assert cursors == [None, ["sub_a"], ["sub_a"]]


def _weird_interval():
    body = price(1000)
    body["recurring"]["interval"] = "fortnight"
    return subscription("sub_A", item(body))


def _unexpanded_discount():
    return subscription("sub_A", discounts=["di_1M6vk22eZvKYlo2CYMGIhk14"])


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ({"subscriptions": []}, "Stripe answered GET /v1/subscriptions with no list object"),
        ({"object": "list", "url": "/v1/subscriptions"}, "with a list it does not document"),
        (
            stripe_list([_weird_interval()], "/v1/subscriptions"),
            "Stripe answered a price billed every 1 'fortnight'",
        ),
        (
            stripe_list([_unexpanded_discount()], "/v1/subscriptions"),
            "Stripe answered the discount 'di_1M6vk22eZvKYlo2CYMGIhk14' unexpanded",
        ),
        (
            stripe_list([subscription("sub_A", currency="zzz")], "/v1/subscriptions"),
            "Stripe answered currency='ZZZ', not an ISO 4217 currency",
        ),
        ("<html>maintenance</html>", "with something that is not JSON (HTTP 200)"),
    ],
)
def test_an_undocumented_answer_fails_and_writes_nothing(fake_http, account, today, answer, reason):
    body = answer if isinstance(answer, str) else json.dumps(answer)
    fake_http.get(SUBSCRIPTIONS, body=body, content_type="application/json")
    fake_http.get(
        BALANCE_TRANSACTIONS,
        json=stripe_list(
            [balance_transaction("txn_1", created=timestamp(DAY, 9), fee=59)],
            "/v1/balance_transactions",
        ),
    )
    run = run_collector("stripe", DAY)
    assert run.status == "failed"
    assert reason in run.reason
    assert not CostEntry.objects.exists() and not RevenueSnapshot.objects.exists()


def test_a_deleted_coupon_is_left_out_with_a_note(fake_http, account, today):
    fake_http.get(
        f"{BASE}/v1/coupons/GONE",
        status=404,
        json={"error": {"message": "No such coupon: 'GONE'", "type": "invalid_request_error"}},
    )
    serve(fake_http, subscriptions=[subscription("sub_A", discounts=[discount("GONE")])])
    run = run_collector("stripe", DAY)
    assert (run.status, run.figures["mrr"]) == ("ok", {"USD": "10.00"})
    assert "coupon GONE no longer exists at Stripe" in run.notes[0]


# Revenue and MRR per customer. By hand, on DAY:
# cus_A: invoice of 120.00 with 20.00 tax paid -> 100.00; 24.00 refunded of it (5/6 net) ->
#   20.00; 6.00 refunded of an invoice paid long ago (24.00 with 4.00 tax, found by its payment
#   intent) -> 5.00: 75.00 collected.
# cus_B: an untaxed 50.00 USD invoice, and 30.00 EUR with 5.00 tax -> 25.00 EUR; 7.00 refunded of
#   a payment that paid no invoice: left out (that payment was never counted): 50.00 USD.
# cus_C: its invoice (60.00 with 10.00 tax) was paid the day before (not counted); 12.00 refunded
#   of it on DAY -> 10.00 net: -10.00.
# A failed refund and one of a payment without a customer change nothing.
def _at(hour: int) -> int:
    return timestamp(DAY, hour)


def _payments():
    invoices = [
        fake.invoice("in_A", "cus_A", paid_at=_at(10), total=12000, tax=2000,
                     payment_intent="pi_A"),
        fake.invoice("in_B", "cus_B", paid_at=_at(11), total=5000, payment_intent="pi_B"),
        fake.invoice("in_B2", "cus_B", paid_at=_at(12), total=3000, tax=500,
                     currency="eur", payment_intent="pi_B2"),
        fake.invoice("in_C", "cus_C", paid_at=timestamp(DAY - timedelta(days=1), 10), total=6000,
                     tax=1000, payment_intent="pi_C"),
    ]  # fmt: skip
    refunds = [
        fake.refund("re_A", "cus_A", created=_at(15), amount=2400, payment_intent="pi_A"),
        fake.refund("re_C", "cus_C", created=_at(16), amount=1200, payment_intent="pi_C"),
        fake.refund("re_D", "cus_B", created=_at(17), amount=700,
                    payment_intent="pi_elsewhere"),
        fake.refund("re_E", "cus_A", created=_at(18), amount=999, payment_intent="pi_A",
                    status="failed"),
        fake.refund("re_F", None, created=_at(19), amount=500),
        fake.refund("re_G", "cus_A", created=_at(20), amount=600, payment_intent="pi_old"),
    ]  # fmt: skip
    return invoices, refunds


def _serve_invoice_payments(fake_http):
    """What GET /v1/invoice_payments finds by payment intent: pi_old paid an invoice of two
    months ago (24.00 with 4.00 tax); pi_elsewhere paid none."""
    old = fake.invoice("in_old", "cus_A", paid_at=timestamp(DAY - timedelta(days=70), 9),
                       total=2400, tax=400, payment_intent="pi_old")  # fmt: skip
    paid = {**old["payments"]["data"][0], "invoice": old}

    def answer(request):
        intent = parse_qs(urlsplit(request.url).query)["payment[payment_intent]"][0]
        found = [paid] if intent == "pi_old" else []
        return 200, {}, json.dumps(stripe_list(found, "/v1/invoice_payments"))

    fake_http.add_callback(
        "GET", f"{BASE}/v1/invoice_payments", callback=answer, content_type="application/json"
    )


def _owned(sub: dict, customer: str) -> dict:
    sub["customer"] = customer
    return sub


def _collected() -> dict[tuple[str, str], tuple]:
    return {
        (r.customer_ref, r.currency): (r.paid, r.refunded, r.amount, r.invoices, r.refunds)
        for r in CustomerRevenue.objects.filter(day=DAY)
    }


def test_revenue_per_customer_is_paid_invoices_net_of_tax_and_refunds(fake_http, account, today):
    invoices, refunds = _payments()
    serve(fake_http, invoices=invoices, refunds=refunds)
    _serve_invoice_payments(fake_http)
    run = run_collector("stripe", DAY)
    assert (run.status, run.reason) == ("ok", "")
    D = Decimal
    assert _collected() == {
        ("cus_A", "USD"): (D("100"), D("25"), D("75"), 1, 2),
        ("cus_B", "USD"): (D("50"), D("0"), D("50"), 1, 0),
        ("cus_B", "EUR"): (D("25"), D("0"), D("25"), 1, 0),
        ("cus_C", "USD"): (D("0"), D("10"), D("-10"), 0, 1),
    }
    assert run.figures["collected_from_customers"] == {"EUR": "25.00", "USD": "115.00"}
    assert run.figures["paying_customers"] == 3
    assert run.notes == [
        "1 refund of payments without a customer left out of the revenue per customer",
        "1 refund of payments on no invoice (never counted as paid) left out of the revenue per "
        "customer",
    ]
    lookups = [c for c in fake_http.calls if "/v1/invoice_payments" in c.request.url]
    assert [query(c)["payment[payment_intent]"] for c in lookups] == [["pi_elsewhere"], ["pi_old"]]
    (invoice_call,) = [c for c in fake_http.calls if c.request.url.startswith(INVOICES)]
    sent = query(invoice_call)
    assert sent["status"] == ["paid"] and sent["expand[0]"] == ["data.payments"]
    assert sent["created[gte]"] == [str(timestamp(DAY - timedelta(days=60)))]


def test_revenue_per_customer_rerun_replaces_the_day(fake_http, account, today):
    invoices, refunds = _payments()
    serve(fake_http, invoices=invoices, refunds=refunds)
    _serve_invoice_payments(fake_http)
    run_collector("stripe", DAY)
    first = _collected()
    run_collector("stripe", DAY)
    assert _collected() == first
    serve(fake_http, invoices=invoices, refunds=[])  # the refunds were reversed at Stripe
    run_collector("stripe", DAY)
    assert ("cus_C", "USD") not in _collected()
    assert _collected()[("cus_A", "USD")][2] == Decimal("100")


def test_an_invoice_without_a_customer_is_left_out_with_a_note(fake_http, account, today):
    held = fake.invoice("in_acct", "cus_X", paid_at=_at(10), total=1000)
    held["customer"], held["customer_account"] = None, "acct_1Nv0FGQ9RKHgCVdK"
    serve(fake_http, invoices=[held])
    run = run_collector("stripe", DAY)
    assert run.status == "ok" and not CustomerRevenue.objects.exists()
    assert "1 paid invoice without a customer left out of the revenue per customer" in run.notes


def test_mrr_per_customer_adds_up_to_the_mrr_per_currency(fake_http, account, today):
    serve_coupon(fake_http, coupon("FOREVER25", percent_off=25.0))
    serve(
        fake_http,
        subscriptions=[
            _owned(subscription("sub_1", item(price(2000))), "cus_A"),
            _owned(
                subscription("sub_2", item(price(12000, interval="year"), quantity=3),
                             discounts=[discount("FOREVER25")]),
                "cus_A",
            ),
            _owned(subscription("sub_3", item(price(1500, currency="eur"), quantity=2),
                                status="past_due", currency="eur"), "cus_B"),
            _owned(subscription("sub_4", item(price(990)), status="trialing"), "cus_B"),
            _owned(subscription("sub_5", item(price(333, interval="week"))), "cus_C"),
        ],
    )  # fmt: skip
    run = run_collector("stripe", DAY)
    assert run.status == "ok", run.reason
    per_customer = {
        (m.customer_ref, m.currency): (m.mrr, m.active_subscriptions, m.trialing_subscriptions)
        for m in CustomerMrr.objects.filter(day=DAY)
    }
    # 3.33 a week is 3.33 x 52 / 12 = 14.43 a month
    assert per_customer == {
        ("cus_A", "USD"): (Decimal("42.5"), 2, 0),
        ("cus_B", "EUR"): (Decimal("30"), 1, 0),
        ("cus_B", "USD"): (Decimal("0"), 0, 1),
        ("cus_C", "USD"): (Decimal("14.43"), 1, 0),
    }
    for currency, snapshot in snapshots().items():
        mine = [v[0] for (_, c), v in per_customer.items() if c == currency]
        assert snapshot[0] == sum(mine)
    assert snapshots()["USD"][:3] == (Decimal("56.93"), 3, 1)


def test_an_undocumented_invoice_or_refund_fails_and_writes_nothing(fake_http, account, today):
    invoices, _ = _payments()
    invoices[0]["total_taxes"][0]["amount"] = 99_999  # more tax than the invoice's total
    serve(fake_http, invoices=invoices)
    run = run_collector("stripe", DAY)
    assert run.status == "failed" and "taxes of 99999 on a total of 12000" in run.reason
    _, refunds = _payments()
    refunds[0]["charge"] = "ch_unexpanded"
    serve(fake_http, invoices=[], refunds=refunds)
    run = run_collector("stripe", DAY)
    assert run.status == "failed" and "'ch_unexpanded' of a refund unexpanded" in run.reason
    assert not CustomerRevenue.objects.exists() and not CostEntry.objects.exists()

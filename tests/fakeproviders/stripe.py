"""Stripe's subscriptions and balance transactions, shaped like its documented objects and list
objects (fixtures stripe_*.json; `object: "list"`, `data`, `has_more`, `url`), and the builders the
Stripe tests use to vary them.

The subscription list is served in PAGES pages of PAGE_SIZE subscriptions, following the SDK's
`starting_after` cursor, cycling through TEMPLATES. The benchmark serves 10,000 subscriptions with
PAGES = 100 and PAGE_SIZE = 100; `expected_today()` gives the figures for any setting.
"""

import copy
from datetime import UTC, date, datetime, time
from decimal import Decimal
from fractions import Fraction
from functools import cache

from tests.fakeproviders.server import Route, fixture

PAGES = 1
PAGE_SIZE = 5  # one of each template
SUBSCRIPTIONS_URL = "/v1/subscriptions"
BALANCE_TRANSACTIONS_URL = "/v1/balance_transactions"
INVOICES_URL = "/v1/invoices"
REFUNDS_URL = "/v1/refunds"


# Builders


def stripe_list(data: list, url: str, *, has_more: bool = False) -> dict:
    return {"object": "list", "data": data, "has_more": has_more, "url": url}


def price(
    unit_amount: int | None = 1000,
    *,
    currency: str = "usd",
    interval: str = "month",
    interval_count: int = 1,
    usage_type: str = "licensed",
    unit_amount_decimal: str | None = None,
    one_off: bool = False,
    price_id: str = "price_1MowQULkdIwHu7ixraBm864M",
) -> dict:
    item = fixture("stripe_subscription.json")["items"]["data"][0]
    body = item["price"]
    body.update(
        id=price_id,
        currency=currency,
        unit_amount=unit_amount,
        unit_amount_decimal=unit_amount_decimal
        if unit_amount_decimal is not None
        else (None if unit_amount is None else str(unit_amount)),
    )
    body["recurring"].update(
        interval=interval, interval_count=interval_count, usage_type=usage_type
    )
    if one_off:
        body.update(type="one_time", recurring=None)
    return body


def item(body: dict | None = None, *, quantity: int | None = 1, discounts=(), item_id="") -> dict:
    template = fixture("stripe_subscription.json")["items"]["data"][0]
    body = body or price()
    template.update(
        id=item_id or template["id"],
        price=body,
        quantity=quantity,
        discounts=list(discounts),
    )
    return template


def subscription(
    sub_id: str,
    *items: dict,
    status: str = "active",
    currency: str = "usd",
    discounts=(),
) -> dict:
    body = fixture("stripe_subscription.json")
    body.update(id=sub_id, status=status, currency=currency, discounts=list(discounts))
    body["items"].update(
        data=list(items) or [item(price(currency=currency))],
        url=f"/v1/subscription_items?subscription={sub_id}",
    )
    body["items"]["total_count"] = len(body["items"]["data"])
    for each in body["items"]["data"]:
        each["subscription"] = sub_id
    return body


def coupon(
    coupon_id: str = "jMT0WJUD",
    *,
    duration: str = "forever",
    percent_off: float | None = None,
    amount_off: int | None = None,
    currency: str | None = None,
) -> dict:
    body = fixture("stripe_coupon.json")
    body.update(
        id=coupon_id,
        duration=duration,
        duration_in_months=3 if duration == "repeating" else None,
        percent_off=percent_off,
        amount_off=amount_off,
        currency=currency,
    )
    return body


def discount(coupon_or_id: dict | str, discount_id: str = "di_1M6vk22eZvKYlo2CYMGIhk14") -> dict:
    """A Discount as the current API version has it: the coupon under `source`."""
    body = fixture("stripe_discount.json")
    body["id"] = discount_id
    body["source"]["coupon"] = coupon_or_id
    return body


def legacy_discount(coupon_body: dict) -> dict:
    """A Discount as API versions before 2025 had it: the coupon inline."""
    body = fixture("stripe_discount_legacy.json")
    body["coupon"] = coupon_body
    return body


def balance_transaction(
    txn_id: str,
    *,
    created: int,
    fee: int,
    amount: int = 1000,
    currency: str = "usd",
    kind: str = "charge",
    reporting_category: str = "charge",
) -> dict:
    body = fixture("stripe_balance_transaction.json")
    body.update(
        id=txn_id,
        created=created,
        available_on=created + 2 * 86400,
        amount=amount,
        currency=currency,
        fee=fee,
        net=amount - fee,
        type=kind,
        reporting_category=reporting_category,
    )
    body["fee_details"] = (
        [
            {
                "amount": fee,
                "application": None,
                "currency": currency,
                "description": "Stripe processing fees",
                "type": "stripe_fee",
            }
        ]
        if fee
        else []
    )
    return body


def invoice(
    invoice_id: str,
    customer: str,
    *,
    paid_at: int,
    total: int,
    tax: int = 0,
    amount_paid: int | None = None,
    currency: str = "usd",
    payment_intent: str = "",
) -> dict:
    """A paid invoice (stripe_invoice.json: "The Invoice object"), its tax in `total_taxes`,
    paid by `payment_intent` (its expanded `payments`)."""
    body = fixture("stripe_invoice.json")
    paid = total if amount_paid is None else amount_paid
    body.update(
        id=invoice_id, customer=customer, currency=currency, total=total, amount_due=total,
        amount_paid=paid, amount_remaining=total - paid, subtotal=total - tax,
        subtotal_excluding_tax=total - tax, total_excluding_tax=total - tax,
        created=paid_at - 3600,
    )  # fmt: skip
    body["status_transitions"].update(finalized_at=paid_at - 60, paid_at=paid_at)
    body["total_taxes"][0].update(amount=tax, taxable_amount=total - tax)
    if not tax:
        body["total_taxes"] = []
    payment = body["payments"]["data"][0]
    payment.update(invoice=invoice_id, amount_paid=paid, amount_requested=total, currency=currency)
    payment["payment"]["payment_intent"] = payment_intent or f"pi_{invoice_id}"
    return body


def refund(
    refund_id: str,
    customer: str | None,
    *,
    created: int,
    amount: int,
    currency: str = "usd",
    payment_intent: str = "",
    status: str = "succeeded",
) -> dict:
    """A refund (stripe_refund.json: "The Refund object") with its charge expanded."""
    body = fixture("stripe_refund.json")
    body.update(
        id=refund_id, created=created, amount=amount, currency=currency, status=status,
        payment_intent=payment_intent or None,
    )  # fmt: skip
    body["charge"].update(
        customer=customer, currency=currency, payment_intent=payment_intent or None,
        id=f"ch_{refund_id}",
    )  # fmt: skip
    return body


def timestamp(day: date, hour: int = 0) -> int:
    return int(datetime.combine(day, time(hour), tzinfo=UTC).timestamp())


# What the fake server serves


def _forever_25_percent() -> dict:
    return discount(coupon("FOREVER25", percent_off=25.0), "di_fake_forever25")


TEMPLATES = [  # (builder of a subscription with that id, its MRR in minor units, its currency)
    (lambda sid: subscription(sid, item(price(2000))), Fraction(2000), "USD"),
    (
        lambda sid: subscription(
            sid,
            item(price(12000, interval="year"), quantity=3),
            discounts=[_forever_25_percent()],
        ),
        Fraction(12000 * 3, 12) * Fraction(3, 4),
        "USD",
    ),
    (
        lambda sid: subscription(
            sid, item(price(1500, currency="eur"), quantity=2), status="past_due", currency="eur"
        ),
        Fraction(3000),
        "EUR",
    ),
    (lambda sid: subscription(sid, item(price(2000)), status="trialing"), None, "USD"),
    (
        lambda sid: subscription(
            sid,
            item(price(500), quantity=2, item_id="si_fake_seats"),
            item(price(3, usage_type="metered"), quantity=None, item_id="si_fake_tokens"),
        ),
        Fraction(1000),
        "USD",
    ),
]


def _subscription_id(page: int, index: int) -> str:
    return f"sub_fake{page:05d}x{index:05d}"


@cache
def _template(index: int) -> dict:
    return TEMPLATES[index][0]("sub_template")


def _fake_subscription(page: int, index: int) -> dict:
    """A copy of a template under its own id (cheaper than building 10,000 from the fixtures)."""
    sub_id = _subscription_id(page, index)
    body = copy.deepcopy(_template((page * PAGE_SIZE + index) % len(TEMPLATES)))
    body["id"] = sub_id
    body["items"]["url"] = f"/v1/subscription_items?subscription={sub_id}"
    for each in body["items"]["data"]:
        each["subscription"] = sub_id
    return body


def _subscriptions(query, day):
    after = query.get("starting_after", [""])[0]
    page = int(after[len("sub_fake") :].split("x")[0]) + 1 if after else 0
    data = [_fake_subscription(page, index) for index in range(PAGE_SIZE)]
    return stripe_list(data, SUBSCRIPTIONS_URL, has_more=page + 1 < PAGES)


FEES = [59, 320, 0]  # two charges and a refund, in cents
PRODUCT_FEE = 125  # a Stripe Billing fee, in cents


def _balance_transactions(query, day):
    start = int(query.get("created[gte]", [timestamp(day)])[0])
    data = [
        balance_transaction(f"txn_fake{i}", created=start + 3600 * (i + 1), fee=fee)
        for i, fee in enumerate(FEES)
    ]
    data.append(
        balance_transaction(
            "txn_fake_billing",
            created=start + 7200,
            fee=0,
            amount=-PRODUCT_FEE,
            kind="stripe_fee",
            reporting_category="fee",
        )
    )
    return stripe_list(data, BALANCE_TRANSACTIONS_URL)


# One customer paid a taxed invoice (120.00 of which 20.00 tax: 100.00 net) and got 14.40 back
# (12.00 net of the same 1/6 of tax): 88.00 collected.
INVOICE_TOTAL, INVOICE_TAX, REFUNDED = 12000, 2000, 1200


def _invoices(query, day):
    start = int(query.get("created[gte]", [timestamp(day)])[0]) + 60 * 86400  # the lookback
    paid = invoice("in_fake1", "cus_fake1", paid_at=start + 7200, total=INVOICE_TOTAL,
                   tax=INVOICE_TAX, payment_intent="pi_fake1")  # fmt: skip
    return stripe_list([paid], INVOICES_URL)


def _refunds(query, day):
    start = int(query.get("created[gte]", [timestamp(day)])[0])
    back = refund("re_fake1", "cus_fake1", created=start + 9000, amount=REFUNDED * 12 // 10,
                  payment_intent="pi_fake1")  # fmt: skip
    return stripe_list([back], REFUNDS_URL)


def expected_today(pages: int | None = None, page_size: int | None = None) -> dict:
    """The revenue figures of a run for today (the server's day), for PAGES x PAGE_SIZE."""
    count = (pages or PAGES) * (page_size or PAGE_SIZE)
    mrr = {"EUR": Fraction(0), "USD": Fraction(0)}
    active = trialing = 0
    for i in range(count):
        _, minor, currency = TEMPLATES[i % len(TEMPLATES)]
        if minor is None:
            trialing += 1
        else:
            mrr[currency] += minor
            active += 1
    assert all(m.denominator == 1 for m in mrr.values())  # the templates are whole cents
    return {
        "mrr": {c: str(Decimal(m.numerator).scaleb(-2)) for c, m in mrr.items()},
        "active_subscriptions": active,
        "trialing_subscriptions": trialing,
    }


ROUTES = [
    Route("GET", "/stripe/v1/subscriptions", _subscriptions),
    Route("GET", "/stripe/v1/balance_transactions", _balance_transactions),
    Route("GET", "/stripe/v1/invoices", _invoices),
    Route("GET", "/stripe/v1/refunds", _refunds),
]
ENV = {"STRIPE_API_URL": "{base}/stripe", "STRIPE_SECRET_KEY": "sk_test_fake_stripe_key"}
# A past day (the fake-server test runs 2026-11-20): fees only, MRR is never back-filled.
EXPECTED = {
    "processing_fees": {"USD": "3.79"},
    "product_fees": {"USD": "1.25"},
    "balance_transactions": 4,
    "collected_from_customers": {"USD": "88.00"},
    "paying_customers": 1,
}
# A run for today: the revenue snapshot too (USD 52.50 = 20.00 + 22.50 + 10.00; EUR 30.00).
EXPECTED_TODAY = {
    **EXPECTED,
    "mrr": {"EUR": "30.00", "USD": "52.50"},
    "active_subscriptions": 4,
    "trialing_subscriptions": 1,
}

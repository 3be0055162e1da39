"""Stripe: MRR per currency with subscription counts (a revenue snapshot of today), and the fees
Stripe kept from the balance, per day and currency, as `payments` costs.

Why Stripe goes through its SDK and not collectors.http, the one HTTP chokepoint: DESIGN.md and
issue #3 name the official SDK for Stripe. It owns what a hand-written client would have to copy
and keep current: the API version header that fixes every object's shape, cursor pagination
(`starting_after`, auto-paging), nested `expand[]` parameters and the error types. It still talks
through `requests` (stripe.RequestsClient), so tests fake it with `responses` like any other
provider, with our timeout and retry count (the SDK retries timeouts, connection errors and 5xx);
its errors become the same CollectorErrors, in the same words, here (`_collector_error`), and a
429, which the SDK does not retry, waits with collectors.http's backoff (honouring Retry-After)
and resumes after the last object read. Nothing global in the `stripe` module is touched: one
StripeClient per run.

MRR follows Stripe's own definition (docs.stripe.com/billing/subscriptions/analytics/glossary,
support.stripe.com/questions/billing-analytics): `active` and `past_due` subscriptions; trials,
metered prices and one-off prices left out; each price normalised to a month from its interval and
interval_count, times the quantity; and only `forever` coupons reduce it (item discounts first,
then the subscription's, as Stripe applies them). Stripe's amounts are integers in the currency's
minor unit, or `*_decimal` strings with up to 12 decimals: they are added up exactly (Fraction)
and turned into major units once, with Stripe's own minor units.

MRR is a snapshot of the moment it is read: it is written for today only and never back-filled.
Subscriptions are read one page at a time and added up as they arrive, so memory stays flat
whatever their number.
"""

import json
import math
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction
from typing import Any

import stripe
from django.conf import settings
from django.utils import timezone

from collectors import http
from collectors.base import Collector, CollectResult, SyncWindow
from collectors.errors import (
    CollectorError,
    CredentialsRejected,
    ProviderRefused,
    UnexpectedResponse,
)
from collectors.http import decimal_of, require
from costledger.models import CostEntry, RevenueSnapshot, Source
from costledger.money import is_currency
from costledger.providers import Category
from costledger.services import cost_entries_replace_days, revenue_snapshots_upsert

PROVIDER = "Stripe"
PAGE_SIZE = 100  # the most Stripe gives in one page
MAX_OBJECTS = http.MAX_PAGES * PAGE_SIZE
MRR_STATUSES = ("active", "past_due")
# How many months one billing interval lasts: a week is 12/52 of a month, a day 12/365.
MONTHS_PER_INTERVAL = {
    "day": Fraction(12, 365),
    "week": Fraction(12, 52),
    "month": Fraction(1),
    "year": Fraction(12),
}
# Stripe's minor units (docs.stripe.com/currencies#zero-decimal): two decimals unless listed here.
# Not ISO's/CLDR's: Stripe keeps ISK with two decimals in the API for backwards compatibility.
ZERO_DECIMAL = frozenset("BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF XPF".split())
THREE_DECIMAL = frozenset("BHD JOD KWD OMR TND".split())
STORED_PLACES = Decimal("1e-10")  # the ledger's money columns keep 10 decimal places
# Subscription discounts are listed as ids unless expanded; their coupon is fetched once per run.
SUBSCRIPTION_EXPAND = ["data.discounts", "data.items.data.discounts"]
PROCESSING_FEES = "processing fees"
PRODUCT_FEES = "product fees"  # Billing, Radar, Connect... (reporting_category "fee")


@dataclass
class DayFees:
    """What Stripe kept on one day in one currency, in minor units."""

    processing: int = 0  # the `fee` of charges, refunds, payouts...
    processing_count: int = 0
    product: int = 0  # Stripe's own products (Billing, Radar...): reporting_category "fee"
    product_count: int = 0


@dataclass
class Revenue:
    """Recurring revenue in one currency: MRR in minor units per month, and counts."""

    mrr: Fraction = Fraction(0)
    active: int = 0
    trialing: int = 0


class StripeCollector(Collector):
    name = "stripe"
    provider_name = "Stripe"
    required_settings = ("STRIPE_SECRET_KEY",)

    def collect(self, window: SyncWindow) -> CollectResult:
        today = timezone.now().date()
        transport = stripe.RequestsClient(timeout=settings.COLLECTOR_HTTP_TIMEOUT)
        self.client = stripe.StripeClient(
            settings.STRIPE_SECRET_KEY,
            base_addresses={"api": settings.STRIPE_API_URL.rstrip("/")},
            max_network_retries=settings.COLLECTOR_HTTP_RETRIES,
            http_client=transport,
        )
        self.notes: list[str] = []
        self.coupons: dict[str, dict | None] = {}
        self.tiers: dict[str, list] = {}
        try:
            fees = self._fees(window)
            rows = cost_entries_replace_days(
                start=window.start,
                end=window.end,
                provider="stripe",
                source=Source.API,
                entries=[
                    entry
                    for (day, currency), day_fees in sorted(fees.items())
                    for entry in self._fee_entries(day, currency, day_fees)
                ],
            )
            figures = _fee_figures(fees)
            if window.start <= today < window.end:
                snapshots = self._snapshots(today, self._revenue())
                rows += revenue_snapshots_upsert(snapshots=snapshots)
                figures.update(_revenue_figures(snapshots))
            else:
                self.notes.append(
                    f"MRR is a snapshot of now and is not back-filled: for {window} only the "
                    f"fees were written; today's ({today}) run records the revenue snapshot"
                )
        finally:
            transport.close()
        return CollectResult(rows_written=rows, figures=figures, notes=self.notes)

    # Fees

    def _fees(self, window: SyncWindow) -> dict[tuple[date, str], DayFees]:
        params = {"created": {"gte": _timestamp(window.start), "lt": _timestamp(window.end)}}
        fees: dict[tuple[date, str], DayFees] = defaultdict(DayFees)
        listing = self.client.v1.balance_transactions.list
        for txn in self._each("GET /v1/balance_transactions", listing, params):
            day = datetime.fromtimestamp(_integer(txn, "created"), UTC).date()
            if not window.start <= day < window.end:
                continue
            bucket = fees[(day, _currency(txn))]
            if txn.get("reporting_category") == "fee":
                # A charge by Stripe itself: its amount is what we paid (negative), fee is 0.
                bucket.product -= _integer(txn, "net")
                bucket.product_count += 1
            else:
                bucket.processing += _integer(txn, "fee")
                bucket.processing_count += 1
        return fees

    def _fee_entries(self, day: date, currency: str, fees: DayFees) -> list[CostEntry]:
        created = {"gte": _timestamp(day), "lt": _timestamp(day + timedelta(days=1))}
        kinds = (  # service, cost in minor units, transactions, the excerpt of what was summed
            (PROCESSING_FEES, fees.processing, fees.processing_count, {"fee": fees.processing}),
            (PRODUCT_FEES, fees.product, fees.product_count, {"net": -fees.product}),
        )
        return [
            CostEntry(
                provider="stripe",
                service=service,
                category=Category.PAYMENTS,
                charge_period_start=day,
                charge_period_end=day + timedelta(days=1),
                billed_cost=_major_units(minor, currency),
                currency=currency,
                quantity=Decimal(count),
                unit="balance transactions",
                source=Source.API,
                reference=currency,  # one row per currency: a day can settle in several
                sync_run_id=self.sync_run_id,
                raw={
                    "object": "balance_transaction",
                    "created": created,
                    "currency": currency.lower(),
                    "count": count,
                    **summed,
                },
            )
            for service, minor, count, summed in kinds
            if count
        ]

    # Revenue

    def _revenue(self) -> dict[str, Revenue]:
        revenue: dict[str, Revenue] = defaultdict(Revenue)
        listing = self.client.v1.subscriptions.list  # without `status`: all but canceled ones
        params = {"expand": SUBSCRIPTION_EXPAND}
        for subscription in self._each("GET /v1/subscriptions", listing, params):
            status = require(subscription, "status", provider=PROVIDER)
            if status in MRR_STATUSES:
                bucket = revenue[_currency(subscription)]
                bucket.active += 1
                bucket.mrr += self._subscription_mrr(subscription)
            elif status == "trialing":
                revenue[_currency(subscription)].trialing += 1
        return revenue

    def _subscription_mrr(self, subscription: dict) -> Fraction:
        """Minor units per month, after forever coupons."""
        currency = _currency(subscription)
        monthly, period = Fraction(0), None
        for item in self._items(subscription):
            price = require(item, "price", provider=PROVIDER)
            if not isinstance(price, dict):
                raise UnexpectedResponse(
                    f"Stripe answered item {item.get('id')} with price={price!r}"
                )
            recurring = price.get("recurring")
            if not recurring or recurring.get("usage_type") == "metered":
                continue  # one-off and usage-based prices are not recurring revenue
            months = _months(recurring)
            amount = self._item_amount(price, item.get("quantity"))
            monthly += self._discounted(amount, item.get("discounts"), currency) / months
            period = period or months  # invoices recur at the (first) item's interval
        if period is None:
            return monthly
        discounts = subscription.get("discounts") or (
            # API versions before `discounts` had one `discount`, coupon included.
            [subscription["discount"]] if subscription.get("discount") else []
        )
        return self._discounted(monthly, discounts, currency, months=period)

    def _items(self, subscription: dict) -> Iterator[dict]:
        """The subscription's items: the embedded page, then the rest if it has more."""
        items = require(subscription, "items", provider=PROVIDER)
        page = require(items, "data", provider=PROVIDER)
        yield from page
        if items.get("has_more") and page:
            params = {
                "subscription": require(subscription, "id", provider=PROVIDER),
                "starting_after": require(page[-1], "id", provider=PROVIDER),
                "expand": ["data.discounts"],
            }
            listing = self.client.v1.subscription_items.list
            yield from self._each("GET /v1/subscription_items", listing, params)

    def _item_amount(self, price: dict, quantity: Any) -> Fraction:
        """What one billing period of the item costs, in minor units, before discounts."""
        if quantity is None:
            quantity = 1  # Stripe's default; only metered items, left out above, have none
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0:
            raise UnexpectedResponse(f"Stripe answered quantity={quantity!r}, not a count")
        if price.get("billing_scheme") == "tiered":
            return _tiered_amount(price, self._price_tiers(price), quantity)
        transform = price.get("transform_quantity")
        if transform:
            divided = Fraction(quantity, _integer(transform, "divide_by"))
            quantity = math.ceil(divided) if transform.get("round") == "up" else math.floor(divided)
        return _minor(price, "unit_amount", required=True) * quantity

    def _price_tiers(self, price: dict) -> list:
        """A tiered price's tiers: Stripe sends them only when expanded, which a subscription
        list cannot ask for (too deep), so each tiered price is fetched once per run."""
        if price.get("tiers"):
            return price["tiers"]
        price_id = require(price, "id", provider=PROVIDER)
        if price_id not in self.tiers:
            fetched = self._call(
                f"GET /v1/prices/{price_id}",
                lambda: self.client.v1.prices.retrieve(price_id, params={"expand": ["tiers"]}),
            )
            self.tiers[price_id] = require(fetched, "tiers", provider=PROVIDER)
        return self.tiers[price_id]

    def _discounted(
        self,
        amount: Fraction,
        discounts: list | None,
        currency: str,
        months: Fraction = Fraction(1),
    ) -> Fraction:
        """`amount` after the forever coupons among `discounts`, applied in order. An amount_off
        comes off each invoice, which covers `months` when `amount` is per month."""
        for discount in discounts or ():
            coupon = self._coupon_of(discount)
            if not coupon or coupon.get("duration") != "forever":
                continue  # Stripe: once and repeating coupons leave MRR unchanged
            if coupon.get("percent_off") is not None:
                percent = _fraction(coupon["percent_off"], "percent_off")
                amount -= amount * percent / 100
            elif coupon.get("amount_off") is not None:
                amount -= _amount_off(coupon, currency) / months
            amount = max(amount, Fraction(0))
        return amount

    def _coupon_of(self, discount: Any) -> dict | None:
        if not isinstance(discount, dict):
            raise UnexpectedResponse(
                f"Stripe answered the discount {discount!r} unexpanded, although the request "
                "asked to expand discounts"
            )
        coupon = discount.get("coupon")  # older API versions put the coupon in the discount
        if coupon is None:
            coupon = require(discount, "source", "coupon", provider=PROVIDER)
        return self._coupon(coupon) if isinstance(coupon, str) else coupon

    def _coupon(self, coupon_id: str) -> dict | None:
        if coupon_id not in self.coupons:
            coupon = self._call(
                f"GET /v1/coupons/{coupon_id}",
                lambda: self.client.v1.coupons.retrieve(coupon_id),
                missing_ok=True,
            )
            if coupon is None:
                self.notes.append(
                    f"coupon {coupon_id} no longer exists at Stripe: discounts made from it "
                    "are left out of MRR"
                )
            self.coupons[coupon_id] = coupon
        return self.coupons[coupon_id]

    def _snapshots(self, today: date, revenue: dict[str, Revenue]) -> list[RevenueSnapshot]:
        """One snapshot per currency with subscriptions now, or with some at the last snapshot
        (they all churned: MRR 0), or already written today (a re-run must replace it)."""
        earlier = _latest_snapshots_before(today)
        written_today = set(
            RevenueSnapshot.objects.filter(day=today).values_list("currency", flat=True)
        )
        snapshots = []
        for currency in sorted(set(revenue) | set(earlier) | written_today):
            now, previous = revenue.get(currency, Revenue()), earlier.get(currency)
            if currency not in revenue and currency not in written_today and not _counted(previous):
                continue
            mrr = _major_units(now.mrr, currency)
            new, churned = self._movement(currency, mrr, previous)
            snapshots.append(
                RevenueSnapshot(
                    day=today,
                    currency=currency,
                    mrr=mrr,
                    active_subscriptions=now.active,
                    trialing_subscriptions=now.trialing,
                    new_mrr=new,
                    churned_mrr=churned,
                    sync_run_id=self.sync_run_id,
                )
            )
        return snapshots

    def _movement(
        self, currency: str, mrr: Decimal, previous: RevenueSnapshot | None
    ) -> tuple[Decimal, Decimal]:
        """New and churned MRR: the net rise or fall since the previous snapshot. The ledger
        keeps totals per currency, not per subscription, so upgrades count as new and
        downgrades as churn."""
        if previous is None:
            self.notes.append(
                f"no earlier revenue snapshot in {currency}: new and churned MRR are counted "
                "from the next snapshot on"
            )
            change = Decimal(0)
        else:
            change = mrr - _tidy(previous.mrr, currency)
        return _tidy(max(change, Decimal(0)), currency), _tidy(max(-change, Decimal(0)), currency)

    # The SDK

    def _each(self, what: str, listing: Callable, params: dict) -> Iterator[dict]:
        """Every object of a Stripe list, as a dict, through the SDK's auto-paging: one page is
        held at a time. A 429 waits and resumes after the last object read."""
        after, attempt, count = None, 0, 0
        while True:
            query = {**params, "limit": PAGE_SIZE}
            if after:
                query["starting_after"] = after
            try:
                page = listing(params=query)
                if not isinstance(page, stripe.ListObject):
                    raise UnexpectedResponse(f"Stripe answered {what} with no list object")
                for obj in page.auto_paging_iter():
                    count += 1
                    if count > MAX_OBJECTS:
                        raise UnexpectedResponse(
                            f"Stripe kept paginating {what} (more than {MAX_OBJECTS} objects)"
                        )
                    data = obj.to_dict()
                    yield data
                    after, attempt = data.get("id"), 0
                return
            except stripe.RateLimitError as error:
                attempt = _wait(what, error, attempt)
            except stripe.StripeError as error:
                raise _collector_error(what, error) from None
            except (AttributeError, KeyError, TypeError, ValueError) as error:
                raise UnexpectedResponse(
                    f"Stripe answered {what} with a list it does not document ({error})"
                ) from None

    def _call(self, what: str, request: Callable, *, missing_ok: bool = False) -> dict | None:
        attempt = 0
        while True:
            try:
                return request().to_dict()
            except stripe.RateLimitError as error:
                attempt = _wait(what, error, attempt)
            except stripe.StripeError as error:
                if missing_ok and error.http_status == 404:
                    return None
                raise _collector_error(what, error) from None


def _wait(what: str, error: stripe.RateLimitError, attempt: int) -> int:
    """Sleep before retrying a 429 (Retry-After if Stripe sent one); fail once out of retries."""
    if attempt >= settings.COLLECTOR_HTTP_RETRIES:
        raise _collector_error(what, error) from None
    http._sleep(http._backoff(attempt, error))  # type: ignore[arg-type]  # has .headers
    return attempt + 1


def _collector_error(what: str, error: stripe.StripeError) -> CollectorError:
    status = error.http_status
    if status in (401, 403) or isinstance(
        error, stripe.AuthenticationError | stripe.PermissionError
    ):
        return CredentialsRejected(PROVIDER, status or 401)
    if isinstance(error, stripe.APIConnectionError):
        # The SDK raises it `from` the requests exception, which names the cause.
        problem = http.request_error_in_words(error, url=settings.STRIPE_API_URL)
        return http.provider_unavailable(PROVIDER, what, problem=problem)
    if isinstance(error, stripe.RateLimitError) or (status or 0) >= 500:
        return http.provider_unavailable(
            PROVIDER, what, status=status or 429, headers=error.headers
        )
    # Parsed here: on a body it cannot parse, the SDK leaves json_body holding the headers.
    if error.http_body and not _is_json(error.http_body):
        return UnexpectedResponse(
            f"Stripe answered {what} with something that is not JSON (HTTP {status})"
        )
    said = (error.user_message or "")[:200]
    if status and status >= 400:
        return ProviderRefused(f"Stripe refused {what}: HTTP {status} {said}".rstrip())
    return UnexpectedResponse(
        f"Stripe answered {what} with something it does not document: {said or 'no message'}"
    )


def _is_json(body: str) -> bool:
    try:
        json.loads(body)
    except ValueError:
        return False
    return True


# Reading Stripe's values


def _integer(obj: dict, key: str) -> int:
    value = require(obj, key, provider=PROVIDER)
    if isinstance(value, bool) or not isinstance(value, int):
        raise UnexpectedResponse(f"Stripe answered {key}={value!r}, not an integer")
    return value


def _fraction(value: Any, field: str) -> Fraction:
    return Fraction(decimal_of(value, field=field, provider=PROVIDER))


def _minor(obj: dict, field: str, *, required: bool = False) -> Fraction:
    """An amount in minor units: `<field>_decimal` (a string, up to 12 decimals) or `<field>`."""
    value = obj.get(f"{field}_decimal")
    if value is None:
        value = obj.get(field)
    if value is None:
        if required:
            raise UnexpectedResponse(
                f"Stripe answered {obj.get('id') or 'a price'} without {field}"
            )
        return Fraction(0)
    return _fraction(value, field)


def _currency(obj: dict) -> str:
    code = str(require(obj, "currency", provider=PROVIDER)).upper()
    if not is_currency(code):
        raise UnexpectedResponse(f"Stripe answered currency={code!r}, not an ISO 4217 currency")
    return code


def _months(recurring: dict) -> Fraction:
    interval, count = recurring.get("interval"), recurring.get("interval_count")
    if interval not in MONTHS_PER_INTERVAL or isinstance(count, bool) or not isinstance(count, int):
        raise UnexpectedResponse(
            f"Stripe answered a price billed every {count!r} {interval!r}, which it does not "
            "document (intervals are day, week, month or year)"
        )
    if count < 1:
        raise UnexpectedResponse(f"Stripe answered interval_count={count!r}")
    return MONTHS_PER_INTERVAL[interval] * count


def _tiered_amount(price: dict, tiers: list, quantity: int) -> Fraction:
    """Volume: every unit at the price of the tier the quantity falls in. Graduated: each unit
    at the price of its own tier. Each tier reached adds its flat amount."""
    if price.get("tiers_mode") == "volume":
        for tier in tiers:
            if tier.get("up_to") is None or quantity <= tier["up_to"]:
                return _minor(tier, "unit_amount") * quantity + _minor(tier, "flat_amount")
        raise UnexpectedResponse(f"Stripe answered price {price.get('id')} with no last tier")
    amount, below = Fraction(0), 0
    for tier in tiers:
        up_to = tier.get("up_to")
        units = (quantity if up_to is None else min(quantity, up_to)) - below
        if units <= 0:
            break
        amount += _minor(tier, "unit_amount") * units + _minor(tier, "flat_amount")
        if up_to is None:
            break
        below = up_to
    return amount


def _amount_off(coupon: dict, currency: str) -> Fraction:
    """A coupon's amount_off in the subscription's currency; one in another currency (and
    without a price for ours in currency_options) cannot apply to it."""
    if str(coupon.get("currency") or "").upper() == currency:
        return _fraction(coupon["amount_off"], "amount_off")
    option = (coupon.get("currency_options") or {}).get(currency.lower()) or {}
    if option.get("amount_off") is None:
        return Fraction(0)
    return _fraction(option["amount_off"], "amount_off")


# Money


def _exponent(currency: str) -> int:
    if currency in ZERO_DECIMAL:
        return 0
    return 3 if currency in THREE_DECIMAL else 2


def _tidy(amount: Decimal, currency: str) -> Decimal:
    """Without trailing zeros beyond the minor unit: 75.5000000000 USD reads 75.50."""
    rounded = amount.quantize(Decimal(1).scaleb(-_exponent(currency)))
    return rounded if rounded == amount else amount.normalize()


def _major_units(minor: Fraction | int, currency: str) -> Decimal:
    """Minor units to major units, exactly; a repeating fraction (from normalising a week or a
    day to a month) is cut to the ledger's 10 decimal places."""
    minor = Fraction(minor)
    with localcontext() as context:
        context.prec = 60
        amount = Decimal(minor.numerator) / Decimal(minor.denominator)
        amount = amount.scaleb(-_exponent(currency))
        if amount != amount.quantize(STORED_PLACES, rounding=ROUND_HALF_UP):
            amount = amount.quantize(STORED_PLACES, rounding=ROUND_HALF_UP)
    return _tidy(amount, currency)


def _timestamp(day: date) -> int:
    return int(datetime.combine(day, time.min, tzinfo=UTC).timestamp())


# The ledger


def _latest_snapshots_before(day: date) -> dict[str, RevenueSnapshot]:
    earlier = RevenueSnapshot.objects.filter(day__lt=day)
    currencies = earlier.order_by().values_list("currency", flat=True).distinct()
    return {
        currency: snapshot
        for currency in currencies
        if (snapshot := earlier.filter(currency=currency).order_by("-day").first())
    }


def _counted(snapshot: RevenueSnapshot | None) -> bool:
    return bool(
        snapshot
        and (snapshot.mrr or snapshot.active_subscriptions or snapshot.trialing_subscriptions)
    )


def _fee_figures(fees: dict[tuple[date, str], DayFees]) -> dict[str, Any]:
    processing: dict[str, int] = defaultdict(int)
    product: dict[str, int] = defaultdict(int)
    for (_, currency), day_fees in sorted(fees.items(), key=lambda item: item[0][1]):
        processing[currency] += day_fees.processing
        if day_fees.product_count:
            product[currency] += day_fees.product
    figures: dict[str, Any] = {
        "processing_fees": {c: _major_units(m, c) for c, m in processing.items()},
        "balance_transactions": sum(f.processing_count + f.product_count for f in fees.values()),
    }
    if product:
        figures["product_fees"] = {c: _major_units(m, c) for c, m in product.items()}
    return figures


def _revenue_figures(snapshots: list[RevenueSnapshot]) -> dict[str, Any]:
    return {
        "mrr": {s.currency: s.mrr for s in snapshots},
        "new_mrr": {s.currency: s.new_mrr for s in snapshots},
        "churned_mrr": {s.currency: s.churned_mrr for s in snapshots},
        "active_subscriptions": sum(s.active_subscriptions for s in snapshots),
        "trialing_subscriptions": sum(s.trialing_subscriptions for s in snapshots),
    }

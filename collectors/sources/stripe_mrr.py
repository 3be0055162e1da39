"""Stripe's MRR, read from its subscriptions the way Stripe defines it (see
collectors.sources.stripe): the part of the Stripe collector that walks subscriptions, their
items, prices and coupons, as a mixin of StripeCollector (which gives it `client`, `_each`,
`_call`, the per-run caches `tiers` and `coupons`, and `notes`)."""

import math
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from collectors.errors import UnexpectedResponse
from collectors.http import require
from collectors.sources.stripe_amounts import (
    PROVIDER,
    amount_off,
    currency_of,
    customer_of,
    fraction_of,
    integer_of,
    minor_of,
    months_of,
    tiered_amount,
)

MRR_STATUSES = ("active", "past_due")
SUBSCRIPTION_EXPAND = ["data.discounts", "data.items.data.discounts"]


@dataclass
class Revenue:
    """Recurring revenue in one currency: MRR in minor units per month, and counts."""

    mrr: Fraction = Fraction(0)
    active: int = 0
    trialing: int = 0


class SubscriptionsMrr:
    def _revenue(self) -> dict[tuple[str, str], Revenue]:
        """Recurring revenue per (customer, currency): the per-currency figures are their sums
        (one definition, added up)."""
        revenue: dict[tuple[str, str], Revenue] = defaultdict(Revenue)
        listing = self.client.v1.subscriptions.list  # without `status`: all but canceled ones
        params = {"expand": SUBSCRIPTION_EXPAND}
        for subscription in self._each("GET /v1/subscriptions", listing, params):
            status = require(subscription, "status", provider=PROVIDER)
            key = (customer_of(subscription), currency_of(subscription))
            if status in MRR_STATUSES:
                bucket = revenue[key]
                bucket.active += 1
                bucket.mrr += self._subscription_mrr(subscription)
            elif status == "trialing":
                revenue[key].trialing += 1
        return revenue

    def _subscription_mrr(self, subscription: dict) -> Fraction:
        """Minor units per month, after forever coupons."""
        currency = currency_of(subscription)
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
            months = months_of(recurring)
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
            return tiered_amount(price, self._price_tiers(price), quantity)
        transform = price.get("transform_quantity")
        if transform:
            divided = Fraction(quantity, integer_of(transform, "divide_by"))
            quantity = math.ceil(divided) if transform.get("round") == "up" else math.floor(divided)
        return minor_of(price, "unit_amount", required=True) * quantity

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
                percent = fraction_of(coupon["percent_off"], "percent_off")
                amount -= amount * percent / 100
            elif coupon.get("amount_off") is not None:
                amount -= amount_off(coupon, currency) / months
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

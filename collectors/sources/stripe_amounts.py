"""Stripe's amounts, read exactly: integers in the currency's minor unit or `*_decimal` strings
with up to 12 decimals, added up as Fractions and turned into major units once, with Stripe's
own minor units (collectors.sources.stripe reads the objects; this reads their numbers)."""

from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction
from typing import Any

from collectors.errors import UnexpectedResponse
from collectors.http import decimal_of, require
from costledger.money import is_currency

PROVIDER = "Stripe"
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


def integer_of(obj: dict, key: str) -> int:
    value = require(obj, key, provider=PROVIDER)
    if isinstance(value, bool) or not isinstance(value, int):
        raise UnexpectedResponse(f"Stripe answered {key}={value!r}, not an integer")
    return value


def fraction_of(value: Any, field: str) -> Fraction:
    return Fraction(decimal_of(value, field=field, provider=PROVIDER))


def minor_of(obj: dict, field: str, *, required: bool = False) -> Fraction:
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
    return fraction_of(value, field)


def currency_of(obj: dict) -> str:
    code = str(require(obj, "currency", provider=PROVIDER)).upper()
    if not is_currency(code):
        raise UnexpectedResponse(f"Stripe answered currency={code!r}, not an ISO 4217 currency")
    return code


def customer_of(obj: dict) -> str:
    """The Stripe customer id an object belongs to (expanded or not)."""
    customer = require(obj, "customer", provider=PROVIDER)
    if isinstance(customer, dict):
        customer = require(customer, "id", provider=PROVIDER)
    if not isinstance(customer, str) or not customer or len(customer) > 255:
        raise UnexpectedResponse(f"Stripe answered customer={customer!r}, not a customer id")
    return customer


def months_of(recurring: dict) -> Fraction:
    interval, count = recurring.get("interval"), recurring.get("interval_count")
    if interval not in MONTHS_PER_INTERVAL or isinstance(count, bool) or not isinstance(count, int):
        raise UnexpectedResponse(
            f"Stripe answered a price billed every {count!r} {interval!r}, which it does not "
            "document (intervals are day, week, month or year)"
        )
    if count < 1:
        raise UnexpectedResponse(f"Stripe answered interval_count={count!r}")
    return MONTHS_PER_INTERVAL[interval] * count


def tiered_amount(price: dict, tiers: list, quantity: int) -> Fraction:
    """Volume: every unit at the price of the tier the quantity falls in. Graduated: each unit
    at the price of its own tier. Each tier reached adds its flat amount."""
    if price.get("tiers_mode") == "volume":
        for tier in tiers:
            if tier.get("up_to") is None or quantity <= tier["up_to"]:
                return minor_of(tier, "unit_amount") * quantity + minor_of(tier, "flat_amount")
        raise UnexpectedResponse(f"Stripe answered price {price.get('id')} with no last tier")
    amount, below = Fraction(0), 0
    for tier in tiers:
        up_to = tier.get("up_to")
        units = (quantity if up_to is None else min(quantity, up_to)) - below
        if units <= 0:
            break
        amount += minor_of(tier, "unit_amount") * units + minor_of(tier, "flat_amount")
        if up_to is None:
            break
        below = up_to
    return amount


def amount_off(coupon: dict, currency: str) -> Fraction:
    """A coupon's amount_off in the subscription's currency; one in another currency (and
    without a price for ours in currency_options) cannot apply to it."""
    if str(coupon.get("currency") or "").upper() == currency:
        return fraction_of(coupon["amount_off"], "amount_off")
    option = (coupon.get("currency_options") or {}).get(currency.lower()) or {}
    if option.get("amount_off") is None:
        return Fraction(0)
    return fraction_of(option["amount_off"], "amount_off")


# Money


def exponent_of(currency: str) -> int:
    if currency in ZERO_DECIMAL:
        return 0
    return 3 if currency in THREE_DECIMAL else 2


def tidy(amount: Decimal, currency: str) -> Decimal:
    """Without trailing zeros beyond the minor unit: 75.5000000000 USD reads 75.50."""
    rounded = amount.quantize(Decimal(1).scaleb(-exponent_of(currency)))
    return rounded if rounded == amount else amount.normalize()


def major_units(minor: Fraction | int, currency: str) -> Decimal:
    """Minor units to major units, exactly; a repeating fraction (from normalising a week or a
    day to a month) is cut to the ledger's 10 decimal places."""
    minor = Fraction(minor)
    with localcontext() as context:
        context.prec = 60
        amount = Decimal(minor.numerator) / Decimal(minor.denominator)
        amount = amount.scaleb(-exponent_of(currency))
        if amount != amount.quantize(STORED_PLACES, rounding=ROUND_HALF_UP):
            amount = amount.quantize(STORED_PLACES, rounding=ROUND_HALF_UP)
    return tidy(amount, currency)

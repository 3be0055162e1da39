"""Price tables of the collectors that estimate a cost (Supabase, Weaviate).

A module's DEFAULT_PRICES are the provider's published prices; a setting (SUPABASE_PRICES,
WEAVIATE_PRICES) overrides them key by key, nested objects merged, given as a dict or as its
JSON text. JSON numbers are read as Decimal, so "0.00325" and 0.00325 are the same exact price.
Errors name the setting, since the fix is in the environment.
"""

import copy
import json
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings

from collectors.errors import CollectorError
from costledger.money import is_currency


def price_table(*, setting: str, defaults: dict, documented_in: str) -> dict:
    """`defaults` overridden key by key (nested dicts merged) by the setting, with its
    `currency` upper-cased and checked; `documented_in` is where an admin reads the table."""
    overrides = getattr(settings, setting, None) or {}
    if isinstance(overrides, str):
        try:
            overrides = json.loads(overrides, parse_float=Decimal)
        except ValueError as error:
            raise CollectorError(f"{setting} is not valid JSON ({error}); fix it") from None
    if not isinstance(overrides, dict):
        raise CollectorError(f"{setting} must be a JSON object; see {documented_in}")
    prices = _merged(copy.deepcopy(defaults), overrides)
    prices["currency"] = str(prices["currency"]).upper()
    if not is_currency(prices["currency"]):
        raise CollectorError(
            f"{setting} currency {prices['currency']!r} is not an ISO 4217 code; fix it"
        )
    return prices


def price_of(value: Any, *, setting: str, name: str) -> Decimal:
    """One price of the table as an exact, finite, non-negative Decimal."""
    try:
        if isinstance(value, bool) or value is None:
            raise InvalidOperation
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        amount = None
    if amount is None or not amount.is_finite() or amount < 0:
        raise CollectorError(
            f"{setting} {name}={value!r} is not a price; fix it in the environment"
        )
    return amount


def _merged(base: dict, overrides: dict) -> dict:
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = _merged(base[key], value)
        else:
            base[key] = value
    return base

"""Money rules of the ledger: ISO 4217 codes, their minor units, the one rounding helper and the
even split of an amount over days.

Amounts are Decimal everywhere and always travel beside their currency. Rounding happens once,
late, at a document or display boundary, through `round_money`.
"""

from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from functools import cache

from babel.numbers import get_currency_precision, list_currencies


class CurrencyMismatch(ValueError):
    """Two amounts in different currencies were about to be added."""


@cache
def _iso_currencies() -> frozenset[str]:
    return frozenset(list_currencies())


def is_currency(code: str) -> bool:
    return code in _iso_currencies()


def minor_unit(currency: str) -> int:
    """Decimal places of the currency's minor unit (USD 2, JPY 0, KWD 3), from CLDR."""
    return get_currency_precision(currency)


def minor_quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_unit(currency))


def round_money(amount: Decimal, currency: str) -> Decimal:
    """The one rounding helper: ROUND_HALF_UP to the currency's minor unit."""
    return amount.quantize(minor_quantum(currency), rounding=ROUND_HALF_UP)


def has_sub_minor_digits(amount: Decimal, currency: str) -> bool:
    """True when the amount carries more decimals than the currency allows (12.345 USD)."""
    return amount != amount.quantize(minor_quantum(currency), rounding=ROUND_DOWN)


def split_evenly(amount: Decimal, currency: str, parts: int) -> list[Decimal]:
    """Split an amount into `parts` pieces that differ by at most one quantum and sum exactly.

    Largest remainder: every piece gets the floor of the share in quanta, and the quanta left
    over go one each to the first pieces. The quantum is the currency's minor unit, or the
    amount's own last digit when it is finer (a usage cost of 0.000123 USD spread over 3 days).
    """
    if parts < 1:
        raise ValueError("split_evenly needs at least one part")
    # normalize(): a DECIMAL(24, 10) column hands back 25.0000000000, whose last digit is noise.
    exponent = min(-minor_unit(currency), amount.normalize().as_tuple().exponent)
    quantum = Decimal(1).scaleb(exponent)
    sign = -1 if amount < 0 else 1
    total_quanta = int((abs(amount) / quantum).to_integral_value())
    share, left_over = divmod(total_quanta, parts)
    return [sign * (share + (1 if i < left_over else 0)) * quantum for i in range(parts)]

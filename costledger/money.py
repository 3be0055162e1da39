"""Money rules of the ledger: ISO 4217 codes, their minor units, the one rounding helper and the
even split of an amount over days.

Amounts are Decimal everywhere and always travel beside their currency. Rounding happens once,
late, at a document or display boundary, through `round_money`.
"""

from decimal import ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from fractions import Fraction
from functools import cache

from babel import Locale
from babel.numbers import get_currency_precision, get_territory_currencies


@cache
def _iso_currencies() -> frozenset[str]:
    """ISO 4217 codes legal tender somewhere today (CLDR). Leaves out withdrawn currencies
    (DEM, HRK), metals and test codes (XAU, XTS, XXX), which no invoice is billed in."""
    codes = set()
    for territory in Locale("en").territories:
        codes.update(get_territory_currencies(territory, tender=True))
    return frozenset(codes)


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


def round_preserving_sum(amounts: list[Decimal], currency: str) -> list[Decimal]:
    """Round each amount to the minor unit so that the pieces add up to the rounded total.

    Largest remainder: every amount is rounded down, then the quanta still missing go to the
    amounts that lost most. Used where pieces are rounded one by one (converted daily pieces of
    an invoice) but must still sum to the figure shown for the whole.
    """
    quantum = minor_quantum(currency)
    target = round_money(sum(amounts, Decimal(0)), currency)
    floors = [a.quantize(quantum, rounding=ROUND_FLOOR) for a in amounts]
    missing = int((target - sum(floors, Decimal(0))) / quantum)
    by_remainder = sorted(range(len(amounts)), key=lambda i: floors[i] - amounts[i])
    for i in by_remainder[:missing]:
        floors[i] += quantum
    return floors


def allocate_by_weights(amount: Decimal, currency: str, weights: list[Decimal]) -> list[Decimal]:
    """`amount`, rounded to the minor unit, shared in proportion to `weights` (each >= 0, not
    all 0) so that the shares add up to it exactly.

    Largest remainder, in exact arithmetic: each share gets the floor of its quota in minor
    units; the units left over go one each to the largest fractional parts, ties to the earlier
    weight. A negative amount (a month of credits) is shared the same way with its sign.
    """
    if not weights or any(w < 0 for w in weights) or not any(weights):
        raise ValueError("allocate_by_weights needs weights >= 0, not all 0")
    quantum = minor_quantum(currency)
    rounded = round_money(amount, currency)
    sign = -1 if rounded < 0 else 1
    units = int(abs(rounded) / quantum)
    whole = sum((Fraction(w) for w in weights), Fraction(0))
    quotas = [units * Fraction(w) / whole for w in weights]
    floors = [q.numerator // q.denominator for q in quotas]
    left_over = units - sum(floors)
    by_remainder = sorted(range(len(weights)), key=lambda i: (floors[i] - quotas[i], i))
    for i in by_remainder[:left_over]:
        floors[i] += 1
    return [sign * units_ * quantum for units_ in floors]


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


def exact_text(amount: Decimal | None, currency: str) -> str:
    """An amount as stored, for lists of small sums (one request's cost): every significant
    digit and at least the currency's minor unit, thousands separators: 0.0075, 14,396.00,
    1,234.50."""
    if amount is None:
        return "—"
    return f"{_at_least_minor(amount, currency):,f}"


def plain_text(amount: Decimal, currency: str | None = None) -> str:
    """An amount as a form shows it for editing: exact, no separators, no trailing zeros past
    the minor unit (two places without a currency): 25.00, not 25.0000."""
    return f"{_at_least_minor(amount, currency):f}"


def _at_least_minor(amount: Decimal, currency: str | None) -> Decimal:
    places = minor_unit(currency) if currency and is_currency(currency) else 2
    exact = amount.normalize()
    if exact.as_tuple().exponent > -places:  # fewer places than the minor unit: pad
        return exact.quantize(Decimal(1).scaleb(-places))
    return exact

"""How a charge of a plan turns a quantity into an amount: the four charge models (per unit,
graduated tiers, volume tiers, package), on the quantity counted in the charge's unit. Pure
functions of Decimals: the invoice (billing.invoices) gives them the month's usage and stores
each line's detail beside its amount.

The unit turns what is counted into what is priced: tokens per 1, 1K or 1M; streaming time per
minute (from milliseconds, exact); bandwidth per GB (10^9 bytes), rounded up to 0.001 GB as the
charge is billed. A line's amount is rounded once, HALF_UP to the currency's minor unit
(costledger.money.round_money); the detail keeps the exact figures it came from.
"""

from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal

from django.db import models

from costledger.money import round_money


class ChargeModel(models.TextChoices):
    PER_UNIT = "per_unit", "Per unit"
    GRADUATED = "graduated", "Graduated tiers (each tier's units at its price)"
    VOLUME = "volume", "Volume tiers (every unit at the price of the tier reached)"
    PACKAGE = "package", "Package (per N units, rounded up)"


class Unit(models.TextChoices):
    ONE = "1", "per 1"
    THOUSAND = "1k", "per 1,000"
    MILLION = "1m", "per 1,000,000"
    MINUTE = "minute", "per minute (of milliseconds)"
    GB = "gb", "per GB (10^9 bytes, rounded up to 0.001 GB)"


GB_STEP = Decimal("0.001")


def in_units(counted: int | Decimal, unit: str) -> Decimal:
    """What is counted (tokens, requests, milliseconds, bytes) in the charge's unit."""
    counted = Decimal(counted)
    if unit == Unit.THOUSAND:
        return counted.scaleb(-3)
    if unit == Unit.MILLION:
        return counted.scaleb(-6)
    if unit == Unit.MINUTE:
        return counted / 60_000
    if unit == Unit.GB:
        return counted.scaleb(-9).quantize(GB_STEP, rounding=ROUND_CEILING)
    return counted


@dataclass(frozen=True)
class Tier:
    """Units above the previous tier's `up_to` and up to this one's (None: no end), at
    `unit_price` each, plus `flat_fee` once when the tier is reached."""

    up_to: Decimal | None
    unit_price: Decimal
    flat_fee: Decimal = Decimal(0)


@dataclass(frozen=True)
class Charged:
    amount: Decimal  # rounded to the currency's minor unit
    exact: Decimal  # before rounding
    detail: list[dict] = field(default_factory=list)  # how: tiers used, units, prices


def charge_amount(
    *,
    model: str,
    quantity: Decimal,
    currency: str,
    unit_price: Decimal | None = None,
    tiers: list[Tier] | None = None,
    package_size: Decimal | None = None,
) -> Charged:
    """The amount of `quantity` (already in the charge's unit) under `model`."""
    if quantity < 0:
        raise ValueError("a quantity cannot be negative")
    if model == ChargeModel.PER_UNIT:
        exact = quantity * unit_price
        detail = [{"units": str(quantity), "unit_price": str(unit_price), "amount": str(exact)}]
    elif model == ChargeModel.PACKAGE:
        packages = (quantity / package_size).to_integral_value(rounding=ROUND_CEILING)
        exact = packages * unit_price
        detail = [{"units": str(quantity), "package_size": str(package_size),
                   "packages": str(packages), "package_price": str(unit_price),
                   "amount": str(exact)}]  # fmt: skip
    elif model == ChargeModel.GRADUATED:
        exact, detail = _graduated(quantity, tiers)
    elif model == ChargeModel.VOLUME:
        exact, detail = _volume(quantity, tiers)
    else:
        raise ValueError(f"unknown charge model {model!r}")
    return Charged(round_money(exact, currency), exact, detail)


def _graduated(quantity: Decimal, tiers: list[Tier]) -> tuple[Decimal, list[dict]]:
    """Each tier's units at its price; a tier's flat fee once at least one unit falls in it."""
    exact, detail, below = Decimal(0), [], Decimal(0)
    for tier in tiers:
        if quantity <= below:
            break
        top = quantity if tier.up_to is None else min(quantity, tier.up_to)
        units = top - below
        amount = units * tier.unit_price + tier.flat_fee
        exact += amount
        detail.append(_tier_detail(below, tier, units, amount))
        if tier.up_to is None or quantity <= tier.up_to:
            break
        below = tier.up_to
    return exact, detail


def _volume(quantity: Decimal, tiers: list[Tier]) -> tuple[Decimal, list[dict]]:
    """Every unit at the price of the tier the whole quantity reaches, with its flat fee;
    nothing for no usage."""
    if quantity == 0:
        return Decimal(0), []
    below = Decimal(0)
    for tier in tiers:
        if tier.up_to is None or quantity <= tier.up_to:
            exact = quantity * tier.unit_price + tier.flat_fee
            return exact, [_tier_detail(below, tier, quantity, exact)]
        below = tier.up_to
    raise ValueError("the last tier must have no end")


def _tier_detail(below: Decimal, tier: Tier, units: Decimal, amount: Decimal) -> dict:
    return {
        "from": str(below),
        "to": None if tier.up_to is None else str(tier.up_to),
        "units": str(units),
        "unit_price": str(tier.unit_price),
        "flat_fee": str(tier.flat_fee),
        "amount": str(amount),
    }


MAX_TIERS = 50
# Tier figures as a plan's prices are stored (billing.models.plans.PRICE): below 10^12, twelve
# decimal places at most.
TIER_LIMIT = Decimal(10) ** 12
TIER_PLACES = 12


def tiers_parse(text: str) -> list[Tier]:
    """Tiers written one per line: 'up to', unit price, optional flat fee ('1000 0.02', then
    '* 0.015 5' for the last, endless tier). A ValueError says which line is wrong and why."""
    lines = [line.split() for line in text.replace("\r", "").split("\n") if line.strip()]
    if not lines:
        raise ValueError("Give at least one tier: '* 0.01' prices every unit at 0.01.")
    if len(lines) > MAX_TIERS:
        raise ValueError(f"A charge has at most {MAX_TIERS} tiers; this has {len(lines)}.")
    tiers, below = [], Decimal(0)
    for number, parts in enumerate(lines, start=1):
        where = f"Tier line {number}"
        if len(parts) not in (2, 3):
            raise ValueError(f"{where}: write 'up to', the unit price and an optional flat fee.")
        last = number == len(lines)
        if parts[0] == "*":
            if not last:
                raise ValueError(f"{where}: only the last tier is endless (*).")
            up_to = None
        else:
            up_to = _tier_figure(parts[0], where, "its 'up to'")
            if up_to <= below:
                raise ValueError(f"{where}: 'up to' must be above the previous tier's ({below}).")
            if last:
                raise ValueError(f"{where}: the last tier is endless: write * as its 'up to'.")
            below = up_to
        price = _tier_figure(parts[1], where, "its unit price")
        fee = _tier_figure(parts[2], where, "its flat fee") if len(parts) == 3 else Decimal(0)
        tiers.append(Tier(up_to, price, fee))
    return tiers


def _tier_figure(text: str, where: str, what: str) -> Decimal:
    if "," in text:
        raise ValueError(f"{where}: write {what} without separators, with a dot: 1000.5.")
    try:
        value = Decimal(text)
    except ArithmeticError:
        raise ValueError(f"{where}: {what} {text[:40]!r} is not a number.") from None
    if not value.is_finite() or value < 0 or value >= TIER_LIMIT:
        raise ValueError(f"{where}: {what} must be a number from 0 to below 10^12.")
    if value.as_tuple().exponent < -TIER_PLACES:
        raise ValueError(f"{where}: {what} has more than {TIER_PLACES} decimal places.")
    return value


def tiers_text(tiers: list[Tier]) -> str:
    """The tiers as `tiers_parse` reads them, one per line, figures as given."""
    return "\n".join(
        " ".join(
            [
                "*" if tier.up_to is None else f"{tier.up_to:f}",
                f"{tier.unit_price:f}",
                *([f"{tier.flat_fee:f}"] if tier.flat_fee else []),
            ]
        )
        for tier in tiers
    )

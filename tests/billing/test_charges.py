"""The four charge models and the units, on hand-computed cases (the figures in the comments)."""

from decimal import Decimal

import pytest

from billing.charges import ChargeModel, Tier, Unit, charge_amount, in_units

D = Decimal
TIERS = [Tier(D(100), D("0.10")), Tier(D(1000), D("0.05"), D("2.00")), Tier(None, D("0.01"))]


@pytest.mark.parametrize(
    ("counted", "unit", "expected"),
    [
        (1_234_567, Unit.ONE, D(1_234_567)),
        (1_234_567, Unit.THOUSAND, D("1234.567")),
        (1_234_567, Unit.MILLION, D("1.234567")),
        (90_000, Unit.MINUTE, D("1.5")),  # 90 s
        (1_500, Unit.MINUTE, D("0.025")),
        (2_000_000_001, Unit.GB, D("2.001")),  # just over 2 GB: up to the next 0.001
        (2_000_000_000, Unit.GB, D("2.000")),
        (1, Unit.GB, D("0.001")),
        (0, Unit.GB, D("0.000")),
    ],
)
def test_counted_in_the_charge_unit(counted, unit, expected):
    assert in_units(counted, unit) == expected


def test_per_unit_rounds_the_line_once_half_up():
    # 1,234.567 K tokens x 0.0025 = 3.0864175 -> 3.09
    charged = charge_amount(model=ChargeModel.PER_UNIT, quantity=D("1234.567"), currency="USD",
                            unit_price=D("0.0025"))  # fmt: skip
    assert (charged.amount, charged.exact) == (D("3.09"), D("3.0864175"))
    assert charge_amount(model=ChargeModel.PER_UNIT, quantity=D("0.005"), currency="USD",
                         unit_price=D(1)).amount == D("0.01")  # half up, not to even  # fmt: skip
    assert charge_amount(model=ChargeModel.PER_UNIT, quantity=D("1234.5"), currency="JPY",
                         unit_price=D(1)).amount == D("1235")  # fmt: skip


@pytest.mark.parametrize(
    ("quantity", "amount", "tiers_used"),
    [
        (D(0), D("0.00"), 0),
        (D(50), D("5.00"), 1),  # 50 x 0.10
        (D(100), D("10.00"), 1),
        (D(101), D("12.05"), 2),  # 10.00 + 1 x 0.05 + 2.00
        (D(1000), D("57.00"), 2),  # 10.00 + 900 x 0.05 + 2.00
        (D(2500), D("72.00"), 3),  # 57.00 + 1,500 x 0.01
    ],
)
def test_graduated_tiers_each_at_their_price(quantity, amount, tiers_used):
    charged = charge_amount(model=ChargeModel.GRADUATED, quantity=quantity, currency="USD",
                            tiers=TIERS)  # fmt: skip
    assert charged.amount == amount
    assert len(charged.detail) == tiers_used
    assert sum(D(t["units"]) for t in charged.detail) == quantity


@pytest.mark.parametrize(
    ("quantity", "amount"),
    [
        (D(0), D("0.00")),
        (D(100), D("10.00")),  # 100 x 0.10
        (D(101), D("7.05")),  # 101 x 0.05 + 2.00: cheaper than 100, as volume pricing is
        (D(2500), D("25.00")),  # 2,500 x 0.01
    ],
)
def test_volume_tiers_price_every_unit_at_the_tier_reached(quantity, amount):
    assert charge_amount(model=ChargeModel.VOLUME, quantity=quantity, currency="USD",
                         tiers=TIERS).amount == amount  # fmt: skip


@pytest.mark.parametrize(
    ("quantity", "amount"), [(D(0), D("0.00")), (D(1), D("5.00")), (D(1000), D("5.00")),
                             (D("1000.001"), D("10.00")), (D(2500), D("15.00"))]
)  # fmt: skip
def test_a_package_of_1000_units_rounded_up(quantity, amount):
    charged = charge_amount(model=ChargeModel.PACKAGE, quantity=quantity, currency="USD",
                            unit_price=D(5), package_size=D(1000))  # fmt: skip
    assert charged.amount == amount


def test_a_negative_quantity_or_unknown_model_is_refused():
    with pytest.raises(ValueError):
        charge_amount(model=ChargeModel.PER_UNIT, quantity=D(-1), currency="USD", unit_price=D(1))
    with pytest.raises(ValueError):
        charge_amount(model="flat", quantity=D(1), currency="USD", unit_price=D(1))

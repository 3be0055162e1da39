from decimal import Decimal

import pytest

from costledger.money import (
    has_sub_minor_digits,
    is_currency,
    minor_unit,
    round_money,
    split_evenly,
)


@pytest.mark.parametrize(
    ("amount", "currency", "parts"),
    [
        ("25.00", "USD", 31),
        ("25.00", "USD", 30),
        ("0.01", "USD", 31),
        ("1000", "JPY", 7),
        ("10.005", "KWD", 3),
        ("-25.00", "USD", 31),
        ("12.345678", "USD", 30),  # finer than cents: split at its own last digit
        ("25.0000000000", "USD", 31),  # as a DECIMAL(24, 10) column returns it
    ],
)
def test_split_evenly_sums_exactly_and_differs_by_one_quantum(amount, currency, parts):
    pieces = split_evenly(Decimal(amount), currency, parts)
    assert len(pieces) == parts
    assert sum(pieces) == Decimal(amount)
    assert max(pieces) - min(pieces) <= Decimal(1).scaleb(
        min(-minor_unit(currency), Decimal(amount).normalize().as_tuple().exponent)
    )


def test_split_of_a_monthly_invoice_is_in_cents_largest_remainder_first():
    pieces = split_evenly(Decimal("25.00"), "USD", 31)
    assert pieces[:20] == [Decimal("0.81")] * 20
    assert pieces[20:] == [Decimal("0.80")] * 11


def test_round_money_is_half_up_to_the_minor_unit():
    assert round_money(Decimal("2.345"), "USD") == Decimal("2.35")
    assert round_money(Decimal("-2.345"), "USD") == Decimal("-2.35")
    assert round_money(Decimal("1234.5"), "JPY") == Decimal("1235")
    assert round_money(Decimal("1.0005"), "KWD") == Decimal("1.001")


def test_currency_codes_and_minor_units():
    assert is_currency("EUR") and is_currency("JPY")
    assert not is_currency("XYZ") and not is_currency("usd")
    assert (minor_unit("USD"), minor_unit("JPY"), minor_unit("KWD")) == (2, 0, 3)
    assert has_sub_minor_digits(Decimal("1.235"), "USD")
    assert not has_sub_minor_digits(Decimal("1.230"), "USD")
    assert has_sub_minor_digits(Decimal("5.5"), "JPY")


def test_amounts_are_shown_readable_exact_or_to_the_minor_unit():
    from costledger.money import exact_text
    from costledger.templatetags.ledger import money

    assert exact_text(Decimal("0.0075000000"), "USD") == "0.0075"
    assert exact_text(Decimal("14396.0000000000"), "USD") == "14,396.00"
    assert exact_text(Decimal("1234.5000"), "USD") == "1,234.50"
    assert exact_text(Decimal("1234.5000"), "JPY") == "1,234.5"  # every stored digit
    assert exact_text(Decimal("1200"), "JPY") == "1,200"
    assert exact_text(None, "USD") == "—"
    assert money("14011.07", "USD") == "14,011.07"
    assert money(Decimal("1234.5"), "JPY") == "1,235"

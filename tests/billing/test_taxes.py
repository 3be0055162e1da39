"""The VAT rules of customer billing, one case each, with real VAT numbers' formats."""

from decimal import Decimal

import pytest

from billing.taxes import (
    EU_COUNTRIES,
    EXPORT_MENTION,
    REVERSE_CHARGE_MENTION,
    tax_decision,
    vat_number_valid,
)

RATES = {"FR": Decimal("0.20"), "DE": Decimal("0.19")}


def decide(country, vat_number="", override=None, seller="FR"):
    return tax_decision(country=country, vat_number=vat_number, seller_country=seller,
                        standard_rates=RATES, override=override)  # fmt: skip


def test_a_customer_in_the_sellers_country_pays_its_standard_rate_even_with_a_vat_number():
    decision = decide("fr", vat_number="FR40303265045")
    assert (decision.rate, decision.rule, decision.mention) == (Decimal("0.20"), "domestic", "")


def test_a_business_elsewhere_in_the_eu_is_reverse_charged_with_the_mention():
    decision = decide("DE", vat_number="DE 136 695 976")
    assert (decision.rate, decision.rule) == (Decimal(0), "reverse_charge")
    assert decision.mention == REVERSE_CHARGE_MENTION
    assert decide("GR", vat_number="EL094259216").rule == "reverse_charge"  # Greece writes EL


@pytest.mark.parametrize(
    "vat_number",
    ["", "DE123", "DE136695977", "FR40303265045", "not a number"],  # missing, short, bad check
)  # digit, another country's
def test_an_eu_customer_without_a_valid_vat_number_of_its_country_pays_the_sellers_rate(
    vat_number,
):
    decision = decide("DE", vat_number=vat_number)
    assert (decision.rate, decision.rule) == (Decimal("0.20"), "eu_consumer")


def test_outside_the_eu_no_vat_with_the_mention():
    for country in ("US", "CH", "GB", "NO"):
        decision = decide(country, vat_number="GB980780684")
        assert (decision.rate, decision.rule, decision.mention) == (
            Decimal(0), "export", EXPORT_MENTION
        )  # fmt: skip


def test_an_override_wins_over_every_rule():
    assert decide("DE", vat_number="DE136695976", override=Decimal("0.07")).rate == Decimal("0.07")
    assert decide("US", override=Decimal("0.055")).rule == "override"


def test_the_eu_is_its_27_member_states():
    assert len(EU_COUNTRIES) == 27 and {"FR", "DE", "GR", "IE"} <= EU_COUNTRIES
    assert not {"GB", "CH", "XI", "EL"} & EU_COUNTRIES


def test_a_vat_number_must_belong_to_the_customers_country():
    assert vat_number_valid("FR40303265045", "FR")
    assert not vat_number_valid("FR40303265045", "DE")

"""Plans, their charges and SLA tiers, and customers' discounts through the real admin forms:
what a charge model needs, the tiers' text, hostile values in every inline field, each refused
with a field error and nothing stored; and tier text of any shape (hypothesis) either stored as
it parses or refused, never a 500."""

from decimal import Decimal

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.charges import tiers_parse, tiers_text
from billing.models import Customer, Discount, Plan, PlanCharge, SlaCreditTier

pytestmark = pytest.mark.django_db
ADD_PLAN = "admin:billing_plan_add"


def plan_post(charge=None, tier=None, **fields) -> dict:
    charge = {"position": "0", "metric": "input_tokens", "charge_model": "per_unit",
              "unit": "1m", "unit_price": "2.5", "package_size": "", "tiers": "",
              "markup_percent": "", "description": "", "provider": "", "model": "",
              **(charge or {})}  # fmt: skip
    tier = {"below": "99.9", "credit": "10", **(tier or {})}
    return {
        "name": "Team", "currency": "EUR", "monthly_fee": "99", "minimum_commitment": "",
        "sla_target": "99.9", "sla_credit_cap": "",
        "charges-TOTAL_FORMS": "1", "charges-INITIAL_FORMS": "0",
        **{f"charges-0-{k}": v for k, v in charge.items()},
        "sla_tiers-TOTAL_FORMS": "1", "sla_tiers-INITIAL_FORMS": "0",
        **{f"sla_tiers-0-{k}": v for k, v in tier.items()},
        **fields,
    }  # fmt: skip


def inline_errors(response, prefix: str) -> dict:
    for formset in response.context["inline_admin_formsets"]:
        if formset.formset.prefix == prefix:
            return formset.formset.forms[0].errors
    raise AssertionError(prefix)


def test_finance_adds_a_plan_with_a_graduated_charge_and_tiers(finance_client):
    response = finance_client.post(
        reverse(ADD_PLAN),
        plan_post({"metric": "output_tokens", "charge_model": "graduated", "unit_price": "",
                   "tiers": " 1000   0.02\r\n\r\n* 0.015 5 "}),
    )  # fmt: skip
    assert response.status_code == 302
    charge = PlanCharge.objects.get()
    assert charge.tiers == "1000 0.02\n* 0.015 5"  # stored as it parses
    assert SlaCreditTier.objects.get().credit == 10


@pytest.mark.parametrize(
    ("charge", "field"),
    [
        ({"unit_price": ""}, "unit_price"),  # per unit without a price
        ({"charge_model": "package", "package_size": ""}, "package_size"),
        ({"charge_model": "graduated", "unit_price": "", "tiers": ""}, "tiers"),
        ({"charge_model": "volume", "unit_price": "", "tiers": "1000 0.02"}, "tiers"),
        ({"charge_model": "volume", "unit_price": "", "tiers": "* 1\n* 2"}, "tiers"),
        ({"charge_model": "graduated", "unit_price": "", "tiers": "10 1\n5 1\n* 1"}, "tiers"),
        ({"charge_model": "graduated", "unit_price": "", "tiers": "1,000 1\n* 1"}, "tiers"),
        ({"charge_model": "graduated", "unit_price": "", "tiers": "1e999 1\n* 1"}, "tiers"),
        ({"charge_model": "graduated", "unit_price": "", "tiers": "NaN 1\n* 1"}, "tiers"),
        ({"charge_model": "graduated", "unit_price": "", "tiers": "1\x00 1\n* 1"}, "tiers"),
        ({"charge_model": "graduated", "unit_price": "", "tiers": "x" * 20_000}, "tiers"),
        ({"tiers": "* 1"}, "tiers"),  # tiers on a per-unit charge
        ({"metric": "stream_minutes", "unit": "1m"}, "unit"),
        ({"metric": "bandwidth_gb", "unit": "1"}, "unit"),
        ({"metric": "llm_cost", "unit": "1", "unit_price": "", "markup_percent": ""},
         "markup_percent"),
        ({"metric": "llm_cost", "unit": "1", "unit_price": "1", "markup_percent": "20"},
         "unit_price"),
        ({"metric": "llm_cost", "unit": "1", "unit_price": "", "markup_percent": "20",
          "charge_model": "volume", "tiers": "* 1"}, "charge_model"),
        ({"markup_percent": "20"}, "markup_percent"),
        ({"unit_price": "-1"}, "unit_price"),
        ({"unit_price": "1e400"}, "unit_price"),
        ({"unit_price": "NaN"}, "unit_price"),
        ({"unit_price": "0.1234567890123"}, "unit_price"),  # 13 decimals: 12 are kept
        ({"unit_price": "99999999999999999999"}, "unit_price"),
        ({"package_size": "-5", "charge_model": "package"}, "package_size"),
        ({"package_size": "99999999999999999999", "charge_model": "package"}, "package_size"),
        ({"metric": "tokens\x00"}, "metric"),
        ({"description": "Input\x00"}, "description"),
        ({"model": "gpt\x00"}, "model"),
        ({"provider": "open ai"}, "provider"),
        ({"position": "99999999"}, "position"),
    ],
)  # fmt: skip
def test_a_bad_charge_is_a_field_error_and_no_plan_is_stored(admin_client, charge, field):
    response = admin_client.post(reverse(ADD_PLAN), plan_post(charge))
    assert response.status_code == 200
    assert field in inline_errors(response, "charges")
    assert not Plan.objects.exists() and not PlanCharge.objects.exists()


@pytest.mark.parametrize(
    ("tier", "plan_fields", "field"),
    [
        ({"below": "99.95"}, {}, "below"),  # above the 99.9 target: credits a met SLA
        ({"below": "99"}, {"sla_target": ""}, "below"),  # tiers without a target
        ({"credit": "101"}, {}, "credit"),
        ({"credit": "-1"}, {}, "credit"),
        ({"below": "NaN"}, {}, "below"),
    ],
)
def test_a_bad_sla_tier_is_a_field_error(admin_client, tier, plan_fields, field):
    response = admin_client.post(reverse(ADD_PLAN), plan_post(tier=tier, **plan_fields))
    assert response.status_code == 200
    assert field in inline_errors(response, "sla_tiers")
    assert not Plan.objects.exists()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"monthly_fee": "9.999"}, "monthly_fee"),  # EUR has 2 decimals
        ({"minimum_commitment": "-1"}, "minimum_commitment"),
        ({"sla_target": "", "sla_credit_cap": "30", "sla_tiers-TOTAL_FORMS": "0"},
         "sla_credit_cap"),
        ({"currency": "XYZ"}, "currency"),
    ],
)  # fmt: skip
def test_a_bad_plan_is_a_field_error(admin_client, fields, field):
    response = admin_client.post(reverse(ADD_PLAN), plan_post(**fields))
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert not Plan.objects.exists()


def customer_post(discount: dict, **fields) -> dict:
    return {
        "name": "Acme", "email": "ap@acme.example", "billing_address": "1 Road",
        "country": "US", "currency": "USD", "payment_terms_days": "30", "vat_number": "",
        "tax_override": "", "stripe_customer_id": "", "plan": "",
        "users-TOTAL_FORMS": "0", "users-INITIAL_FORMS": "0",
        "discounts-TOTAL_FORMS": "1", "discounts-INITIAL_FORMS": "0",
        **{f"discounts-0-{k}": v for k, v in {
            "description": "Launch", "kind": "percent", "value": "10", "duration": "forever",
            "months": "", "starts_on": "2026-11-01", **discount}.items()},
        **fields,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("discount", "field"),
    [
        ({"value": "101"}, "value"),
        ({"value": "0"}, "value"),
        ({"value": "-5"}, "value"),
        ({"kind": "fixed", "value": "10.005"}, "value"),  # USD has 2 decimals
        ({"duration": "months", "months": ""}, "months"),
        ({"duration": "months", "months": "0"}, "months"),
        ({"duration": "months", "months": "121"}, "months"),
        ({"duration": "once", "months": "3"}, "months"),
        ({"starts_on": "0001-01-01"}, "starts_on"),
        ({"starts_on": "9999-12-31"}, "starts_on"),
        ({"description": ""}, "description"),
        ({"description": "Launch\x00"}, "description"),
        ({"kind": "bogus"}, "kind"),
    ],
)
def test_a_bad_discount_is_a_field_error_and_no_customer_is_stored(admin_client, discount, field):
    response = admin_client.post(reverse("admin:billing_customer_add"), customer_post(discount))
    assert response.status_code == 200
    assert field in inline_errors(response, "discounts")
    assert not Customer.objects.exists() and not Discount.objects.exists()


def test_a_discount_starting_mid_month_is_kept_as_its_month(admin_client):
    admin_client.post(reverse("admin:billing_customer_add"),
                      customer_post({"starts_on": "2026-11-17", "kind": "fixed",
                                     "value": "25.50"}))  # fmt: skip
    discount = Discount.objects.get()
    assert (str(discount.starts_on), discount.value) == ("2026-11-01", Decimal("25.50"))


def test_a_plan_in_another_currency_is_refused_on_the_customer(admin_client):
    usd = Plan.objects.create(name="USD plan", currency="USD")
    response = admin_client.post(
        reverse("admin:billing_customer_add"),
        customer_post({}, currency="EUR", plan=str(usd.pk), **{"discounts-TOTAL_FORMS": "0"}),
    )
    assert "plan" in response.context["adminform"].form.errors
    assert not Customer.objects.exists()


TIER_CHARS = st.sampled_from(list("0123456789 .*-+eE,\n\r\tx") + ["\x00", "\ufffd", "١"])


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(text=st.text(TIER_CHARS, max_size=40))
def test_any_tier_text_is_stored_as_it_parses_or_refused(admin_client, text):
    try:
        expected = tiers_text(tiers_parse(text))
    except ValueError:
        expected = None
    post = plan_post({"charge_model": "volume", "unit_price": "", "tiers": text})
    response = admin_client.post(reverse(ADD_PLAN), post)
    assert response.status_code in (200, 302)
    stored = PlanCharge.objects.values_list("tiers", flat=True).first()
    if response.status_code == 302:
        assert expected is not None and stored == expected
        Plan.objects.all().delete()
    else:
        assert stored is None

"""Customers of customer billing in the admin: VAT numbers checked per EU country, a usage user
id belonging to one customer at most, Finance enters them and Viewer looks."""

from decimal import Decimal

import pytest
from django.urls import reverse

from billing.models import Customer, CustomerUser, TaxRate

pytestmark = pytest.mark.django_db
ADD = "admin:billing_customer_add"


def customer_post(**fields) -> dict:
    return {
        "name": "Acme SAS", "email": "billing@acme.example", "billing_address": "1 rue X, Paris",
        "country": "FR", "currency": "EUR", "payment_terms_days": "30", "vat_number": "",
        "tax_override": "", "stripe_customer_id": "",
        "users-TOTAL_FORMS": "2", "users-INITIAL_FORMS": "0",
        "users-0-user_id": "u-acme-1", "users-1-user_id": "u-acme-2",
        "plan": "", "discounts-TOTAL_FORMS": "0", "discounts-INITIAL_FORMS": "0",
        **fields,
    }  # fmt: skip


def test_finance_adds_a_customer_with_its_usage_users(client, finance_user):
    client.force_login(finance_user)
    response = client.post(reverse(ADD), customer_post(vat_number="fr 40 303 265 045"))
    assert response.status_code == 302
    customer = Customer.objects.get()
    assert customer.vat_number == "FR40303265045"  # stored compact, upper case
    assert sorted(customer.users.values_list("user_id", flat=True)) == ["u-acme-1", "u-acme-2"]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"vat_number": "FR40303265046"}, "vat_number"),  # a check digit off
        ({"vat_number": "DE136695976"}, "vat_number"),  # valid, but German: the customer is FR
        ({"country": "XX"}, "country"),
        ({"currency": "EURO"}, "currency"),
        ({"payment_terms_days": "366"}, "payment_terms_days"),
        ({"tax_override": "101"}, "tax_override"),
        ({"stripe_customer_id": "acme"}, "stripe_customer_id"),
        ({"email": "billing@"}, "email"),
        ({"name": "Acme\x00"}, "name"),  # lone surrogates and the rest: the admin sweep
    ],
)
def test_a_bad_customer_gets_a_field_error_and_nothing_is_stored(admin_client, fields, field):
    response = admin_client.post(reverse(ADD), customer_post(**fields))
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert not Customer.objects.exists() and not CustomerUser.objects.exists()


def test_a_vat_number_outside_the_eu_is_kept_as_given(admin_client):
    admin_client.post(reverse(ADD), customer_post(country="CH", vat_number="CHE-123.456.788"))
    assert Customer.objects.get().vat_number == "CHE-123.456.788"


def test_a_usage_user_belongs_to_one_customer_at_most(admin_client):
    admin_client.post(reverse(ADD), customer_post())
    response = admin_client.post(reverse(ADD), customer_post(name="Other", **{
        "users-0-user_id": "u-acme-1", "users-1-user_id": "u-other"}))  # fmt: skip
    assert response.status_code == 200
    assert Customer.objects.count() == 1 and CustomerUser.objects.count() == 2


def test_viewer_looks_and_changes_nothing(client, viewer_user):
    client.force_login(viewer_user)
    assert client.get(reverse("admin:billing_customer_changelist")).status_code == 200
    assert client.get(reverse(ADD)).status_code == 403
    assert client.post(reverse(ADD), customer_post()).status_code == 403
    assert not Customer.objects.exists()


def test_the_sellers_standard_rate_is_there_from_the_start():
    rate = TaxRate.objects.get(country="FR")
    assert (rate.rate, str(rate)) == (Decimal(20), "TVA 20 % (FR, 20 %)")

"""Money in the admin's lists and forms reads as money: the minor unit and separators in lists,
the exact stored value on hover; forms show 25.00 for editing, not the column's 25.0000000000."""

from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from costledger.models import CostEntry, ExchangeRate, RevenueSnapshot, Source

pytestmark = pytest.mark.django_db


def test_lists_show_the_minor_unit_and_keep_the_exact_value_on_hover(admin_client):
    RevenueSnapshot.objects.create(
        day=date(2026, 11, 1), currency="USD", mrr=Decimal("14396"), new_mrr=Decimal("59.5")
    )
    CostEntry.objects.create(
        provider="openai", service="gpt-4o", category="llm", source=Source.API,
        charge_period_start=date(2026, 11, 1), charge_period_end=date(2026, 11, 2),
        billed_cost=Decimal("1234.066217"), currency="USD",
    )  # fmt: skip
    revenue = admin_client.get(reverse("admin:costledger_revenuesnapshot_changelist"))
    page = revenue.content.decode()
    assert "14,396.00\u00a0USD" in page and "59.50\u00a0USD" in page
    assert "14396.0000000000" not in page
    costs = admin_client.get(reverse("admin:costledger_costentry_changelist")).content.decode()
    assert 'title="exact: 1,234.066217 USD">1,234.07\u00a0USD' in costs


def test_a_form_shows_a_stored_decimal_without_the_columns_trailing_zeros(admin_client):
    rate = ExchangeRate.objects.create(day=date(2026, 11, 1), currency="EUR", rate=Decimal("1.1"))
    form = admin_client.get(reverse("admin:costledger_exchangerate_change", args=[rate.pk]))
    assert 'value="1.10"' in form.content.decode()
    rate.rate = Decimal("1.0875")
    rate.save()
    form = admin_client.get(reverse("admin:costledger_exchangerate_change", args=[rate.pk]))
    assert 'value="1.0875"' in form.content.decode()

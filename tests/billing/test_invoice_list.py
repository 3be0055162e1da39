from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from billing.models import ProviderInvoice
from billing.services import provider_invoice_save

pytestmark = pytest.mark.django_db


def test_the_invoice_number_links_to_the_invoice(admin_client):
    invoice = provider_invoice_save(
        invoice=ProviderInvoice(
            provider="supabase", invoice_number="SUPA-2026-10", invoice_date=date(2026, 11, 1),
            period_start=date(2026, 10, 1), period_end=date(2026, 10, 31),
            amount=Decimal("25.00"), currency="USD",
        )
    )  # fmt: skip
    page = admin_client.get(reverse("admin:billing_providerinvoice_changelist")).content.decode()
    change = reverse("admin:billing_providerinvoice_change", args=[invoice.pk])
    assert f'<a href="{change}">SUPA-2026-10</a>' in page

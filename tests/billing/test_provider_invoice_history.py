import re

import pytest
from django.urls import reverse

from billing.models import ProviderInvoice

pytestmark = pytest.mark.django_db
INVOICE = {
    "provider": "supabase",
    "kind": "invoice",
    "invoice_number": "SUPA-2026-10",
    "invoice_date": "2026-11-01",
    "period_start": "2026-10-01",
    "period_end": "2026-10-31",
    "amount": "25.00",
    "currency": "USD",
    "notes": "",
}


def test_the_history_heads_its_columns_and_changes_with_the_field_labels(finance_client):
    finance_client.post(reverse("admin:billing_providerinvoice_add"), INVOICE)
    invoice = ProviderInvoice.objects.get()
    edited = {**INVOICE, "period_start": "2026-10-02", "amount": "27.50"}
    finance_client.post(reverse("admin:billing_providerinvoice_change", args=[invoice.pk]), edited)

    page = finance_client.get(reverse("admin:billing_providerinvoice_history", args=[invoice.pk]))
    html = page.content.decode()
    headers = re.findall(r'<th scope="col">\s*(.*?)\s*</th>', html)
    assert headers[1:5] == ["Amount", "Currency", "Period start", "Period end"]
    assert "<strong>Period start:</strong>" in html and "<strong>Amount:</strong>" in html
    assert "period_start" not in html and "period_end" not in html
    # Values as stored, readable: no column zeros, ISO days and times.
    changes = " ".join(html.split())
    assert "25.00 &nbsp;&rarr;&nbsp;&nbsp;27.50" in changes
    assert "2026-10-01 &nbsp;&rarr;&nbsp;&nbsp;2026-10-02" in changes
    assert "<td>27.50</td>" in html and "25.0000" not in html and "27.5000" not in html
    assert re.search(r"<td>\d{4}-\d{2}-\d{2} \d{2}:\d{2}</td>", html)  # when it was changed

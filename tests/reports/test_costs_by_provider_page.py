from datetime import date
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse

from billing.models import ProviderInvoice
from billing.services import provider_invoice_save
from costledger.models import Source
from costledger.services import cost_entries_upsert
from tests.factories import cost_entry, daily_costs

pytestmark = pytest.mark.django_db
URL = reverse("admin:costs_by_provider")
OCT_1, NOV_1 = date(2026, 10, 1), date(2026, 11, 1)


@pytest.fixture(autouse=True)
def _today():
    with time_machine.travel("2026-11-21 09:00:00+00:00", tick=False):
        yield


def supabase_invoice(amount="25.00", number="SUPA-2026-10"):
    invoice = ProviderInvoice.objects.filter(provider="supabase", invoice_number=number).first()
    invoice = invoice or ProviderInvoice(provider="supabase", invoice_number=number)
    invoice.invoice_date, invoice.period_start, invoice.period_end = (
        NOV_1,
        OCT_1,
        date(2026, 10, 31),
    )
    invoice.amount, invoice.currency = Decimal(amount), "USD"
    return provider_invoice_save(invoice=invoice)


def october_cell(response):
    row = next(r for r in response.context["rows"] if r["provider"] == "supabase")
    return row["cells"][response.context["months"].index(OCT_1)]


def test_the_page_is_linked_from_the_admin_index(admin_client):
    assert URL in admin_client.get(reverse("admin:index")).content.decode()


def test_an_entered_invoice_replaces_the_estimate_on_the_page(admin_client):
    daily_costs(provider="supabase", start=OCT_1, end=NOV_1, amount="1.07")
    response = admin_client.get(URL)
    assert october_cell(response)["amount"] == Decimal("33.17")
    assert october_cell(response)["sources"] == ["estimate"]

    supabase_invoice("25.00")
    response = admin_client.get(URL)
    assert october_cell(response)["amount"] == Decimal("25.00")
    assert october_cell(response)["sources"] == ["manual"]
    page = response.content.decode()
    assert "25.00" in page and "Invoice" in page

    supabase_invoice("27.50")
    response = admin_client.get(URL)
    assert october_cell(response)["amount"] == Decimal("27.50")
    assert "27.50" in response.content.decode()


def test_six_months_totals_and_categories(admin_client):
    daily_costs(provider="supabase", start=OCT_1, end=NOV_1, amount="1.00")
    daily_costs(provider="openai", start=OCT_1, end=NOV_1, amount="2.00", source=Source.API)
    response = admin_client.get(URL)
    months = response.context["months"]
    assert months == [date(2026, m, 1) for m in range(6, 12)]
    totals = dict(zip(months, response.context["totals"], strict=True))
    assert totals[OCT_1].amount == Decimal("93.00")
    categories = {r["label"]: r["amounts"] for r in response.context["category_rows"]}
    assert categories["LLM"][months.index(OCT_1)] == Decimal("62.00")
    assert categories["Infrastructure"][months.index(OCT_1)] == Decimal("31.00")
    assert "93.00" in response.content.decode()


def test_a_missing_exchange_rate_is_called_out_on_the_page(admin_client):
    cost_entries_upsert(entries=[cost_entry(day=OCT_1, amount="10.00", currency="EUR")])
    response = admin_client.get(URL)
    page = response.content.decode()
    assert "No EUR &rarr; USD exchange rate" in page or "No EUR → USD exchange rate" in page
    assert "10.00 EUR unconverted" in page
    assert october_cell(response)["amount"] == Decimal("0")


def test_earlier_months_can_be_browsed_and_a_bad_month_is_explained(admin_client):
    response = admin_client.get(URL, {"end": "2026-03"})
    assert response.context["months"][-1] == date(2026, 3, 1)
    response = admin_client.get(URL, {"end": "March"})
    assert response.context["months"][-1] == date(2026, 11, 1)
    assert "is not a month" in response.content.decode()


def test_empty_ledger_says_what_to_do(admin_client):
    page = admin_client.get(URL).content.decode()
    assert "No costs recorded" in page and "sync_metrics" in page


def test_only_staff_who_may_view_costs_see_the_page(client, staff_user, viewer_user):
    assert client.get(URL).status_code == 302  # to the login page
    client.force_login(staff_user)
    assert client.get(URL).status_code == 403
    client.force_login(viewer_user)
    assert client.get(URL).status_code == 200

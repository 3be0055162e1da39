from datetime import date
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from billing.models import MAX_ATTACHMENT_BYTES, ProviderInvoice
from billing.services import provider_invoice_save
from costledger.models import CostEntry, Source
from costledger.selectors import effective_cost_by_month
from tests.factories import daily_costs

pytestmark = pytest.mark.django_db
ADD_URL = reverse("admin:billing_providerinvoice_add")
OCT_1 = date(2026, 10, 1)
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 32


def form(**overrides):
    data = {
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
    data.update(overrides)
    return data


def change_url(invoice):
    return reverse("admin:billing_providerinvoice_change", args=[invoice.pk])


def october_supabase():
    return effective_cost_by_month(last_month=OCT_1, months=1).by_provider["supabase"][OCT_1]


def test_finance_enters_an_invoice_and_it_becomes_the_manual_ledger_row(
    finance_client, finance_user
):
    response = finance_client.post(ADD_URL, form())
    assert response.status_code == 302, response.context["adminform"].form.errors
    invoice = ProviderInvoice.objects.get()
    assert invoice.entered_by == finance_user
    entry = CostEntry.objects.get(source=Source.MANUAL)
    assert (entry.provider, entry.billed_cost, entry.currency) == (
        "supabase",
        Decimal("25.00"),
        "USD",
    )
    assert (entry.charge_period_start, entry.charge_period_end) == (OCT_1, date(2026, 11, 1))
    assert entry.reference == "SUPA-2026-10"


def test_editing_the_amount_updates_the_ledger_and_the_history_keeps_both(finance_client):
    daily_costs(provider="supabase", start=OCT_1, end=date(2026, 11, 1), amount="1.20")
    finance_client.post(ADD_URL, form())
    invoice = ProviderInvoice.objects.get()
    assert october_supabase().amount == Decimal("25.00")

    response = finance_client.post(change_url(invoice), form(amount="27.50"))
    assert response.status_code == 302
    assert CostEntry.objects.get(source=Source.MANUAL).billed_cost == Decimal("27.50")
    assert october_supabase().amount == Decimal("27.50")
    assert CostEntry.objects.filter(source=Source.ESTIMATE).count() == 31  # still stored

    amounts = [h.amount for h in invoice.history.order_by("history_date")]
    assert amounts == [Decimal("25.00"), Decimal("27.50")]
    history = finance_client.get(
        reverse("admin:billing_providerinvoice_history", args=[invoice.pk])
    )
    page = history.content.decode()
    assert "finance" in page and "25.00" in page and "27.50" in page


def test_moving_the_period_moves_the_ledger_row_without_leaving_the_old_one(finance_client):
    finance_client.post(ADD_URL, form())
    invoice = ProviderInvoice.objects.get()
    finance_client.post(
        change_url(invoice), form(period_start="2026-09-01", period_end="2026-09-30")
    )
    entry = CostEntry.objects.get(source=Source.MANUAL)
    assert entry.charge_period_start == date(2026, 9, 1)


def test_deleting_an_invoice_asks_for_confirmation_then_removes_its_ledger_row(finance_client):
    finance_client.post(ADD_URL, form())
    invoice = ProviderInvoice.objects.get()
    delete_url = reverse("admin:billing_providerinvoice_delete", args=[invoice.pk])
    confirm = finance_client.get(delete_url)
    assert "Are you sure" in confirm.content.decode()
    finance_client.post(delete_url, {"post": "yes"})
    assert not ProviderInvoice.objects.exists()
    assert not CostEntry.objects.filter(source=Source.MANUAL).exists()


def test_bulk_delete_action_removes_the_ledger_rows_too(finance_client):
    finance_client.post(ADD_URL, form())
    finance_client.post(
        ADD_URL,
        form(invoice_number="SUPA-2026-09", period_start="2026-09-01", period_end="2026-09-30"),
    )
    changelist = reverse("admin:billing_providerinvoice_changelist")
    ids = list(ProviderInvoice.objects.values_list("pk", flat=True))
    finance_client.post(
        changelist, {"action": "delete_selected", "_selected_action": ids, "post": "yes"}
    )
    assert not ProviderInvoice.objects.exists()
    assert not CostEntry.objects.exists()


def test_a_credit_note_counts_negative(finance_client):
    finance_client.post(ADD_URL, form())
    finance_client.post(ADD_URL, form(invoice_number="CN-1", kind="credit_note", amount="5.00"))
    assert october_supabase().amount == Decimal("20.00")


def test_a_credit_note_alone_reduces_the_estimate_instead_of_replacing_it(finance_client):
    daily_costs(provider="supabase", start=OCT_1, end=date(2026, 11, 1), amount="1.00")
    finance_client.post(ADD_URL, form(invoice_number="CN-7", kind="credit_note", amount="5.00"))
    cell = october_supabase()
    assert cell.amount == Decimal("26.00")
    assert cell.sources == {"estimate"}


def test_a_credit_note_reduces_a_billed_provider_cost(finance_client):
    daily_costs(
        provider="openai", start=OCT_1, end=date(2026, 11, 1), amount="10.00", source=Source.API
    )
    finance_client.post(
        ADD_URL, form(provider="openai", invoice_number="CN-8", kind="credit_note", amount="31.00")
    )
    cell = effective_cost_by_month(last_month=OCT_1, months=1).by_provider["openai"][OCT_1]
    assert cell.amount == Decimal("279.00")


def test_the_history_cannot_be_used_to_change_an_invoice(finance_client, viewer_user):
    finance_client.post(ADD_URL, form())
    invoice = ProviderInvoice.objects.get()
    finance_client.post(change_url(invoice), form(amount="27.50"))
    first = invoice.history.earliest("history_date")
    url = reverse(
        "admin:billing_providerinvoice_simple_history", args=[invoice.pk, first.history_id]
    )
    finance_client.force_login(viewer_user)
    finance_client.post(url, form(amount="999.00"))
    assert ProviderInvoice.objects.get().amount == Decimal("27.50")
    assert CostEntry.objects.get(source=Source.MANUAL).billed_cost == Decimal("27.50")


def test_an_invoice_whose_stored_attachment_is_gone_can_still_be_edited(finance_client, settings):
    finance_client.post(ADD_URL, {**form(), "attachment": SimpleUploadedFile("inv.pdf", PDF)})
    invoice = ProviderInvoice.objects.get()
    (settings.MEDIA_ROOT / invoice.attachment.name).unlink()
    response = finance_client.post(change_url(invoice), form(amount="26.00"))
    assert response.status_code == 302
    assert ProviderInvoice.objects.get().amount == Decimal("26.00")


def test_lower_case_currency_is_stored_upper_case(finance_client):
    finance_client.post(ADD_URL, form(currency=" eur "))
    assert ProviderInvoice.objects.get().currency == "EUR"


def assert_refused(response, field, text):
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert field in errors, errors
    assert text in " ".join(errors[field]), errors[field]


@pytest.mark.parametrize(
    ("overrides", "field", "text"),
    [
        ({"period_end": "2026-09-30"}, "period_end", "before it starts"),
        ({"amount": "25.001"}, "amount", "USD amounts have 2 decimal places at most"),
        ({"amount": "100.5", "currency": "JPY"}, "amount", "JPY amounts have 0 decimal places"),
        ({"amount": "-25.00"}, "amount", "Credit note"),
        ({"currency": "XYZ"}, "currency", "not an ISO 4217 currency code"),
        ({"currency": "US"}, "currency", "not an ISO 4217 currency code"),
        ({"currency": "DEM"}, "currency", "not an ISO 4217 currency code"),  # withdrawn in 2002
        ({"currency": "XAU"}, "currency", "not an ISO 4217 currency code"),  # gold, not money
        ({"amount": "abc"}, "amount", "Enter a number"),
        ({"provider": "aws"}, "provider", "not one of the available choices"),
    ],
)
def test_bad_invoices_are_refused_with_a_field_error_and_nothing_is_saved(
    finance_client, overrides, field, text
):
    response = finance_client.post(ADD_URL, form(**overrides))
    assert_refused(response, field, text)
    assert not ProviderInvoice.objects.exists()
    assert not CostEntry.objects.exists()


def test_the_same_provider_and_number_twice_is_refused(finance_client):
    finance_client.post(ADD_URL, form())
    response = finance_client.post(
        ADD_URL, form(period_start="2026-11-01", period_end="2026-11-30")
    )
    assert_refused(response, "invoice_number", "already entered")
    assert ProviderInvoice.objects.count() == 1
    assert CostEntry.objects.count() == 1


def test_the_same_number_for_another_provider_is_fine(finance_client):
    finance_client.post(ADD_URL, form())
    response = finance_client.post(ADD_URL, form(provider="weaviate"))
    assert response.status_code == 302
    assert ProviderInvoice.objects.count() == 2


@pytest.mark.parametrize(
    ("name", "content"),
    [("invoice.pdf", PDF), ("invoice.png", PNG), ("invoice.jpg", JPEG), ("INVOICE.JPEG", JPEG)],
)
def test_pdf_png_and_jpeg_attachments_are_accepted(finance_client, name, content):
    response = finance_client.post(
        ADD_URL, {**form(), "attachment": SimpleUploadedFile(name, content)}
    )
    assert response.status_code == 302
    assert ProviderInvoice.objects.get().attachment


@pytest.mark.parametrize(
    ("name", "content", "text"),
    [
        ("invoice.docx", b"PK\x03\x04 word", "not allowed"),
        ("invoice.pdf", b"MZ\x90\x00 an executable", "not a PDF, PNG or JPEG"),
        ("invoice.png", PDF, "not a PDF, PNG or JPEG"),
        ("invoice.pdf", PDF + b"\x00" * MAX_ATTACHMENT_BYTES, "at most 10.0"),
    ],
)
def test_bad_attachments_are_refused(finance_client, name, content, text):
    response = finance_client.post(
        ADD_URL, {**form(), "attachment": SimpleUploadedFile(name, content)}
    )
    assert_refused(response, "attachment", text)
    assert not ProviderInvoice.objects.exists()


def test_attachments_are_served_only_to_who_may_view_invoices(finance_client, client, staff_user):
    finance_client.post(ADD_URL, {**form(), "attachment": SimpleUploadedFile("inv.pdf", PDF)})
    invoice = ProviderInvoice.objects.get()
    url = reverse("admin:billing_providerinvoice_attachment", args=[invoice.pk])
    response = finance_client.get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    client.force_login(staff_user)  # staff without the invoice permissions
    assert client.get(url).status_code == 403


ADDON = {
    "invoice_number": "SUPA-ADDON-10",
    "period_start": "2026-10-15",
    "period_end": "2026-11-14",
    "amount": "10.00",
}


def overlap_error(response) -> str:
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "confirm_overlap" in errors, errors
    return " ".join(errors["confirm_overlap"])


def test_an_overlapping_invoice_is_not_saved_before_the_warning_naming_each_is_confirmed(
    finance_client,
):
    finance_client.post(ADD_URL, form())
    september = ProviderInvoice(
        provider="supabase", invoice_number="SUPA-SEPT-OCT", invoice_date=date(2026, 10, 20),
        period_start=date(2026, 9, 20), period_end=date(2026, 10, 19), amount=Decimal("1234.50"),
    )  # fmt: skip
    provider_invoice_save(invoice=september)  # entered before the form asked
    october = ProviderInvoice.objects.get(invoice_number="SUPA-2026-10")
    late = form(invoice_number="SUPA-LATE", period_start="2026-10-10", period_end="2026-10-20")
    response = finance_client.post(ADD_URL, late)

    error = overlap_error(response)
    assert "overlaps 2 other invoices" in error
    assert "SUPA-SEPT-OCT (2026-09-20 to 2026-10-19, 1,234.50 USD)" in error
    assert "SUPA-2026-10 (2026-10-01 to 2026-10-31, 25.00 USD)" in error
    page = response.content.decode()
    assert 'type="checkbox" name="confirm_overlap"' in page
    assert f'href="{change_url(september)}"' in page and f'href="{change_url(october)}"' in page
    assert ProviderInvoice.objects.count() == 2  # nothing saved, no ledger row either
    assert CostEntry.objects.count() == 2

    response = finance_client.post(ADD_URL, {**late, "confirm_overlap": "on"}, follow=True)
    assert response.redirect_chain, response.context["adminform"].form.errors
    assert ProviderInvoice.objects.filter(invoice_number="SUPA-LATE").exists()
    assert CostEntry.objects.filter(reference="SUPA-LATE", source=Source.MANUAL).exists()
    messages = [str(m) for m in response.context["messages"]]
    assert any("overlaps SUPA-SEPT-OCT" in m and "Both count" in m for m in messages), messages


def test_moving_an_invoice_onto_another_asks_first_and_changes_nothing_unconfirmed(
    finance_client,
):
    finance_client.post(ADD_URL, form())
    finance_client.post(
        ADD_URL, form(invoice_number="SUPA-2026-11", period_start="2026-11-01",
                      period_end="2026-11-30", amount="30.00")
    )  # fmt: skip
    november = ProviderInvoice.objects.get(invoice_number="SUPA-2026-11")
    moved = form(invoice_number="SUPA-2026-11", period_start="2026-10-25",
                 period_end="2026-11-30", amount="31.00")  # fmt: skip

    assert "SUPA-2026-10" in overlap_error(finance_client.post(change_url(november), moved))
    november.refresh_from_db()
    assert (november.period_start, november.amount) == (date(2026, 11, 1), Decimal("30.00"))
    assert CostEntry.objects.get(reference="SUPA-2026-11").billed_cost == Decimal("30.00")

    response = finance_client.post(change_url(november), {**moved, "confirm_overlap": "on"})
    assert response.status_code == 302
    november.refresh_from_db()
    assert (november.period_start, november.amount) == (date(2026, 10, 25), Decimal("31.00"))
    # Its overlap confirmed once, the invoice's notes are corrected without asking again.
    response = finance_client.post(change_url(november), {**moved, "notes": "add-on months"})
    assert response.status_code == 302
    assert ProviderInvoice.objects.get(pk=november.pk).notes == "add-on months"


def test_a_credit_note_over_its_invoice_is_no_overlap(finance_client):
    finance_client.post(ADD_URL, form())
    response = finance_client.post(
        ADD_URL, form(invoice_number="CN-10", kind="credit_note", amount="5.00")
    )
    assert response.status_code == 302
    assert ProviderInvoice.objects.count() == 2


def test_the_same_invoice_twice_stays_refused_even_confirmed(finance_client):
    finance_client.post(ADD_URL, form())
    response = finance_client.post(ADD_URL, {**form(), "confirm_overlap": "on"})
    assert_refused(response, "invoice_number", "already entered")
    assert ProviderInvoice.objects.count() == 1


def test_viewer_cannot_save_an_overlapping_invoice_confirmed_or_not(finance_client, viewer_user):
    finance_client.post(ADD_URL, form())
    finance_client.force_login(viewer_user)
    for data in (form(**ADDON), {**form(**ADDON), "confirm_overlap": "on"}):
        assert finance_client.post(ADD_URL, data).status_code == 403
    assert ProviderInvoice.objects.count() == 1


def test_viewer_may_look_but_not_enter_invoices(finance_client, viewer_user):
    finance_client.post(ADD_URL, form())
    invoice = ProviderInvoice.objects.get()
    finance_client.force_login(viewer_user)  # the same test client, now as a viewer
    assert (
        finance_client.get(reverse("admin:billing_providerinvoice_changelist")).status_code == 200
    )
    assert finance_client.get(ADD_URL).status_code == 403
    response = finance_client.post(change_url(invoice), form(amount="1.00"))
    assert response.status_code == 403
    assert ProviderInvoice.objects.get().amount == Decimal("25.00")


def test_finance_may_enter_exchange_rates_viewer_may_not(finance_client, viewer_user, client):
    url = reverse("admin:costledger_exchangerate_add")
    response = finance_client.post(
        url, {"day": "2026-10-01", "currency": "eur", "rate": "1.08", "source": "manual"}
    )
    assert response.status_code == 302
    client.force_login(viewer_user)
    assert client.get(url).status_code == 403


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"day": "2026-10-01", "currency": "EUR", "rate": "0", "source": "manual"}, "rate"),
        ({"day": "2026-10-01", "currency": "EUR", "rate": "-1", "source": "manual"}, "rate"),
        ({"day": "2026-10-01", "currency": "USD", "rate": "1", "source": "manual"}, "currency"),
        ({"day": "2026-10-01", "currency": "ABC", "rate": "1", "source": "manual"}, "currency"),
    ],
)
def test_bad_exchange_rates_are_refused(finance_client, data, field):
    response = finance_client.post(reverse("admin:costledger_exchangerate_add"), data)
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors


@pytest.mark.parametrize("written", ["11/01/2026", "01.11.2026", "2026/11/01"])
def test_a_date_is_entered_as_iso_and_an_ambiguous_one_is_refused(finance_client, written):
    response = finance_client.post(ADD_URL, form(invoice_date=written))
    assert response.status_code == 200
    assert "YYYY-MM-DD" in str(response.context["adminform"].form.errors["invoice_date"])
    assert not ProviderInvoice.objects.exists()
    assert finance_client.post(ADD_URL, form(invoice_date="2026-11-01")).status_code == 302


def test_saving_an_unchanged_invoice_adds_no_history_row(finance_client):
    finance_client.post(ADD_URL, form())
    invoice = ProviderInvoice.objects.get()
    assert finance_client.post(change_url(invoice), form()).status_code == 302
    assert invoice.history.count() == 1
    finance_client.post(change_url(invoice), form(amount="27.50"))
    assert invoice.history.count() == 2

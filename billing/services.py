"""Writes of provider invoices. An invoice and its manual ledger row are saved together: the
ledger never shows an invoice that is not stored, nor keeps a row for one that was deleted.
"""

from datetime import timedelta

from django.db import transaction

from billing.models import InvoiceKind, ProviderInvoice
from costledger.models import CostEntry, Source
from costledger.providers import provider_category
from costledger.services import cost_entries_replace


def _ledger_scope(invoice_id: int) -> dict:
    return {"source": Source.MANUAL, "tags__provider_invoice_id": invoice_id}


def _ledger_entry(invoice: ProviderInvoice) -> CostEntry:
    return CostEntry(
        provider=invoice.provider,
        service="Credit note" if invoice.kind == InvoiceKind.CREDIT_NOTE else "Invoice",
        category=provider_category(invoice.provider),
        charge_period_start=invoice.period_start,
        charge_period_end=invoice.period_end + timedelta(days=1),
        billed_cost=invoice.signed_amount,
        currency=invoice.currency,
        source=Source.MANUAL,
        reference=invoice.invoice_number,
        adjustment=invoice.kind == InvoiceKind.CREDIT_NOTE,
        tags={"provider_invoice_id": invoice.pk, "kind": invoice.kind},
    )


@transaction.atomic
def provider_invoice_save(*, invoice: ProviderInvoice, user=None) -> ProviderInvoice:
    """Save a new or edited invoice and make its manual ledger row match it."""
    if invoice.pk is None and user is not None and user.is_authenticated:
        invoice.entered_by = user
    invoice.full_clean()
    invoice.save()
    cost_entries_replace(scope=_ledger_scope(invoice.pk), entries=[_ledger_entry(invoice)])
    return invoice


@transaction.atomic
def provider_invoice_delete(*, invoice: ProviderInvoice) -> None:
    CostEntry.objects.filter(**_ledger_scope(invoice.pk)).delete()
    invoice.delete()

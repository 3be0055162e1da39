"""A customer invoice or credit note as JSON, by its number: staff session or the sync token."""

from django.http import JsonResponse
from django.views.decorators.http import require_GET

from billing.documents import invoice_json
from billing.models import Invoice
from costledger.api_auth import api_auth

NUMBER_MAX_LENGTH = Invoice._meta.get_field("number").max_length


@require_GET
@api_auth("billing.view_invoice")
def invoice_detail(request, number: str):
    """Drafts have no number: only finalized and void documents are found."""
    invoice = None
    if len(number) <= NUMBER_MAX_LENGTH and number.isprintable() and "\x00" not in number:
        invoice = (
            Invoice.objects.select_related("credited_invoice")
            .prefetch_related("lines", "taxes")
            .filter(number=number)
            .first()
        )
    if invoice is None:
        return JsonResponse(
            {"errors": {"number": "No finalized invoice or credit note has this number "
                                  "(a draft has none until it is finalized)."}},
            status=404,
        )  # fmt: skip
    return JsonResponse(invoice_json(invoice))

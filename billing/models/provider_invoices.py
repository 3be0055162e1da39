"""What people enter: provider invoices typed in from the provider's bill.

A saved invoice becomes a `manual` cost entry in the ledger (billing/services.py), which outranks
every estimate or computed cost for the days it covers.
"""

from datetime import date

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import (
    FileExtensionValidator,
)
from django.db import models
from django.db.models import F, Q
from django.template.defaultfilters import filesizeformat
from simple_history.models import HistoricalRecords

from costledger.money import has_sub_minor_digits, is_currency, minor_unit
from costledger.providers import PROVIDER_CHOICES, PROVIDERS
from costledger.validators import (
    CurrencyField,
    field_errors,
    validate_ledger_day,
    validate_notes,
    validate_text,
)

MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
# Five calendar years, leap days included: annual and multi-year prepaid plans fit; a longer
# period is a mistyped year, and a report would spread it over every one of its days.
MAX_INVOICE_DAYS = 5 * 365 + 2
# What the first bytes of each accepted attachment type look like: the extension alone is a
# claim, the content is the proof.
ATTACHMENT_SIGNATURES = {
    "pdf": (b"%PDF-",),
    "png": (b"\x89PNG\r\n\x1a\n",),
    "jpg": (b"\xff\xd8\xff",),
    "jpeg": (b"\xff\xd8\xff",),
}


def validate_attachment(file) -> None:
    if getattr(file, "_committed", False):
        return  # already stored when it was uploaded: only new uploads are checked
    if file.size > MAX_ATTACHMENT_BYTES:
        raise ValidationError(
            f"The file is {filesizeformat(file.size)}; attachments may be at most "
            f"{filesizeformat(MAX_ATTACHMENT_BYTES)}.",
            code="too_large",
        )
    extension = file.name.rsplit(".", 1)[-1].lower() if "." in file.name else ""
    position = file.tell() if hasattr(file, "tell") else 0
    file.seek(0)
    head = file.read(8)
    file.seek(position)
    if not any(head.startswith(sig) for sig in ATTACHMENT_SIGNATURES.get(extension, ())):
        raise ValidationError(
            f"{file.name} is not a PDF, PNG or JPEG file (its content does not match its "
            "extension). Attach the invoice as PDF, PNG or JPEG.",
            code="bad_type",
        )


class InvoiceKind(models.TextChoices):
    INVOICE = "invoice", "Invoice"
    CREDIT_NOTE = "credit_note", "Credit note"


class ProviderInvoice(models.Model):
    """A provider's bill for a period, entered by hand where the provider has no billing API.

    The amount is always entered as printed (positive); a credit note is the explicit way to
    enter money given back, and counts negative in the ledger.
    """

    provider = models.SlugField(max_length=64, choices=PROVIDER_CHOICES)
    kind = models.CharField(max_length=16, choices=InvoiceKind.choices, default=InvoiceKind.INVOICE)
    invoice_number = models.CharField(max_length=100)
    invoice_date = models.DateField()
    period_start = models.DateField(help_text="First day the invoice covers.")
    period_end = models.DateField(help_text="Last day the invoice covers (inclusive, as printed).")
    amount = models.DecimalField(
        max_digits=18,
        decimal_places=4,
        help_text="Total as printed, taxes included, in the invoice's currency. "
        "Enter a credit note as a positive amount of kind 'Credit note'.",
    )
    currency = CurrencyField(default="USD", help_text="ISO 4217 code, e.g. USD.")
    notes = models.TextField(blank=True)
    attachment = models.FileField(
        upload_to="provider-invoices/%Y/%m/",
        blank=True,
        validators=[
            FileExtensionValidator(list(ATTACHMENT_SIGNATURES)),
            validate_attachment,
        ],
        help_text="The invoice itself: PDF, PNG or JPEG, at most 10 MB.",
    )
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["-period_start", "provider"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "invoice_number"], name="provider_invoice_unique_number"
            ),
            models.CheckConstraint(
                condition=Q(period_end__gte=F("period_start")),
                name="provider_invoice_period_ordered",
            ),
            models.CheckConstraint(
                condition=Q(amount__gte=0), name="provider_invoice_amount_positive"
            ),
        ]

    def __str__(self):
        return f"{self.get_provider_display()} {self.invoice_number}"

    def clean(self):
        errors = field_errors(
            self,
            invoice_date=validate_ledger_day,
            period_start=validate_ledger_day,
            period_end=validate_ledger_day,
            invoice_number=validate_text,
            notes=validate_notes,
        )
        # A day out of range says all there is to say about the period.
        period_known = (
            self.period_start
            and self.period_end
            and not errors.keys() & {"period_start", "period_end"}
        )
        if period_known and self.period_end < self.period_start:
            errors["period_end"] = (
                f"The period ends ({self.period_end}) before it starts ({self.period_start})."
            )
        elif period_known and self.day_count > MAX_INVOICE_DAYS:
            errors["period_end"] = (
                f"The period {self.period_start} to {self.period_end} is {self.day_count:,} "
                f"days; an invoice covers at most {MAX_INVOICE_DAYS:,} (five years). Check the "
                "year, or enter a longer contract as one invoice per billed period."
            )
        if self.amount is not None and self.amount < 0:
            errors["amount"] = (
                "An invoice amount cannot be negative. To record money the provider gave back, "
                "choose the kind 'Credit note' and enter the amount as a positive number."
            )
        elif self.amount is not None and is_currency(self.currency or ""):
            if has_sub_minor_digits(self.amount, self.currency):
                places = minor_unit(self.currency)
                errors["amount"] = (
                    f"{self.currency} amounts have {places} decimal place"
                    f"{'' if places == 1 else 's'} at most; {self.amount} has more."
                )
        # Only a storable number is looked up: a NUL in a query fails the query.
        if self.provider in PROVIDERS and self.invoice_number and "invoice_number" not in errors:
            existing = (
                ProviderInvoice.objects.filter(
                    provider=self.provider, invoice_number=self.invoice_number
                )
                .exclude(pk=self.pk)
                .first()
            )
            if existing:
                errors["invoice_number"] = (
                    f"{existing} is already entered (period {existing.period_start} to "
                    f"{existing.period_end}). Edit that invoice instead of entering it twice."
                )
        if errors:
            raise ValidationError(errors)

    @property
    def signed_amount(self):
        return -self.amount if self.kind == InvoiceKind.CREDIT_NOTE else self.amount

    @property
    def day_count(self) -> int:
        return (self.period_end - self.period_start).days + 1

    def overlapping(self):
        """Other invoices of the same provider and kind whose periods share a day with this one
        (`provider_invoices_overlapping`)."""
        return provider_invoices_overlapping(
            provider=self.provider,
            kind=self.kind,
            start=self.period_start,
            end=self.period_end,
            exclude_pk=self.pk,
        )


def provider_invoices_overlapping(
    *, provider: str, kind: str, start: date, end: date, exclude_pk: int | None = None
) -> models.QuerySet:
    """The invoices of `provider` and `kind` sharing a day with [start, end] (end included).

    Two invoices for the same days both count as cost, so an overlap is either a second bill
    for something else (an add-on) or the same bill entered twice. A credit note and the
    invoice it corrects overlap by nature: kinds are compared only with their own kind.
    """
    return (
        ProviderInvoice.objects.filter(
            provider=provider, kind=kind, period_start__lte=end, period_end__gte=start
        )
        .exclude(pk=exclude_pk)
        .order_by("period_start", "invoice_number")
    )

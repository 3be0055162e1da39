"""Our invoices and credit notes to customers, their lines and taxes, and the numbering.

A draft is recomputed freely (billing.issuing). Finalising gives it its legal number and freezes
it: the model refuses to change or delete a finalized document, its lines or its taxes, and so
does the database (triggers, billing/sql/invoice_immutable.sql), whoever writes. What may still
change once finalized is its life after issue: voided, sent, paid.
"""

from datetime import date, timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from billing.models.customers import Customer
from costledger.days import add_months, month_start

AMOUNT = {"max_digits": 18, "decimal_places": 4}


class DocumentKind(models.TextChoices):
    INVOICE = "invoice", "Invoice"
    CREDIT_NOTE = "credit_note", "Credit note"


class InvoiceStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    FINALIZED = "finalized", "Finalized"
    VOID = "void", "Void"


class PaymentStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PAID = "paid", "Paid"
    OVERDUE = "overdue", "Overdue"


# The columns a finalized document may still change (its life after issue); the database
# trigger lists the same.
AFTER_ISSUE = frozenset(
    {"status", "voided_at", "void_reason", "sent_at", "paid_on", "paid_amount", "updated_at"}
)


class FinalizedDocument(Exception):
    """A finalized invoice or credit note, its lines or taxes, cannot be changed or deleted."""


class Invoice(models.Model):
    """An invoice (or a credit note, `kind`) to a customer for a calendar month.

    The customer's name, address, country and VAT number are copied in when it is computed: a
    finalized invoice keeps what it was issued with. Amounts are in `currency`, positive for a
    credit note too (its kind says it is money given back)."""

    kind = models.CharField(max_length=16, choices=DocumentKind.choices, default="invoice")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="invoices")
    credited_invoice = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="credit_notes"
    )
    number = models.CharField(max_length=40, null=True, blank=True, unique=True)
    status = models.CharField(max_length=16, choices=InvoiceStatus.choices, default="draft")
    period_start = models.DateField()
    period_end = models.DateField(help_text="Last day, inclusive.")
    currency = models.CharField(max_length=3)
    issue_date = models.DateField(null=True, blank=True)
    due_date = models.DateField(null=True, blank=True)
    customer_name = models.CharField(max_length=200)
    customer_email = models.EmailField(max_length=254)
    customer_address = models.TextField()
    customer_country = models.CharField(max_length=2)
    customer_vat_number = models.CharField(max_length=32, blank=True)
    subtotal = models.DecimalField(help_text="The fee and usage lines.", **AMOUNT)
    discount_total = models.DecimalField(**AMOUNT)
    sla_credit = models.DecimalField(**AMOUNT)
    minimum_true_up = models.DecimalField(**AMOUNT)
    taxable_base = models.DecimalField(**AMOUNT)
    tax_total = models.DecimalField(**AMOUNT)
    total = models.DecimalField(**AMOUNT)
    tax_rule = models.CharField(max_length=16, blank=True)
    tax_mention = models.TextField(blank=True)
    reason = models.TextField(blank=True, help_text="A credit note's reason.")
    warnings = models.JSONField(default=list, blank=True)
    fingerprint = models.CharField(max_length=64, blank=True, help_text="Of what it says.")
    computed_at = models.DateTimeField(default=timezone.now)
    finalized_at = models.DateTimeField(null=True, blank=True)
    finalized_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    voided_at = models.DateTimeField(null=True, blank=True)
    void_reason = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    paid_on = models.DateField(null=True, blank=True)
    paid_amount = models.DecimalField(null=True, blank=True, **AMOUNT)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-period_start", "customer_name", "kind", "id"]
        constraints = [
            # One invoice in force per customer and month: a draft or a finalized one (a void
            # one leaves room for its replacement).
            models.UniqueConstraint(
                fields=["customer", "period_start"],
                condition=Q(kind="invoice", status__in=["draft", "finalized"]),
                name="invoice_one_per_customer_month",
            ),
            models.CheckConstraint(
                condition=Q(status="draft", number__isnull=True)
                | (~Q(status="draft") & Q(number__isnull=False, issue_date__isnull=False)),
                name="invoice_number_when_issued",
            ),
            models.CheckConstraint(
                condition=Q(period_end__gte=models.F("period_start")),
                name="invoice_period_ordered",
            ),
            models.CheckConstraint(
                condition=Q(kind="invoice", credited_invoice__isnull=True)
                | Q(kind="credit_note", credited_invoice__isnull=False),
                name="credit_note_credits_an_invoice",
            ),
        ]
        indexes = [models.Index(fields=["period_start", "status"])]
        permissions = [("finalize_invoice", "Can finalize, void, credit and send invoices")]

    def __str__(self):
        noun = "Credit note" if self.kind == DocumentKind.CREDIT_NOTE else "Invoice"
        return (
            f"{noun} {self.number}"
            if self.number
            else f"Draft {self.customer_name} {self.period_start:%Y-%m}"
        )  # noqa: E501

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            stored = Invoice.objects.filter(pk=self.pk).values_list("status", flat=True).first()
            if stored not in (None, InvoiceStatus.DRAFT):
                changed = kwargs.get("update_fields")
                if changed is None or not set(changed) <= AFTER_ISSUE:
                    raise FinalizedDocument(
                        f"{self} is {stored}: it cannot be changed. Issue a credit note, or "
                        "void it while unpaid."
                    )
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if self.status != InvoiceStatus.DRAFT:
            raise FinalizedDocument(f"{self} is {self.status}: it cannot be deleted.")
        return super().delete(*args, **kwargs)

    @property
    def is_draft(self) -> bool:
        return self.status == InvoiceStatus.DRAFT

    @property
    def payment_status(self) -> str | None:
        """Paid, overdue (unpaid after its due date, UTC) or pending; None for what is not
        owed: drafts, void invoices and credit notes."""
        if self.status != InvoiceStatus.FINALIZED or self.kind != DocumentKind.INVOICE:
            return None
        if self.paid_on:
            return PaymentStatus.PAID
        if self.due_date and self.due_date < timezone.now().date():
            return PaymentStatus.OVERDUE
        return PaymentStatus.PENDING

    @property
    def display_status(self) -> str:
        """One word for the lists: draft, finalized, sent, paid, overdue, void."""
        if self.status != InvoiceStatus.FINALIZED:
            return self.status
        payment = self.payment_status
        if payment in (PaymentStatus.PAID, PaymentStatus.OVERDUE):
            return payment
        return "sent" if self.sent_at else "finalized"


class LineKind(models.TextChoices):
    FEE = "fee", "Fixed fee"
    USAGE = "usage", "Usage"
    DISCOUNT = "discount", "Discount"
    SLA_CREDIT = "sla_credit", "SLA credit"
    MINIMUM = "minimum", "Minimum commitment true-up"
    CREDIT = "credit", "Credit"


class DocumentPart(models.Model):
    """A line or a tax of a document: frozen with it."""

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        self._refuse_if_issued()
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        self._refuse_if_issued()
        return super().delete(*args, **kwargs)

    def _refuse_if_issued(self):
        status = Invoice.objects.filter(pk=self.invoice_id).values_list("status", flat=True)
        if status.first() not in (None, InvoiceStatus.DRAFT):
            raise FinalizedDocument(f"The lines and taxes of {self.invoice} cannot change.")


class InvoiceLine(DocumentPart):
    """One line: the fee, a usage charge, a discount, the SLA credit or the minimum true-up.
    `amount` is rounded to the currency's minor unit and signed (discounts and credits are
    negative); `detail` keeps how it was computed (tiers, quantities, unit prices, rates)."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=16, choices=LineKind.choices)
    description = models.CharField(max_length=300)
    quantity = models.DecimalField(max_digits=40, decimal_places=12, null=True, blank=True)
    unit = models.CharField(max_length=40, blank=True)
    unit_price = models.DecimalField(max_digits=40, decimal_places=12, null=True, blank=True)
    amount = models.DecimalField(**AMOUNT)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["invoice", "position"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "position"], name="invoice_line_position")
        ]

    def __str__(self):
        return self.description


class InvoiceTax(DocumentPart):
    """The VAT of one rate: on the taxable base of the lines at that rate, rounded once."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="taxes")
    name = models.CharField(max_length=100)
    rate = models.DecimalField(max_digits=9, decimal_places=6, help_text="A fraction: 0.2.")
    base = models.DecimalField(**AMOUNT)
    amount = models.DecimalField(**AMOUNT)

    class Meta:
        ordering = ["invoice", "-rate"]
        verbose_name_plural = "invoice taxes"
        constraints = [models.UniqueConstraint(fields=["invoice", "rate"], name="invoice_tax_rate")]

    def __str__(self):
        return self.name


class InvoiceNumberSequence(models.Model):
    """The last number given to an invoice of a prefix and year: numbers are taken from it under
    a row lock, in the transaction that finalizes, so that a rolled back finalisation gives its
    number back and none is ever skipped."""

    prefix = models.CharField(max_length=10)
    year = models.PositiveSmallIntegerField()
    last = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["prefix", "year"], name="invoice_number_sequence")
        ]

    def __str__(self):
        return f"{self.prefix}-{self.year}: {self.last}"


def period_of(month: date) -> tuple[date, date]:
    """The first and last day of `month`'s calendar month."""
    start = month_start(month)
    return start, add_months(start, 1) - timedelta(days=1)

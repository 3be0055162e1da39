"""Writes of customer invoices: the month's drafts, finalisation with its legal number, credit
notes, void, payments.

- `billing_run` creates or refreshes the drafts of a month. A draft whose content is unchanged
  is left as it is; a finalized invoice is never touched (the run says so). Customers are
  written in batches, each in one transaction: a crash leaves whole invoices only, and a
  customer whose invoice cannot be computed is reported without stopping the others.
- `invoice_finalize` takes the next number of the year under a row lock, in the transaction
  that freezes the invoice: numbers are unique and gapless, and a draft never has one.
- Corrections of a finalized invoice are credit notes (partial or full, numbered from the
  invoice) or void (only while unpaid and without credit notes).
"""

from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from billing.documents import invoice_filename, invoice_pdf
from billing.invoices import (
    STORED_FIELDS,
    BillingContext,
    ComputedInvoice,
    InvoiceNotComputable,
    billing_context,
    invoice_compute,
)
from billing.models import (
    DocumentKind,
    Invoice,
    InvoiceLine,
    InvoiceNumberSequence,
    InvoiceStatus,
    InvoiceTax,
    LineKind,
)
from costledger.days import month_start
from costledger.money import has_sub_minor_digits, round_money

BATCH = 500


class InvoiceRefused(Exception):
    """An operation the invoice's state does not allow, said so that a person knows why."""


@dataclass(frozen=True)
class RunOutcome:
    customer_id: int
    customer: str
    outcome: str  # created, updated, unchanged, removed, finalized, no_plan, nothing, error
    invoice_id: int | None = None
    number: str | None = None
    total: Decimal | None = None
    currency: str = ""
    message: str = ""

    def __post_init__(self):
        if self.total is not None:
            object.__setattr__(self, "total", round_money(self.total, self.currency))

    def as_json(self) -> dict:
        return {
            "customer_id": self.customer_id,
            "customer": self.customer,
            "outcome": self.outcome,
            "invoice_id": self.invoice_id,
            "number": self.number,
            "total": None if self.total is None else str(self.total),
            "currency": self.currency,
            "message": self.message,
        }


def billing_run(*, month: date, customer_ids: list[int] | None = None) -> list[RunOutcome]:
    """Create or refresh the drafts of `month` for every customer (or `customer_ids`). A month
    that has not started yet is refused (InvoiceRefused); the month in progress is a preview."""
    if month_start(month) > month_start(timezone.now().date()):
        raise InvoiceRefused(f"{month:%Y-%m} has not started: there is nothing to invoice yet.")
    context = billing_context(month=month, customer_ids=customer_ids)
    outcomes = []
    for first in range(0, len(context.customers), BATCH):
        batch = context.customers[first : first + BATCH]
        try:
            with transaction.atomic():
                outcomes += _batch_write(batch, context)
        except IntegrityError:
            # Another run wrote one of these customers' drafts meanwhile: redo them one by one,
            # each seeing what the other wrote.
            for customer in batch:
                with transaction.atomic():
                    outcomes += _batch_write([customer], context)
    return outcomes


def _batch_write(customers: list, context: BillingContext) -> list[RunOutcome]:
    start, _ = context.period
    live = {
        invoice.customer_id: invoice
        for invoice in Invoice.objects.select_for_update().filter(
            customer__in=[c.pk for c in customers],
            kind=DocumentKind.INVOICE,
            period_start=start,
            status__in=[InvoiceStatus.DRAFT, InvoiceStatus.FINALIZED],
        )
    }
    outcomes, new, lines, stale = [], [], [], []
    for customer in customers:
        outcome = _outcome(customer, context, live.get(customer.pk))
        if isinstance(outcome, RunOutcome):
            outcomes.append(outcome)
            continue
        computed, invoice = outcome
        if invoice is None:
            invoice = Invoice(customer=customer, kind=DocumentKind.INVOICE)
            _fill(invoice, computed)
            new.append(invoice)
            verb = "created"
        else:
            _fill(invoice, computed)
            stale.append(invoice)
            verb = "updated"
        lines.append((invoice, computed))
        outcomes.append(
            RunOutcome(
                customer.pk, customer.name, verb, None, None, computed.total, computed.currency
            )
        )
    if stale:
        # Drafts locked above, in this transaction: nobody finalizes them meanwhile, so they
        # are written in bulk (the database trigger still refuses any row that is not a draft).
        _drafts_rewrite(stale)
        InvoiceLine.objects.filter(invoice__in=stale).delete()
        InvoiceTax.objects.filter(invoice__in=stale).delete()
    Invoice.objects.bulk_create(new)
    InvoiceLine.objects.bulk_create(
        [line for invoice, computed in lines for line in _lines(invoice, computed)]
    )
    InvoiceTax.objects.bulk_create(
        [tax for invoice, computed in lines for tax in _taxes(invoice, computed)]
    )
    ids = {invoice.customer_id: invoice.pk for invoice, _ in lines}
    return [
        replace(o, invoice_id=ids[o.customer_id])
        if o.customer_id in ids and o.invoice_id is None
        else o
        for o in outcomes
    ]


def _outcome(customer, context: BillingContext, invoice: Invoice | None):
    """A RunOutcome when there is nothing to write; else (computed, draft to refresh or None)."""

    def said(outcome: str, message: str = "", **figures) -> RunOutcome:
        return RunOutcome(customer.pk, customer.name, outcome, message=message, **figures)

    if invoice is not None and invoice.status == InvoiceStatus.FINALIZED:
        return said(
            "finalized",
            f"{invoice.number} is finalized: left untouched (correct it with a credit note).",
            invoice_id=invoice.pk, number=invoice.number, total=invoice.total,
            currency=invoice.currency,
        )  # fmt: skip
    if customer.plan_id is None:
        return said("no_plan", "No plan: choose one on the customer to invoice it.")
    try:
        computed = invoice_compute(customer=customer, context=context)
    except InvoiceNotComputable as error:
        return said("error", str(error))
    if not computed.billed_anything:
        if invoice is not None:
            InvoiceLine.objects.filter(invoice=invoice).delete()
            InvoiceTax.objects.filter(invoice=invoice).delete()
            invoice.delete()
            return said("removed", "No fee, commitment or usage this month: draft removed.")
        return said("nothing", "No fee, commitment or usage this month.")
    if invoice is not None and invoice.fingerprint == computed.fingerprint:
        return said(
            "unchanged", invoice_id=invoice.pk, total=invoice.total, currency=invoice.currency
        )
    return computed, invoice


def _drafts_rewrite(drafts: list[Invoice]) -> None:
    """Write refreshed drafts back: one UPDATE per draft, sent together (executemany, which
    psycopg pipelines). Django's bulk_update builds a CASE per column over the batch and spent
    4 ms a draft in Python; this is 0.2."""
    names = (*STORED_FIELDS, "fingerprint", "computed_at", "updated_at")
    fields = [Invoice._meta.get_field(name) for name in names]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in fields)
    now = timezone.now()
    rows = []
    for draft in drafts:
        draft.updated_at = now
        values = [
            field.get_db_prep_save(getattr(draft, field.attname), connection) for field in fields
        ]
        rows.append([*values, draft.pk])
    with connection.cursor() as cursor:
        # Columns from the model; values are parameters.
        statement = f"UPDATE {Invoice._meta.db_table} SET {assignments} WHERE id = %s"  # noqa: S608
        cursor.executemany(statement, rows)


def _fill(invoice: Invoice, computed: ComputedInvoice) -> None:
    for name in STORED_FIELDS:
        setattr(invoice, name, getattr(computed, name))
    invoice.fingerprint = computed.fingerprint
    invoice.computed_at = timezone.now()


def _lines(invoice: Invoice, computed: ComputedInvoice) -> list[InvoiceLine]:
    return [
        InvoiceLine(
            invoice=invoice,
            position=position,
            kind=line.kind,
            description=line.description[:300],
            quantity=line.quantity,
            unit=line.unit,
            unit_price=line.unit_price,
            amount=line.amount,
            detail=line.detail,
        )
        for position, line in enumerate(computed.lines, start=1)
    ]


def _taxes(invoice: Invoice, computed: ComputedInvoice) -> list[InvoiceTax]:
    return [
        InvoiceTax(invoice=invoice, name=t.name, rate=t.rate, base=t.base, amount=t.amount)
        for t in computed.taxes
    ]


def invoice_draft_refresh(*, invoice: Invoice) -> RunOutcome:
    """Compute a draft again from today's usage and settings (billing_run for its customer)."""
    if invoice.status != InvoiceStatus.DRAFT or invoice.kind != DocumentKind.INVOICE:
        raise InvoiceRefused(f"{invoice} is not a draft invoice: it cannot be recomputed.")
    return billing_run(month=invoice.period_start, customer_ids=[invoice.customer_id])[0]


def _number_next(*, prefix: str, year: int) -> int:
    """The next number of `prefix` and `year`, under the sequence row's lock until commit."""
    InvoiceNumberSequence.objects.bulk_create(
        [InvoiceNumberSequence(prefix=prefix, year=year)], ignore_conflicts=True
    )
    sequence = InvoiceNumberSequence.objects.select_for_update().get(prefix=prefix, year=year)
    sequence.last += 1
    sequence.save(update_fields=["last"])
    return sequence.last


@transaction.atomic
def invoice_finalize(*, invoice_id: int, user=None, today: date | None = None) -> Invoice:
    """Give a draft invoice its number and freeze it. Its due date follows the customer's
    payment terms from today (UTC)."""
    today = today or timezone.now().date()
    invoice = Invoice.objects.select_for_update().select_related("customer").get(pk=invoice_id)
    if invoice.status != InvoiceStatus.DRAFT:
        raise InvoiceRefused(f"{invoice} is already {invoice.get_status_display().lower()}.")
    if invoice.kind != DocumentKind.INVOICE:
        raise InvoiceRefused("A credit note is finalized when it is issued.")
    if invoice.period_end >= today:
        raise InvoiceRefused(
            f"The period of {invoice} ends on {invoice.period_end}: its usage is not all in "
            f"yet. Finalize it from {invoice.period_end + timedelta(days=1)} on."
        )
    prefix = settings.BILLING_INVOICE_PREFIX
    number = _number_next(prefix=prefix, year=today.year)
    invoice.number = f"{prefix}-{today.year}-{number:06d}"
    invoice.status = InvoiceStatus.FINALIZED
    invoice.issue_date = today
    invoice.due_date = today + timedelta(days=invoice.customer.payment_terms_days)
    invoice.finalized_at = timezone.now()
    invoice.finalized_by = user if user is not None and user.is_authenticated else None
    invoice.save()
    return invoice


@transaction.atomic
def invoice_void(*, invoice_id: int, reason: str) -> Invoice:
    """Cancel a finalized invoice that nobody paid and no credit note corrected: its number
    stays used (the sequence has no gap) and the month may be invoiced again."""
    invoice = Invoice.objects.select_for_update().get(pk=invoice_id)
    if invoice.status != InvoiceStatus.FINALIZED or invoice.kind != DocumentKind.INVOICE:
        raise InvoiceRefused(f"Only a finalized invoice can be voided; {invoice} is not one.")
    if invoice.paid_on:
        raise InvoiceRefused(f"{invoice} is paid: correct it with a credit note.")
    if invoice.credit_notes.exists():
        raise InvoiceRefused(f"{invoice} has credit notes: correct it with another one.")
    if not reason.strip():
        raise InvoiceRefused("Say why the invoice is voided.")
    invoice.status = InvoiceStatus.VOID
    invoice.voided_at = timezone.now()
    invoice.void_reason = reason.strip()
    invoice.save(update_fields=["status", "voided_at", "void_reason", "updated_at"])
    return invoice


def invoice_credit_left(invoice: Invoice) -> tuple[Decimal, Decimal]:
    """(taxable base, VAT) of `invoice` not yet credited by its credit notes."""
    notes = invoice.credit_notes.exclude(status=InvoiceStatus.VOID)
    base = sum((n.taxable_base for n in notes), Decimal(0))
    tax = sum((n.tax_total for n in notes), Decimal(0))
    return invoice.taxable_base - base, invoice.tax_total - tax


@transaction.atomic
def credit_note_issue(
    *, invoice_id: int, reason: str, amount: Decimal | None = None, user=None,
    today: date | None = None,
) -> Invoice:  # fmt: skip
    """A finalized credit note of `amount` (before VAT; None: all that is left) of a finalized
    invoice, numbered from it (<invoice number>-CN<n>), with VAT at the invoice's rate. The
    credit note that credits what is left takes the VAT left, so that credit notes add up to
    the invoice to the cent."""
    today = today or timezone.now().date()
    invoice = Invoice.objects.select_for_update().get(pk=invoice_id)
    if invoice.status != InvoiceStatus.FINALIZED or invoice.kind != DocumentKind.INVOICE:
        raise InvoiceRefused(f"Only a finalized invoice can be credited; {invoice} is not one.")
    if not reason.strip():
        raise InvoiceRefused("Say why the invoice is credited: the reason is printed.")
    base_left, tax_left = invoice_credit_left(invoice)
    if base_left <= 0:
        raise InvoiceRefused(f"{invoice} is wholly credited already.")
    amount = base_left if amount is None else amount
    if amount <= 0 or has_sub_minor_digits(amount, invoice.currency):
        raise InvoiceRefused(
            f"A credit is a positive amount in {invoice.currency}, to its minor unit."
        )
    if amount > base_left:
        raise InvoiceRefused(
            f"At most {base_left} {invoice.currency} (before VAT) of {invoice} is left to credit."
        )
    rate = invoice.taxes.values_list("rate", flat=True).first() or Decimal(0)
    tax = tax_left if amount == base_left else round_money(amount * rate, invoice.currency)
    position = invoice.credit_notes.count() + 1
    note = Invoice.objects.create(
        kind=DocumentKind.CREDIT_NOTE,
        customer_id=invoice.customer_id,
        credited_invoice=invoice,
        period_start=invoice.period_start,
        period_end=invoice.period_end,
        currency=invoice.currency,
        **{
            name: getattr(invoice, name)
            for name in (
                "customer_name",
                "customer_email",
                "customer_address",
                "customer_country",
                "customer_vat_number",
                "tax_rule",
                "tax_mention",
            )
        },  # fmt: skip
        subtotal=amount,
        discount_total=0,
        sla_credit=0,
        minimum_true_up=0,
        taxable_base=amount,
        tax_total=tax,
        total=amount + tax,
        reason=reason.strip(),
    )
    InvoiceLine.objects.create(
        invoice=note,
        position=1,
        kind=LineKind.CREDIT,
        description=f"Credit of invoice {invoice.number}: {reason.strip()}"[:300],
        amount=amount,
    )
    name = invoice.taxes.values_list("name", flat=True).first() or "VAT"
    InvoiceTax.objects.create(invoice=note, name=name, rate=rate, base=amount, amount=tax)
    note.number = f"{invoice.number}-CN{position}"
    note.status = InvoiceStatus.FINALIZED
    note.issue_date = today
    note.finalized_at = timezone.now()
    note.finalized_by = user if user is not None and user.is_authenticated else None
    note.save()
    return note


@transaction.atomic
def invoice_payment_record(*, invoice_id: int, paid_on: date, amount: Decimal) -> Invoice:
    """Mark a finalized invoice paid on `paid_on` with `amount` (in its currency)."""
    invoice = Invoice.objects.select_for_update().get(pk=invoice_id)
    if invoice.status != InvoiceStatus.FINALIZED or invoice.kind != DocumentKind.INVOICE:
        raise InvoiceRefused(f"Only a finalized invoice is paid; {invoice} is not one.")
    if amount <= 0 or has_sub_minor_digits(amount, invoice.currency):
        raise InvoiceRefused(f"A payment is a positive amount in {invoice.currency}.")
    if paid_on < invoice.issue_date or paid_on > timezone.now().date():
        raise InvoiceRefused(
            f"The payment date is between the issue date ({invoice.issue_date}) and today."
        )
    invoice.paid_on = paid_on
    invoice.paid_amount = amount
    invoice.save(update_fields=["paid_on", "paid_amount", "updated_at"])
    return invoice


def invoice_send(*, invoice_id: int) -> Invoice:
    """Email a finalized invoice or credit note to the customer, its PDF attached (through
    EMAIL_URL, as alerts are sent), and mark it sent. A failure raises and marks nothing."""
    invoice = Invoice.objects.select_related("credited_invoice").get(pk=invoice_id)
    if invoice.status != InvoiceStatus.FINALIZED:
        raise InvoiceRefused(f"Only a finalized document is sent; {invoice} is not one.")
    noun = "credit note" if invoice.kind == DocumentKind.CREDIT_NOTE else "invoice"
    body = [
        f"Hello {invoice.customer_name},",
        "",
        f"Please find attached {noun} {invoice.number} for {invoice.period_start:%B %Y}: "
        f"{round_money(invoice.total, invoice.currency):,} {invoice.currency}"
        + (f", due by {invoice.due_date}." if invoice.due_date else "."),
        "",
        settings.BILLING_SELLER_NAME,
    ]
    message = EmailMessage(
        subject=f"{noun.capitalize()} {invoice.number} from {settings.BILLING_SELLER_NAME}",
        body="\n".join(body),
        to=[invoice.customer_email],
    )
    message.attach(invoice_filename(invoice, "pdf"), invoice_pdf(invoice), "application/pdf")
    message.send()
    invoice.sent_at = timezone.now()
    invoice.save(update_fields=["sent_at", "updated_at"])
    return invoice

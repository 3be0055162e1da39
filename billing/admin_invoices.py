"""Customer invoices in the admin: the list with its statuses, a month's run, each invoice as
it will print (lines, adjustments, taxes) with what may be done to it in its state (refresh,
finalize, send, record a payment, credit, void), and its documents (PDF, XLSX, CSV).

Invoices are never edited here: drafts come from the month's run and are recomputed, finalized
ones are corrected by credit notes. Finance (billing.finalize_invoice) acts; Viewer looks.
"""

from datetime import date
from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from billing.documents import (
    ADJUSTMENTS,
    exact,
    invoice_filename,
    invoice_pdf,
    invoice_xlsx,
    invoices_csv,
    tax_label,
)
from billing.issuing import (
    InvoiceRefused,
    billing_run,
    credit_note_issue,
    invoice_credit_left,
    invoice_draft_refresh,
    invoice_finalize,
    invoice_payment_record,
    invoice_send,
    invoice_void,
)
from billing.models import DocumentKind, Invoice, InvoiceStatus, PaymentStatus, period_of
from costledger.days import add_months, month_start
from costledger.money import has_sub_minor_digits, round_money
from costledger.validators import EARLIEST_DAY, LATEST_DAY, validate_notes

FINALIZE = "billing.finalize_invoice"
ACTIONS = ("refresh", "finalize", "send", "payment", "credit_note", "void")
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class MonthField(forms.CharField):
    """A calendar month written YYYY-MM: its first day."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 7)
        kwargs.setdefault("help_text", "YYYY-MM, e.g. 2026-11.")
        super().__init__(**kwargs)

    def clean(self, value):
        value = super().clean(value)
        try:
            month = date.fromisoformat(f"{value}-01")
        except ValueError:
            raise ValidationError("Enter a month as YYYY-MM, e.g. 2026-11.") from None
        if not EARLIEST_DAY <= month <= LATEST_DAY:
            raise ValidationError(
                f"{value} is outside the months the ledger keeps: check the year."
            )
        return month


class RunForm(forms.Form):
    month = MonthField(label="Month")

    def clean_month(self):
        month = self.cleaned_data["month"]
        if month > month_start(timezone.now().date()):
            raise ValidationError(f"{month:%Y-%m} has not started: there is nothing to invoice.")
        return month


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), validators=[validate_notes])


class CreditNoteForm(ReasonForm):
    amount = forms.DecimalField(
        required=False,
        max_digits=18,
        decimal_places=4,
        min_value=Decimal("0.0001"),
        help_text="Before VAT. Empty: credit all that is left (the whole invoice).",
    )

    def __init__(self, *args, currency: str, left: Decimal, **kwargs):
        super().__init__(*args, **kwargs)
        self.currency, self.left = currency, left
        self.fields["amount"].help_text += f" At most {left:,} {currency}."

    def clean_amount(self):
        amount = self.cleaned_data["amount"]
        if amount is not None and has_sub_minor_digits(amount, self.currency):
            raise ValidationError(f"{self.currency} amounts stop at the minor unit.")
        if amount is not None and amount > self.left:
            raise ValidationError(f"At most {self.left:,} {self.currency} is left to credit.")
        return amount


class PaymentForm(forms.Form):
    paid_on = forms.DateField(label="Paid on", help_text="YYYY-MM-DD.")
    amount = forms.DecimalField(max_digits=18, decimal_places=4, min_value=Decimal("0.0001"))

    def __init__(self, *args, invoice: Invoice, **kwargs):
        super().__init__(*args, **kwargs)
        self.invoice = invoice
        self.fields["amount"].initial = round_money(invoice.total, invoice.currency)
        self.fields["paid_on"].initial = timezone.now().date()

    def clean_paid_on(self):
        day = self.cleaned_data["paid_on"]
        if day < self.invoice.issue_date or day > timezone.now().date():
            raise ValidationError(
                f"A payment is dated between the issue date ({self.invoice.issue_date}) and today."
            )
        return day

    def clean_amount(self):
        amount = self.cleaned_data["amount"]
        if has_sub_minor_digits(amount, self.invoice.currency):
            raise ValidationError(f"{self.invoice.currency} amounts stop at the minor unit.")
        return amount


class PaymentFilter(admin.SimpleListFilter):
    title = "payment"
    parameter_name = "payment"

    def lookups(self, request, model_admin):
        return PaymentStatus.choices

    def queryset(self, request, queryset):
        owed = queryset.filter(kind=DocumentKind.INVOICE, status=InvoiceStatus.FINALIZED)
        today = timezone.now().date()
        if self.value() == PaymentStatus.PAID:
            return owed.filter(paid_on__isnull=False)
        if self.value() == PaymentStatus.OVERDUE:
            return owed.filter(paid_on__isnull=True, due_date__lt=today)
        if self.value() == PaymentStatus.PENDING:
            return owed.filter(paid_on__isnull=True, due_date__gte=today)
        return queryset


@admin.register(Invoice)
class InvoiceAdmin(admin.ModelAdmin):
    list_display = (
        "document",
        "customer_name",
        "month",
        "status_shown",
        "total_shown",
        "issue_date",
        "due_date",
    )
    list_display_links = ("document",)
    list_filter = ("status", "kind", PaymentFilter, "currency")
    search_fields = ("number", "customer_name", "customer__users__user_id")
    date_hierarchy = "period_start"
    list_per_page = 100
    fields = ("number", "kind", "status", "customer", "period_start", "period_end")
    readonly_fields = fields
    change_form_template = "admin/billing/invoice/change_form.html"
    change_list_template = "admin/billing/invoice/change_list.html"

    def has_add_permission(self, request):
        return False  # drafts come from the month's run

    def has_change_permission(self, request, obj=None):
        return False  # read as it prints; corrected by the actions of its state

    def has_delete_permission(self, request, obj=None):
        return False  # a draft is removed by its run; an issued document stays

    def may_act(self, request) -> bool:
        return request.user.has_perm(FINALIZE)

    @admin.display(description="Invoice", ordering="number")
    def document(self, invoice):
        if invoice.number:
            return invoice.number
        return format_html("<em>draft</em> #{}", invoice.pk)

    @admin.display(description="Month", ordering="period_start")
    def month(self, invoice):
        return f"{invoice.period_start:%Y-%m}"

    @admin.display(description="Status")
    def status_shown(self, invoice):
        status = invoice.display_status
        noun = "credit note" if invoice.kind == DocumentKind.CREDIT_NOTE else ""
        css = {
            "overdue": "color:#ba2121;font-weight:bold",
            "paid": "color:#1c7c3a",
            "void": "color:#777;text-decoration:line-through",
        }.get(status, "")
        return format_html(
            '<span style="{}">{}</span>{}', css, status, f" ({noun})" if noun else ""
        )

    @admin.display(description="Total", ordering="total")
    def total_shown(self, invoice):
        sign = "−" if invoice.kind == DocumentKind.CREDIT_NOTE else ""
        return f"{sign}{round_money(invoice.total, invoice.currency):,}\u00a0{invoice.currency}"

    # --- pages ---------------------------------------------------------------------------------

    def get_urls(self):
        def view(function):
            return self.admin_site.admin_view(function)

        return [
            path("run/", view(self.run_view), name="billing_invoice_run"),
            path("export.csv", view(self.csv_view), name="billing_invoice_csv"),
            path("<int:pk>/pdf/", view(self.pdf_view), name="billing_invoice_pdf"),
            path("<int:pk>/xlsx/", view(self.xlsx_view), name="billing_invoice_xlsx"),
            *(
                path(
                    f"<int:pk>/{action}/",
                    view(self.act_view),
                    {"action": action},
                    name=f"billing_invoice_{action}",
                )
                for action in ACTIONS
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        last_month = add_months(month_start(timezone.now().date()), -1)
        context = {"may_act": self.may_act(request), "last_month": f"{last_month:%Y-%m}"}
        return super().changelist_view(request, {**context, **(extra_context or {})})

    def change_view(self, request, object_id, form_url="", extra_context=None):
        invoice = self.get_object(request, object_id)
        context = {}
        if invoice is not None:
            context = self._document_context(request, invoice)
        return super().change_view(
            request, object_id, form_url, {**context, **(extra_context or {})}
        )

    def _document_context(self, request, invoice: Invoice) -> dict:
        cur = invoice.currency
        lines = list(invoice.lines.all())
        left = invoice_credit_left(invoice) if invoice.kind == DocumentKind.INVOICE else None
        may = self.may_act(request)
        is_invoice = invoice.kind == DocumentKind.INVOICE
        finalized = invoice.status == InvoiceStatus.FINALIZED
        return {
            "invoice": invoice,
            "currency": cur,
            "charge_lines": [
                _shown_line(line, cur) for line in lines if line.kind not in ADJUSTMENTS
            ],
            "adjustments": [_shown_line(line, cur) for line in lines if line.kind in ADJUSTMENTS],
            "taxes": [
                (tax_label(tax), round_money(tax.base, cur), round_money(tax.amount, cur))
                for tax in invoice.taxes.all()
            ],
            "amounts": {
                name: round_money(getattr(invoice, name), cur)
                for name in (
                    "subtotal",
                    "discount_total",
                    "sla_credit",
                    "minimum_true_up",
                    "taxable_base",
                    "tax_total",
                    "total",
                )
            },
            "credit_notes": list(invoice.credit_notes.order_by("pk")),
            "actions": {
                "refresh": may and invoice.is_draft and is_invoice,
                "finalize": may and invoice.is_draft and is_invoice,
                "send": may and finalized,
                "payment": may and finalized and is_invoice and not invoice.paid_on,
                "credit_note": may and finalized and is_invoice and left and left[0] > 0,
                "void": may
                and finalized
                and is_invoice
                and not invoice.paid_on
                and not invoice.credit_notes.exists(),
            },
        }

    def run_view(self, request):
        if not self.may_act(request):
            raise PermissionDenied
        form = RunForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            month = form.cleaned_data["month"]
            outcomes = billing_run(month=month)
            counts = {}
            for outcome in outcomes:
                counts[outcome.outcome] = counts.get(outcome.outcome, 0) + 1
            summary = ", ".join(
                f"{n} {name.replace('_', ' ')}" for name, n in sorted(counts.items())
            )
            self.message_user(
                request, f"{month:%Y-%m}: {summary or 'no customer'}.", messages.SUCCESS
            )
            for outcome in outcomes:
                if outcome.outcome == "error":
                    self.message_user(
                        request, f"{outcome.customer}: {outcome.message}", messages.ERROR
                    )
            start, end = period_of(month)
            url = reverse("admin:billing_invoice_changelist")
            return HttpResponseRedirect(
                f"{url}?period_start__year={start.year}&period_start__month={start.month}"
            )
        return self._form_page(
            request,
            form,
            title="Run a month",
            button="Create or refresh the drafts",
            intro="Computes every customer's invoice for the month from its plan "
            "and usage. Drafts are replaced; finalized invoices are never touched.",
        )

    def act_view(self, request, pk, action):
        invoice = get_object_or_404(Invoice, pk=pk)
        if not self.may_act(request):
            raise PermissionDenied
        here = reverse("admin:billing_invoice_change", args=[invoice.pk])
        forms_of = {"void": self._void, "credit_note": self._credit_note, "payment": self._payment}
        if action in forms_of:
            return forms_of[action](request, invoice, here)
        if action not in ("refresh", "finalize", "send"):
            raise PermissionDenied
        if request.method != "POST":
            return HttpResponseRedirect(here)
        try:
            if action == "refresh":
                outcome = invoice_draft_refresh(invoice=invoice)
                self.message_user(
                    request,
                    f"Draft {outcome.outcome}{': ' + outcome.message if outcome.message else '.'}",
                    messages.ERROR if outcome.outcome == "error" else messages.SUCCESS,
                )
                if outcome.invoice_id and outcome.invoice_id != invoice.pk:
                    here = reverse("admin:billing_invoice_change", args=[outcome.invoice_id])
                elif outcome.outcome in ("removed", "nothing", "no_plan"):
                    here = reverse("admin:billing_invoice_changelist")
            elif action == "finalize":
                invoice = invoice_finalize(invoice_id=invoice.pk, user=request.user)
                self.message_user(
                    request,
                    f"Finalized as {invoice.number}, due {invoice.due_date}.",
                    messages.SUCCESS,
                )
            else:
                invoice = invoice_send(invoice_id=invoice.pk)
                self.message_user(
                    request, f"{invoice} sent to {invoice.customer_email}.", messages.SUCCESS
                )
        except InvoiceRefused as refusal:
            self.message_user(request, str(refusal), messages.ERROR)
        except OSError as error:  # the mail server: refused, unreachable, timed out
            self.message_user(
                request,
                f"Not sent: the mail server failed ({type(error).__name__}). "
                "Check EMAIL_URL and try again.",
                messages.ERROR,
            )
        return HttpResponseRedirect(here)

    def _void(self, request, invoice, here):
        def void(data):
            invoice_void(invoice_id=invoice.pk, reason=data["reason"])
            return f"{invoice} is void. Run the month again to invoice it anew.", here

        return self._form_action(
            request, ReasonForm(request.POST or None), void, invoice=invoice,
            title=f"Void {invoice}", button="Void it",
            intro="A void invoice keeps its number (the sequence has no gap) and is no longer "
            "owed. Only an unpaid invoice without credit notes can be voided.",
        )  # fmt: skip

    def _credit_note(self, request, invoice, here):
        def credit(data):
            note = credit_note_issue(invoice_id=invoice.pk, reason=data["reason"],
                                     amount=data["amount"], user=request.user)  # fmt: skip
            total = round_money(note.total, note.currency)
            message = f"Credit note {note.number} issued: {total:,} {note.currency}."
            return message, reverse("admin:billing_invoice_change", args=[note.pk])

        left, _ = invoice_credit_left(invoice)
        form = CreditNoteForm(request.POST or None, currency=invoice.currency, left=left)
        return self._form_action(
            request, form, credit, invoice=invoice, title=f"Credit note for {invoice}",
            button="Issue the credit note",
            intro="The credit note is finalized and numbered from the invoice at once; VAT "
            "follows the invoice's rate.",
        )  # fmt: skip

    def _payment(self, request, invoice, here):
        def pay(data):
            invoice_payment_record(invoice_id=invoice.pk, paid_on=data["paid_on"],
                                   amount=data["amount"])  # fmt: skip
            return f"{invoice} marked paid.", here

        form = PaymentForm(request.POST or None, invoice=invoice)
        title = f"Record the payment of {invoice}"
        return self._form_action(
            request, form, pay, invoice=invoice, title=title, button="Record it"
        )

    def _form_action(self, request, form, act, **page):
        """The form of an action on an invoice: on a valid POST, `act(cleaned_data)` -> (message,
        where to go); a refusal of the service is shown above the form."""
        if request.method == "POST" and form.is_valid():
            try:
                message, url = act(form.cleaned_data)
            except InvoiceRefused as refusal:
                form.add_error(None, str(refusal))
            else:
                self.message_user(request, message, messages.SUCCESS)
                return HttpResponseRedirect(url)
        return self._form_page(request, form, **page)

    def _form_page(self, request, form, *, title, button, intro="", invoice=None):
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
            "form": form,
            "button": button,
            "intro": intro,
            "invoice": invoice,
        }
        return TemplateResponse(request, "admin/billing/invoice/action_form.html", context)

    def _document(self, request, pk) -> Invoice:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return get_object_or_404(Invoice, pk=pk)

    def pdf_view(self, request, pk):
        invoice = self._document(request, pk)
        response = HttpResponse(invoice_pdf(invoice), content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="{invoice_filename(invoice, "pdf")}"'
        return response

    def xlsx_view(self, request, pk):
        invoice = self._document(request, pk)
        response = HttpResponse(invoice_xlsx(invoice), content_type=XLSX_CONTENT_TYPE)
        response["Content-Disposition"] = (
            f'attachment; filename="{invoice_filename(invoice, "xlsx")}"'
        )
        return response

    def csv_view(self, request):
        """A month's invoices and credit notes (level=invoice) or their lines (level=line)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = RunForm({"month": request.GET.get("month", "")})
        level = request.GET.get("level", "invoice")
        if not form.is_valid() or level not in ("invoice", "line"):
            self.message_user(
                request,
                "Choose a month (YYYY-MM) and a level (invoice or line) for the CSV.",
                messages.ERROR,
            )
            return HttpResponseRedirect(reverse("admin:billing_invoice_changelist"))
        month = form.cleaned_data["month"]
        invoices = (
            Invoice.objects.filter(period_start=month)
            .select_related("credited_invoice")
            .prefetch_related("lines")
            .order_by("number", "customer_name", "pk")
        )
        response = HttpResponse(
            "\ufeff" + invoices_csv(invoices, level=level), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = (
            f'attachment; filename="invoices-{month:%Y-%m}-{level}s.csv"'
        )
        return response


def _shown_line(line, currency: str) -> dict:
    return {
        "description": line.description,
        "quantity": exact(line.quantity) or "",
        "unit": line.unit,
        "unit_price": exact(line.unit_price) or "",
        "amount": round_money(line.amount, currency),
        "detail": line.detail,
    }

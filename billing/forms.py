"""The provider invoice form of the admin: warns before saving an invoice whose period overlaps
another invoice of the same provider, and saves it only once the admin confirms."""

from django import forms
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from billing.models import InvoiceKind, ProviderInvoice, provider_invoices_overlapping
from costledger.money import round_money

CONFIRM_LABEL = "Save anyway"


class ProviderInvoiceForm(forms.ModelForm):
    # Hidden until an overlap is found; then shown as a checkbox beside the warning.
    confirm_overlap = forms.BooleanField(required=False, widget=forms.HiddenInput)

    class Meta:
        model = ProviderInvoice
        fields = [
            "provider", "kind", "invoice_number", "invoice_date", "period_start", "period_end",
            "amount", "currency", "notes", "attachment",
        ]  # fmt: skip

    def clean(self):
        cleaned = super().clean()
        overlapping = self._overlapping(cleaned)
        if overlapping and not cleaned.get("confirm_overlap") and self._new(overlapping):
            self._ask_confirmation(overlapping)
        return cleaned

    def _overlapping(self, cleaned: dict) -> list[ProviderInvoice]:
        asked = [cleaned.get(name) for name in ("provider", "kind", "period_start", "period_end")]
        if None in asked or "" in asked or asked[3] < asked[2]:
            return []  # a field error says what is wrong; an overlap cannot be told yet
        provider, kind, start, end = asked
        return list(
            provider_invoices_overlapping(
                provider=provider, kind=kind, start=start, end=end, exclude_pk=self.instance.pk
            )
        )

    def _new(self, overlapping: list[ProviderInvoice]) -> bool:
        """True when the invoice overlaps one it did not overlap as stored: saving an invoice
        whose overlap was confirmed before (its notes corrected) asks nothing again."""
        if self.instance.pk is None:
            return True
        # The instance still holds the stored values here: the form's are put in after clean().
        before = set(self.instance.overlapping().values_list("pk", flat=True))
        return any(invoice.pk not in before for invoice in overlapping)

    def _ask_confirmation(self, overlapping: list[ProviderInvoice]) -> None:
        field = self.fields["confirm_overlap"]
        field.widget = forms.CheckboxInput()
        field.label = CONFIRM_LABEL
        field.help_text = format_html(
            "Overlapping: {}. Both count on the shared days: check that this is not the same "
            "bill entered twice.",
            format_html_join(
                ", ",
                '<a href="{}" target="_blank">{}</a> ({} to {}, {}\u00a0{})',
                (
                    (
                        reverse("admin:billing_providerinvoice_change", args=[other.pk]),
                        other.invoice_number,
                        other.period_start,
                        other.period_end,
                        f"{round_money(other.amount, other.currency):,}",
                        other.currency,
                    )
                    for other in overlapping
                ),
            ),
        )
        # The bound field was made while cleaning and copied the label and help text then.
        bound = self["confirm_overlap"]
        bound.label, bound.help_text = field.label, field.help_text
        names = "; ".join(
            f"{other.invoice_number} ({other.period_start} to {other.period_end}, "
            f"{round_money(other.amount, other.currency):,} {other.currency})"
            for other in overlapping
        )
        noun = "credit note" if overlapping[0].kind == InvoiceKind.CREDIT_NOTE else "invoice"
        self.add_error(
            "confirm_overlap",
            f"This period overlaps {len(overlapping)} other {noun}"
            f"{'' if len(overlapping) == 1 else 's'} of the same provider: "
            f'{names}. Both would count as cost on the shared days. Tick "{CONFIRM_LABEL}" to '
            "save it all the same, or correct the period.",
        )

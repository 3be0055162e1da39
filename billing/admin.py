from datetime import date
from decimal import Decimal

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Count
from django.forms.models import BaseInlineFormSet
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from simple_history.admin import SimpleHistoryAdmin
from simple_history.template_utils import HistoricalRecordContextHelper

from billing.forms import ProviderInvoiceForm
from billing.margins import customer_margin_trend
from billing.models import (
    Customer,
    CustomerUser,
    Discount,
    Plan,
    PlanCharge,
    ProviderInvoice,
    SlaCreditTier,
    SlaUptime,
    TaxRate,
    plain_rate,
)
from billing.services import provider_invoice_delete, provider_invoice_save
from costledger.money import plain_text, round_money


class HistoryValues(HistoricalRecordContextHelper):
    """A history line's old and new values as stored, readable: 25.00 -> 27.50, not the
    column's 25.0000 -> 27.5000; days ISO."""

    def prepare_delta_change_value(self, change, value):
        if isinstance(value, Decimal) and value.is_finite():
            return plain_text(value)
        if isinstance(value, date):
            return value.isoformat()
        return super().prepare_delta_change_value(change, value)


@admin.register(ProviderInvoice)
class ProviderInvoiceAdmin(SimpleHistoryAdmin):
    form = ProviderInvoiceForm
    list_display = (
        "provider",
        "invoice_number",
        "kind",
        "period_start",
        "period_end",
        "amount_display",
        "invoice_date",
        "entered_by",
        "attachment_link",
    )
    list_display_links = ("provider", "invoice_number")  # the number is what people look for
    list_filter = ("provider", "kind", "currency")
    search_fields = ("invoice_number", "notes")
    date_hierarchy = "period_start"
    list_select_related = ("entered_by",)
    fieldsets = (
        (None, {"fields": ("provider", "kind", "invoice_number", "invoice_date")}),
        (
            "Period and amount",
            {
                "fields": (
                    "period_start",
                    "period_end",
                    "amount",
                    "currency",
                    "overlaps",
                    "confirm_overlap",
                )
            },
        ),
        (None, {"fields": ("notes", "attachment", "entered_by", "created_at", "updated_at")}),
    )
    readonly_fields = ("overlaps", "entered_by", "created_at", "updated_at")
    history_list_display = ("amount", "currency", "period_start", "period_end")

    @admin.display(description="Amount", ordering="amount")
    def amount_display(self, obj):
        sign = "−" if obj.signed_amount < 0 else ""
        amount = round_money(obj.amount, obj.currency)
        return format_html("{}{}\u00a0{}", sign, f"{amount:,}", obj.currency)

    @admin.display(description="Attachment")
    def attachment_link(self, obj):
        if not obj.attachment:
            return "—"
        url = reverse("admin:billing_providerinvoice_attachment", args=[obj.pk])
        return format_html('<a href="{}">file</a>', url)

    def get_urls(self):
        view = self.admin_site.admin_view(self.attachment_view)
        return [
            path("<int:pk>/attachment/", view, name="billing_providerinvoice_attachment"),
            *super().get_urls(),
        ]

    def attachment_view(self, request, pk):
        """Invoices are confidential: their files are served to who may view invoices only,
        never from a public media URL."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        invoice = get_object_or_404(ProviderInvoice, pk=pk)
        if not invoice.attachment:
            raise Http404("This invoice has no attachment.")
        return FileResponse(
            invoice.attachment.open("rb"), filename=invoice.attachment.name.rsplit("/", 1)[-1]
        )

    @admin.display(description="Overlapping invoices")
    def overlaps(self, obj):
        if not obj.pk:
            return "Checked when you save"
        others = obj.overlapping()
        if not others:
            return "None"
        return format_html_join(
            mark_safe("<br>"),
            '<a href="{}">{}</a> ({} to {}, {}\u00a0{})',
            (
                (
                    reverse("admin:billing_providerinvoice_change", args=[o.pk]),
                    o.invoice_number,
                    o.period_start,
                    o.period_end,
                    f"{round_money(o.amount, o.currency):,}",
                    o.currency,
                )
                for o in others
            ),
        )

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        # django-simple-history saves whatever is posted to this page, even for users who may
        # only view and with reverting disabled. The history is read-only here: changes go
        # through the invoice form, its services and its permissions.
        if request.method != "GET":
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)

    def get_historical_record_context_helper(self, request, historical_record):
        return HistoryValues(self.model, historical_record)

    def save_model(self, request, obj, form, change):
        if change and not form.has_changed():
            return  # nothing to write: no history row that changes nothing, no ledger rewrite
        provider_invoice_save(invoice=obj, user=request.user)
        others = list(obj.overlapping())
        if others:
            names = ", ".join(
                f"{o.invoice_number} ({o.period_start} to {o.period_end})" for o in others
            )
            messages.warning(
                request,
                f"{obj} overlaps {names} for the same provider. Both count as real costs for "
                "the shared days; check that this is not the same bill entered twice.",
            )

    def delete_model(self, request, obj):
        provider_invoice_delete(invoice=obj)

    def delete_queryset(self, request, queryset):
        for invoice in queryset:
            provider_invoice_delete(invoice=invoice)


class DiscountInline(admin.TabularInline):
    model = Discount
    extra = 0
    fields = ("description", "kind", "value", "duration", "months", "starts_on")


class CustomerUserInline(admin.TabularInline):
    model = CustomerUser
    extra = 1
    fields = ("user_id",)


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ("name", "email", "country", "vat_number", "currency", "plan",
                    "payment_terms_days", "user_ids")  # fmt: skip
    list_filter = ("country", "currency", "plan")
    search_fields = ("name", "email", "vat_number", "users__user_id")
    fieldsets = (
        (None, {"fields": ("name", "email", "billing_address", "country")}),
        (
            "Invoicing",
            {
                "fields": (
                    "plan",
                    "currency",
                    "payment_terms_days",
                    "vat_number",
                    "tax_override",
                    "stripe_customer_id",
                )
            },
        ),  # fmt: skip
        ("Invoices", {"fields": ("recent_invoices",)}),
    )
    readonly_fields = ("recent_invoices",)
    inlines = [CustomerUserInline, DiscountInline]
    list_select_related = ("plan",)

    @admin.display(description="Latest invoices")
    def recent_invoices(self, customer):
        if not customer.pk:
            return "—"
        invoices = customer.invoices.order_by("-period_start", "-pk")[:12]
        if not invoices:
            return "None yet: Billing → Invoices → Run a month."
        return format_html_join(
            mark_safe("<br>"),
            '<a href="{}">{}</a> {}, {}: {} {}',
            (
                (reverse("admin:billing_invoice_change", args=[i.pk]),
                 i.number or "draft", f"{i.period_start:%Y-%m}", i.display_status,
                 f"{round_money(i.total, i.currency):,}", i.currency)
                for i in invoices
            ),
        )  # fmt: skip

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("users")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """The customer's margin over the last 12 months below the form (billing/margins.py),
        on a GET only: a refused or invalid POST stores nothing, not even an allocation."""
        customer = self.get_object(request, object_id) if request.method == "GET" else None
        if customer is not None and self.has_view_or_change_permission(request, customer):
            extra_context = {**(extra_context or {}), **margin_trend_context(customer)}
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description="Usage users")
    def user_ids(self, customer):
        ids = [u.user_id for u in customer.users.all()]
        return ", ".join(ids[:3]) + (f" and {len(ids) - 3} more" if len(ids) > 3 else "") or "—"


def margin_trend_context(customer: Customer) -> dict:
    """What templates/admin/billing/customer/change_form.html shows: one row per month, and the
    same figures as text for the chart (json_script)."""
    trend = customer_margin_trend(customer=customer)
    currency = settings.REPORTING_CURRENCY
    chart = {
        "currency": currency,
        "months": [f"{m.month:%Y-%m}" for m in trend],
        **{
            key: [str(round_money(getattr(m.party, key), currency)) for m in trend]
            for key in ("revenue", "llm_cost", "allocated", "margin")
        },
    }
    return {"margin_trend": trend, "margin_currency": currency, "margin_chart": chart}


@admin.register(TaxRate)
class TaxRateAdmin(admin.ModelAdmin):
    list_display = ("country", "name", "rate_percent")

    @admin.display(description="Rate", ordering="rate")
    def rate_percent(self, rate):
        return f"{plain_rate(rate.rate)} %"


# --- Customer billing: plans, discounts, uptimes ---------------------------------------------


class PlanChargeInline(admin.StackedInline):
    model = PlanCharge
    extra = 0
    formfield_overrides = {models.TextField: {"widget": forms.Textarea(attrs={"rows": 3})}}
    fieldsets = (
        (None, {"fields": (("position", "description"), ("metric", "provider", "model"))}),
        (None, {"fields": (("charge_model", "unit"), ("unit_price", "package_size"), "tiers",
                           "markup_percent")}),
    )  # fmt: skip


class SlaTiersFormSet(BaseInlineFormSet):
    def clean(self):
        super().clean()
        target = self.instance.sla_target
        for form in self.forms:
            below = form.cleaned_data.get("below") if form.cleaned_data else None
            if below is None or form.cleaned_data.get("DELETE"):
                continue
            if target is None:
                form.add_error("below", "Credit tiers need the plan's SLA target: set it above.")
            elif below > target:
                form.add_error(
                    "below",
                    f"A tier below {below.normalize():f} % credits uptime that meets the "
                    f"target ({target.normalize():f} %): keep tiers at or under the target.",
                )


class SlaCreditTierInline(admin.TabularInline):
    model = SlaCreditTier
    formset = SlaTiersFormSet
    extra = 0


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = ("name", "currency", "monthly_fee_shown", "minimum_shown", "sla_shown",
                    "charge_count", "customer_count")  # fmt: skip
    search_fields = ("name",)
    fieldsets = (
        (None, {"fields": ("name", "currency", "monthly_fee", "minimum_commitment")}),
        ("SLA", {"fields": ("sla_target", "sla_credit_cap")}),
    )
    inlines = [PlanChargeInline, SlaCreditTierInline]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                charge_count=Count("charges", distinct=True),
                customer_count=Count("customers", distinct=True),
            )
        )

    @admin.display(description="Monthly fee", ordering="monthly_fee")
    def monthly_fee_shown(self, plan):
        return f"{round_money(plan.monthly_fee, plan.currency):,}"

    @admin.display(description="Minimum", ordering="minimum_commitment")
    def minimum_shown(self, plan):
        if plan.minimum_commitment is None:
            return "—"
        return f"{round_money(plan.minimum_commitment, plan.currency):,}"

    @admin.display(description="SLA target")
    def sla_shown(self, plan):
        return "—" if plan.sla_target is None else f"{plain_rate(plan.sla_target)} %"

    @admin.display(description="Charges", ordering="charge_count")
    def charge_count(self, plan):
        return plan.charge_count

    @admin.display(description="Customers", ordering="customer_count")
    def customer_count(self, plan):
        return plan.customer_count


@admin.register(SlaUptime)
class SlaUptimeAdmin(admin.ModelAdmin):
    list_display = ("month_shown", "who", "uptime_shown", "incident_reference", "entered_by")
    list_filter = ("month",)
    search_fields = ("incident_reference", "customer__name")
    list_select_related = ("customer", "entered_by")
    fields = ("month", "customer", "uptime", "incident_reference", "notes")

    @admin.display(description="Month", ordering="month")
    def month_shown(self, uptime):
        return f"{uptime.month:%Y-%m}"

    @admin.display(description="Customer", ordering="customer__name")
    def who(self, uptime):
        return uptime.customer or "All customers"

    @admin.display(description="Uptime", ordering="uptime")
    def uptime_shown(self, uptime):
        return f"{plain_rate(uptime.uptime)} %"

    def save_model(self, request, obj, form, change):
        if not change:
            obj.entered_by = request.user
        super().save_model(request, obj, form, change)


from billing import admin_invoices  # noqa: E402, F401 (registers customer invoices)

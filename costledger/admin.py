from datetime import timedelta

from django.contrib import admin
from django.utils.html import format_html

from costledger.admin_site import ReadOnlyLedgerAdmin
from costledger.models import CostEntry, ExchangeRate, MetricSample, RevenueSnapshot
from costledger.money import round_money
from costledger.providers import provider_name


@admin.register(CostEntry)
class CostEntryAdmin(ReadOnlyLedgerAdmin):
    list_display = (
        "charge_period",
        "provider_display",
        "service",
        "category",
        "cost_display",
        "source",
        "reference",
    )
    list_filter = ("source", "category", "provider")
    search_fields = ("service", "reference", "provider")
    date_hierarchy = "charge_period_start"

    @admin.display(description="Charged for", ordering="charge_period_start")
    def charge_period(self, obj):
        """The days charged, end included: one day, or first to last."""
        last = obj.charge_period_end - timedelta(days=1)
        if last == obj.charge_period_start:
            return f"{obj.charge_period_start:%Y-%m-%d}"
        return f"{obj.charge_period_start:%Y-%m-%d} to {last:%Y-%m-%d}"

    @admin.display(description="Provider", ordering="provider")
    def provider_display(self, obj):
        return provider_name(obj.provider)

    @admin.display(description="Billed cost", ordering="billed_cost")
    def cost_display(self, obj):
        amount = obj.billed_cost.normalize()
        if amount == round_money(amount, obj.currency):
            amount = round_money(amount, obj.currency)
        return format_html("{}\u00a0{}", f"{amount:,f}", obj.currency)


@admin.register(MetricSample)
class MetricSampleAdmin(ReadOnlyLedgerAdmin):
    list_display = ("day", "provider", "metric", "value", "unit", "dimensions")
    list_filter = ("provider", "metric")
    date_hierarchy = "day"


@admin.register(RevenueSnapshot)
class RevenueSnapshotAdmin(ReadOnlyLedgerAdmin):
    list_display = (
        "day",
        "currency",
        "mrr",
        "active_subscriptions",
        "trialing_subscriptions",
        "new_mrr",
        "churned_mrr",
    )
    list_filter = ("currency",)
    date_hierarchy = "day"


@admin.register(ExchangeRate)
class ExchangeRateAdmin(admin.ModelAdmin):
    list_display = ("day", "currency", "rate", "source")
    list_filter = ("currency", "source")
    date_hierarchy = "day"
    fields = ("day", "currency", "rate", "source")

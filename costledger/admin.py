from datetime import timedelta

from django.contrib import admin

from costledger.admin_site import ReadOnlyLedgerAdmin, money_cell
from costledger.models import CostEntry, ExchangeRate, MetricSample, RevenueSnapshot
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
        return money_cell(obj.billed_cost, obj.currency)


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
        "mrr_display",
        "active_subscriptions",
        "trialing_subscriptions",
        "new_mrr_display",
        "churned_mrr_display",
    )
    list_filter = ("currency",)
    date_hierarchy = "day"

    @admin.display(description="MRR", ordering="mrr")
    def mrr_display(self, obj):
        return money_cell(obj.mrr, obj.currency)

    @admin.display(description="New MRR", ordering="new_mrr")
    def new_mrr_display(self, obj):
        return money_cell(obj.new_mrr, obj.currency)

    @admin.display(description="Churned MRR", ordering="churned_mrr")
    def churned_mrr_display(self, obj):
        return money_cell(obj.churned_mrr, obj.currency)


@admin.register(ExchangeRate)
class ExchangeRateAdmin(admin.ModelAdmin):
    list_display = ("day", "currency", "rate", "source")
    list_filter = ("currency", "source")
    date_hierarchy = "day"
    fields = ("day", "currency", "rate", "source")

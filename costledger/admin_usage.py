"""Admin of the LLM usage tables: read-only, as collectors and the ingest API write them."""

from django.contrib import admin

from costledger.admin import ReadOnlyLedgerAdmin
from costledger.models import CostSource, LlmUsageDaily, LlmUsageEvent


@admin.register(LlmUsageDaily)
class LlmUsageDailyAdmin(ReadOnlyLedgerAdmin):
    list_display = (
        "day", "user_id", "provider", "model", "source", "requests", "errors", "input_tokens",
        "output_tokens", "cache_read_tokens", "reasoning_tokens", "cost", "unpriced_requests",
    )  # fmt: skip
    list_filter = ("source", "provider")
    search_fields = ("=user_id", "model")
    date_hierarchy = "day"


class PricedFilter(admin.SimpleListFilter):
    title = "cost"
    parameter_name = "cost"
    COST_SOURCES = {
        "unpriced": CostSource.UNPRICED,
        "priced": CostSource.PRICE_BOOK,
        "provider": CostSource.PROVIDER,
    }

    def lookups(self, request, model_admin):
        return [
            ("unpriced", "Unpriced"),
            ("priced", "Priced"),
            ("provider", "Reported by provider"),
        ]

    def queryset(self, request, queryset):
        # An unknown value (a typo, an old bookmark) lists every event rather than failing.
        source = self.COST_SOURCES.get(self.value())
        return queryset.filter(cost_source=source) if source else queryset


@admin.register(LlmUsageEvent)
class LlmUsageEventAdmin(ReadOnlyLedgerAdmin):
    list_display = (
        "timestamp", "event_id", "user_id", "provider", "model", "input_tokens", "output_tokens",
        "cache_read_tokens", "reasoning_tokens", "cost", "cost_source", "is_error",
    )  # fmt: skip
    list_filter = (PricedFilter, "provider", "is_error")
    search_fields = ("=event_id", "=user_id", "model")
    date_hierarchy = "day"
    list_select_related = ("price",)

"""LLM usage in the admin: the usage tables (read-only: the ingest API and the collectors write
them), the users' emails, the ingest API keys, the price book (usage/admin_prices.py) and the
unpriced-usage page with its re-price (usage/pages.py)."""

from urllib.parse import urlencode

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

from costledger.admin_site import ReadOnlyLedgerAdmin
from costledger.money import exact_text
from usage import admin_prices  # noqa: F401 (registers the price book)
from usage.keys import KEY_PREFIX, ingest_key_create, ingest_keys_revoke
from usage.models import (
    CostSource,
    IngestKey,
    LlmUsageDaily,
    LlmUsageEvent,
    LlmUsagePruning,
    UsageUser,
)
from usage.pages import LlmUnpriced
from usage.selectors import LLM_CURRENCY, unpriced_sums

admin.site.register_page("llm-unpriced/", LlmUnpriced, "llm_unpriced")
admin.site.register_report(
    position=30,
    title="Unpriced LLM usage",
    url_name="llm_unpriced",
    text="Models used without a price, and the way to price them",
)


def _unpriced_notice(request) -> dict:
    """The banner that says some usage has no price (and so no cost): when the unpriced
    page lists anything."""
    return {"has_unpriced_usage": unpriced_sums().exists()}


admin.site.register_notice(_unpriced_notice)


@admin.display(description="Cost (USD)", ordering="cost")
def cost_exact(obj) -> str:
    """The exact cost, readable: 0.0075 rather than 0.0075000000 (a cent would round it away)."""
    return exact_text(obj.cost, LLM_CURRENCY)


@admin.display(description="User id", ordering="user_id")
def user_link(obj) -> str:
    """The user id, linking to that user's page (reports adds it to the site by this name)."""
    try:
        url = reverse("admin:user_usage")
    except NoReverseMatch:
        return obj.user_id
    return format_html(
        '<a href="{}?{}">{}</a>', url, urlencode({"user_id": obj.user_id}), obj.user_id or "(none)"
    )


@admin.register(LlmUsageDaily)
class LlmUsageDailyAdmin(ReadOnlyLedgerAdmin):
    list_display = (
        "day", user_link, "provider", "model", "source", "requests", "errors", "input_tokens",
        "output_tokens", "cache_read_tokens", "reasoning_tokens", cost_exact, "unpriced_requests",
    )  # fmt: skip
    list_filter = ("source", "provider")
    search_fields = ("^user_id", "model")
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
        "timestamp", "event_id", "user_id", "provider", "model", "tokens", cost_exact,
        "cost_source", "is_error",
    )  # fmt: skip
    list_filter = (PricedFilter, "provider", "is_error")

    @admin.display(description="Tokens in / out / cache read / reasoning")
    def tokens(self, obj):
        counts = (obj.input_tokens, obj.output_tokens, obj.cache_read_tokens, obj.reasoning_tokens)
        return " / ".join(f"{count:,}" for count in counts)

    search_fields = ("=event_id", "^user_id", "model")
    date_hierarchy = "day"
    list_select_related = ("price",)


@admin.register(UsageUser)
class UsageUserAdmin(ReadOnlyLedgerAdmin):
    """Emails of usage user ids, refreshed from Supabase auth by each Supabase sync."""

    list_display = ("user_id", "email", "refreshed_at")
    search_fields = ("^user_id", "email")
    ordering = ("email", "user_id")


@admin.register(IngestKey)
class IngestKeyAdmin(admin.ModelAdmin):
    """Keys are created with a name only; the key is shown once on the page that follows and
    cannot be seen again (only its hash is stored). A leaked key is revoked, not edited."""

    list_display = ("name", "prefix_display", "created_at", "created_by", "last_used_at", "state")
    fields = ("name",)
    actions = ["revoke"]

    @admin.display(description="Key starts with")
    def prefix_display(self, obj):
        return f"{KEY_PREFIX}{obj.prefix}_…"

    @admin.display(description="State")
    def state(self, obj):
        if obj.revoked_at:
            return format_html('<span style="color: #b71c1c">Revoked {}</span>', obj.revoked_at)
        return "Active"

    def has_change_permission(self, request, obj=None):
        return False

    def add_view(self, request, form_url="", extra_context=None):
        if request.method != "POST":
            return super().add_view(request, form_url, extra_context)
        # Django's add_view would check the permission; this POST does not reach it.
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = self.get_form(request)(request.POST)
        if not form.is_valid():
            return super().add_view(request, form_url, extra_context)
        key, full = ingest_key_create(
            name=form.cleaned_data["name"], created_by=request.user.get_username()
        )
        context = {
            **self.admin_site.each_context(request),
            "title": "Copy the new key now",
            "key": key,
            "full_key": full,
            "opts": self.model._meta,
        }
        response = TemplateResponse(request, "admin/usage/ingestkey/created.html", context)
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request, queryset):
        count = ingest_keys_revoke(keys=queryset)
        messages.success(request, f"{count} key{'s' if count != 1 else ''} revoked.")


@admin.register(LlmUsagePruning)
class LlmUsagePruningAdmin(ReadOnlyLedgerAdmin):
    """When raw events were pruned and through which day (manage.py prune_usage_events)."""

    list_display = ("through_day", "events_deleted", "started_at", "finished_at")

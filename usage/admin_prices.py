"""The price book in the admin: rows from genai-prices are read-only; an admin overrides one by
adding a row, which wins from its date."""

from django import forms
from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from costledger.admin_site import BoundedJSONField
from usage.models import ModelPrice, PriceSource

PRICE_COLUMNS = {
    "input_mtok": "in",
    "output_mtok": "out",
    "cache_read_mtok": "cache read",
    "cache_write_mtok": "cache write",
    "per_request": "per request",
    "per_image": "per image",
    "per_search_unit": "per search unit",
}


class ModelPriceForm(forms.ModelForm):
    """An admin's price: always source "admin", in USD (the currency usage is costed in)."""

    class Meta:
        model = ModelPrice
        fields = ("provider", "model", "effective_from", "source", *PRICE_COLUMNS, "tiers", "notes")
        field_classes = {"tiers": BoundedJSONField}
        help_texts = {
            "provider": "Slug as events send it: openai, anthropic, openrouter, google...",
            "model": "As events name it (gpt-4o-2024-08-06), or the price book's id (gpt-4o) to "
            "price every dated version of it.",
            "effective_from": "Used for usage on and after this day (UTC), until a later price.",
            "input_mtok": "USD per million uncached input tokens.",
            "output_mtok": "USD per million output tokens; reasoning tokens are billed at it.",
            "cache_read_mtok": "USD per million; empty = billed at the input price.",
            "cache_write_mtok": "USD per million; empty = billed at the input price.",
            "per_request": "USD per request, on top of tokens.",
            "per_image": "USD per image; empty = images are billed inside the tokens.",
            "per_search_unit": "USD per search unit (a rerank query of up to 100 documents), "
            "not per 1,000: Cohere's $2.00 per 1K searches is 0.002. Empty = usage with search "
            "units stays unpriced.",
            "tiers": 'Long-context prices, e.g. {"input": [{"start": 200000, "price": "6"}]}: '
            "past `start` tokens of context (input + cache), that price applies to all tokens "
            "of the kind.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Shown, never chosen: a field of the form (not a read-only one) so that the unique
        # constraint on (provider, model, effective_from, source) is checked with it. Absent
        # from the read-only form of a package row.
        if "source" in self.fields:
            self.fields["source"].disabled = True
            self.fields["tiers"].required = False

    def clean(self):
        cleaned = super().clean()
        cleaned["source"] = PriceSource.ADMIN
        cleaned["tiers"] = cleaned.get("tiers") or {}
        # Negative prices and the tiers are checked by ModelPrice.clean, for every entry path.
        if all(cleaned.get(name) is None for name in PRICE_COLUMNS):
            raise forms.ValidationError(
                "Enter at least one price (0 for a free model): a row without prices cannot "
                "price any usage."
            )
        return cleaned


@admin.register(ModelPrice)
class ModelPriceAdmin(admin.ModelAdmin):
    """The price book. Rows from genai-prices are read-only (the next `load_prices` would
    overwrite an edit); an admin overrides one by adding a row, which wins from its date."""

    form = ModelPriceForm
    list_display = ("provider", "model", "effective_from", "prices", "source", "override")
    list_filter = ("provider", "source")
    search_fields = ("model",)
    date_hierarchy = "effective_from"
    list_per_page = 100
    show_full_result_count = False

    @admin.display(description="USD per million tokens / per unit")
    def prices(self, obj):
        cells = [
            (label, format(value.normalize(), "f"))
            for name, label in PRICE_COLUMNS.items()
            if (value := getattr(obj, name)) is not None
        ]
        tiers = " (+ long-context tiers)" if obj.tiers else ""
        return format_html("{}{}", format_html_join(" · ", "{} {}", cells), tiers)

    @admin.display(description="")
    def override(self, obj):
        if obj.source != PriceSource.PACKAGE:
            return ""
        url = reverse("admin:usage_modelprice_add")
        return format_html('<a href="{}?copy={}">Override</a>', url, obj.pk)

    def get_changeform_initial_data(self, request):
        """`?copy=<id>` starts an override from an existing price (from its prices, not its
        date); `?provider=..&model=..` from names, as the unpriced-usage list links here."""
        initial = super().get_changeform_initial_data(request)
        initial.pop("source", None)
        copy = initial.pop("copy", "")
        if copy.isdecimal() and len(copy) <= 18:  # no id is longer; int() refuses 4,300 digits
            fields = ("provider", "model", *PRICE_COLUMNS, "tiers")
            initial.update(ModelPrice.objects.filter(pk=copy).values(*fields).first() or {})
        return initial

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.source == PriceSource.PACKAGE:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.source == PriceSource.PACKAGE:
            return False
        return super().has_delete_permission(request, obj)

    def get_actions(self, request):
        # Bulk delete would take package rows with it; an admin row is deleted from its page.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def save_model(self, request, obj, form, change):
        obj.source = PriceSource.ADMIN
        super().save_model(request, obj, form, change)
        messages.info(
            request,
            f"New usage of {obj.provider}/{obj.model} from {obj.effective_from} is priced with "
            "this row. Usage already stored keeps its cost until re-priced: manage.py reprice "
            f"--since {obj.effective_from} --until <day> --model {obj.model}",
        )

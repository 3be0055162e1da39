"""The price book: what each model costs, from a day on."""

from django.core.exceptions import ValidationError
from django.db import models

from costledger.validators import (
    CurrencyField,
    field_errors,
    validate_ledger_day,
    validate_notes,
    validate_text,
)
from usage.tiers import TIER_KINDS, tiers_problems, tiers_size_problems


class PriceSource(models.TextChoices):
    # Bundled with the app: the pinned genai-prices package, and its supplement
    # (usage.price_supplement) for what the package does not price.
    PACKAGE = "genai-prices", "Bundled (genai-prices or its supplement)"
    ADMIN = "admin", "Entered in the admin"


class ModelPrice(models.Model):
    """What a provider charges for a model from `effective_from` on, in USD per million tokens
    (per request, per image and per search unit as they are). Rows from the bundled price
    package and its supplement are loaded by `manage.py load_prices`; a row entered in the
    admin overrides them from its date.

    `tiers` holds long-context tiers as {"input": [{"start": 200000, "price": "6"}], ...}: once
    a request's input passes `start` tokens, that price applies to all its tokens of the kind.
    """

    provider = models.SlugField(max_length=64)
    model = models.CharField(max_length=200)
    effective_from = models.DateField()
    source = models.CharField(max_length=16, choices=PriceSource.choices, default=PriceSource.ADMIN)
    currency = CurrencyField(default="USD")
    input_mtok = models.DecimalField(max_digits=18, decimal_places=8, null=True, blank=True)
    output_mtok = models.DecimalField(max_digits=18, decimal_places=8, null=True, blank=True)
    cache_read_mtok = models.DecimalField(max_digits=18, decimal_places=8, null=True, blank=True)
    cache_write_mtok = models.DecimalField(max_digits=18, decimal_places=8, null=True, blank=True)
    per_request = models.DecimalField(max_digits=18, decimal_places=8, null=True, blank=True)
    per_image = models.DecimalField(max_digits=18, decimal_places=8, null=True, blank=True)
    # Per unit, as per_request and per_image: Cohere's "$2.00 per 1K searches" is 0.002.
    per_search_unit = models.DecimalField(max_digits=18, decimal_places=8, null=True, blank=True)
    tiers = models.JSONField(default=dict, blank=True)
    notes = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "costledger_modelprice"
        ordering = ["provider", "model", "-effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "model", "effective_from", "source"],
                name="model_price_unique_from",
            )
        ]

    def __str__(self):
        return f"{self.provider}/{self.model} from {self.effective_from} ({self.source})"

    def clean(self):
        # Checked here, not only in the admin's form, so that no way of saving a price can
        # store one that the pricing code (usage.pricing) would choke on at ingest.
        errors = field_errors(
            self,
            effective_from=validate_ledger_day,
            provider=validate_text,
            model=validate_text,
            notes=validate_notes,
        )
        for column in self._meta.fields:
            price = getattr(self, column.name)
            if isinstance(column, models.DecimalField) and price is not None and price < 0:
                errors[column.name] = "A price cannot be negative."
        priced = {kind for kind in TIER_KINDS if getattr(self, f"{kind}_mtok") is not None}
        if self.tiers is None:
            errors["tiers"] = "Enter {} for a price without long-context tiers."
        elif problems := tiers_problems(self.tiers, priced_kinds=priced) or tiers_size_problems(
            self.tiers
        ):
            errors["tiers"] = problems
        if errors:
            raise ValidationError(errors)

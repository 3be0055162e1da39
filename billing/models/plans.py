"""What a customer pays for: a plan's monthly fee, its usage charges, its minimum commitment and
its SLA (target, credit tiers, cap). billing.invoices applies them to a month of usage."""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from billing.charges import ChargeModel, Unit, tiers_parse, tiers_text
from costledger.money import has_sub_minor_digits, is_currency, minor_unit
from costledger.validators import CurrencyField, field_errors, validate_notes, validate_text

PERCENT = {
    "max_digits": 7,
    "decimal_places": 4,
    "validators": [MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(100))],
}
AMOUNT = {"max_digits": 18, "decimal_places": 4, "validators": [MinValueValidator(Decimal(0))]}
# A price per unit may be a small fraction of a cent (per token): twelve decimal places.
PRICE = {"max_digits": 24, "decimal_places": 12, "validators": [MinValueValidator(Decimal(0))]}


class Metric(models.TextChoices):
    INPUT_TOKENS = "input_tokens", "Input tokens"
    OUTPUT_TOKENS = "output_tokens", "Output tokens"
    CACHE_READ_TOKENS = "cache_read_tokens", "Cache-read tokens"
    CACHE_WRITE_TOKENS = "cache_write_tokens", "Cache-write tokens"
    REASONING_TOKENS = "reasoning_tokens", "Reasoning tokens"
    REQUESTS = "requests", "Requests"
    IMAGES = "images", "Images"
    STREAM_MINUTES = "stream_minutes", "Streaming minutes"
    BANDWIDTH_GB = "bandwidth_gb", "Bandwidth (GB)"
    LLM_COST = "llm_cost", "LLM cost plus a markup"


# What each metric counts in the usage sums (usage.sums.COUNTED), and the units it is priced in.
METRIC_COUNTED = {
    Metric.INPUT_TOKENS: "input_tokens",
    Metric.OUTPUT_TOKENS: "output_tokens",
    Metric.CACHE_READ_TOKENS: "cache_read_tokens",
    Metric.CACHE_WRITE_TOKENS: "cache_write_tokens",
    Metric.REASONING_TOKENS: "reasoning_tokens",
    Metric.REQUESTS: "requests",
    Metric.IMAGES: "images",
    Metric.STREAM_MINUTES: "stream_duration_ms",
    Metric.BANDWIDTH_GB: "bandwidth_bytes",
    Metric.LLM_COST: "cost",
}
COUNTS = (Unit.ONE, Unit.THOUSAND, Unit.MILLION)
METRIC_UNITS = {
    **{metric: COUNTS for metric in METRIC_COUNTED},
    Metric.STREAM_MINUTES: (Unit.MINUTE,),
    Metric.BANDWIDTH_GB: (Unit.GB,),
    Metric.LLM_COST: (Unit.ONE,),
}


def money_errors(currency: str, **amounts: Decimal | None) -> dict:
    """A field error for each amount with more decimals than `currency` has."""
    if not is_currency(currency or ""):
        return {}
    places = minor_unit(currency)
    return {
        name: ValidationError(
            f"{currency} amounts have {places} decimal place{'' if places == 1 else 's'} at "
            f"most; {amount} has more.",
            code="sub_minor",
        )
        for name, amount in amounts.items()
        if amount is not None and has_sub_minor_digits(amount, currency)
    }


class Plan(models.Model):
    """A price list: the fixed fee of each month, the usage charges, a minimum commitment per
    month and the SLA. Amounts are in the plan's currency, which is its customers'."""

    name = models.CharField(max_length=100, unique=True)
    currency = CurrencyField(default="EUR", help_text="ISO 4217 code; its customers' currency.")
    monthly_fee = models.DecimalField(default=Decimal(0), **AMOUNT)
    minimum_commitment = models.DecimalField(
        null=True,
        blank=True,
        help_text="Per month, before VAT: a true-up line brings a smaller invoice up to it.",
        **AMOUNT,
    )
    sla_target = models.DecimalField(
        "SLA target", null=True, blank=True, help_text="Uptime promised, in percent: 99.9.",
        **PERCENT,
    )  # fmt: skip
    sla_credit_cap = models.DecimalField(
        "SLA credit cap",
        null=True,
        blank=True,
        help_text="The SLA credit is at most this percentage of the discounted invoice.",
        **PERCENT,
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def clean(self):
        errors = field_errors(self, name=validate_text)
        errors |= money_errors(
            self.currency, monthly_fee=self.monthly_fee,
            minimum_commitment=self.minimum_commitment,
        )  # fmt: skip
        if self.sla_credit_cap is not None and self.sla_target is None:
            errors["sla_credit_cap"] = "A credit cap needs an SLA target: set both or neither."
        if errors:
            raise ValidationError(errors)


class PlanCharge(models.Model):
    """One usage charge of a plan: what is counted (the metric, optionally of one provider or
    model), how it is priced (the charge model on the quantity in `unit`)."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="charges")
    position = models.PositiveSmallIntegerField(default=0, help_text="Order on the invoice.")
    description = models.CharField(
        max_length=200, blank=True, help_text="As printed; the metric's name when empty."
    )
    metric = models.CharField(max_length=32, choices=Metric.choices)
    provider = models.SlugField(
        max_length=64, blank=True, help_text="Only this provider's usage (openai); empty: all."
    )
    model = models.CharField(
        max_length=200, blank=True, help_text="Only this model's usage (gpt-4o); empty: all."
    )
    charge_model = models.CharField(
        max_length=16, choices=ChargeModel.choices, default=ChargeModel.PER_UNIT
    )
    unit = models.CharField(max_length=8, choices=Unit.choices, default=Unit.ONE)
    unit_price = models.DecimalField(
        null=True,
        blank=True,
        help_text="Per unit; for a package, the price of one package.",
        **PRICE,
    )
    package_size = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="Units per package (package model)."
    )
    tiers = models.TextField(
        blank=True,
        help_text="Graduated and volume models: one tier per line, 'up to' then the unit price, "
        "then an optional flat fee; the last tier's 'up to' is *. Example: "
        "'1000 0.02' then '* 0.015 5'.",
    )
    markup_percent = models.DecimalField(
        max_digits=9,
        decimal_places=4,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(10_000))],
        help_text="LLM cost plus a markup: 20 bills 1.20 per 1.00 of LLM cost.",
    )

    class Meta:
        ordering = ["plan", "position", "id"]

    def __str__(self):
        return self.label

    @property
    def label(self) -> str:
        if self.description:
            return self.description
        scope = " ".join(part for part in (self.provider, self.model) if part)
        return f"{Metric(self.metric).label}{f' ({scope})' if scope else ''}"

    def clean(self):
        errors = field_errors(
            self, description=validate_text, model=validate_text, tiers=validate_notes
        )
        if "tiers" not in errors:
            errors |= self._pricing_errors()
        if errors:
            raise ValidationError(errors)

    def _pricing_errors(self) -> dict:
        metric, model = self.metric, self.charge_model
        if metric not in METRIC_UNITS or model not in ChargeModel.values:
            return {}  # the field says what is wrong
        errors = {}
        units = METRIC_UNITS[metric]
        if self.unit not in units:
            errors["unit"] = (
                f"{Metric(metric).label} are priced {' or '.join(Unit(u).label for u in units)}."  # noqa: E501
            )
        if metric == Metric.LLM_COST:
            if model != ChargeModel.PER_UNIT:
                errors["charge_model"] = "LLM cost plus a markup is charged per unit of cost."
            if self.markup_percent is None:
                errors["markup_percent"] = "Give the markup in percent (0 for none)."
            if self.unit_price is not None:
                errors["unit_price"] = "LLM cost is charged at cost plus the markup: no price."
            return errors
        if self.markup_percent is not None:
            errors["markup_percent"] = "A markup applies to the LLM cost metric only."
        needs_price = model in (ChargeModel.PER_UNIT, ChargeModel.PACKAGE)
        if needs_price and self.unit_price is None:
            errors["unit_price"] = "This charge model needs a unit price."
        if model == ChargeModel.PACKAGE and not self.package_size:
            errors["package_size"] = (
                "A package needs its size: how many units it holds (1 or more)."
            )
        if model in (ChargeModel.GRADUATED, ChargeModel.VOLUME):
            try:
                self.tiers = tiers_text(tiers_parse(self.tiers))
            except ValueError as error:
                errors["tiers"] = str(error)
        elif self.tiers.strip():
            errors["tiers"] = "Tiers apply to the graduated and volume models only."
        return errors


class SlaCreditTier(models.Model):
    """Below `below` percent of uptime in a month, the customer is credited `credit` percent of
    the discounted invoice (the lowest tier reached wins; the plan's cap limits it)."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="sla_tiers")
    below = models.DecimalField(help_text="Uptime below this percentage...", **PERCENT)
    credit = models.DecimalField(help_text="...credits this percentage.", **PERCENT)

    class Meta:
        ordering = ["plan", "-below"]
        verbose_name = "SLA credit tier"
        constraints = [
            models.UniqueConstraint(fields=["plan", "below"], name="sla_credit_tier_unique")
        ]

    def __str__(self):
        return f"below {self.below.normalize():f} %: {self.credit.normalize():f} %"

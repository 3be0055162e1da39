"""The ledger: what was spent (CostEntry), non-money usage (MetricSample), what was earned
(RevenueSnapshot) and the exchange rates that bring every currency to the reporting one.

Every table has the unique constraint its writers upsert on, so re-running a sync or re-saving an
invoice replaces rows and never adds to them.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q

from costledger.providers import Category
from costledger.validators import (
    CurrencyField,
    field_errors,
    validate_ledger_day,
    validate_text,
)

MONEY = {"max_digits": 24, "decimal_places": 10}


class Source(models.TextChoices):
    """Where a cost figure comes from, in order of trust (highest first)."""

    MANUAL = "manual", "Invoice"
    API = "api", "Billed"
    USAGE = "usage", "Computed"
    ESTIMATE = "estimate", "Estimate"


# Higher wins: for a provider and a day the effective cost comes from the highest source present.
SOURCE_RANK = {Source.MANUAL: 4, Source.API: 3, Source.USAGE: 2, Source.ESTIMATE: 1}


# What identifies a charge: every writer upserts on it (costledger.services).
COST_ENTRY_KEY = (
    "provider",
    "service",
    "charge_period_start",
    "charge_period_end",
    "source",
    "reference",
)


class CostEntry(models.Model):
    """One charge: a provider's service over a period [start, end), from one source.

    `reference` tells apart charges that share provider, service and period: the invoice number
    of a manually entered invoice, a provider's invoice or line-item id.
    """

    provider = models.SlugField(max_length=64)
    service = models.CharField(max_length=200)
    category = models.CharField(max_length=32, choices=Category.choices)
    charge_period_start = models.DateField()
    charge_period_end = models.DateField(help_text="Exclusive: the day after the last day charged.")
    billed_cost = models.DecimalField(**MONEY)
    currency = CurrencyField()
    quantity = models.DecimalField(max_digits=28, decimal_places=10, null=True, blank=True)
    unit = models.CharField(max_length=64, blank=True)
    source = models.CharField(max_length=16, choices=Source.choices)
    reference = models.CharField(max_length=200, blank=True, default="")
    adjustment = models.BooleanField(
        default=False,
        help_text="A credit or correction: added to the effective cost whatever source wins, "
        "never taking part in the precedence.",
    )
    tags = models.JSONField(default=dict, blank=True)
    # The collectors.SyncRun that wrote the row. A plain id, not a foreign key: the ledger core
    # does not depend on the collectors app (DESIGN.md: collectors -> costledger <- billing).
    sync_run_id = models.BigIntegerField(null=True, blank=True)
    raw = models.JSONField(null=True, blank=True, help_text="Excerpt of the provider's payload.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "cost entries"
        ordering = ["-charge_period_start", "provider", "service"]
        constraints = [
            models.UniqueConstraint(
                fields=COST_ENTRY_KEY,
                name="cost_entry_unique_charge",
            ),
            models.CheckConstraint(
                condition=Q(charge_period_end__gt=F("charge_period_start")),
                name="cost_entry_period_not_empty",
            ),
        ]
        indexes = [
            models.Index(fields=["charge_period_start", "charge_period_end"]),
            models.Index(fields=["provider", "source", "charge_period_start"]),
        ]

    def __str__(self):
        return (
            f"{self.provider} {self.service} {self.charge_period_start}..{self.charge_period_end}"
            f" {self.billed_cost} {self.currency} ({self.source})"
        )


class MetricSample(models.Model):
    """A non-money usage figure for a provider and day (objects in Weaviate, MAU in Supabase)."""

    provider = models.SlugField(max_length=64)
    metric = models.CharField(max_length=100)
    day = models.DateField()
    dimensions = models.JSONField(default=dict, blank=True)
    # Canonical JSON of `dimensions` (sorted keys): the unique constraint cannot compare JSON.
    dimensions_key = models.CharField(max_length=500, default="{}", editable=False)
    value = models.DecimalField(max_digits=28, decimal_places=6)
    unit = models.CharField(max_length=32, blank=True)
    sync_run_id = models.BigIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-day", "provider", "metric"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "metric", "day", "dimensions_key"],
                name="metric_sample_unique_day",
            )
        ]

    def __str__(self):
        return f"{self.provider} {self.metric} {self.day} = {self.value} {self.unit}"


class RevenueSnapshot(models.Model):
    """Recurring revenue on a day in one currency, as Stripe defines MRR."""

    day = models.DateField()
    currency = CurrencyField()
    mrr = models.DecimalField(**MONEY)
    active_subscriptions = models.PositiveIntegerField(default=0)
    trialing_subscriptions = models.PositiveIntegerField(default=0)
    new_mrr = models.DecimalField(default=0, **MONEY)
    churned_mrr = models.DecimalField(default=0, **MONEY)
    sync_run_id = models.BigIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-day", "currency"]
        constraints = [
            models.UniqueConstraint(fields=["day", "currency"], name="revenue_snapshot_unique_day")
        ]

    def __str__(self):
        return f"MRR {self.day} {self.mrr} {self.currency}"


class CustomerRevenue(models.Model):
    """What one customer of a payment provider paid on one day in one currency, net of tax and
    refunds: paid invoice amounts less their tax, less what was refunded that day (so a day can
    be negative). `customer_ref` is the provider's customer id (Stripe: cus_...), the key a
    billing customer is linked by."""

    day = models.DateField()
    provider = models.CharField(max_length=64)
    customer_ref = models.CharField(max_length=255)
    currency = CurrencyField()
    amount = models.DecimalField(**MONEY)
    paid = models.DecimalField(default=0, help_text="Paid, net of tax.", **MONEY)
    refunded = models.DecimalField(default=0, help_text="Refunded, net of tax.", **MONEY)
    invoices = models.PositiveIntegerField(default=0)
    refunds = models.PositiveIntegerField(default=0)
    sync_run_id = models.BigIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-day", "customer_ref", "currency"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "customer_ref", "day", "currency"],
                name="customer_revenue_unique_day",
            )
        ]

    def __str__(self):
        return f"{self.provider} {self.customer_ref} {self.day} {self.amount} {self.currency}"


class CustomerMrr(models.Model):
    """One customer's MRR on a day in one currency, by the same definition as RevenueSnapshot
    (which is the sum of these over customers)."""

    day = models.DateField()
    provider = models.CharField(max_length=64)
    customer_ref = models.CharField(max_length=255)
    currency = CurrencyField()
    mrr = models.DecimalField(**MONEY)
    active_subscriptions = models.PositiveIntegerField(default=0)
    trialing_subscriptions = models.PositiveIntegerField(default=0)
    sync_run_id = models.BigIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-day", "customer_ref", "currency"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "customer_ref", "day", "currency"],
                name="customer_mrr_unique_day",
            )
        ]

    def __str__(self):
        return f"MRR {self.provider} {self.customer_ref} {self.day} {self.mrr} {self.currency}"


class ExchangeRate(models.Model):
    """How much one unit of `currency` is worth in the reporting currency, from `day` on.

    The rate in force on a day is the latest one dated on or before it. A day before the first
    rate of a currency has no rate: costs in that currency are reported as unconverted, never
    taken at 1.
    """

    day = models.DateField(help_text="The rate applies from this day until the next rate.")
    currency = CurrencyField(help_text="ISO 4217 code, e.g. EUR.")
    rate = models.DecimalField(
        max_digits=24,
        decimal_places=10,
        help_text="Value of one unit of the currency in the reporting currency.",
    )
    source = models.CharField(max_length=64, blank=True, default="manual")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-day", "currency"]
        constraints = [
            models.UniqueConstraint(fields=["day", "currency"], name="exchange_rate_unique_day"),
            models.CheckConstraint(condition=Q(rate__gt=0), name="exchange_rate_positive"),
        ]

    def __str__(self):
        return f"1 {self.currency} = {self.rate} on {self.day}"

    def clean(self):
        errors = field_errors(self, day=validate_ledger_day, source=validate_text)
        if self.rate is not None and self.rate <= 0:
            errors["rate"] = "A rate must be greater than zero."
        if self.currency == settings.REPORTING_CURRENCY:
            errors["currency"] = f"{self.currency} is the reporting currency; its rate is always 1."
        if errors:
            raise ValidationError(errors)

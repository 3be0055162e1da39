"""Our customers: who is invoiced, where (VAT follows the country and VAT number), in which
currency, on which plan, for the usage of which users; their discounts; the measured uptime
their SLA credits follow; the tax rates the invoices apply."""

import re
from datetime import date
from decimal import Decimal

from babel import Locale
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from billing.models.plans import PERCENT, Plan, money_errors
from billing.taxes import EU_COUNTRIES, vat_number_valid
from costledger.days import add_months, month_start
from costledger.validators import (
    CurrencyField,
    field_errors,
    validate_ledger_day,
    validate_notes,
    validate_text,
)

# ISO 3166-1 alpha-2 codes with their English names (CLDR, through babel): two letters only,
# not CLDR's regions ("001") or "ZZ".
COUNTRY_CHOICES = sorted(
    ((code, name) for code, name in Locale("en").territories.items()
     if len(code) == 2 and code.isalpha() and code != "ZZ"),
    key=lambda choice: choice[1],
)  # fmt: skip
MAX_PAYMENT_TERMS_DAYS = 365


class TaxRate(models.Model):
    """A country's standard VAT rate, as the invoices apply it (billing.taxes): the seller's
    country's for domestic customers and EU consumers."""

    country = models.CharField(max_length=2, choices=COUNTRY_CHOICES, unique=True)
    name = models.CharField(max_length=100, help_text="As printed on invoices, e.g. TVA 20 %.")
    rate = models.DecimalField(
        max_digits=7,
        decimal_places=4,
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(100))],
        help_text="In percent: 20 for 20 %.",
    )

    class Meta:
        ordering = ["country"]

    def __str__(self):
        return f"{self.name} ({self.country}, {plain_rate(self.rate)} %)"

    def clean(self):
        errors = field_errors(self, name=validate_text)
        if errors:
            raise ValidationError(errors)


def plain_rate(rate: Decimal) -> str:
    return f"{rate.normalize():f}"


class Customer(models.Model):
    """One of our customers: who is invoiced, where (VAT follows the country and VAT number),
    in which currency, for the usage of which users (CustomerUser)."""

    name = models.CharField(max_length=200)
    email = models.EmailField(max_length=254, help_text="Where invoices are sent.")
    billing_address = models.TextField(help_text="As printed on invoices.")
    country = models.CharField(max_length=2, choices=COUNTRY_CHOICES)
    vat_number = models.CharField(
        "VAT number",
        max_length=32,
        blank=True,
        help_text="EU customers: the VAT number with its country prefix (FR40303265045); a "
        "valid one of another EU country than ours means reverse charge.",
    )
    currency = CurrencyField(default="EUR", help_text="ISO 4217 code: invoices are in it.")
    payment_terms_days = models.PositiveSmallIntegerField(
        default=30, validators=[MaxValueValidator(MAX_PAYMENT_TERMS_DAYS)]
    )
    tax_override = models.DecimalField(
        max_digits=7,
        decimal_places=4,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(100))],
        help_text="A VAT rate in percent that wins over the rules (an exemption: 0).",
    )
    stripe_customer_id = models.CharField(max_length=100, blank=True)
    plan = models.ForeignKey(
        Plan,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="customers",
        help_text="What the customer pays for; without a plan, no invoice is made.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["stripe_customer_id"],
                condition=~models.Q(stripe_customer_id=""),
                name="customer_unique_stripe_id",
            )
        ]

    def __str__(self):
        return self.name

    def clean(self):
        errors = field_errors(
            self, name=validate_text, billing_address=validate_notes,
            stripe_customer_id=validate_text,
        )  # fmt: skip
        if self.vat_number:
            self.vat_number = self.vat_number.strip().upper().replace(" ", "")
            problem = vat_number_problem(self.vat_number, self.country or "")
            if problem:
                errors["vat_number"] = ValidationError(problem, code="bad_vat_number")
        if self.stripe_customer_id and not STRIPE_CUSTOMER_ID.fullmatch(self.stripe_customer_id):
            errors["stripe_customer_id"] = ValidationError(
                "A Stripe customer id looks like cus_NffrFeUfNV2Hib.", code="bad_stripe_id"
            )
        elif self.stripe_customer_id:
            holder = (
                Customer.objects.filter(stripe_customer_id=self.stripe_customer_id)
                .exclude(pk=self.pk)
                .first()
            )
            if holder:
                errors["stripe_customer_id"] = ValidationError(
                    f"{holder} is already linked to {self.stripe_customer_id}: what Stripe "
                    "collects from it counts for one customer only.",
                    code="stripe_id_taken",
                )
        if self.plan_id and self.currency and self.plan.currency != self.currency:
            errors["plan"] = ValidationError(
                f"The plan {self.plan} is priced in {self.plan.currency}, the customer is "
                f"invoiced in {self.currency}: choose a plan in {self.currency}, or change the "
                "customer's currency.",
                code="plan_currency",
            )
        if errors:
            raise ValidationError(errors)


STRIPE_CUSTOMER_ID = re.compile(r"cus_[A-Za-z0-9]{1,60}")


def vat_number_problem(number: str, country: str) -> str | None:
    """Why `number` is not a VAT number of an EU `country` (None: it is, or the country is
    outside the EU, where numbers are kept as given)."""
    if validate_text_problem(number):
        return "The VAT number holds characters no number has."
    if country not in EU_COUNTRIES:
        return None
    if not vat_number_valid(number, country):
        return (
            f"{number} is not a valid VAT number of {country}: check its digits, and that it "
            f"starts with {'EL' if country == 'GR' else country}."
        )
    return None


def validate_text_problem(value: str) -> bool:
    try:
        validate_text(value)
    except ValidationError:
        return True
    return False


class CustomerUser(models.Model):
    """A usage user id (LLM usage events' `user_id`) whose usage a customer pays for; a user id
    belongs to at most one customer."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="users")
    user_id = models.CharField(max_length=200, unique=True)

    class Meta:
        ordering = ["user_id"]
        verbose_name = "usage user of a customer"
        verbose_name_plural = "usage users"

    def __str__(self):
        return self.user_id

    def clean(self):
        errors = field_errors(self, user_id=validate_text)
        if errors:
            raise ValidationError(errors)


class DiscountKind(models.TextChoices):
    PERCENT = "percent", "Percentage"
    FIXED = "fixed", "Fixed amount"


class DiscountDuration(models.TextChoices):
    ONCE = "once", "Once (its first month)"
    MONTHS = "months", "For a number of months"
    FOREVER = "forever", "Forever"


class Discount(models.Model):
    """A discount of a customer's invoices, from a month on: a percentage or a fixed amount (in
    the customer's currency), off the usage and fee lines, before VAT (billing.invoices)."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="discounts")
    description = models.CharField(max_length=200, help_text="As printed on the invoice.")
    kind = models.CharField(max_length=8, choices=DiscountKind.choices)
    value = models.DecimalField(
        max_digits=18,
        decimal_places=4,
        validators=[MinValueValidator(Decimal("0.0001"))],
        help_text="A percentage (10 for 10 %) or an amount in the customer's currency.",
    )
    duration = models.CharField(max_length=8, choices=DiscountDuration.choices)
    months = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(120)],
        help_text="For a number of months: how many.",
    )
    starts_on = models.DateField(help_text="The first month it applies to (any day of it).")

    class Meta:
        ordering = ["customer", "starts_on", "id"]

    def __str__(self):
        return self.description

    def clean(self):
        errors = field_errors(self, description=validate_text, starts_on=validate_ledger_day)
        if self.starts_on and "starts_on" not in errors:
            self.starts_on = month_start(self.starts_on)
        if self.value is not None and self.kind == DiscountKind.PERCENT and self.value > 100:
            errors["value"] = "A percentage discount is at most 100."
        elif self.value is not None and self.kind == DiscountKind.FIXED:
            errors |= money_errors(self._currency(), value=self.value)
        if self.duration == DiscountDuration.MONTHS and not self.months:
            errors["months"] = "Say for how many months (1 to 120)."
        elif self.duration != DiscountDuration.MONTHS and self.months:
            errors["months"] = "A number of months goes with the duration 'For a number of months'."
        if errors:
            raise ValidationError(errors)

    def _currency(self) -> str:
        """The customer's currency, also while both are being added in one form."""
        try:
            return self.customer.currency
        except Customer.DoesNotExist:
            return ""

    def applies_to(self, month: date) -> bool:
        if month < self.starts_on:
            return False
        if self.duration == DiscountDuration.ONCE:
            return month == self.starts_on
        if self.duration == DiscountDuration.MONTHS:
            return month < add_months(self.starts_on, self.months)
        return True


class SlaUptime(models.Model):
    """A month's measured uptime, for one customer or (no customer) for all: the SLA credit of
    their invoice for that month follows it (billing.invoices). A customer's own figure wins."""

    month = models.DateField(help_text="Any day of the month; kept as the month.")
    customer = models.ForeignKey(
        Customer,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="uptimes",
        help_text="Empty: every customer.",
    )
    uptime = models.DecimalField(help_text="Measured, in percent: 99.5.", **PERCENT)
    incident_reference = models.CharField(
        max_length=200, help_text="The incident(s) behind the figure, as printed on the credit."
    )
    notes = models.TextField(blank=True)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-month", "customer"]
        verbose_name = "SLA uptime"
        constraints = [
            models.UniqueConstraint(
                fields=["month", "customer"], name="sla_uptime_unique", nulls_distinct=False
            ),
            models.CheckConstraint(
                condition=Q(uptime__gte=0, uptime__lte=100), name="sla_uptime_percent"
            ),
        ]

    def __str__(self):
        who = self.customer or "all customers"
        return f"{self.month:%Y-%m} {who}: {self.uptime.normalize():f} %"

    def clean(self):
        errors = field_errors(
            self, month=validate_ledger_day, incident_reference=validate_text,
            notes=validate_notes,
        )  # fmt: skip
        if self.month and "month" not in errors:
            self.month = month_start(self.month)
            same = SlaUptime.objects.filter(month=self.month, customer=self.customer_id)
            if same.exclude(pk=self.pk).exists():
                who = self.customer or "all customers"
                errors["month"] = (
                    f"The uptime of {self.month:%Y-%m} for {who} is already entered: edit it."
                )
        if errors:
            raise ValidationError(errors)

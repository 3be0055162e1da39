"""Budgets, alert rules, notification channels, and the alerts they raised.

An Alert is unique per (rule, scope, threshold, period): however often the checks run, a
condition raises one alert, and one notification per channel (Delivery, unique per alert,
channel and event). Escalation (80% then 100%) is another threshold, so another alert; a
resolved condition (a collector back to health) is one more event of the same alert.
"""

from datetime import date
from decimal import Decimal
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, URLValidator, validate_email
from django.db import models
from django.db.models import F, Q

from costledger.money import has_sub_minor_digits, is_currency, minor_unit
from costledger.providers import PROVIDERS, Category
from costledger.validators import CurrencyField, field_errors, validate_ledger_day, validate_text

MAX_THRESHOLDS = 10
MAX_THRESHOLD_PERCENT = 1000


def scope_choices() -> list[tuple[str, str]]:
    """`total`, `category:<slug>` and `provider:<slug>`, with the labels people read."""
    return [
        ("total", "All costs"),
        *((f"category:{c.value}", f"Category: {c.label}") for c in Category),
        *((f"provider:{p.slug}", f"Provider: {p.name}") for p in PROVIDERS.values()),
    ]


def thresholds_parse(text: str) -> list[int]:
    """'50, 80,100' -> [50, 80, 100]; a ValidationError saying what is wrong otherwise."""
    parts = [part.strip() for part in str(text).replace(";", ",").split(",") if part.strip()]
    if not parts:
        raise ValidationError("Give at least one threshold, e.g. 50,80,100.", code="empty")
    values = []
    for part in parts:
        if not part.isascii() or not part.isdigit() or len(part) > 4:
            raise ValidationError(
                f"{part!r} is not a whole percentage: write thresholds like 50,80,100.",
                code="not_a_percentage",
            )
        value = int(part)
        if not 1 <= value <= MAX_THRESHOLD_PERCENT:
            raise ValidationError(
                f"{value}% is outside 1 to {MAX_THRESHOLD_PERCENT}%.", code="out_of_range"
            )
        values.append(value)
    if len(set(values)) > MAX_THRESHOLDS:
        raise ValidationError(f"At most {MAX_THRESHOLDS} thresholds.", code="too_many")
    return sorted(set(values))


def validate_thresholds(text: str) -> None:
    thresholds_parse(text)


def validate_month_start(value: date) -> None:
    validate_ledger_day(value)
    if value.day != 1:
        raise ValidationError(
            f"Budgets run by calendar month: give the first day of the month "
            f"({value.replace(day=1).isoformat()}), not {value.isoformat()}.",
            code="not_a_month",
        )


class Budget(models.Model):
    """A monthly spending limit, calendar-aligned (UTC), on all costs, a category or a provider,
    with thresholds in percent and a warning when the month's projection goes over."""

    name = models.CharField(max_length=200)
    scope = models.CharField(max_length=80, choices=scope_choices)
    amount = models.DecimalField(
        max_digits=18,
        decimal_places=4,
        validators=[MinValueValidator(Decimal("0.0001"))],
        help_text="The month's limit, in the budget's currency.",
    )
    currency = CurrencyField(default="USD", help_text="ISO 4217 code, e.g. USD.")
    thresholds = models.CharField(
        max_length=100,
        default="50,80,100",
        validators=[validate_thresholds],
        help_text="Percentages of the amount that alert, comma separated: 50,80,100.",
    )
    warn_on_forecast = models.BooleanField(
        default=True,
        help_text="Alert once a month when the month's projection (month to date plus the "
        "last 7 days' daily run rate for each day left) first goes over the amount.",
    )
    effective_from = models.DateField(
        validators=[validate_month_start], help_text="The first month (its first day)."
    )
    effective_until = models.DateField(
        null=True,
        blank=True,
        validators=[validate_month_start],
        help_text="The last month (its first day); empty: every month from then on.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="budget_amount_positive"),
            models.CheckConstraint(
                condition=Q(effective_until__isnull=True)
                | Q(effective_until__gte=F("effective_from")),
                name="budget_months_ordered",
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def threshold_list(self) -> list[int]:
        return thresholds_parse(self.thresholds)

    def applies_to(self, month: date) -> bool:
        return self.effective_from <= month and (
            self.effective_until is None or month <= self.effective_until
        )

    def clean(self):
        errors = field_errors(self, name=validate_text)
        if (
            self.amount is not None
            and is_currency(self.currency or "")
            and has_sub_minor_digits(self.amount, self.currency)
        ):
            errors["amount"] = ValidationError(
                f"{self.currency} has {minor_unit(self.currency)} decimal places; "
                f"{self.amount} has more.",
                code="sub_minor",
            )
        try:  # stored as read: 50,80,100 whatever the spaces and order typed
            self.thresholds = ",".join(map(str, thresholds_parse(self.thresholds)))
        except ValidationError:
            pass  # the field's own validator reports it
        if (
            self.effective_from
            and self.effective_until
            and self.effective_until < self.effective_from
        ):
            errors["effective_until"] = ValidationError(
                "The last month is before the first.", code="months_reversed"
            )
        if errors:
            raise ValidationError(errors)


class RuleKind(models.TextChoices):
    BUDGET = "budget", "Budget threshold"
    BUDGET_FORECAST = "budget_forecast", "Budget forecast"
    COST_SPIKE = "cost_spike", "Cost spike per provider"
    USER_SPIKE = "user_spike", "User's LLM cost spike"
    SYNC_HEALTH = "sync_health", "Sync health"
    UNPRICED_USAGE = "unpriced_usage", "Unpriced usage"


TUNABLE = [RuleKind.COST_SPIKE, RuleKind.USER_SPIKE, RuleKind.SYNC_HEALTH, RuleKind.UNPRICED_USAGE]


class AlertRule(models.Model):
    """One row per rule that is not a budget (created by the migration): on or off, and its
    figures. The spike rules alert on a day above `factor` times a baseline of the previous
    `baseline_days` days (the MAD for providers, the median for users) and above
    `minimum_amount` in the reporting currency."""

    kind = models.CharField(
        max_length=32, unique=True, choices=[(k.value, k.label) for k in TUNABLE]
    )
    enabled = models.BooleanField(default=True)
    factor = models.DecimalField(
        max_digits=8,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.01"))],
        help_text="Cost spike: a day above median + factor x MAD. User spike: above factor x "
        "the user's median.",
    )
    minimum_amount = models.DecimalField(
        max_digits=18,
        decimal_places=4,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(0))],
        help_text="A spike below this amount never alerts: in the reporting currency for "
        "providers, in USD (the currency of computed LLM costs) for users.",
    )
    baseline_days = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(7)]
    )

    class Meta:
        ordering = ["kind"]

    def __str__(self):
        return self.get_kind_display()


class ChannelKind(models.TextChoices):
    EMAIL = "email", "Email"
    WEBHOOK = "webhook", "Webhook (Slack-compatible)"


def addresses_parse(text: str) -> list[str]:
    return [
        a.strip() for a in str(text).replace(";", ",").replace("\n", ",").split(",") if a.strip()
    ]


MAX_ADDRESSES = 50


def validate_addresses(text: str) -> None:
    validate_text(text)
    addresses = addresses_parse(text)
    if len(addresses) > MAX_ADDRESSES:
        raise ValidationError(
            f"At most {MAX_ADDRESSES} addresses ({len(addresses)} given): send to a mailing list "
            "for more.",
            code="too_many",
        )
    for address in addresses:
        try:
            validate_email(address)
        except ValidationError:
            raise ValidationError(
                f"{address!r} is not an email address.", code="bad_address"
            ) from None


class Channel(models.Model):
    """Where alerts go: email addresses (Django's email backend, EMAIL_URL), or a
    Slack-compatible incoming webhook (its URL is a secret: never shown again whole)."""

    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=ChannelKind.choices)
    enabled = models.BooleanField(default=True)
    addresses = models.TextField(
        blank=True, help_text="Email: the recipients, separated by commas or lines."
    )
    webhook_url = models.TextField(
        blank=True, help_text="Webhook: the incoming webhook's URL (https://...)."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return f"{self.name} ({self.get_kind_display()})"

    @property
    def webhook_url_masked(self) -> str:
        """The scheme and host, the rest hidden: enough to tell channels apart."""
        return webhook_url_masked(self.webhook_url)

    def clean(self):
        errors = field_errors(self, name=validate_text, addresses=validate_addresses)
        if self.kind == ChannelKind.EMAIL and not addresses_parse(self.addresses):
            errors.setdefault(
                "addresses", ValidationError("Give at least one address.", code="required")
            )
        if self.kind == ChannelKind.WEBHOOK:
            try:
                validate_webhook_url(self.webhook_url)
            except ValidationError as error:
                errors["webhook_url"] = error
        if errors:
            raise ValidationError(errors)


def validate_webhook_url(value: str) -> None:
    if not value:
        raise ValidationError("Give the incoming webhook's URL.", code="required")
    validate_text(value)
    try:
        URLValidator(schemes=["https", "http"])(value)
        urlsplit(value).port  # noqa: B018 (raises ValueError for a port out of range)
    except (ValidationError, ValueError):
        raise ValidationError(
            "This is not a web address: paste the incoming webhook URL, https://...",
            code="bad_url",
        ) from None


def webhook_url_masked(url: str) -> str:
    if not url:
        return ""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}/••••••"


class AlertState(models.TextChoices):
    OPEN = "open", "Open"
    RESOLVED = "resolved", "Resolved"


class Alert(models.Model):
    """A condition a rule found, once per (rule, scope, threshold, period)."""

    rule = models.CharField(max_length=32, choices=RuleKind.choices)
    scope = models.CharField(max_length=300)  # "budget:3", "provider:openai", "user:u1"...
    threshold = models.CharField(max_length=16, blank=True)  # "80", "forecast", ""
    period = models.CharField(max_length=32)  # "2026-11", "2026-11-20", a detection time
    budget = models.ForeignKey(Budget, null=True, blank=True, on_delete=models.SET_NULL)
    state = models.CharField(max_length=16, choices=AlertState.choices, default=AlertState.OPEN)
    title = models.CharField(max_length=300)
    message = models.TextField()
    link = models.TextField(blank=True)  # the page that explains it (a user id can be long)
    figures = models.JSONField(default=dict, blank=True)  # exact amounts as strings
    incomplete = models.BooleanField(default=False)
    fired_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    acknowledged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-fired_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "scope", "threshold", "period"], name="alert_once_per_period"
            ),
            # A collector is unhealthy once at a time: a second check while it is open finds it.
            models.UniqueConstraint(
                fields=["rule", "scope"],
                condition=Q(state="open", rule="sync_health"),
                name="alert_one_open_sync_health",
            ),
        ]
        indexes = [models.Index(fields=["fired_at"])]

    def __str__(self):
        return self.title


class DeliveryEvent(models.TextChoices):
    FIRED = "fired", "Fired"
    RESOLVED = "resolved", "Resolved"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class Delivery(models.Model):
    """One notification of one alert event on one channel: sent, still to retry, or given up
    after MAX_ATTEMPTS (each attempt's error kept)."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=16, choices=DeliveryEvent.choices)
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "deliveries"
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["alert", "channel", "event"], name="delivery_once_per_event"
            )
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self):
        return f"{self.alert} -> {self.channel} ({self.event}: {self.status})"


class Frequency(models.TextChoices):
    WEEKLY = "weekly", "Weekly (Mondays, the week before)"
    MONTHLY = "monthly", "Monthly (the 1st, the month before, with the month-end pack)"


class ScheduledReport(models.Model):
    """A summary emailed on a schedule: the period's KPIs against the previous one, the top
    movers by provider and by user, the open alerts; the monthly one attaches the month-end
    XLSX. Sent once per period (ReportSend)."""

    name = models.CharField(max_length=200)
    frequency = models.CharField(max_length=16, choices=Frequency.choices)
    recipients = models.TextField(help_text="Email addresses, separated by commas or lines.")
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return f"{self.name} ({self.get_frequency_display().split(' (')[0].lower()})"

    def clean(self):
        errors = field_errors(self, name=validate_text, recipients=validate_addresses)
        if not errors.get("recipients") and not addresses_parse(self.recipients):
            errors["recipients"] = ValidationError("Give at least one address.", code="required")
        if errors:
            raise ValidationError(errors)


class ReportSend(models.Model):
    """One scheduled report for one period: sent, or retried after a failure like an alert's
    delivery."""

    report = models.ForeignKey(ScheduledReport, on_delete=models.CASCADE, related_name="sends")
    period = models.CharField(max_length=32)  # "2026-W48", "2026-11"
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["report", "period"], name="report_send_once")
        ]

    def __str__(self):
        return f"{self.report} {self.period}: {self.status}"

"""Raw usage: events as clients sent them, who a user id is, the ingest keys, and the pruning
of old events."""

from django.core.exceptions import ValidationError
from django.db import models

from costledger.models import MONEY
from costledger.validators import (
    CurrencyField,
    field_errors,
    validate_text,
)
from usage.models.prices import ModelPrice


class CostSource(models.TextChoices):
    PROVIDER = "provider", "Reported by the provider"
    PRICE_BOOK = "price_book", "Price book"
    UNPRICED = "unpriced", "Unpriced"


class LlmUsageEvent(models.Model):
    """One LLM request as a client reported it. Idempotent on `event_id`: a re-sent event is a
    duplicate and changes nothing. Its cost is fixed at ingest with the price row used; an
    unknown model is stored unpriced (cost empty), never costed at 0."""

    event_id = models.CharField(max_length=200)  # unique: see Meta
    timestamp = models.DateTimeField()
    day = models.DateField()
    user_id = models.CharField(max_length=200, blank=True)
    provider = models.SlugField(max_length=64, db_index=False)  # (day, provider, model) serves it
    model = models.CharField(max_length=200)
    input_tokens = models.PositiveBigIntegerField(default=0)
    output_tokens = models.PositiveBigIntegerField(default=0)
    cache_read_tokens = models.PositiveBigIntegerField(default=0)
    cache_write_tokens = models.PositiveBigIntegerField(default=0)
    reasoning_tokens = models.PositiveBigIntegerField(default=0)
    images = models.PositiveIntegerField(default=0)
    # A streamed response's duration and size (customer billing charges them).
    stream_duration_ms = models.PositiveBigIntegerField(default=0)
    bandwidth_bytes = models.PositiveBigIntegerField(default=0)
    # Rerank searches as the provider bills them (Cohere's meta.billed_units.search_units).
    # A default in the database too: SQL written before the column (the benchmarks') still
    # inserts.
    search_units = models.PositiveIntegerField(default=0, db_default=0)
    is_error = models.BooleanField(default=False)
    error_type = models.CharField(max_length=100, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    tags = models.JSONField(default=dict, blank=True)
    cost = models.DecimalField(null=True, blank=True, **MONEY)
    currency = CurrencyField(default="USD")
    cost_source = models.CharField(max_length=16, choices=CostSource.choices)
    price = models.ForeignKey(
        ModelPrice, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    ingest_key = models.CharField(max_length=100, blank=True, help_text="Name of the API key.")
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "costledger_llmusageevent"
        verbose_name = "LLM usage event"
        ordering = ["-timestamp"]
        # Every index is paid on every ingested event: only those a query needs. The unique
        # constraint (not unique=True) spares the varchar_pattern_ops twin Django would add.
        constraints = [models.UniqueConstraint(fields=["event_id"], name="llm_usage_event_id")]
        indexes = [
            models.Index(fields=["day", "provider", "model"]),
            # Unpriced events are few: the admin's unpriced lists read this small index.
            models.Index(
                fields=["day"],
                condition=models.Q(cost_source="unpriced"),
                name="llm_usage_event_unpriced",
            ),
        ]

    def __str__(self):
        return self.event_id


class UsageUser(models.Model):
    """Who a usage `user_id` is: the email from Supabase auth, cached so that no page waits on
    Supabase. Refreshed by the sync; an id not found here is shown as the id."""

    user_id = models.CharField(max_length=200, primary_key=True)
    email = models.EmailField(blank=True)
    refreshed_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "costledger_usageuser"

    def __str__(self):
        return self.email or self.user_id


class IngestKey(models.Model):
    """An API key for `POST /api/v1/usage/events`. The key itself is shown once, when it is
    created; only its SHA-256 is stored (a random 256-bit key needs no slow hash)."""

    name = models.CharField(max_length=100, unique=True, help_text="Who uses it, e.g. 'backend'.")
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=150, blank=True, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        db_table = "collectors_ingestkey"
        ordering = ["name"]
        verbose_name = "usage ingest API key"

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    def clean(self):
        if errors := field_errors(self, name=validate_text):
            raise ValidationError(errors)


class LlmUsagePruning(models.Model):
    """One run of the pruning of raw events (usage.retention): the events of every day up to
    `through_day` were deleted; their sums stay. Events of those days are refused from then on
    (a late resend of a pruned event would otherwise be counted again), and their days cannot
    be rebuilt (there is nothing left to rebuild them from)."""

    started_at = models.DateTimeField(auto_now_add=True)
    through_day = models.DateField(help_text="The last day whose raw events were deleted.")
    events_deleted = models.PositiveBigIntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        verbose_name = "pruning of raw usage events"
        verbose_name_plural = "prunings of raw usage events"

    def __str__(self):
        return f"events through {self.through_day} pruned at {self.started_at:%Y-%m-%d %H:%M}"

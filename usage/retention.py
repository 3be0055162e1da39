"""Retention of raw usage events. Pages, alerts and invoices read the daily sums only; raw events
are kept `USAGE_EVENTS_RETENTION_DAYS` days (for re-pricing and rebuilding), then deleted in
batches. Deleting an event leaves every sum as it is.

A pruned day is closed: its events are refused at ingest and it cannot be rebuilt. The horizon is
recorded (LlmUsagePruning) and committed before the first event goes, while every ingest holds a
shared lock that the pruning waits for: an event that was stored before is either still there
(its resend is a duplicate) or its day is refused (its resend is an error), never counted twice.
A rebuild holds the same lock exclusively: no batch of ingest adds to the sums it is rewriting,
and no pruning deletes the events it is reading.
"""

from datetime import date, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from usage.models import LlmUsageEvent, LlmUsagePruning

# Any constant shared by the ingest (shared) and the pruning (exclusive).
HORIZON_LOCK = 0x5553_4147  # "USAG"
MINIMUM_DAYS = 31  # re-pricing and rebuilding need the raw events of at least the last month


class DaysPruned(Exception):
    """A rebuild asked for days whose raw events were pruned."""


def llm_events_first_day(*, today: date | None = None) -> date | None:
    """The first day whose events are accepted and kept: after the last day pruned, and within
    the retention period when one is set. None: every day is."""
    candidates = []
    if settings.USAGE_EVENTS_RETENTION_DAYS:
        today = today or timezone.now().date()
        candidates.append(today - timedelta(days=settings.USAGE_EVENTS_RETENTION_DAYS))
    if pruned := llm_events_pruned_through():
        candidates.append(pruned + timedelta(days=1))
    return max(candidates, default=None)


def llm_events_pruned_through() -> date | None:
    return LlmUsagePruning.objects.aggregate(day=Max("through_day"))["day"]


def horizon_lock_shared() -> None:
    """Held by a batch of ingest until it commits (PostgreSQL): the pruning and a rebuild wait
    for it."""
    _lock("pg_advisory_xact_lock_shared")


def horizon_lock_exclusive() -> None:
    """Held by a rebuild, and by a pruning while it records its horizon, until they commit: no
    batch of ingest runs meanwhile, and neither runs while one is in flight."""
    _lock("pg_advisory_xact_lock")


def _lock(function: str) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {function}(%s)", [HORIZON_LOCK])


def pruned_days_refuse(days) -> None:
    """Raise DaysPruned when any of `days` was pruned: rebuilding it would empty its sums."""
    pruned = llm_events_pruned_through()
    if pruned is not None and min(days) <= pruned:
        raise DaysPruned(
            f"The raw events of the days up to {pruned} were pruned (their sums stay): those days "
            "cannot be rebuilt. Rebuild or re-price later days only."
        )


def llm_events_prune(*, older_than_days: int, batch_size: int = 10_000, today=None) -> int:
    """Delete the raw events of the days before today - `older_than_days`, `batch_size` at a
    time, each batch in its own transaction; the number deleted. The sums are not touched."""
    if older_than_days < MINIMUM_DAYS:
        raise ValueError(
            f"Keep at least {MINIMUM_DAYS} days of raw events: re-pricing and rebuilding a "
            "recent day need them."
        )
    through = (today or timezone.now().date()) - timedelta(days=older_than_days + 1)
    pruning = _horizon_record(through)
    deleted = 0
    while batch := _batch_delete(through, batch_size):
        deleted += batch
        LlmUsagePruning.objects.filter(pk=pruning.pk).update(events_deleted=deleted)
    LlmUsagePruning.objects.filter(pk=pruning.pk).update(finished_at=timezone.now())
    return deleted


@transaction.atomic
def _horizon_record(through: date) -> LlmUsagePruning:
    """Record the horizon once every batch of ingest in flight has committed (they hold the
    shared lock): those that follow see it. It never moves back."""
    horizon_lock_exclusive()
    pruned = llm_events_pruned_through()
    return LlmUsagePruning.objects.create(through_day=max(through, pruned or through))


@transaction.atomic
def _batch_delete(through: date, size: int) -> int:
    ids = LlmUsageEvent.objects.filter(day__lte=through).order_by("day").values("pk")[:size]
    deleted, _ = LlmUsageEvent.objects.filter(
        pk__in=list(ids.values_list("pk", flat=True))
    ).delete()
    return deleted

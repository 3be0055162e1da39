"""Celery tasks of the usage app: thin wrappers around its services."""

from celery import shared_task
from django.conf import settings

from usage.months import llm_usage_months_close
from usage.retention import llm_events_prune


@shared_task
def prune_usage_events_task() -> int:
    """Beat runs this daily: the raw events older than the retention period go; sums stay."""
    if not settings.USAGE_EVENTS_RETENTION_DAYS:
        return 0
    return llm_events_prune(older_than_days=settings.USAGE_EVENTS_RETENTION_DAYS)


@shared_task
def close_usage_months_task() -> int:
    """Beat runs this daily: a month that has ended gets its per-user sums (a no-op on the
    other days of the month)."""
    return len(llm_usage_months_close())

"""Celery tasks: thin wrappers that take ids, call the engine and own their retry policy."""

import logging

from celery import group, shared_task

from collectors.engine import (
    SyncAlreadyRunning,
    collector_run_execute,
    default_window,
    sync_run_create,
)
from collectors.models import CollectorRun, Trigger

logger = logging.getLogger(__name__)
MAX_RETRIES = 3


@shared_task(bind=True, max_retries=MAX_RETRIES, acks_late=True)
def collector_task(self, sync_run_id: int, collector: str) -> str:
    """One collector's day windows of a sync run, in order.

    A provider still unavailable after the HTTP client's own retries is tried again later
    (60 s, 120 s, 240 s); the last attempt records the failure. Days already finished are not
    redone when the task is retried or redelivered.
    """
    runs = CollectorRun.objects.filter(sync_run_id=sync_run_id, collector=collector)
    final = self.request.retries >= self.max_retries
    for run_id in runs.order_by("window_start").values_list("pk", flat=True):
        outcome = collector_run_execute(collector_run_id=run_id, final_attempt=final)
        if outcome.retry:
            raise self.retry(countdown=60 * 2**self.request.retries)
    return collector


@shared_task
def sync_all_task(sync_run_id: int | None = None) -> int | None:
    """Fan a sync run's collectors out as parallel tasks. Without an id (Celery beat), start
    the daily run first; if a sync is already running, say so and do nothing."""
    if sync_run_id is None:
        try:
            sync_run_id = sync_run_create(
                trigger=Trigger.SCHEDULE, window=default_window(), exclusive=True
            ).pk
        except SyncAlreadyRunning as running:
            logger.warning("scheduled sync not started: %s", running)
            return None
    collectors = (
        CollectorRun.objects.filter(sync_run_id=sync_run_id)
        .order_by()
        .values_list("collector", flat=True)
        .distinct()
    )
    group(collector_task.s(sync_run_id, name) for name in collectors).apply_async()
    return sync_run_id

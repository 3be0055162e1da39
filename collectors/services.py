"""Starting syncs from outside the engine's own entry points (API, admin button)."""

from django.db import transaction

from collectors.engine import default_window, sync_run_create
from collectors.models import SyncRun
from collectors.tasks import sync_all_task


def sync_all_start(*, trigger: str, requested_by: str = "") -> SyncRun:
    """Record a sync-all run and hand it to Celery once the run is committed.

    Raises SyncAlreadyRunning while another sync-all is in progress.
    """
    run = sync_run_create(
        trigger=trigger, window=default_window(), requested_by=requested_by, exclusive=True
    )
    transaction.on_commit(lambda: sync_all_task.delay(run.pk))
    return run

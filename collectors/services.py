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
    # Outside a transaction on_commit runs the task at once, and with Celery eager (the quick
    # start, no REDIS_URL) the task is the whole sync: the run created above, still saying
    # "running", may have finished by now. Read it again so no caller reports a stale state.
    run.refresh_from_db()
    return run

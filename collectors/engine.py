"""The sync engine: every entry point (sync_metrics, Celery, the API, the admin) creates a
SyncRun with sync_run_create and executes its collector runs with collector_run_execute.

Each collector run is its own transaction: one failing collector never stops or rolls back
another, and a crash mid-run leaves nothing half-written for that collector and day.
"""

import logging
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from collectors.base import SyncWindow
from collectors.errors import CollectorError, CollectorSkipped, ProviderUnavailable
from collectors.models import FINISHED, CollectorRun, RunStatus, SyncLock, SyncRun
from collectors.registry import COLLECTOR_NAMES, collector_class
from collectors.signals import sync_run_finished

logger = logging.getLogger(__name__)
SYNC_ALL_LOCK = "sync-all"


class SyncAlreadyRunning(Exception):
    def __init__(self, holder: str):
        self.holder = holder
        super().__init__(f"a sync is already running ({holder}); wait for it to finish")


def lock_acquire(*, name: str, holder: str) -> bool:
    """Take the named lock if it is free or expired. True if this holder now has it."""
    now = timezone.now()
    try:
        with transaction.atomic():
            SyncLock.objects.get_or_create(name=name)
    except IntegrityError:
        pass  # created concurrently by someone else: fine, the update below decides
    free = Q(locked_until__isnull=True) | Q(locked_until__lt=now)
    until = now + timedelta(seconds=settings.COLLECTOR_LOCK_SECONDS)
    return SyncLock.objects.filter(free, name=name).update(holder=holder, locked_until=until) == 1


def lock_release(*, name: str, holder: str) -> None:
    SyncLock.objects.filter(name=name, holder=holder).update(holder="", locked_until=None)


def lock_holder(*, name: str) -> str | None:
    lock = SyncLock.objects.filter(name=name, locked_until__gte=timezone.now()).first()
    return lock.holder if lock else None


def collectors_validate(names: list[str] | None) -> list[str]:
    if not names:
        return list(COLLECTOR_NAMES)
    unknown = [n for n in names if n not in COLLECTOR_NAMES]
    if unknown:
        raise ValueError(
            f"unknown collector {', '.join(unknown)}; the collectors are "
            f"{', '.join(COLLECTOR_NAMES)}"
        )
    return [n for n in COLLECTOR_NAMES if n in names]


@transaction.atomic
def sync_run_create(
    *,
    trigger: str,
    window: SyncWindow,
    collectors: list[str] | None = None,
    requested_by: str = "",
    exclusive: bool = False,
) -> SyncRun:
    """A SyncRun with one pending CollectorRun per collector and day of the window.

    exclusive: refuse (SyncAlreadyRunning) while another exclusive sync is in progress; the
    API, the admin button and the schedule use it, so two sync-alls never overlap.
    """
    names = collectors_validate(collectors)
    sync_runs_sweep()
    run = SyncRun.objects.create(
        trigger=trigger,
        window_start=window.start,
        window_end=window.end,
        requested_by=requested_by,
    )
    if exclusive and not lock_acquire(name=SYNC_ALL_LOCK, holder=f"sync run #{run.pk}"):
        raise SyncAlreadyRunning(lock_holder(name=SYNC_ALL_LOCK) or "another sync run")
    CollectorRun.objects.bulk_create(
        CollectorRun(
            sync_run=run,
            collector=name,
            window_start=day,
            window_end=day + timedelta(days=1),
        )
        for name in names
        for day in window.days()
    )
    return run


@dataclass
class Outcome:
    run: CollectorRun
    retry: bool = False


def _finish(run: CollectorRun, status: str, started: float, **fields) -> None:
    run.status = status
    run.finished_at = timezone.now()
    run.duration_ms = int((time.monotonic() - started) * 1000)
    for key, value in fields.items():
        setattr(run, key, value)
    run.save()


def collector_run_execute(*, collector_run_id: int, final_attempt: bool = True) -> Outcome:
    """Run one collector for one day window and record what happened.

    With final_attempt False (a Celery task that may still retry), a provider that stayed
    unavailable leaves the run pending and returns retry=True instead of recording a failure.
    """
    # Claim the run with a conditional UPDATE: a redelivered or duplicated task finds it taken
    # (running or finished) and leaves it alone.
    claimed = CollectorRun.objects.filter(pk=collector_run_id, status=RunStatus.PENDING).update(
        status=RunStatus.RUNNING, started_at=timezone.now(), attempts=F("attempts") + 1
    )
    run = CollectorRun.objects.select_related("sync_run").get(pk=collector_run_id)
    if not claimed:
        return Outcome(run)
    started = time.monotonic()
    collector = collector_class(run.collector)(sync_run_id=run.sync_run_id)
    holder = f"collector run #{run.pk}"
    try:
        collector.check_configured()
    except CollectorSkipped as skipped:
        _finish(run, RunStatus.SKIPPED, started, reason=str(skipped))
        return _done(run)
    if not lock_acquire(name=run.collector, holder=holder):
        other = lock_holder(name=run.collector) or "another run"
        reason = f"another sync of {run.collector} is running ({other}); this one did nothing"
        _finish(run, RunStatus.SKIPPED, started, reason=reason)
        return _done(run)
    try:
        retry = _collect(run, collector, started, final_attempt=final_attempt)
    finally:
        lock_release(name=run.collector, holder=holder)
    return Outcome(run, retry=True) if retry else _done(run)


def _collect(run: CollectorRun, collector, started: float, *, final_attempt: bool) -> bool:
    """Collect the run's window in one transaction and record the outcome; True when the run is
    left pending for the task to retry (a provider still unavailable, attempts left)."""
    try:
        with transaction.atomic():
            result = collector.collect(SyncWindow(run.window_start, run.window_end))
    except CollectorSkipped as skipped:
        _finish(run, RunStatus.SKIPPED, started, reason=str(skipped))
    except ProviderUnavailable as error:
        if not final_attempt:
            run.status, run.reason = RunStatus.PENDING, f"attempt {run.attempts}: {error}"
            run.save(update_fields=["status", "reason"])
            return True
        _finish(run, RunStatus.FAILED, started, reason=str(error))
    except CollectorError as error:
        _finish(run, RunStatus.FAILED, started, reason=str(error))
    except Exception as error:  # a bug in a collector must not take the others down
        # Only the type and where it happened: an exception's message may quote a credential
        # (a header value, a URL), and secrets never reach the logs, the database or the admin.
        where = "".join(traceback.format_tb(error.__traceback__, limit=-3))
        logger.error(
            "collector %s crashed with %s at\n%s", run.collector, type(error).__name__, where
        )
        reason = f"internal error: {type(error).__name__} (details in the worker log)"
        _finish(run, RunStatus.FAILED, started, reason=reason)
    else:
        _finish(
            run, RunStatus.OK, started, reason="", rows_written=result.rows_written,
            figures=result.figures, notes=result.notes,
        )  # fmt: skip
    return False


def _done(run: CollectorRun) -> Outcome:
    sync_run_finish_if_done(sync_run_id=run.sync_run_id)
    return Outcome(run)


def sync_runs_sweep() -> int:
    """Fail the collector runs a dead worker left behind (running or pending longer than a lock
    lives), so that their sync runs close and the run log tells the truth. Returns how many."""
    cutoff = timezone.now() - timedelta(seconds=settings.COLLECTOR_LOCK_SECONDS)
    abandoned = CollectorRun.objects.filter(
        Q(status=RunStatus.RUNNING, started_at__lt=cutoff)
        | Q(status=RunStatus.PENDING, sync_run__started_at__lt=cutoff)
    )
    sync_run_ids = set(abandoned.values_list("sync_run_id", flat=True))
    count = abandoned.update(
        status=RunStatus.FAILED,
        finished_at=timezone.now(),
        reason="abandoned: the worker running it stopped before it finished",
    )
    for sync_run_id in sync_run_ids:
        sync_run_finish_if_done(sync_run_id=sync_run_id)
    return count


def sync_run_finish_if_done(*, sync_run_id: int) -> bool:
    """Close the sync run once none of its collector runs is left; True for the caller that
    closed it (a conditional UPDATE, so exactly one of the parallel collectors does)."""
    runs = CollectorRun.objects.filter(sync_run_id=sync_run_id)
    if runs.exclude(status__in=FINISHED).exists():
        return False
    status = _sync_run_status(set(runs.order_by().values_list("status", flat=True).distinct()))
    closed = SyncRun.objects.filter(pk=sync_run_id, finished_at__isnull=True).update(
        status=status, finished_at=timezone.now()
    )
    lock_release(name=SYNC_ALL_LOCK, holder=f"sync run #{sync_run_id}")
    if closed == 1:
        sync_run_finished.send(sender=SyncRun, sync_run_id=sync_run_id, status=status)
    return closed == 1


def _sync_run_status(statuses: set[str]) -> str:
    """Failed if any collector run failed; skipped if every one was skipped (nothing ran, which
    is not OK: usually nothing is configured); OK otherwise."""
    if RunStatus.FAILED in statuses:
        return RunStatus.FAILED
    return RunStatus.SKIPPED if statuses == {RunStatus.SKIPPED} else RunStatus.OK


def _collector_days(sync_run_id: int, collector: str) -> None:
    """Run one collector's day windows in order."""
    runs = CollectorRun.objects.filter(sync_run_id=sync_run_id, collector=collector)
    for run_id in runs.order_by("window_start").values_list("pk", flat=True):
        collector_run_execute(collector_run_id=run_id)


def _collector_days_in_thread(sync_run_id: int, collector: str) -> None:
    try:
        _collector_days(sync_run_id, collector)
    finally:
        connection.close()  # each thread has its own connection: don't leak it


def sync_run_execute(*, sync_run_id: int, parallel: bool | None = None) -> SyncRun:
    """Execute a sync run in this process: collectors in parallel threads (each collector's
    days in order), or one after another when parallel is False. By default parallel, except
    on SQLite (the quick start), which cannot write from several threads at once."""
    collectors = list(
        CollectorRun.objects.filter(sync_run_id=sync_run_id)
        .order_by()
        .values_list("collector", flat=True)
        .distinct()
    )
    if parallel is None:
        parallel = connection.vendor != "sqlite"
    if parallel and len(collectors) > 1:
        with ThreadPoolExecutor(max_workers=len(collectors)) as pool:
            list(pool.map(lambda name: _collector_days_in_thread(sync_run_id, name), collectors))
    else:
        for name in collectors:
            _collector_days(sync_run_id, name)
    sync_run_finish_if_done(sync_run_id=sync_run_id)
    return SyncRun.objects.get(pk=sync_run_id)


def default_window() -> SyncWindow:
    """Yesterday (final figures) and today (so far), in UTC."""
    today = timezone.now().date()
    return SyncWindow(today - timedelta(days=1), today + timedelta(days=1))

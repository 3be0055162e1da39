from datetime import date
from decimal import Decimal

import pytest
from django.conf import settings

from collectors.base import Collector, CollectResult, SyncWindow
from collectors.engine import (
    SyncAlreadyRunning,
    collector_run_execute,
    lock_acquire,
    lock_release,
    sync_run_create,
    sync_run_execute,
)
from collectors.errors import ProviderUnavailable, UnexpectedResponse
from collectors.models import CollectorRun, SyncRun, Trigger
from costledger.models import CostEntry, Source
from costledger.services import cost_entries_replace
from tests.factories import cost_entry

pytestmark = pytest.mark.django_db
DAY = date(2026, 11, 20)


class Writes(Collector):
    """Writes one cost entry for each day it is asked, then maybe raises."""

    name = "twilio"
    provider_name = "Fake"
    error: Exception | None = None

    def collect(self, window):
        entries = [
            cost_entry(provider="twilio", day=day, amount="1.00", source=Source.API)
            for day in window.days()
        ]
        for entry in entries:
            entry.sync_run_id = self.sync_run_id
        written = cost_entries_replace(
            scope={
                "provider": "twilio",
                "source": Source.API,
                "charge_period_start__gte": window.start,
                "charge_period_start__lt": window.end,
            },
            entries=entries,
        )
        if self.error:
            raise self.error
        return CollectResult(rows_written=written, figures={"cost": Decimal("1.00")})


class Crashes(Collector):
    name = "stripe"
    provider_name = "Fake"

    def collect(self, window):
        cost_entries_replace(
            scope={"provider": "stripe"},
            entries=[cost_entry(provider="stripe", day=DAY, amount="5")],
        )
        raise ZeroDivisionError("division by zero")


@pytest.fixture
def fakes(monkeypatch):
    classes = {"twilio": Writes, "stripe": Crashes}
    monkeypatch.setattr("collectors.engine.collector_class", lambda name: classes[name])
    Writes.error = None
    return classes


def run(collectors, window=None, **kwargs):
    sync_run = sync_run_create(
        trigger=Trigger.COMMAND,
        window=window or SyncWindow.day(DAY),
        collectors=collectors,
        **kwargs,
    )
    return sync_run_execute(sync_run_id=sync_run.pk, parallel=False)


def test_a_crashing_collector_leaves_the_others_and_writes_nothing_itself(fakes):
    sync_run = run(["twilio", "stripe"])
    runs = {r.collector: r for r in sync_run.collector_runs.all()}
    assert runs["twilio"].status == "ok" and runs["twilio"].rows_written == 1
    assert runs["stripe"].status == "failed"
    assert runs["stripe"].reason == "internal error: ZeroDivisionError (details in the worker log)"
    assert list(CostEntry.objects.values_list("provider", flat=True)) == ["twilio"]
    assert sync_run.status == "failed" and sync_run.finished_at is not None


def test_a_failure_after_writing_rolls_back_that_collector_only(fakes):
    Writes.error = UnexpectedResponse("Fake answered without 'data'")
    sync_run = run(["twilio"])
    collector_run = sync_run.collector_runs.get()
    assert (collector_run.status, collector_run.reason) == (
        "failed",
        "Fake answered without 'data'",
    )
    assert not CostEntry.objects.exists()


def test_figures_and_durations_are_recorded(fakes):
    collector_run = run(["twilio"]).collector_runs.get()
    assert collector_run.figures == {"cost": "1.00"}
    assert (
        collector_run.duration_ms is not None
        and collector_run.started_at
        and collector_run.finished_at
    )
    assert CostEntry.objects.get().sync_run_id == collector_run.sync_run_id


def test_a_backfill_runs_day_by_day_and_a_rerun_replaces(fakes):
    window = SyncWindow(date(2026, 11, 1), date(2026, 11, 8))
    sync_run = run(["twilio"], window=window)
    assert sync_run.collector_runs.count() == 7
    assert [r.window_start.day for r in sync_run.collector_runs.order_by("window_start")] == list(
        range(1, 8)
    )
    assert CostEntry.objects.count() == 7
    run(["twilio"], window=window)
    assert CostEntry.objects.count() == 7


def test_an_unknown_collector_is_refused_naming_the_known_ones():
    with pytest.raises(
        ValueError, match="unknown collector stripey; the collectors are digitalocean, stripe"
    ):
        sync_run_create(trigger=Trigger.COMMAND, window=SyncWindow.day(DAY), collectors=["stripey"])
    assert not SyncRun.objects.exists()


def test_a_collector_already_running_elsewhere_is_skipped_saying_so(fakes):
    assert lock_acquire(name="twilio", holder="collector run #999")
    collector_run = run(["twilio"]).collector_runs.get()
    assert collector_run.status == "skipped"
    assert "another sync of twilio is running (collector run #999)" in collector_run.reason
    assert not CostEntry.objects.exists()
    lock_release(name="twilio", holder="collector run #999")
    assert run(["twilio"]).collector_runs.get().status == "ok"


def test_an_expired_lock_is_taken_over(fakes, settings):
    settings.COLLECTOR_LOCK_SECONDS = -1  # every lock is already expired when taken
    assert lock_acquire(name="twilio", holder="a dead worker")
    assert run(["twilio"]).collector_runs.get().status == "ok"


def test_exclusive_syncs_never_overlap():
    first = sync_run_create(trigger=Trigger.API, window=SyncWindow.day(DAY), exclusive=True)
    with pytest.raises(SyncAlreadyRunning, match=f"sync run #{first.pk}"):
        sync_run_create(trigger=Trigger.API, window=SyncWindow.day(DAY), exclusive=True)


def test_a_transient_failure_before_the_last_attempt_leaves_the_run_pending(fakes):
    Writes.error = ProviderUnavailable("Fake did not answer")
    sync_run = sync_run_create(
        trigger=Trigger.SCHEDULE, window=SyncWindow.day(DAY), collectors=["twilio"]
    )
    collector_run = sync_run.collector_runs.get()
    outcome = collector_run_execute(collector_run_id=collector_run.pk, final_attempt=False)
    assert outcome.retry and outcome.run.status == "pending"
    assert not CostEntry.objects.exists()
    outcome = collector_run_execute(collector_run_id=collector_run.pk, final_attempt=True)
    assert not outcome.retry and outcome.run.status == "failed" and outcome.run.attempts == 2
    assert SyncRun.objects.get().status == "failed"


def test_a_redelivered_finished_run_does_nothing_again(fakes):
    collector_run = run(["twilio"]).collector_runs.get()
    CostEntry.objects.all().delete()
    collector_run_execute(collector_run_id=collector_run.pk)
    assert not CostEntry.objects.exists()
    assert CollectorRun.objects.get().attempts == 1


def test_every_collector_skipped_without_credentials_is_a_skipped_run_not_ok(settings):
    # Nothing ran: not a failure (sync_metrics exits 0), and not "ok" either (issue 13).
    for name in ("DO_API_TOKEN", "STRIPE_SECRET_KEY", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"):
        setattr(settings, name, "")
    sync_run = run(["twilio"])
    assert sync_run.status == "skipped"
    assert sync_run.collector_runs.get().status == "skipped"


class LeaksInItsMessage(Collector):
    name = "stripe"
    provider_name = "Fake"

    def collect(self, window):
        secret = settings.STRIPE_SECRET_KEY
        raise ValueError(f"Invalid header value b'Bearer {secret}'")


def test_a_crash_never_puts_the_exception_message_in_the_reason_or_the_log(
    monkeypatch, caplog, settings
):
    settings.STRIPE_SECRET_KEY = "sk-live-SECRET"
    monkeypatch.setattr("collectors.engine.collector_class", lambda name: LeaksInItsMessage)
    collector_run = run(["stripe"]).collector_runs.get()
    assert collector_run.status == "failed"
    assert "SECRET" not in collector_run.reason
    assert "SECRET" not in caplog.text and "ValueError" in caplog.text


def test_runs_left_behind_by_a_dead_worker_are_failed_and_their_sync_closed(fakes, settings):
    from datetime import timedelta

    from django.utils import timezone

    from collectors.engine import sync_runs_sweep

    sync_run = sync_run_create(
        trigger=Trigger.SCHEDULE, window=SyncWindow.day(DAY), collectors=["twilio"]
    )
    long_ago = timezone.now() - timedelta(seconds=settings.COLLECTOR_LOCK_SECONDS + 60)
    CollectorRun.objects.filter(sync_run=sync_run).update(status="running", started_at=long_ago)
    assert sync_runs_sweep() == 1
    collector_run = CollectorRun.objects.get(sync_run=sync_run)
    assert collector_run.status == "failed" and collector_run.reason.startswith("abandoned")
    assert SyncRun.objects.get(pk=sync_run.pk).finished_at is not None


def test_a_run_already_claimed_is_left_alone(fakes):
    sync_run = sync_run_create(
        trigger=Trigger.SCHEDULE, window=SyncWindow.day(DAY), collectors=["twilio"]
    )
    CollectorRun.objects.filter(sync_run=sync_run).update(status="running")
    outcome = collector_run_execute(collector_run_id=sync_run.collector_runs.get().pk)
    assert outcome.run.status == "running"
    assert not CostEntry.objects.exists()

"""Retention of raw usage events: pruning keeps every sum, a pruned day is closed to ingest and to
rebuilds, events older than the retention period are refused, and a pruning waits for the ingest
in flight."""

import json
import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from costledger.models import CostEntry
from usage.events import UsageEvent, llm_events_record
from usage.models import (
    LlmUsageDaily,
    LlmUsageEvent,
    LlmUsageModelDaily,
    LlmUsagePruning,
    LlmUsageTagDaily,
    LlmUsageTagKeyDaily,
    LlmUsageTagLatest,
    LlmUsageTagLatestCount,
    LlmUsageTagNextDayCount,
    LlmUsageUserActiveDay,
    LlmUsageUserDaily,
    LlmUsageUserLatest,
    LlmUsageUserMonth,
    LlmUsageUserMonthly,
    LlmUsageUserNextDayCount,
    LlmUsageUserTagDaily,
)
from usage.rebuild import llm_usage_rebuild
from usage.retention import DaysPruned, horizon_lock_shared, llm_events_prune
from usage.tasks import prune_usage_events_task

TODAY = date(2026, 11, 21)
SUMS = [
    LlmUsageDaily, LlmUsageModelDaily, LlmUsageUserDaily, LlmUsageUserMonth, LlmUsageUserLatest,
    LlmUsageTagDaily, LlmUsageTagKeyDaily, LlmUsageTagLatest, LlmUsageTagLatestCount, CostEntry,
    LlmUsageUserTagDaily, LlmUsageUserMonthly, LlmUsageUserActiveDay, LlmUsageUserNextDayCount,
    LlmUsageTagNextDayCount,
]  # fmt: skip


@pytest.fixture(autouse=True)
def today():
    with time_machine.travel(datetime(2026, 11, 21, 12, tzinfo=UTC), tick=False):
        yield


def event(event_id: str, days_ago: int, **fields) -> UsageEvent:
    day = TODAY - timedelta(days=days_ago)
    return UsageEvent(
        event_id=event_id,
        timestamp=datetime(day.year, day.month, day.day, 9, 30, tzinfo=UTC),
        **{"provider": "openai", "model": "gpt-4o", "user_id": f"u{days_ago % 3}",
           "input_tokens": 1000 + days_ago, "output_tokens": 200,
           "tags": {"conversation_id": f"c{days_ago}", "feature": "chat"}, **fields},
    )  # fmt: skip


def every_sum() -> dict:
    """Every row of every table of sums, without the times they were written."""
    skip = {"id", "updated_at", "created_at"}
    return {
        model.__name__: sorted(
            (
                tuple(row[f.attname] for f in model._meta.fields if f.attname not in skip)
                for row in model.objects.values()
            ),
            key=repr,  # a next day may be None
        )
        for model in SUMS
    }


def history(gpt4o) -> list[UsageEvent]:
    """Two events a day over 60 days, recorded."""
    events = [event(f"e{n}-{ago}", ago, user_id=f"u{n}") for ago in range(60) for n in range(2)]
    assert set(llm_events_record(events=events)) == {"accepted"}
    return events


@pytest.mark.django_db
def test_pruning_deletes_old_events_in_batches_and_keeps_every_sum(gpt4o):
    history(gpt4o)
    before = every_sum()
    out = StringIO()
    call_command("prune_usage_events", "--older-than", "40d", "--batch-size", "7", stdout=out)
    # Days before today - 40 go: 41 to 59 days ago, 19 days of 2 events.
    assert "38 raw events older than 40 days deleted" in out.getvalue()
    assert LlmUsageEvent.objects.count() == 120 - 38
    assert LlmUsageEvent.objects.order_by("day").first().day == TODAY - timedelta(days=40)
    assert every_sum() == before
    pruning = LlmUsagePruning.objects.get()
    assert (pruning.through_day, pruning.events_deleted) == (TODAY - timedelta(days=41), 38)
    assert pruning.finished_at is not None


@pytest.mark.django_db
def test_a_resent_pruned_event_is_refused_by_the_api_and_counts_nothing(client, key, gpt4o):
    events = history(gpt4o)
    llm_events_prune(older_than_days=40)
    before = every_sum()
    old, recent = events[-1], events[0]  # 59 days ago (pruned), today (kept)
    body = {
        "events": [
            {"event_id": e.event_id, "timestamp": e.timestamp.isoformat(), "user_id": e.user_id,
             "provider": "openai", "model": "gpt-4o", "input_tokens": e.input_tokens,
             "output_tokens": 200, "tags": e.tags}
            for e in (old, recent)
        ]
    }  # fmt: skip
    response = client.post(
        "/api/v1/usage/events", json.dumps(body), content_type="application/json",
        headers={"Authorization": f"Bearer {key}"},
    )  # fmt: skip
    assert response.status_code == 207
    rejected, duplicate = response.json()["results"]
    assert duplicate["status"] == "duplicate"
    assert rejected["status"] == "rejected"
    assert f"is before {TODAY - timedelta(days=40)}" in rejected["errors"]["timestamp"]
    assert every_sum() == before
    # The service refuses it too, whoever calls it.
    assert llm_events_record(events=[old]) == ["rejected"]
    assert every_sum() == before


@pytest.mark.django_db
def test_events_older_than_the_retention_period_are_refused_before_any_pruning(
    client, key, gpt4o, settings
):
    settings.USAGE_EVENTS_RETENTION_DAYS = 400
    old = {"event_id": "old", "timestamp": "2025-10-16T23:59:59Z", "provider": "openai",
           "model": "gpt-4o", "input_tokens": 1}  # fmt: skip
    kept = {**old, "event_id": "kept", "timestamp": "2025-10-17T00:00:00Z"}  # today - 400
    response = client.post(
        "/api/v1/usage/events", json.dumps({"events": [old, kept]}),
        content_type="application/json", headers={"Authorization": f"Bearer {key}"},
    )  # fmt: skip
    assert response.status_code == 207
    refused, accepted = response.json()["results"]
    assert accepted["status"] == "accepted"
    assert "USAGE_EVENTS_RETENTION_DAYS=400" in refused["errors"]["timestamp"]
    assert list(LlmUsageEvent.objects.values_list("event_id", flat=True)) == ["kept"]


@pytest.mark.django_db
def test_a_pruned_day_cannot_be_rebuilt_and_keeps_its_sums(gpt4o):
    history(gpt4o)
    llm_events_prune(older_than_days=40)
    before = every_sum()
    with pytest.raises(DaysPruned, match="cannot be rebuilt"):
        llm_usage_rebuild(days=[TODAY - timedelta(days=45), TODAY])
    assert every_sum() == before
    llm_usage_rebuild(days=[TODAY - timedelta(days=40), TODAY])  # kept days still can
    assert every_sum() == before


@pytest.mark.django_db
def test_the_horizon_never_moves_back(gpt4o):
    history(gpt4o)
    llm_events_prune(older_than_days=40)
    llm_events_prune(older_than_days=50)
    assert [p.through_day for p in LlmUsagePruning.objects.order_by("started_at")] == [
        TODAY - timedelta(days=41)
    ] * 2
    assert llm_events_record(events=[event("late", 45)]) == ["rejected"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--older-than", "forty"], "is not a number of days"),
        (["--older-than", "5d"], "less than 31 days"),
        (["--older-than", "40d", "--batch-size", "0"], "--batch-size"),
        ([], "USAGE_EVENTS_RETENTION_DAYS is 0"),
    ],
)
def test_the_command_refuses_what_it_cannot_do_and_deletes_nothing(gpt4o, args, message):
    history(gpt4o)
    with pytest.raises(CommandError, match=message):
        call_command("prune_usage_events", *args, stdout=StringIO())
    assert LlmUsageEvent.objects.count() == 120
    assert not LlmUsagePruning.objects.exists()


@pytest.mark.django_db
def test_the_daily_task_prunes_with_the_retention_setting(gpt4o, settings):
    history(gpt4o)
    assert prune_usage_events_task.apply().get() == 0  # the tests' setting: keep forever
    settings.USAGE_EVENTS_RETENTION_DAYS = 50
    assert prune_usage_events_task.apply().get() == 18  # 51 to 59 days ago
    assert LlmUsagePruning.objects.get().through_day == TODAY - timedelta(days=51)


@pytest.mark.django_db(transaction=True)
def test_a_pruning_waits_for_the_ingest_in_flight(gpt4o):
    """An ingest that read the old horizon commits before the pruning records the new one: a
    resent event it stores is there to be found (a duplicate), never added after its day was
    pruned."""
    history(gpt4o)
    holding, release, pruned = threading.Event(), threading.Event(), threading.Event()

    def ingest_in_flight():
        try:
            with transaction.atomic():
                horizon_lock_shared()
                holding.set()
                release.wait(10)
        finally:
            connection.close()

    def prune():
        try:
            llm_events_prune(older_than_days=40)
            pruned.set()
        finally:
            connection.close()

    ingest = threading.Thread(target=ingest_in_flight)
    ingest.start()
    assert holding.wait(10)
    pruning = threading.Thread(target=prune)
    pruning.start()
    assert not pruned.wait(1)  # waiting for the ingest's transaction
    assert not LlmUsagePruning.objects.exists()
    release.set()
    ingest.join(10)
    pruning.join(10)
    assert pruned.is_set()
    assert LlmUsagePruning.objects.get().events_deleted == 38


def _paused(monkeypatch, module, name: str):
    """Patch `module.name` to wait, once called, until released; returns (reached, release)."""
    reached, release = threading.Event(), threading.Event()
    original = getattr(module, name)

    def waiting(*args, **kwargs):
        reached.set()
        release.wait(10)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, waiting)
    return reached, release


def _in_thread(function) -> tuple[threading.Thread, threading.Event]:
    done = threading.Event()

    def run():
        try:
            function()
            done.set()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, done


@pytest.mark.django_db(transaction=True)
def test_ingest_waits_for_a_rebuild_of_its_day_and_is_counted_once(gpt4o, monkeypatch):
    """A batch committed between a rebuild's deletes and its inserts would be added to the
    rebuilt sums twice: it waits for the rebuild instead."""
    from usage import rebuild

    history(gpt4o)
    reached, release = _paused(monkeypatch, rebuild.sums, "daily_upsert")  # after the deletes
    rebuilding, rebuilt = _in_thread(lambda: llm_usage_rebuild(days=[TODAY]))
    assert reached.wait(10)
    ingesting, ingested = _in_thread(
        lambda: llm_events_record(
            # A new user, model and no tag: no row the rebuild has locked stands in its way.
            events=[
                event("new", 0, model="gpt-4o-mini", user_id="new", tags=None, cost=Decimal("1.5"))
            ]
        )
    )
    assert not ingested.wait(1)  # waiting for the rebuild's transaction
    release.set()
    rebuilding.join(10)
    ingesting.join(10)
    assert rebuilt.is_set() and ingested.is_set()
    daily = LlmUsageDaily.objects.filter(day=TODAY)
    assert sum(daily.values_list("requests", flat=True)) == 3  # two events of history, one new
    assert LlmUsageModelDaily.objects.get(day=TODAY, model="gpt-4o-mini").requests == 1
    usage = CostEntry.objects.filter(charge_period_start=TODAY, service="gpt-4o-mini").get()
    assert (usage.billed_cost, usage.quantity) == (Decimal("1.5"), 1200)


@pytest.mark.django_db(transaction=True)
def test_a_pruning_waits_for_a_rebuild_reading_the_days_it_prunes(gpt4o, monkeypatch):
    from usage import rebuild

    history(gpt4o)
    day = TODAY - timedelta(days=45)
    before = list(LlmUsageDaily.objects.filter(day=day).values_list("user_id", "requests"))
    reached, release = _paused(monkeypatch, rebuild.sums, "daily_upsert")
    rebuilding, rebuilt = _in_thread(lambda: llm_usage_rebuild(days=[day]))
    assert reached.wait(10)
    pruning, pruned = _in_thread(lambda: llm_events_prune(older_than_days=40))
    assert not pruned.wait(1)
    release.set()
    rebuilding.join(10)
    pruning.join(10)
    assert rebuilt.is_set() and pruned.is_set()
    assert list(LlmUsageDaily.objects.filter(day=day).values_list("user_id", "requests")) == before
    assert not LlmUsageEvent.objects.filter(day=day).exists()


@pytest.mark.django_db
def test_finance_and_viewer_read_the_log_of_prunings(client, finance_user, viewer_user, gpt4o):
    history(gpt4o)
    llm_events_prune(older_than_days=40)
    for user in (finance_user, viewer_user):
        client.force_login(user)
        page = client.get("/admin/usage/llmusagepruning/")
        assert page.status_code == 200 and b"38" in page.content
        assert client.get("/admin/usage/llmusagepruning/add/").status_code == 403


@pytest.mark.django_db
def test_unpriced_usage_of_pruned_days_is_still_listed_and_repriced_from_the_kept_days(
    admin_client, gpt4o
):
    """The unpriced page reads the sums, as the reports do: a pruning does not hide usage the
    reports still count as unpriced; it only limits what can be re-priced."""
    history(gpt4o)
    llm_events_record(
        events=[event("m1", 50, model="mystery-1"), event("m2", 10, model="mystery-1"),
                event("o1", 50, model="mystery-old")]
    )  # fmt: skip
    llm_events_prune(older_than_days=40)
    page = admin_client.get("/admin/llm-unpriced/")
    listed = {m.model: m for m in page.context["models"]}
    assert (listed["mystery-1"].requests, listed["mystery-1"].first_day) == (2, TODAY - timedelta(days=50))  # fmt: skip  # noqa: E501
    assert listed["mystery-1"].repriceable_from == TODAY - timedelta(days=40)
    assert listed["mystery-old"].repriceable_from is None
    assert b"can no longer be re-priced" in page.content
    assert page.context["has_unpriced_usage"]

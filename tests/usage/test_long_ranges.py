"""The sums for long ranges (issue 13): the per-user sums per month that has ended, and the count
of users and of tag values per active day and next active day. They always equal what the
per-day sums give, whoever writes those (ingest, re-sent events, late events, rebuild,
re-pricing, pruning, two batches at once, a month's closing while a batch writes into it, the
migration that fills them), and the selectors that read them give the figures the per-day sums
gave, for ranges starting and ending anywhere in a month."""

import random
import threading
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection, transaction
from django.db.migrations.loader import MigrationLoader
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.test_migrate_from_main import _drop_functions
from usage import top_users
from usage.distinct import active_users
from usage.events import UsageEvent, llm_events_record
from usage.models import (
    LlmUsageClosedMonth,
    LlmUsageDaily,
    LlmUsageEvent,
    LlmUsageTagDaily,
    LlmUsageUserMonthly,
    ModelPrice,
)
from usage.months import llm_usage_months_close
from usage.rebuild import llm_usage_rebuild
from usage.reprice import llm_events_reprice
from usage.retention import llm_events_prune
from usage.selectors import llm_tag_totals, llm_usage_daily_effective
from usage.tasks import close_usage_months_task
from usage.top_users import _top_users, _users_ranked

from .long_range_sums import (
    assert_long_range_sums_follow_user_days,
    assert_tag_next_days_follow_tag_days,
    months_of_user_daily,
    next_days,
    user_monthly,
)

TODAY = date(2026, 11, 21)


def event(event_id: str, day: date, user_id: str, conversation: str, **fields) -> UsageEvent:
    return UsageEvent(
        event_id=event_id,
        timestamp=datetime(day.year, day.month, day.day, 9, 30, tzinfo=UTC),
        **{"provider": "openai", "model": "gpt-4o", "user_id": user_id, "input_tokens": 1000,
           "output_tokens": 200, "tags": {"conversation_id": conversation, "feature": "chat"},
           **fields},
    )  # fmt: skip


def assert_sums_follow():
    assert_long_range_sums_follow_user_days()
    assert_tag_next_days_follow_tag_days()


def figures_from_events(first: date, last: date) -> tuple:
    """The top users (id, requests, cost), the active users and the conversations of
    [first, last], straight from the raw events."""
    users = defaultdict(lambda: [0, Decimal(0)])
    conversations = set()
    for e in LlmUsageEvent.objects.filter(day__gte=first, day__lte=last):
        users[e.user_id][0] += 1
        users[e.user_id][1] += e.cost or 0
        conversations.add(e.tags["conversation_id"])
    top = sorted(users.items(), key=lambda item: (-item[1][1], -item[1][0], item[0]))
    return [(u, n, cost) for u, (n, cost) in top], len(set(users) - {""}), len(conversations)


def figures_read(first: date, last: date) -> tuple:
    top = _top_users(start=first, end=last, limit=100)
    return (
        [(row["user_id"], row["requests_sum"], row["cost_sum"]) for row in top],
        active_users(start=first, end=last),
        llm_tag_totals(start=first, end=last, keys=[]).conversations,
    )


RANGES = [  # across month ends, within a month, whole months, one day
    (date(2026, 8, 20), date(2026, 11, 21)), (date(2026, 9, 1), date(2026, 10, 31)),
    (date(2026, 9, 15), date(2026, 10, 3)), (date(2026, 10, 2), date(2026, 10, 29)),
    (date(2026, 8, 31), date(2026, 9, 1)), (date(2026, 10, 31), date(2026, 10, 31)),
]  # fmt: skip


@pytest.fixture
def today():
    with time_machine.travel(datetime(2026, 11, 21, 12, tzinfo=UTC), tick=False):
        yield


def test_the_sums_follow_ingest_resent_and_late_events_rebuild_repricing_and_pruning(gpt4o, today):
    """Users and conversations with gaps of days and months, over three month ends; the
    figures of each range equal those of the raw events after every step."""
    rng = random.Random(13)
    days = [TODAY - timedelta(days=n) for n in range(0, 95)]
    batch = [
        event(f"a{i}", rng.choice(days), f"u{rng.randrange(8)}", f"c{rng.randrange(30)}",
              model=rng.choice(["gpt-4o", "gpt-4o", "unknown-x"]), output_tokens=rng.randrange(900))
        for i in range(300)
    ]  # fmt: skip
    llm_events_record(events=batch)
    assert_sums_follow()
    assert not LlmUsageUserMonthly.objects.exists()  # months are added up once over
    assert llm_usage_months_close() == [date(2026, 8, 1), date(2026, 9, 1), date(2026, 10, 1)]
    assert llm_usage_months_close() == []
    assert {m.month for m in LlmUsageUserMonthly.objects.all()} == {
        date(2026, 8, 1), date(2026, 9, 1), date(2026, 10, 1)
    }  # fmt: skip
    assert_sums_follow()

    # Re-sent events count once; late events fill gaps, come before a user's first day, and
    # open a new month for a user.
    late = [
        event(f"b{i}", day, user, conversation)
        for i, (day, user, conversation) in enumerate(
            [(days[50], "u1", "c1"), (days[94], "u2", "c2"), (date(2026, 9, 30), "late", "c1"),
             (date(2026, 10, 1), "late", "new"), (days[0], "late", "c2")]
        )
    ]  # fmt: skip
    llm_events_record(events=batch[:40] + late)
    assert_sums_follow()
    for first, last in RANGES:
        assert figures_read(first, last) == figures_from_events(first, last), (first, last)

    # A rebuild after some events went: users' and conversations' days disappear.
    LlmUsageEvent.objects.filter(day=days[50], user_id="u1").delete()
    LlmUsageEvent.objects.filter(day=date(2026, 10, 1)).delete()
    llm_usage_rebuild(days=[days[50], date(2026, 10, 1), days[3]])
    assert_sums_follow()

    # Re-pricing the unknown model changes the months' costs as much as their days'.
    ModelPrice.objects.create(provider="openai", model="unknown-x", effective_from=date(2024, 1, 1),
                              input_mtok=Decimal("7"), output_mtok=Decimal("21"))  # fmt: skip
    before = sum(m.cost for m in LlmUsageUserMonthly.objects.all())
    assert llm_events_reprice(since=days[-1], until=TODAY)
    assert sum(m.cost for m in LlmUsageUserMonthly.objects.all()) > before
    assert_sums_follow()
    for first, last in RANGES:
        assert figures_read(first, last) == figures_from_events(first, last), (first, last)

    # Pruning raw events leaves every sum, so every figure, as it was.
    figures = [figures_read(first, last) for first, last in RANGES]
    monthly = user_monthly()
    assert llm_events_prune(older_than_days=40) > 0
    assert user_monthly() == monthly == months_of_user_daily()
    assert [figures_read(first, last) for first, last in RANGES] == figures
    assert_sums_follow()


@pytest.mark.django_db(transaction=True)
def test_two_batches_adding_days_of_the_same_user_and_conversation_at_once(gpt4o, today):
    """The later day is added first and its transaction held open; the batch adding the day
    between waits for it (on the user's and the conversation's latest-day rows), then sees it:
    the day in between splits the pair of days around it."""
    first, between, last = date(2026, 10, 1), date(2026, 10, 15), date(2026, 11, 2)
    llm_events_record(events=[event("e0", first, "u", "c")])
    holding, release = threading.Event(), threading.Event()

    def later_day_held_open():
        try:
            with transaction.atomic():
                llm_events_record(events=[event("e2", last, "u", "c")])
                holding.set()
                release.wait(10)
        finally:
            connection.close()

    def day_between():
        try:
            llm_events_record(events=[event("e1", between, "u", "c")])
            added.set()
        finally:
            connection.close()

    added = threading.Event()
    later = threading.Thread(target=later_day_held_open)
    later.start()
    assert holding.wait(10)
    middle = threading.Thread(target=day_between)
    middle.start()
    assert not added.wait(1)  # waiting for the later day's transaction
    release.set()
    later.join(10)
    middle.join(10)
    assert added.is_set()
    assert_sums_follow()
    assert active_users(start=between, end=between) == 1
    assert llm_tag_totals(start=first, end=last, keys=[]).conversations == 1


@pytest.mark.django_db(transaction=True)
def test_a_month_closes_after_the_batch_writing_into_it(gpt4o, today):
    """A batch of late events for October is in flight when October closes: the closing waits
    for it and counts it; the batch that follows adds to the month's sums."""
    llm_events_record(events=[event("e0", date(2026, 10, 5), "u", "c")])
    holding, release, closed = threading.Event(), threading.Event(), threading.Event()

    def late_batch_held_open():
        try:
            with transaction.atomic():
                llm_events_record(events=[event("e1", date(2026, 10, 9), "u", "c")])
                holding.set()
                release.wait(10)
        finally:
            connection.close()

    def close():
        try:
            llm_usage_months_close()
            closed.set()
        finally:
            connection.close()

    late = threading.Thread(target=late_batch_held_open)
    late.start()
    assert holding.wait(10)
    closing = threading.Thread(target=close)
    closing.start()
    assert not closed.wait(1)  # waiting for the batch's transaction
    release.set()
    late.join(10)
    closing.join(10)
    assert closed.is_set()
    llm_events_record(events=[event("e2", date(2026, 10, 20), "v", "d")])
    assert_sums_follow()
    assert LlmUsageClosedMonth.objects.get().month == date(2026, 10, 1)
    monthly = LlmUsageUserMonthly.objects.get(user_id="u")
    assert (monthly.month, monthly.requests, monthly.rows) == (date(2026, 10, 1), 2, 2)
    assert LlmUsageUserMonthly.objects.get(user_id="v").requests == 1


# New reads against the per-day sums ------------------------------------------------------------

SPAN_START = date(2026, 1, 20)
SPAN_DAYS = 100  # to 2026-04-29: three month ends, February whole
USERS = [f"u{n}" for n in range(12)] + [""]


@st.composite
def per_day_sums(draw):
    """LlmUsageDaily rows over the span: some days Prometheus only, some with both feeds (the
    events count), costs heavy-tailed, some unpriced or in EUR; and conversation days."""
    prometheus_days = draw(st.sets(st.integers(0, SPAN_DAYS - 1), max_size=8))
    both_days = draw(st.sets(st.integers(0, SPAN_DAYS - 1), max_size=4))
    rows = draw(
        st.lists(
            st.tuples(
                st.integers(0, SPAN_DAYS - 1),
                st.sampled_from(USERS),
                st.sampled_from(["gpt-4o", "o3"]),
                st.integers(1, 5),
                st.one_of(st.none(), st.integers(0, 2000)),
                st.booleans(),
            ),
            max_size=120,
            unique_by=lambda r: r[:3],
        )
    )
    conversations = draw(
        st.lists(st.tuples(st.integers(0, SPAN_DAYS - 1), st.integers(0, 15)), max_size=60)
    )
    return prometheus_days, both_days, rows, conversations


def stored(sums) -> None:
    prometheus_days, both_days, rows, conversations = sums
    daily = []
    for offset, user_id, model, requests, cents, in_euros in rows:
        source = "prometheus" if offset in prometheus_days | both_days else "events"
        cost = None if cents is None else Decimal(1000 // (cents + 1)) / 100  # heavy-tailed
        daily.append(
            LlmUsageDaily(
                day=SPAN_START + timedelta(days=offset), user_id=user_id, provider="openai",
                model=model, source=source, requests=requests, input_tokens=10 * requests,
                cost=cost, currency="EUR" if in_euros and source == "prometheus" else "USD",
            )
        )  # fmt: skip
    daily += [
        LlmUsageDaily(day=SPAN_START + timedelta(days=offset), user_id="u1", provider="openai",
                      model="gpt-4o", source="events", requests=1, cost=Decimal("0.5"))
        for offset in both_days
    ]  # fmt: skip
    LlmUsageDaily.objects.bulk_create(daily, ignore_conflicts=True)
    LlmUsageTagDaily.objects.bulk_create(
        [
            LlmUsageTagDaily(
                day=SPAN_START + timedelta(days=offset),
                key="conversation_id",
                value=f"c{n}",
                requests=1,
            )
            for offset, n in set(conversations)
        ]  # fmt: skip
    )


def range_in_span(draw_offsets) -> tuple[date, date]:
    a, b = sorted(draw_offsets)
    return SPAN_START + timedelta(days=a), SPAN_START + timedelta(days=b)


@pytest.mark.django_db
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sums=per_day_sums(),
    ranges=st.lists(
        st.tuples(st.integers(-5, SPAN_DAYS + 5), st.integers(-5, SPAN_DAYS + 5)),
        min_size=1,
        max_size=4,
    ),
    limit=st.sampled_from([1, 3, 20]),
    first_depth=st.sampled_from([1, 2, 50]),
    closed_before=st.integers(0, SPAN_DAYS + 40),
    late=st.booleans(),
)
def test_the_new_reads_give_what_the_per_day_sums_give(
    sums, ranges, limit, first_depth, closed_before, late
):
    """The top users (heads of whole closed months and days), the active users and the
    conversations (counts per day and next day) of ranges starting and ending anywhere, against
    the queries over the per-day rows they replace; the months closed before or after the rows
    are written."""
    with transaction.atomic():
        close = SPAN_START + timedelta(days=closed_before)
        if late:
            llm_usage_months_close(today=close)  # empty months are not closed: nothing
            LlmUsageDaily.objects.create(day=SPAN_START, user_id="u0", provider="openai",
                                         model="gpt-4o", source="events", requests=1)  # fmt: skip
            llm_usage_months_close(today=close)
        stored(sums)
        if not late:
            llm_usage_months_close(today=close)
        depth = top_users.TOP_USERS_FIRST_DEPTH
        top_users.TOP_USERS_FIRST_DEPTH = first_depth
        try:
            for offsets in ranges:
                first, last = range_in_span(offsets)
                assert _top_users(start=first, end=last, limit=limit) == list(
                    _users_ranked(llm_usage_daily_effective(start=first, end=last))[:limit]
                ), (first, last)
                by_days = llm_usage_daily_effective(start=first, end=last).exclude(user_id="")
                assert active_users(start=first, end=last) == len(
                    set(by_days.values_list("user_id", flat=True))
                ), (first, last)
                conversations = LlmUsageTagDaily.objects.filter(day__gte=first, day__lte=last)
                assert llm_tag_totals(start=first, end=last, keys=[]).conversations == len(
                    set(conversations.values_list("value", flat=True))
                ), (first, last)
        finally:
            top_users.TOP_USERS_FIRST_DEPTH = depth
        assert_sums_follow()
        transaction.set_rollback(True)


def test_a_range_of_whole_months_reads_the_monthly_sums_of_the_months_closed(db, monkeypatch):
    """A year: its twelve months from the monthly sums, no day; the days of the months its
    ends cut, and of the months not closed, from the daily sums."""
    LlmUsageDaily.objects.bulk_create(
        LlmUsageDaily(day=date(2025, 1, 1) + timedelta(days=d), user_id=f"u{d % 7}",
                      provider="openai", model="gpt-4o", source="events", requests=1,
                      cost=Decimal(d % 5))
        for d in range(400)
    )  # fmt: skip
    read = []
    heads = top_users._heads
    monkeypatch.setattr(
        top_users, "_heads", lambda m, d, depth: read.append((len(m), len(d))) or heads(m, d, depth)
    )
    llm_usage_months_close(today=date(2025, 12, 5))  # January to November
    _top_users(start=date(2025, 1, 1), end=date(2025, 12, 31), limit=3)
    _top_users(start=date(2025, 1, 10), end=date(2025, 12, 20), limit=3)
    assert read == [(11, 31), (10, 22 + 20)]


# The migration that fills them --------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_migration_fills_the_sums_from_the_per_day_sums(migrator_factory):
    migrator = migrator_factory()
    _drop_functions()
    old = migrator.apply_initial_migration(("usage", "0005_llm_usage_user_tag_daily")).apps
    daily = old.get_model("usage", "LlmUsageDaily")
    tags = old.get_model("usage", "LlmUsageTagDaily")
    rng = random.Random(6)
    for d in range(70):  # the old trigger sums them per user and day
        for user in rng.sample(["u1", "u2", "u3", ""], rng.randrange(4)):
            daily.objects.create(
                day=date(2026, 8, 25) + timedelta(days=d), user_id=user, provider="openai",
                model="gpt-4o", source=rng.choice(["events", "events", "prometheus"]),
                requests=rng.randrange(1, 9), cost=Decimal(rng.randrange(100)) / 7,
            )  # fmt: skip
        tags.objects.create(day=date(2026, 8, 25) + timedelta(days=d), key="conversation_id",
                            value=f"c{rng.randrange(12)}", requests=1)  # fmt: skip

    migrator.apply_tested_migration(MigrationLoader(connection).graph.leaf_nodes())

    assert user_monthly() == months_of_user_daily()
    assert len(user_monthly()) > 6
    assert_sums_follow()
    days_of = {"conversation_id": defaultdict(set)}
    for row in LlmUsageTagDaily.objects.all():
        days_of["conversation_id"][row.value].add(row.day)
    assert sum(next_days(days_of).values()) == LlmUsageTagDaily.objects.count()


def test_the_command_and_the_daily_task_close_the_months_that_ended(gpt4o, today):
    llm_events_record(
        events=[event(f"e{n}", day, "u", "c") for n, day in enumerate(
            [date(2026, 9, 30), date(2026, 10, 1), date(2026, 11, 20)]
        )]
    )  # fmt: skip
    out = StringIO()
    call_command("close_usage_months", stdout=out)
    assert "Months added up: 2026-09, 2026-10." in out.getvalue()
    call_command("close_usage_months", stdout=out)
    assert "none left to close" in out.getvalue()
    assert close_usage_months_task.apply().get() == 0
    assert list(LlmUsageClosedMonth.objects.values_list("month", flat=True).order_by("month")) == [
        date(2026, 9, 1), date(2026, 10, 1)
    ]  # fmt: skip
    assert_sums_follow()

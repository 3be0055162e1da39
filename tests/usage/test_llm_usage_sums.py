"""The per-model and per-user sums of LlmUsageDaily (LlmUsageModelDaily, LlmUsageUserDaily), kept
by PostgreSQL triggers, and the top-users search that reads them."""

import random
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from costledger.models import CostEntry
from usage import events
from usage import top_users as llm_selectors
from usage.events import UsageEvent, llm_events_record
from usage.models import (
    LlmUsageDaily,
    LlmUsageEvent,
    LlmUsageModelDaily,
    LlmUsageTagDaily,
    LlmUsageTagKeyDaily,
    LlmUsageTagLatest,
    LlmUsageTagLatestCount,
    LlmUsageUserDaily,
    LlmUsageUserLatest,
    LlmUsageUserMonth,
)
from usage.rebuild import llm_usage_rebuild
from usage.selectors import llm_tag_totals, llm_usage_daily_effective, llm_usage_totals
from usage.services import llm_usage_daily_upsert
from usage.top_users import _candidates, _top_users, _users_ranked

from .long_range_sums import (
    assert_long_range_sums_follow_user_days,
    assert_tag_next_days_follow_tag_days,
)

pytestmark = pytest.mark.django_db
DAY, DAY2 = date(2026, 11, 20), date(2026, 11, 21)
TOKENS = ["input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
          "reasoning_tokens"]  # fmt: skip
USER_FIELDS = ["rows", "requests", "tokens", "cost", "costed_rows", "unpriced_requests"]
MODEL_FIELDS = ["rows", "requests", "errors", *TOKENS, "cost", "costed_rows",
                "unpriced_requests", "latency_ms_sum"]  # fmt: skip


def event(event_id, day=DAY, **fields) -> UsageEvent:
    return UsageEvent(
        event_id=event_id,
        timestamp=datetime(day.year, day.month, day.day, 9, 30, tzinfo=UTC),
        **{
            "provider": "openai", "model": "gpt-4o", "user_id": "u1", "input_tokens": 1000,
            "output_tokens": 200, "cache_read_tokens": 400, **fields,
        },
    )  # fmt: skip


def user_sums() -> dict[tuple, tuple]:
    rows = LlmUsageUserDaily.objects.values_list("day", "user_id", "source", *USER_FIELDS)
    return {row[:3]: row[3:] for row in rows}


def model_sums() -> dict[tuple, tuple]:
    rows = LlmUsageModelDaily.objects.values_list(
        "day", "provider", "model", "source", *MODEL_FIELDS
    )
    return {row[:4]: row[4:] for row in rows}


def sums_of_daily() -> tuple[dict, dict]:
    """What the two tables must hold: LlmUsageDaily added up in Python."""
    users, models = defaultdict(lambda: [0] * 6), defaultdict(lambda: [0] * 12)
    for row in LlmUsageDaily.objects.all():
        costed = row.cost is not None and row.currency == "USD"
        tokens = [getattr(row, name) for name in TOKENS]
        cost = row.cost if costed else 0
        for total, figures in (
            (users[(row.day, row.user_id, row.source)],
             [1, row.requests, sum(tokens), cost, costed, row.unpriced_requests]),
            (models[(row.day, row.provider, row.model, row.source)],
             [1, row.requests, row.errors, *tokens, cost, costed, row.unpriced_requests,
              row.latency_ms_sum]),
        ):  # fmt: skip
            for i, value in enumerate(figures):
                total[i] += value
    return {k: tuple(v) for k, v in users.items()}, {k: tuple(v) for k, v in models.items()}


def sums_of_events() -> tuple[dict, dict]:
    """The same from the raw events (through the rule of the events rollup: an unpriced
    event adds 0 to a cost that is there)."""
    users, models = defaultdict(lambda: [0] * 6), defaultdict(lambda: [0] * 12)
    daily_rows = set()
    for e in LlmUsageEvent.objects.all():
        tokens = [getattr(e, name) for name in TOKENS]
        first = (e.day, e.user_id, e.provider, e.model) not in daily_rows
        daily_rows.add((e.day, e.user_id, e.provider, e.model))
        unpriced = e.cost is None
        for total, figures in (
            (users[(e.day, e.user_id, "events")],
             [first, 1, sum(tokens), e.cost or 0, first, unpriced]),
            (models[(e.day, e.provider, e.model, "events")],
             [first, 1, e.is_error, *tokens, e.cost or 0, first, unpriced, e.latency_ms or 0]),
        ):  # fmt: skip
            for i, value in enumerate(figures):
                total[i] += value
    return {k: tuple(v) for k, v in users.items()}, {k: tuple(v) for k, v in models.items()}


def user_months() -> dict[tuple, int]:
    return {
        (month, user_id): days
        for month, user_id, days in LlmUsageUserMonth.objects.values_list(
            "month", "user_id", "days"
        )
    }


def months_of_user_days() -> dict[tuple, int]:
    """What LlmUsageUserMonth must hold: the day of each events user day, as a bit."""
    months = defaultdict(int)
    for day, user_id in (
        LlmUsageUserDaily.objects.filter(source="events")
        .exclude(user_id="")
        .values_list("day", "user_id")
    ):
        months[(day.replace(day=1), user_id)] |= 1 << (day.day - 1)
    return dict(months)


def user_latest() -> dict[str, date]:
    return dict(LlmUsageUserLatest.objects.values_list("user_id", "day"))


def latest_of_user_days() -> dict[str, date]:
    """What LlmUsageUserLatest must hold: each user's latest events user day."""
    latest = {}
    for day, user_id in (
        LlmUsageUserDaily.objects.filter(source="events")
        .exclude(user_id="")
        .values_list("day", "user_id")
    ):
        latest[user_id] = max(day, latest.get(user_id, day))
    return latest


def assert_sums_follow_daily():
    assert (user_sums(), model_sums()) == sums_of_daily()
    assert user_months() == months_of_user_days()
    assert user_latest() == latest_of_user_days()
    assert_long_range_sums_follow_user_days()


def test_ingested_events_are_summed_per_user_and_per_model(gpt4o):
    llm_events_record(
        events=[
            event("e1"),  # 0.0025 + 0.002 + 0.0005 = 0.005
            event("e2", output_tokens=0, is_error=True, latency_ms=120),  # 0.0025 + 0.0005
            event("e3", model="unknown-x"),  # unpriced
            event("e4", day=DAY2, user_id="u2", cache_read_tokens=0),  # 0.0025 + 0.002
        ]
    )
    assert user_sums() == {
        # rows: the gpt-4o and unknown-x rollup rows; tokens: 1,600 + 1,400 + 1,600
        (DAY, "u1", "events"): (2, 3, 4600, Decimal("0.008"), 2, 1),
        (DAY2, "u2", "events"): (1, 1, 1200, Decimal("0.0045"), 1, 0),
    }
    assert model_sums() == {
        (DAY, "openai", "gpt-4o", "events"):
            (1, 2, 1, 2000, 200, 800, 0, 0, Decimal("0.008"), 1, 0, 120),
        (DAY, "openai", "unknown-x", "events"):
            (1, 1, 0, 1000, 200, 400, 0, 0, Decimal("0"), 1, 1, 0),
        (DAY2, "openai", "gpt-4o", "events"):
            (1, 1, 0, 1000, 200, 0, 0, 0, Decimal("0.0045"), 1, 0, 0),
    }  # fmt: skip


def test_the_sums_equal_the_sums_of_the_events_through_ingest_and_rebuild(gpt4o):
    rng = random.Random(4)
    for batch in range(3):
        llm_events_record(
            events=[
                event(
                    f"b{batch}-{i}",
                    day=rng.choice([DAY, DAY2]),
                    user_id=f"u{rng.randrange(7)}",
                    model=rng.choice(["gpt-4o", "gpt-4o", "unknown-x"]),
                    input_tokens=rng.randrange(5000),
                    output_tokens=rng.randrange(900),
                    is_error=rng.random() < 0.1,
                    latency_ms=rng.randrange(1, 3000),
                )
                for i in range(40)
            ]
            + [event(f"b0-{i}") for i in range(5)]  # re-sent: duplicates from the 2nd batch
        )
    assert (user_sums(), model_sums()) == sums_of_events()
    assert_sums_follow_daily()
    before = (user_sums(), model_sums())
    llm_usage_rebuild(days=[DAY, DAY2])
    assert (user_sums(), model_sums()) == before


def test_the_sums_follow_every_kind_of_write_to_the_daily_rollup():
    def daily(**fields):
        return LlmUsageDaily(
            **{"day": DAY, "user_id": "u1", "provider": "openai", "model": "gpt-4o",
               "source": "events", **fields}
        )  # fmt: skip

    daily(requests=3, errors=1, input_tokens=10, reasoning_tokens=2, cost=Decimal("1.5")).save()
    daily(model="o3", requests=1, output_tokens=7, cost=Decimal("0.25")).save()
    daily(source="prometheus", requests=9, cost=None).save()  # nothing costed: None, not 0
    daily(user_id="u2", provider="mistral", model="m", requests=2, cost=Decimal("4")).save()
    daily(day=date(2026, 10, 31), user_id="", requests=1).save()  # no user: not an active one
    assert_sums_follow_daily()
    assert user_months() == {(date(2026, 11, 1), "u1"): 1 << 19, (date(2026, 11, 1), "u2"): 1 << 19}
    assert user_sums()[(DAY, "u1", "prometheus")] == (1, 9, 0, Decimal(0), 0, 0)

    llm_usage_daily_upsert(  # the Prometheus collector's upsert: replaces whole figures
        rows=[daily(source="prometheus", requests=4, input_tokens=5, cost=Decimal("0.1")),
              daily(day=DAY2, source="prometheus", requests=1, cost=Decimal("2"))]
    )  # fmt: skip
    assert_sums_follow_daily()
    LlmUsageDaily.objects.filter(model="o3").update(currency="EUR")  # out of the USD cost
    assert_sums_follow_daily()
    assert user_sums()[(DAY, "u1", "events")] == (2, 4, 19, Decimal("1.5"), 1, 0)
    LlmUsageDaily.objects.filter(user_id="u2").update(user_id="u3", day=DAY2)  # keys move
    assert_sums_follow_daily()
    assert user_months()[(date(2026, 11, 1), "u3")] == 1 << 20
    assert (date(2026, 11, 1), "u2") not in user_months()  # its only day went: no row left
    for day in (date(2026, 9, 30), date(2026, 10, 5), DAY):
        daily(day=day, user_id="u4", model="o3", requests=1).save()
    assert user_latest()["u4"] == DAY
    LlmUsageDaily.objects.filter(user_id="u4", day=DAY).delete()  # its latest day goes
    assert_sums_follow_daily()
    assert user_latest()["u4"] == date(2026, 10, 5)  # the latest left, a month before
    LlmUsageDaily.objects.filter(user_id="u4", day__gte=date(2026, 10, 1)).delete()
    assert user_latest()["u4"] == date(2026, 9, 30)  # the 30th: bit 29 of September
    LlmUsageDaily.objects.filter(user_id="u4").delete()
    assert_sums_follow_daily()
    assert "u4" not in user_latest()
    LlmUsageDaily.objects.filter(model="gpt-4o", source="events").delete()
    assert_sums_follow_daily()
    assert (DAY, "openai", "gpt-4o", "events") not in model_sums()  # no row left: no sum
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE costledger_llmusagedaily")
    assert (user_sums(), model_sums(), user_months(), user_latest()) == ({}, {}, {}, {})


# The top users ---------------------------------------------------------------------------------


def random_usage(seed: int, users: int = 60, days: int = 12) -> tuple[date, date]:
    """Heavy-tailed costs with ties, users with nothing costed, a Prometheus-only day (with
    NULL and EUR costs, and a negative one) and a day with both feeds (where the events
    count)."""
    rng = random.Random(seed)
    start = date(2026, 10, 1)
    rows = []
    for d in range(days):
        day = start + timedelta(days=d)
        for u in range(users):
            if rng.random() < 0.4:
                continue
            cost = Decimal(1000 // rng.randint(1, 1000)) / 100  # many 0.01, a few 10.00
            rows.append(
                LlmUsageDaily(
                    day=day, user_id=f"u{u:02}", provider="openai", model="gpt-4o",
                    source="prometheus" if d in (3, 5) else "events",
                    requests=rng.choice([1, 2, 2, 5]), input_tokens=rng.randrange(100),
                    cost=None if d == 3 and u % 3 == 0 else -cost if (d, u) == (3, 7) else cost,
                    currency="EUR" if d == 3 and u % 5 == 0 else "USD",
                )
            )  # fmt: skip
        if d == 5:  # events too: the day's Prometheus rows no longer count
            rows.append(LlmUsageDaily(day=day, user_id="u01", provider="openai",
                                      model="gpt-4o", source="events", requests=1))  # fmt: skip
    LlmUsageDaily.objects.bulk_create(rows)
    return start, start + timedelta(days=days - 1)


def ranked_by_aggregating_everything(start, end, limit):
    return list(_users_ranked(llm_usage_daily_effective(start=start, end=end))[:limit])


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("first_depth", [1, 3, 50])
def test_the_top_users_are_those_of_adding_up_every_user(monkeypatch, seed, first_depth):
    monkeypatch.setattr(llm_selectors, "TOP_USERS_FIRST_DEPTH", first_depth)
    start, end = random_usage(seed)
    after_day_3 = start + timedelta(days=4)  # no negative cost: the candidates are pruned
    for first, last in [(start, end), (start + timedelta(days=3),) * 2, (after_day_3, end)]:
        for limit in (1, 2, 5, 20, 59, 60, 100):
            assert _top_users(start=first, end=last, limit=limit) == (
                ranked_by_aggregating_everything(first, last, limit)
            ), (first, last, limit)


def test_heads_are_read_deeper_until_the_top_is_certain(monkeypatch):
    monkeypatch.setattr(llm_selectors, "TOP_USERS_FIRST_DEPTH", 1)
    depths = []
    read = llm_selectors._heads
    monkeypatch.setattr(
        llm_selectors,
        "_heads",
        lambda months, days, depth: depths.append(depth) or read(months, days, depth),
    )
    # Six users at 1.00 a day: after the 2 dearest of each day, an unread user may still
    # cost 3.00, as much as the top one read; only reading deeper can tell who comes first.
    LlmUsageDaily.objects.bulk_create(
        LlmUsageDaily(day=DAY + timedelta(days=d), user_id=user, provider="openai",
                      model="gpt-4o", source="events", requests=r, cost=Decimal("1"))
        for d in range(3) for r, user in enumerate(["a", "b", "c", "d", "e", "f"], start=1)
    )  # fmt: skip
    [top] = _top_users(start=DAY, end=DAY + timedelta(days=2), limit=1)
    assert (top["user_id"], top["requests_sum"], top["cost_sum"]) == ("f", 18, Decimal(3))
    assert depths == [2, 8]


def test_only_users_who_may_still_rank_are_added_up():
    # Day 1's head: a 5, b 3 (unread users cost at most 3); day 2's: c 4, a 2 (at most 2).
    heads = [[("a", Decimal(5)), ("b", Decimal(3))], [("c", Decimal(4)), ("a", Decimal(2))]]
    # At least / at most: a 7 / 7, b 3 / 3 + 2, c 4 / 4 + 3.
    assert _candidates(heads, [Decimal(3), Decimal(2)], limit=1) == {"a", "c"}  # b < 7
    assert _candidates(heads, [Decimal(3), Decimal(2)], limit=2) == {"a", "b", "c"}  # all >= 4
    assert _candidates(heads, [0, 0], limit=1) == {"a"}  # both days read to the end


@pytest.mark.parametrize("budget", ["TOP_USERS_MAX_HEAD_ROWS", "TOP_USERS_MAX_LOOKUPS"])
def test_beyond_the_budget_every_user_is_added_up(monkeypatch, budget):
    monkeypatch.setattr(llm_selectors, budget, 0)
    start, end = random_usage(5)
    assert _top_users(start=start, end=end, limit=10) == ranked_by_aggregating_everything(
        start, end, 10
    )


def test_the_portable_writer_stores_what_the_postgresql_writer_stores(gpt4o, monkeypatch):
    """The quick start (SQLite) stores events and rebuilds their days, PostgreSQL adds them up in
    one statement: the same events must leave the same rows either way, duplicates included."""
    rng = random.Random(9)
    batches = [
        [
            event(
                f"b{batch}-{i}",
                day=rng.choice([DAY, DAY2]),
                user_id=rng.choice(["", "u1", "u2", "u3"]),
                model=rng.choice(["gpt-4o", "gpt-4o", "unknown-x"]),
                output_tokens=rng.randrange(900),
                is_error=rng.random() < 0.2,
                latency_ms=rng.choice([None, rng.randrange(1, 3000)]),
                tags=rng.choice(
                    [
                        None,
                        {"feature": "chat", "conversation_id": f"c{i % 3}"},
                        {"agent": "", "other": "x"},
                    ]
                ),
            )  # fmt: skip
            for i in range(30)
        ]
        for batch in range(2)
    ]
    batches[1] += batches[0][:4]  # re-sent

    def stored():
        outcomes = [llm_events_record(events=batch, ingest_key="k") for batch in batches]
        rows = {
            model: sorted(model.objects.values_list(*fields))
            for model, fields in (
                (LlmUsageEvent, ["event_id", "day", "user_id", "model", "cost", "cost_source",
                                 "tags", "is_error", "latency_ms"]),
                (LlmUsageDaily, ["day", "user_id", "model", "requests", "errors",
                                 *TOKENS, "unpriced_requests", "latency_ms_sum", "cost"]),
                (CostEntry, ["provider", "service", "charge_period_start", "billed_cost",
                             "quantity", "source", "reference", "unit", "category"]),
                (LlmUsageTagDaily, ["day", "key", "value", "requests", "unpriced_requests",
                                    "cost"]),
                (LlmUsageTagKeyDaily, ["day", "key", "requests", "unpriced_requests", "cost"]),
            )
        }  # fmt: skip
        return outcomes, rows, user_sums(), model_sums()

    by_postgresql = stored()
    for model in (LlmUsageEvent, LlmUsageDaily, CostEntry, LlmUsageTagDaily, LlmUsageTagKeyDaily):
        model.objects.all().delete()
    with monkeypatch.context() as patched:
        patched.setattr(
            events, "_record_postgresql", lambda rows, now: events._record_portable(rows)
        )
        by_portable = stored()
    assert by_portable == by_postgresql
    assert by_postgresql[1][LlmUsageTagDaily]  # tags were there to count


# The distinct active users -----------------------------------------------------------------------


def test_active_users_from_the_next_day_counts_equal_those_counted_from_the_days():
    """Ranges within a month, across month ends and over a year, up to the latest day and
    before it, on events only and with Prometheus days, against the distinct users of the
    effective day rows; each read where it should be."""
    rng = random.Random(5)
    start = date(2025, 12, 20)
    rows = [
        LlmUsageDaily(
            day=start + timedelta(days=d),
            user_id=rng.choice(["", *[f"u{i}" for i in range(40)]]),
            provider="openai",
            model=rng.choice(["gpt-4o", "o3"]),
            source="prometheus" if d in (12, 40) or (d == 41 and u % 2) else "events",
            requests=1,
        )  # fmt: skip
        for d in range(75)
        for u in range(rng.randrange(0, 12))
    ]
    LlmUsageDaily.objects.bulk_create(rows, ignore_conflicts=True)
    LlmUsageDaily.objects.filter(day=start + timedelta(days=30), model="o3").delete()

    def by_days(first, last):
        return (
            llm_usage_daily_effective(start=first, end=last)
            .exclude(user_id="")
            .values("user_id")
            .distinct()
            .count()
        )

    ranges = [(start, start + timedelta(days=10)), (start, start + timedelta(days=74)),
              (date(2026, 1, 1), date(2026, 1, 31)), (date(2025, 12, 31), date(2026, 1, 1)),
              (date(2026, 1, 5), date(2026, 2, 3)), (start - timedelta(days=400), start),
              (start + timedelta(days=60), start + timedelta(days=90)),
              (date(2026, 1, 31), date(2026, 1, 31))]  # fmt: skip
    ranges += [(start + timedelta(days=a), start + timedelta(days=a + rng.randrange(60)))
               for a in rng.sample(range(75), 20)]  # fmt: skip
    prometheus_only = {r.day for r in rows if r.source == "prometheus"} - {
        r.day for r in rows if r.source == "events"
    }
    last_events_day = max(r.day for r in rows if r.source == "events" and r.user_id)
    assert_sums_follow_daily()
    paths = defaultdict(int)
    for first, last in ranges:
        with CaptureQueriesContext(connection) as queries:
            active = llm_usage_totals(start=first, end=last).active_users
        assert active == by_days(first, last), (first, last)
        read = " ".join(q["sql"] for q in queries.captured_queries)
        path = "days" if any(first <= day <= last for day in prometheus_only) else (
            "to date" if last >= last_events_day else "before the latest day"
        )  # fmt: skip
        assert ("llmusageusernextdaycount" in read) == (path != "days"), (first, last, path)
        paths[path] += 1
    assert min(paths["days"], paths["to date"], paths["before the latest day"]) >= 2, paths


# The distinct conversations ----------------------------------------------------------------------


def tag_latest() -> dict[tuple, date]:
    rows = LlmUsageTagLatest.objects.values_list("key", "value", "day")
    return {(key, value): day for key, value, day in rows}


def latest_of_tag_days() -> dict[tuple, date]:
    latest = {}
    for day, key, value in LlmUsageTagDaily.objects.values_list("day", "key", "value"):
        latest[(key, value)] = max(day, latest.get((key, value), day))
    return latest


def assert_tag_sums_follow_tag_days():
    """The latest day per value, the count of values per latest day and the sums per key
    equal what LlmUsageTagDaily gives."""
    latest = latest_of_tag_days()
    assert tag_latest() == latest
    counts = defaultdict(int)
    for (key, _), day in latest.items():
        counts[(key, day)] += 1
    stored = LlmUsageTagLatestCount.objects.exclude(values=0).values_list("key", "day", "values")
    assert {(key, day): n for key, day, n in stored} == dict(counts)
    by_key = defaultdict(lambda: [0, 0, Decimal(0)])
    for day, key, requests, unpriced, cost in LlmUsageTagDaily.objects.values_list(
        "day", "key", "requests", "unpriced_requests", "cost"
    ):
        for i, value in enumerate((requests, unpriced, cost)):
            by_key[(day, key)][i] += value
    stored = LlmUsageTagKeyDaily.objects.values_list(
        "day", "key", "requests", "unpriced_requests", "cost"
    )
    assert {(d, k): [r, u, c] for d, k, r, u, c in stored} == dict(by_key)
    assert_tag_next_days_follow_tag_days()


def test_conversations_from_latest_days_through_ingest_and_rebuild(gpt4o):
    day0 = DAY - timedelta(days=1)
    rng = random.Random(11)
    events = [
        event(
            f"c-{i}",
            day=rng.choice([day0, DAY, DAY2]),
            tags={"conversation_id": f"conv{rng.randrange(12)}", "agent": "a"},
        )  # fmt: skip
        for i in range(80)
    ]
    llm_events_record(events=events)
    llm_events_record(events=events[:10])  # re-sent: nothing moves
    assert_tag_sums_follow_tag_days()

    def by_events(first, last):
        stored = LlmUsageEvent.objects.filter(day__gte=first, day__lte=last)
        return len({e.tags["conversation_id"] for e in stored})

    def counted(first, last):
        with CaptureQueriesContext(connection) as queries:
            totals = llm_tag_totals(start=first, end=last, keys=["agent"])
        read = " ".join(q["sql"] for q in queries.captured_queries)
        slow = "COUNT(*) FROM (SELECT DISTINCT" in read
        return totals.conversations, "llmusagetagnextdaycount" in read, slow

    # Up to the latest day or before it: from the count per day and next day.
    assert counted(DAY, DAY2) == (by_events(DAY, DAY2), True, False)
    assert counted(day0, DAY) == (by_events(day0, DAY), True, False)
    assert counted(day0, DAY2)[0] == by_events(day0, DAY2) == 12

    # A conversation's last day goes (its events of that day deleted, the day rebuilt): its
    # latest day is the one left, or it has none.
    last_of = latest_of_tag_days()
    moved = next(v for (k, v), d in last_of.items() if k == "conversation_id" and d == DAY2)
    LlmUsageEvent.objects.filter(day=DAY2, tags__conversation_id=moved).delete()
    llm_usage_rebuild(days=[DAY2])
    assert_tag_sums_follow_tag_days()
    assert tag_latest().get(("conversation_id", moved), day0) < DAY2
    LlmUsageEvent.objects.filter(tags__conversation_id=moved).delete()
    llm_usage_rebuild(days=[day0, DAY])
    assert ("conversation_id", moved) not in tag_latest()
    assert_tag_sums_follow_tag_days()
    assert counted(day0, DAY2)[0] == by_events(day0, DAY2) == 11
    cost = sum(e.cost for e in LlmUsageEvent.objects.filter(day__gte=DAY))
    assert llm_tag_totals(start=DAY, end=DAY2, keys=[]).conversation_cost == cost

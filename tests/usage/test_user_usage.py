"""One user's usage (usage.user_usage): the per-user tag sums the ingest and the rebuild write,
and the plan that reads a user's rows."""

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.db.models import Sum

from usage.effective import day_sources, effective_rows_on
from usage.events import UsageEvent, llm_events_record
from usage.models import (
    LlmUsageDaily,
    LlmUsageSource,
    LlmUsageTagDaily,
    LlmUsageUserTagDaily,
)
from usage.rebuild import llm_usage_rebuild
from usage.user_usage import _user_rows, llm_user_tags

pytestmark = pytest.mark.django_db
DAY = date(2026, 11, 20)


@pytest.fixture(autouse=True)
def _today():
    with time_machine.travel("2026-11-21 10:00:00+00:00", tick=False):
        yield


def tagged(n, user, tags, model="gpt-4o", day=DAY):
    return UsageEvent(
        event_id=f"e{n}", timestamp=datetime(day.year, day.month, day.day, 9, tzinfo=UTC),
        user_id=user, provider="openai", model=model, input_tokens=1_000_000, tags=tags,
    )  # fmt: skip


def user_tag_rows():
    return sorted(
        LlmUsageUserTagDaily.objects.values_list(
            "day", "user_id", "key", "value", "requests", "unpriced_requests", "cost"
        )
    )


def test_ingest_sums_tags_per_user_but_conversations_and_the_rebuild_agrees(gpt4o):
    llm_events_record(
        events=[
            tagged(1, "u1", {"agent": "support", "conversation_id": "c1"}),
            tagged(2, "u1", {"agent": "support", "feature": "chat"}),
            tagged(3, "u2", {"agent": "support", "feature": ""}),  # an empty value: no tag
            tagged(4, "u1", {"agent": "writer"}, model="mystery-1"),  # unpriced
            tagged(5, "", {"feature": "chat"}),
        ]
    )
    ingested = user_tag_rows()
    # gpt-4o at 2.50 per million input tokens: 2.50 a request.
    assert [row[1:] for row in ingested] == [
        ("", "feature", "chat", 1, 0, 2.5),
        ("u1", "agent", "support", 2, 0, 5),
        ("u1", "agent", "writer", 1, 1, 0),
        ("u1", "feature", "chat", 1, 0, 2.5),
        ("u2", "agent", "support", 1, 0, 2.5),
    ]
    # Added up over users, they are the tag sums (for the keys summed per user).
    per_value = LlmUsageTagDaily.objects.exclude(key="conversation_id")
    assert sorted(per_value.values_list("key", "value", "requests", "cost")) == sorted(
        LlmUsageUserTagDaily.objects.values("key", "value")
        .annotate(r=Sum("requests"), c=Sum("cost"))
        .values_list("key", "value", "r", "c")
    )
    llm_usage_rebuild(days=[DAY])
    assert user_tag_rows() == ingested
    tags = llm_user_tags(user_id="u1", start=DAY, end=DAY)
    assert [(t.key, t.value, t.requests) for t in tags] == [
        ("agent", "support", 2), ("agent", "writer", 1), ("feature", "chat", 1),
    ]  # fmt: skip


def test_a_users_rows_are_read_with_one_index_probe_per_day(gpt4o):
    """400 users over 120 days: the plan of a user's rows is the unique index, probed with the
    range's days, never a scan of every user's rows of the range."""
    first = DAY - timedelta(days=119)
    LlmUsageDaily.objects.bulk_create(
        LlmUsageDaily(
            day=first + timedelta(days=d),
            user_id=f"user-{u:03}",
            provider="openai",
            model="gpt-4o",
            source=LlmUsageSource.EVENTS,
            requests=1,
        )  # fmt: skip
        for d in range(120)
        for u in range(400)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE costledger_llmusagedaily")
    sources = day_sources(start=first, end=DAY)
    rows = _user_rows(user_id="user-007", sources=sources)
    assert len(rows) == 120 and {r["day"] for r in rows} == {d for d, _ in sources}
    # The same query, explained.
    query = effective_rows_on(LlmUsageDaily, sources).filter(
        day__in=[d for d, _ in sources], user_id="user-007"
    )
    plan = query.explain()
    assert "llm_usage_daily_unique" in plan and "Seq Scan" not in plan, plan

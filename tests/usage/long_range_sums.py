"""What the sums for long ranges must hold, computed in Python from the per-day sums they come
from: the per-user sums per closed month, each user's active days, and the count of users and
of tag values per active day and next active day."""

from collections import defaultdict

from usage.models import (
    LlmUsageClosedMonth,
    LlmUsageTagDaily,
    LlmUsageTagNextDayCount,
    LlmUsageUserActiveDay,
    LlmUsageUserDaily,
    LlmUsageUserMonthly,
    LlmUsageUserNextDayCount,
)

MONTHLY_FIELDS = ["rows", "requests", "tokens", "cost", "costed_rows", "unpriced_requests"]


def user_monthly() -> dict[tuple, tuple]:
    rows = LlmUsageUserMonthly.objects.values_list("month", "user_id", "source", *MONTHLY_FIELDS)
    return {row[:3]: row[3:] for row in rows}


def months_of_user_daily() -> dict[tuple, tuple]:
    """LlmUsageUserDaily added up per calendar month, for the months closed."""
    closed = set(LlmUsageClosedMonth.objects.values_list("month", flat=True))
    months = defaultdict(lambda: [0] * len(MONTHLY_FIELDS))
    for row in LlmUsageUserDaily.objects.values_list("day", "user_id", "source", *MONTHLY_FIELDS):
        day, user_id, source, *figures = row
        if day.replace(day=1) not in closed:
            continue
        total = months[(day.replace(day=1), user_id, source)]
        for i, value in enumerate(figures):
            total[i] += value
    return {key: tuple(figures) for key, figures in months.items()}


def next_days(days_of: dict) -> dict[tuple, int]:
    """How many of `days_of` (group -> entity -> its days) were there on each day, with each
    next day of theirs (None after the last): {(group, day, next_day): count}."""
    counts = defaultdict(int)
    for group, entities in days_of.items():
        for days in entities.values():
            ordered = sorted(days)
            for day, after in zip(ordered, [*ordered[1:], None], strict=True):
                counts[(group, day, after)] += 1
    return dict(counts)


def assert_long_range_sums_follow_user_days():
    assert user_monthly() == months_of_user_daily()
    active = (LlmUsageUserDaily.objects.filter(source="events").exclude(user_id="")).values_list(
        "user_id", "day"
    )
    assert sorted(LlmUsageUserActiveDay.objects.values_list("user_id", "day")) == sorted(active)
    days_of = {"users": defaultdict(set)}
    for user_id, day in active:
        days_of["users"][user_id].add(day)
    stored = LlmUsageUserNextDayCount.objects.exclude(users=0).values_list(
        "day", "next_day", "users"
    )
    assert {("users", d, n): c for d, n, c in stored} == next_days(days_of)


def assert_tag_next_days_follow_tag_days():
    days_of = defaultdict(lambda: defaultdict(set))
    for key, value, day in LlmUsageTagDaily.objects.values_list("key", "value", "day"):
        days_of[key][value].add(day)
    stored = LlmUsageTagNextDayCount.objects.exclude(values=0).values_list(
        "key", "day", "next_day", "values"
    )
    assert {(k, d, n): c for k, d, n, c in stored} == next_days(days_of)

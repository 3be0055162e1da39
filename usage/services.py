"""Writes of LLM usage sums from feeds other than the ingest API (usage.events): the
Prometheus collector's whole daily figures."""

from collections.abc import Iterable
from datetime import date

from django.db import transaction

from usage.models import LlmUsageDaily, LlmUsageSource
from usage.sums import COUNTED

# What a whole-figure upsert replaces: every counted quantity (usage.sums) and the cost.
LLM_USAGE_VALUES = (
    *(counted.name for counted in COUNTED),
    "cost",
    "currency",
    "sync_run_id",
    "updated_at",
)


@transaction.atomic
def llm_usage_daily_upsert(*, rows: Iterable[LlmUsageDaily]) -> int:
    """Write whole daily figures (a re-run of a day replaces them)."""
    unique = {(r.day, r.user_id, r.provider, r.model, r.source): r for r in rows}
    LlmUsageDaily.objects.bulk_create(
        unique.values(),
        batch_size=1000,
        update_conflicts=True,
        unique_fields=("day", "user_id", "provider", "model", "source"),
        update_fields=LLM_USAGE_VALUES,
    )
    return len(unique)


@transaction.atomic
def llm_usage_daily_replace(
    *, source: LlmUsageSource, start: date, end: date, rows: list[LlmUsageDaily]
) -> int:
    """Make `source`'s rows for the days [start, end) exactly `rows`: a user or model that
    vanished from a re-run leaves no stale row behind. Rows of other feeds (ingested events)
    are untouched."""
    keep = {(r.day, r.user_id, r.provider, r.model) for r in rows}
    existing = LlmUsageDaily.objects.filter(source=source, day__gte=start, day__lt=end).values_list(
        "pk", "day", "user_id", "provider", "model"
    )
    stale = [pk for pk, *key in existing if tuple(key) not in keep]
    LlmUsageDaily.objects.filter(pk__in=stale).delete()
    return llm_usage_daily_upsert(rows=rows)

"""Writes of LLM usage sums from feeds other than the ingest API (usage.events): the
Prometheus collector's whole daily figures."""

from collections.abc import Iterable
from datetime import date

from django.db import transaction

from usage.models import LlmUsageDaily, LlmUsageSource

LLM_USAGE_VALUES = (
    "requests",
    "errors",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "cost",
    "currency",
    "unpriced_requests",
    "latency_ms_sum",
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

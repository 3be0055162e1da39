"""Rebuild the events' sums of whole days from the raw events: after a re-price, on the SQLite
quick start after every batch, and the reference the incremental ingest must always equal. It
runs the statements of usage.sums the ingest runs, reading the days' events instead of a batch,
on either database."""

from collections.abc import Iterable
from datetime import date

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from costledger.models import CostEntry, Source
from usage import sums
from usage.models import (
    LlmUsageDaily,
    LlmUsageSource,
    LlmUsageTagDaily,
    LlmUsageTagKeyDaily,
    LlmUsageUserTagDaily,
)
from usage.retention import horizon_lock_exclusive, pruned_days_refuse


@transaction.atomic
def llm_usage_rebuild(*, days: Iterable[date]) -> None:
    """Recompute the events' sums of these days (their rows of LlmUsageDaily, the tag sums and
    the `usage` cost entries the events wrote) from the raw events. Raises DaysPruned, changing
    nothing, for a day whose events were pruned."""
    days = sorted(set(days))
    if not days:
        return
    # Exclusive: a batch of ingest committed between the deletes and the inserts below would
    # be counted twice, and a pruning could delete the events being read.
    horizon_lock_exclusive()
    pruned_days_refuse(days)
    LlmUsageDaily.objects.filter(source=LlmUsageSource.EVENTS, day__in=days).delete()
    LlmUsageTagDaily.objects.filter(day__in=days).delete()
    LlmUsageTagKeyDaily.objects.filter(day__in=days).delete()
    LlmUsageUserTagDaily.objects.filter(day__in=days).delete()
    CostEntry.objects.filter(
        source=Source.USAGE, reference=sums.EVENTS_REFERENCE, charge_period_start__in=days
    ).delete()
    dialect = connection.vendor
    day_list = ", ".join(f"%(day_{i})s" for i in range(len(days)))
    new = f"WITH new AS (SELECT * FROM {sums.EVENTS} WHERE day IN ({day_list}))"  # noqa: S608 (table name from model metadata)
    tagged = f"{new}, tagged AS ({sums.tagged(dialect, len(settings.LLM_TAG_KEYS))})"
    parameters = {
        **sums.parameters(now=timezone.now()),
        **{f"day_{i}": day for i, day in enumerate(days)},
    }
    with connection.cursor() as cursor:
        cursor.execute(new + sums.daily_upsert(), parameters)
        cursor.execute(new + sums.usage_entries_upsert(dialect), parameters)
        cursor.execute(tagged + sums.tag_sums_upsert(per_value=False), parameters)
        cursor.execute(tagged + sums.tag_sums_upsert(per_value=True), parameters)
        cursor.execute(tagged + sums.tag_sums_upsert(per_value=True, per_user=True), parameters)
        if dialect == "postgresql":  # the latest day of each tag value (not kept on SQLite)
            rebuilt = f"{sums.TAG_DAILY} WHERE day = ANY(%(days)s)"
            cursor.execute(sums.tags_latest_forward(rebuilt), {"days": days})
            cursor.execute(sums.TAGS_LATEST_STALE, {"days": days})

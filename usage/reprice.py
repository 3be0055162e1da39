"""Re-pricing: cost again, with today's price book, stored events that were not costed by
their provider, then rebuild the sums of the days that changed."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import transaction

from usage.events import UsageEvent, event_cost
from usage.models import CostSource, LlmUsageEvent
from usage.pricing import price_book_load
from usage.rebuild import llm_usage_rebuild
from usage.sums import TOKEN_KINDS


@dataclass
class RepriceChange:
    provider: str
    model: str
    events: int = 0
    before: Decimal = Decimal(0)
    after: Decimal = Decimal(0)
    newly_priced: int = 0
    now_unpriced: int = 0


def _as_usage_event(stored: LlmUsageEvent) -> UsageEvent:
    return UsageEvent(
        event_id=stored.event_id,
        timestamp=stored.timestamp,
        provider=stored.provider,
        model=stored.model,
        **{name: getattr(stored, name) for name in (*TOKEN_KINDS, "images", "search_units")},
    )


@transaction.atomic
def llm_events_reprice(
    *, since: date, until: date, model: str | None = None
) -> list[RepriceChange]:
    """Cost again, with today's price book, the events of [since, until] that were not costed
    by their provider; then rebuild the rollups and usage costs of the days that changed.
    Returns what changed per provider and model."""
    events = LlmUsageEvent.objects.filter(day__gte=since, day__lte=until).exclude(
        cost_source=CostSource.PROVIDER
    )
    if model:
        events = events.filter(model=model)
    pairs = set(events.order_by().values_list("provider", "model").distinct())
    book = price_book_load(pairs=pairs, until=until)
    changes: dict[tuple[str, str], RepriceChange] = {}
    changed, days = [], set()
    for stored in events.iterator(chunk_size=2000):
        cost, source, price_id = event_cost(_as_usage_event(stored), book)
        if (cost, source, price_id) == (stored.cost, stored.cost_source, stored.price_id):
            continue
        change = changes.setdefault(
            (stored.provider, stored.model), RepriceChange(stored.provider, stored.model)
        )
        change.events += 1
        change.before += stored.cost or 0
        change.after += cost or 0
        change.newly_priced += stored.cost is None and cost is not None
        change.now_unpriced += stored.cost is not None and cost is None
        stored.cost, stored.cost_source, stored.price_id = cost, source, price_id
        changed.append(stored)
        days.add(stored.day)
    LlmUsageEvent.objects.bulk_update(changed, ["cost", "cost_source", "price"], batch_size=1000)
    if days:
        llm_usage_rebuild(days=days)
    return sorted(changes.values(), key=lambda c: (c.provider, c.model))

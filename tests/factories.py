"""Small builders for the few objects a test needs."""

from datetime import date, timedelta
from decimal import Decimal

from costledger.models import CostEntry, Source
from costledger.providers import provider_category
from costledger.services import cost_entries_upsert


def cost_entry(
    *,
    provider: str = "supabase",
    day: date,
    amount: str,
    source: str = Source.ESTIMATE,
    service: str = "Pro plan",
    currency: str = "USD",
    days: int = 1,
    reference: str = "",
) -> CostEntry:
    return CostEntry(
        provider=provider,
        service=service,
        category=provider_category(provider),
        charge_period_start=day,
        charge_period_end=day + timedelta(days=days),
        billed_cost=Decimal(amount),
        currency=currency,
        source=source,
        reference=reference,
    )


def daily_costs(*, provider: str, start: date, end: date, amount: str, source=Source.ESTIMATE):
    """One cost entry per day in [start, end), each of `amount`."""
    entries = [
        cost_entry(provider=provider, day=start + timedelta(days=i), amount=amount, source=source)
        for i in range((end - start).days)
    ]
    cost_entries_upsert(entries=entries)
    return entries

"""Six months of realistic, clearly-labelled demo data for the quick start.

Everything is derived from the day and the provider with a seeded random generator, and written
through the ledger's upserts, so loading it twice on the same day changes nothing. Every row is
tagged {"demo": true}; demo invoices are numbered DEMO-... and say so in their notes.
"""

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.utils import timezone

from billing.models import ProviderInvoice
from billing.services import provider_invoice_save
from costledger.days import add_months, days_between, month_start
from costledger.models import CostEntry, MetricSample, RevenueSnapshot, Source
from costledger.providers import provider_category
from costledger.services import (
    cost_entries_upsert,
    metric_samples_upsert,
    revenue_snapshots_upsert,
)
from usage.events import UsageEvent, llm_events_record
from usage.users import usage_users_upsert

DEMO_TAGS = {"demo": True}
CENT = Decimal("0.01")


@dataclass(frozen=True)
class DailyCharge:
    provider: str
    service: str
    source: str
    monthly: Decimal  # typical monthly amount, spread over the days with some noise
    unit: str = ""


DAILY_CHARGES = [
    DailyCharge("digitalocean", "App Platform", Source.API, Decimal("84.00")),
    DailyCharge("digitalocean", "Managed PostgreSQL", Source.API, Decimal("60.00")),
    DailyCharge("digitalocean", "Container Registry", Source.API, Decimal("5.00")),
    DailyCharge("digitalocean", "Spaces", Source.API, Decimal("5.00")),
    DailyCharge("supabase", "Pro plan and usage (estimate)", Source.ESTIMATE, Decimal("32.00")),
    DailyCharge("weaviate", "Serverless cloud (estimate)", Source.ESTIMATE, Decimal("95.00")),
    DailyCharge("twilio", "totalprice", Source.API, Decimal("41.00"), "messages"),
    DailyCharge("stripe", "Processing fees", Source.API, Decimal("186.00")),
    DailyCharge("openai", "gpt-4o", Source.API, Decimal("640.00"), "tokens"),
    DailyCharge("openai", "gpt-4o-mini", Source.API, Decimal("95.00"), "tokens"),
    DailyCharge("anthropic", "claude-sonnet-4-5", Source.API, Decimal("520.00"), "tokens"),
    DailyCharge("anthropic", "claude-haiku-4-5", Source.API, Decimal("48.00"), "tokens"),
    DailyCharge("openrouter", "meta-llama/llama-3.3-70b-instruct", Source.API, Decimal("36.00")),
]

# Months (counted back from the current one) whose invoices the demo admin has entered: the
# older months carry invoices, the last full month and the current one still show estimates.
INVOICED_MONTHS_BACK = (5, 4, 3, 2)
INVOICE_AMOUNTS = {"supabase": Decimal("25.00"), "weaviate": Decimal("89.00")}


def _rng(*parts) -> random.Random:
    return random.Random("-".join(str(p) for p in parts))


def _noise(rng: random.Random, spread: int) -> Decimal:
    """A factor 1 ± spread% as an exact Decimal (whole hundredths of a percent)."""
    return Decimal(100_00 + rng.randint(-spread * 100, spread * 100)) / Decimal(100_00)


# Figures depend on the day alone, never on when the command runs: loading the demo again on a
# later day rewrites no existing day, it only adds the new ones.
GROWTH_ANCHOR = date(2026, 1, 1)


def _growth(day: date) -> Decimal:
    """The business grows 0.15% a day (about 70% a year); 1.00 on the anchor day."""
    return max(Decimal("1") + Decimal("0.0015") * (day - GROWTH_ANCHOR).days, Decimal("0.2"))


def _subscriptions(day: date) -> int:
    return max(220 + (day - GROWTH_ANCHOR).days * 4 // 5, 20)


def _cost_entries(start: date, end: date) -> list[CostEntry]:
    entries = []
    for day in days_between(start, end - timedelta(days=1)):
        growth = _growth(day)
        for charge in DAILY_CHARGES:
            noise = _noise(_rng(charge.provider, charge.service, day), 12)
            daily = (charge.monthly / 30 * growth * noise).quantize(Decimal("0.000001"))
            entries.append(
                CostEntry(
                    provider=charge.provider,
                    service=charge.service,
                    category=provider_category(charge.provider),
                    charge_period_start=day,
                    charge_period_end=day + timedelta(days=1),
                    billed_cost=daily,
                    currency="USD",
                    unit=charge.unit,
                    source=charge.source,
                    reference="demo",
                    tags=DEMO_TAGS,
                )
            )
    return entries


def _metric_samples(start: date, end: date) -> list[MetricSample]:
    samples = []
    for day in days_between(start, end - timedelta(days=1)):
        growth = _growth(day)
        figures = [
            ("weaviate", "objects", Decimal(1_800_000) * growth, "objects"),
            ("weaviate", "vector_dimensions", Decimal(1_800_000 * 1536) * growth, "dimensions"),
            ("supabase", "monthly_active_users", Decimal(9_000) * growth, "users"),
            ("supabase", "database_size", Decimal(3_400) * growth, "MB"),
            (
                "twilio",
                "messages_sent",
                Decimal(1_100) * growth * _noise(_rng(day), 20),
                "messages",
            ),
            ("digitalocean", "registry_size", Decimal(1_250) * growth, "MB"),
        ]
        for provider, metric, value, unit in figures:
            samples.append(
                MetricSample(
                    provider=provider,
                    metric=metric,
                    day=day,
                    dimensions=DEMO_TAGS,
                    value=value.quantize(Decimal(1)),
                    unit=unit,
                )
            )
    return samples


def _mrr(day: date) -> Decimal:
    return (Decimal(_subscriptions(day)) * Decimal("29.50")).quantize(CENT)


def _revenue(start: date, end: date) -> list[RevenueSnapshot]:
    snapshots = []
    for day in days_between(start, end - timedelta(days=1)):
        change = _mrr(day) - _mrr(day - timedelta(days=1))
        snapshots.append(
            RevenueSnapshot(
                day=day,
                currency="USD",
                mrr=_mrr(day),
                active_subscriptions=_subscriptions(day),
                trialing_subscriptions=12 + _rng("trials", day).randint(0, 8),
                new_mrr=max(change, Decimal(0)) + Decimal("29.50"),
                churned_mrr=Decimal("29.50"),
            )
        )
    return snapshots


def _invoices(this_month: date) -> int:
    written = 0
    for months_back in INVOICED_MONTHS_BACK:
        month = add_months(this_month, -months_back)
        last_day = add_months(month, 1) - timedelta(days=1)
        for provider, base in INVOICE_AMOUNTS.items():
            amount = (base * _noise(_rng("invoice", provider, month), 8)).quantize(CENT)
            number = f"DEMO-{provider.upper()}-{month:%Y-%m}"
            values = {
                "kind": "invoice",
                "invoice_date": add_months(month, 1),
                "period_start": month,
                "period_end": last_day,
                "amount": amount,
                "currency": "USD",
                "notes": "Demo data loaded by `manage.py seed_demo`.",
            }
            invoice = ProviderInvoice.objects.filter(
                provider=provider, invoice_number=number
            ).first()
            if invoice and all(getattr(invoice, k) == v for k, v in values.items()):
                continue  # unchanged: saving again would only add a history entry
            invoice = invoice or ProviderInvoice(provider=provider, invoice_number=number)
            for key, value in values.items():
                setattr(invoice, key, value)
            provider_invoice_save(invoice=invoice)
            written += 1
    return written


DEMO_MODELS = [
    ("openai", "gpt-4o", 1400, 420),
    ("openai", "gpt-4o-mini", 2100, 380),
    ("anthropic", "claude-sonnet-4-5", 1800, 600),
    ("anthropic", "claude-haiku-4-5", 900, 200),
    ("openrouter", "meta-llama/llama-3.3-70b-instruct", 1200, 300),
]
DEMO_USERS = 120
DEMO_EVENTS_PER_DAY = 110


def _usage_events(start: date, end: date) -> list[UsageEvent]:
    """Requests of DEMO_USERS users (a few heavy, many light), with cache and reasoning tokens,
    some errors, agent/feature/conversation tags, and a handful on a model without a price."""
    events, now = [], timezone.now()
    for day in days_between(start, end - timedelta(days=1)):
        rng = _rng("llm", day)
        # Today's requests fall between midnight and now: a ledger showing usage later than
        # the clock is one nobody trusts. (A re-run later the same day finds their ids stored.)
        midnight = datetime.combine(day, time(), tzinfo=UTC)
        seconds = min(86_400, max(1, int((now - midnight).total_seconds())))
        count = int(DEMO_EVENTS_PER_DAY * _growth(day))
        for i in range(count):
            user = int(DEMO_USERS * rng.random() ** 2)  # heavy users first
            provider, model, prompt, completion = DEMO_MODELS[rng.randrange(len(DEMO_MODELS))]
            if i == 0 and day.day % 9 == 0:
                provider, model = "other", "in-house-reranker-v2"  # no price: shows as unpriced
            second = rng.randrange(seconds)
            events.append(
                UsageEvent(
                    event_id=f"demo-{day}-{i}",
                    timestamp=midnight + timedelta(seconds=second),
                    user_id=f"demo-user-{user:03d}",
                    provider=provider,
                    model=model,
                    input_tokens=rng.randrange(prompt // 2, prompt * 2),
                    cache_read_tokens=rng.randrange(0, prompt),
                    output_tokens=rng.randrange(completion // 2, completion * 2),
                    reasoning_tokens=rng.randrange(0, 400) if model == "claude-sonnet-4-5" else 0,
                    is_error=rng.random() < 0.02,
                    latency_ms=rng.randrange(400, 9000),
                    tags={
                        "agent": rng.choice(["support", "research", "writer"]),
                        "feature": rng.choice(["chat", "summaries", "search"]),
                        "conversation_id": f"demo-conv-{day}-{user}-{rng.randrange(3)}",
                        "demo": "true",
                    },
                )
            )
    return events


def _llm_usage(start: date, end: date) -> int:
    usage_users_upsert(
        users={f"demo-user-{n:03d}": f"user{n:03d}@demo.example" for n in range(DEMO_USERS)}
    )
    events = _usage_events(start, end)
    accepted = 0
    for first in range(0, len(events), 1000):
        outcome = llm_events_record(events=events[first : first + 1000], ingest_key="seed_demo")
        accepted += outcome.count("accepted")
    return accepted


def demo_data_load(*, today: date) -> dict[str, int]:
    """Load demo data for the current month and the five before it, up to and including today."""
    this_month = month_start(today)
    start = add_months(this_month, -5)
    end = today + timedelta(days=1)
    return {
        "cost entries": cost_entries_upsert(entries=_cost_entries(start, end)),
        "metric samples": metric_samples_upsert(samples=_metric_samples(start, end)),
        "revenue snapshots": revenue_snapshots_upsert(snapshots=_revenue(start, end)),
        "invoices written": _invoices(this_month),
        "LLM usage events added": _llm_usage(start, end),
    }

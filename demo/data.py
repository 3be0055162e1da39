"""Six months of realistic, clearly-labelled demo data for the quick start.

Everything is derived from the day and the provider with a seeded random generator, and written
through the ledger's upserts, so loading it twice on the same day changes nothing. Every row is
tagged {"demo": true}; demo invoices are numbered DEMO-... and say so in their notes.

The figures tell one story, as the pages read it:
- the LLM providers bill (`api` rows) what the logged requests cost at the price book (`usage`
  rows, computed at ingest) plus the little traffic no one logged: 1-5% more, varying by
  provider and month, now and then a little less (a credit). Reconciliation is a few % apart.
- the users' LLM costs are the requests' costs, so they add up to the LLM usage total. Only the
  in-house model is left out of both: it has no price and no provider bills it.
- Supabase and Weaviate, which have no billing API, have an invoice for every month before this
  one (not billed yet), close to what the estimates said.
"""

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.utils import timezone

from billing.issuing import billing_run, invoice_finalize
from billing.models import (
    Customer,
    CustomerUser,
    Invoice,
    InvoiceStatus,
    Metric,
    Plan,
    PlanCharge,
    ProviderInvoice,
)
from billing.services import provider_invoice_save
from costledger.days import add_months, days_between, month_start
from costledger.models import CostEntry, CustomerRevenue, MetricSample, RevenueSnapshot, Source
from costledger.providers import provider_category
from costledger.services import (
    cost_entries_upsert,
    metric_samples_upsert,
    revenue_snapshots_upsert,
)
from usage.events import UsageEvent, llm_events_record
from usage.pricing import model_prices_load, price_book_load
from usage.sums import EVENTS_REFERENCE
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
    DailyCharge("paypal", "transaction fees", Source.API, Decimal("23.00")),
]  # the LLM providers' bills follow the requests: `_llm_bills`

DEMO_MONTHS = 6  # the current month and the five before it


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


def _daily_amount(charge: DailyCharge, day: date) -> Decimal:
    noise = _noise(_rng(charge.provider, charge.service, day), 12)
    return (charge.monthly / 30 * _growth(day) * noise).quantize(Decimal("0.000001"))


def _cost_entries(start: date, end: date) -> list[CostEntry]:
    entries = []
    for day in days_between(start, end - timedelta(days=1)):
        for charge in DAILY_CHARGES:
            daily = _daily_amount(charge, day)
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


# The providers without a billing API: the ledger estimates them, and an admin enters their
# monthly invoice, which supersedes the estimate.
INVOICED = [charge for charge in DAILY_CHARGES if charge.source == Source.ESTIMATE]


def _invoice_amount(charge: DailyCharge, month: date) -> Decimal:
    """The month's bill: what the estimates said, give or take 6% (an estimate from resource
    counts is close, never exact)."""
    days = days_between(month, add_months(month, 1) - timedelta(days=1))
    estimated = sum((_daily_amount(charge, day) for day in days), Decimal(0))
    return (estimated * _noise(_rng("invoice", charge.provider, month), 6)).quantize(CENT)


def _invoices(this_month: date) -> int:
    """An invoice for every month of the demo before this one, which is not billed yet."""
    written = 0
    for months_back in range(DEMO_MONTHS - 1, 0, -1):
        month = add_months(this_month, -months_back)
        last_day = add_months(month, 1) - timedelta(days=1)
        for charge in INVOICED:
            provider = charge.provider
            amount = _invoice_amount(charge, month)
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


# What the app's requests look like: (provider, model, share of the requests, typical uncached
# prompt tokens, typical completion tokens). Agents send long contexts, as much again read from
# the cache, well within each model's context window.
DEMO_MODELS = [
    ("openai", "gpt-4o", 3, 24_000, 2_000),
    ("openai", "gpt-4o-mini", 2, 8_000, 800),
    ("anthropic", "claude-sonnet-4-5", 3, 24_000, 2_000),
    ("anthropic", "claude-haiku-4-5", 1, 8_000, 800),
    ("openrouter", "meta-llama/llama-3.3-70b-instruct", 2, 20_000, 1_000),
]
MODEL_DRAWS = [model for model in DEMO_MODELS for _ in range(model[2])]  # each by its share
DEMO_USERS = 300  # of the 360 to 490 subscriptions the demo grows through: most use the AI
DEMO_EVENTS_PER_DAY = 140
# A reranker we run on our own servers: the price book has no price for it (it shows as
# unpriced) and no provider bills it, so it is in neither the users' costs nor the LLM bills.
IN_HOUSE = ("other", "in-house-reranker-v2")


def _usage_events(start: date, end: date) -> list[UsageEvent]:
    """Requests of DEMO_USERS users (a few heavy, many light), with cache and reasoning tokens,
    some errors, agent/feature/conversation tags, and a handful on the in-house model. Every
    request has a user: the users' costs add up to the LLM usage total."""
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
            provider, model, _, prompt, completion = rng.choice(MODEL_DRAWS)
            if i == 0 and day.day % 9 == 0:
                provider, model = IN_HOUSE
            # One draw whatever `seconds` is, so a request's tokens never depend on the time
            # of day the demo is loaded.
            second = int(rng.random() * seconds)
            events.append(
                UsageEvent(
                    event_id=f"demo-{day}-{i}",
                    timestamp=midnight + timedelta(seconds=second),
                    user_id=f"demo-user-{user:03d}",
                    provider=provider,
                    model=model,
                    input_tokens=rng.randrange(prompt // 2, prompt * 2),
                    cache_read_tokens=rng.randrange(0, prompt * 2),
                    output_tokens=rng.randrange(completion // 2, completion * 2),
                    reasoning_tokens=rng.randrange(0, 2000) if model == "claude-sonnet-4-5" else 0,
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


def _price_book_ready(day: date) -> None:
    """Load the package's price book (as `manage.py load_prices` does) when it has no price for
    a demo model: unpriced requests would leave the LLM bills nothing to follow."""
    pairs = {(provider, model) for provider, model, *_ in DEMO_MODELS}
    book = price_book_load(pairs=pairs, until=day)
    if any(book.price_for(provider, model, day) is None for provider, model in pairs):
        model_prices_load()


def _llm_usage(start: date, end: date) -> int:
    _price_book_ready(start)
    usage_users_upsert(
        users={f"demo-user-{n:03d}": f"user{n:03d}@demo.example" for n in range(DEMO_USERS)}
    )
    events = _usage_events(start, end)
    accepted = 0
    for first in range(0, len(events), 1000):
        outcome = llm_events_record(events=events[first : first + 1000], ingest_key="seed_demo")
        accepted += outcome.count("accepted")
    return accepted


# The providers that bill LLM usage through a billing API (their collectors write `api` rows).
LLM_BILLING = ("openai", "anthropic", "openrouter")


def _unlogged_share(provider: str, month: date) -> Decimal:
    """How much more than the logged requests' cost a provider bills in a month: traffic the app
    never logged (the playground, evals, retries), 1.2% to 4%; one month in six a little less
    (a credit, a price cut the price book has not caught up with)."""
    rng = _rng("unlogged", provider, month)
    if rng.random() < 1 / 6:
        return Decimal(-rng.randint(110, 150)) / Decimal(10_000)
    return Decimal(rng.randint(120, 400)) / Decimal(10_000)


def _llm_bills(start: date, end: date) -> list[CostEntry]:
    """What each LLM provider billed per model and day: the day's `usage` cost (the logged
    requests at the price book, as ingest computed it) plus the month's unlogged share, give or
    take a quarter of it from day to day (so any days of a month stay 0.8% to 5% apart).

    Read from the stored usage rows rather than recomputed from the requests: the bills follow
    what reconciliation compares them with, whatever the price book was when they were stored.
    """
    computed = CostEntry.objects.filter(
        source=Source.USAGE,
        reference=EVENTS_REFERENCE,
        provider__in=LLM_BILLING,
        charge_period_start__gte=start,
        charge_period_start__lt=end,
    ).values_list("provider", "service", "charge_period_start", "billed_cost", "quantity")
    entries = []
    for provider, model, day, cost, tokens in computed:
        jitter = _noise(_rng("unlogged", provider, model, day), 25)
        billed = 1 + _unlogged_share(provider, month_start(day)) * jitter
        entries.append(
            CostEntry(
                provider=provider,
                service=model,
                category=provider_category(provider),
                charge_period_start=day,
                charge_period_end=day + timedelta(days=1),
                billed_cost=(cost * billed).quantize(Decimal("0.000001")),
                currency="USD",
                quantity=(tokens * billed).quantize(Decimal(1)),
                unit="tokens",
                source=Source.API,
                reference="demo",
                tags=DEMO_TAGS,
            )
        )
    return entries


# Our own customers, each holding a slice of the demo users (heaviest first); the users after
# the last slice are free-tier sign-ups no customer holds ("unassigned" on the Customers
# report). Acme's heavy users on a flat plan make it the unprofitable one. Initech also pays an
# add-on through Stripe, which the Stripe collector records per customer.
DEMO_PLANS = {
    "Starter": {"fee": Decimal("299.00"), "markup": None},
    "Scale": {"fee": Decimal("499.00"), "markup": Decimal("20")},
}
DEMO_CUSTOMERS = [  # name, country, plan, first and last demo user, Stripe customer id
    ("Acme Robotics", "FR", "Starter", 0, 24, ""),
    ("Globex Media", "US", "Starter", 25, 49, ""),
    ("Northwind Analytics", "US", "Scale", 50, 79, ""),
    ("Initech", "GB", "Scale", 80, 149, "cus_DemoInitech01"),
    ("Umbrella Health", "US", "Starter", 150, 229, ""),
]
INITECH_ADD_ON = Decimal("150.00")  # paid through Stripe on the 1st of each month


def _demo_plan(name: str) -> Plan:
    terms = DEMO_PLANS[name]
    plan, created = Plan.objects.get_or_create(
        name=f"{name} (demo)", defaults={"currency": "USD", "monthly_fee": terms["fee"]}
    )
    if created and terms["markup"] is not None:
        PlanCharge.objects.create(
            plan=plan, metric=Metric.LLM_COST, markup_percent=terms["markup"],
            description="AI usage at cost plus 20 %",
        )  # fmt: skip
    return plan


def _customers(start: date, this_month: date, today: date) -> int:
    """The demo customers with their users, their invoices of every month before this one
    (finalized: they are revenue), and Initech's Stripe payments."""
    for name, country, plan_name, first, last, stripe_id in DEMO_CUSTOMERS:
        customer, created = Customer.objects.get_or_create(
            name=name,
            defaults={
                "email": f"billing@{name.split()[0].lower()}.example",
                "billing_address": f"{name}\n1 Demo Street",
                "country": country,
                "currency": "USD",
                "plan": _demo_plan(plan_name),
                "stripe_customer_id": stripe_id,
            },
        )
        if created:
            CustomerUser.objects.bulk_create(
                CustomerUser(customer=customer, user_id=f"demo-user-{n:03d}")
                for n in range(first, last + 1)
            )
    month = start
    while month < this_month:
        billing_run(month=month)
        for invoice in Invoice.objects.filter(status=InvoiceStatus.DRAFT, period_start=month):
            invoice_finalize(invoice_id=invoice.pk, today=add_months(month, 1))
        month = add_months(month, 1)
    for month_first in (add_months(start, n) for n in range(DEMO_MONTHS)):
        if month_first <= today:
            CustomerRevenue.objects.update_or_create(
                provider="stripe", customer_ref="cus_DemoInitech01", day=month_first,
                currency="USD",
                defaults={"amount": INITECH_ADD_ON, "paid": INITECH_ADD_ON, "invoices": 1},
            )  # fmt: skip
    return Customer.objects.filter(name__in=[c[0] for c in DEMO_CUSTOMERS]).count()


def demo_data_load(*, today: date) -> dict[str, int]:
    """Load demo data for the current month and the five before it, up to and including today."""
    this_month = month_start(today)
    start = add_months(this_month, -(DEMO_MONTHS - 1))
    end = today + timedelta(days=1)
    counts = {
        "cost entries": cost_entries_upsert(entries=_cost_entries(start, end)),
        "metric samples": metric_samples_upsert(samples=_metric_samples(start, end)),
        "revenue snapshots": revenue_snapshots_upsert(snapshots=_revenue(start, end)),
        "invoices written": _invoices(this_month),
        "LLM usage events added": _llm_usage(start, end),
    }
    # After the usage: the bills follow the requests' stored costs.
    counts["cost entries"] += cost_entries_upsert(entries=_llm_bills(start, end))
    counts["customers"] = _customers(start, this_month, today)
    return counts

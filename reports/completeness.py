"""Why a KPI of a period may be incomplete: a cost or MRR left unconverted for lack of an exchange
rate, LLM usage the price book could not cost, or a collector feeding the figure that has not
succeeded since before the period ends. A card with a reason is marked incomplete on the page,
never shown as a clean rise or fall."""

from collections import defaultdict
from datetime import date

from collectors.selectors import CollectorHealth
from costledger.providers import Category

# The collectors each figure comes from (the reports app may read every app).
SOURCES = {
    "revenue": ["stripe"],
    Category.LLM: ["openai", "anthropic", "openrouter", "llm_prometheus"],
    Category.INFRASTRUCTURE: ["digitalocean", "supabase", "weaviate"],
    Category.PAYMENTS: ["stripe", "paypal"],
    Category.COMMUNICATIONS: ["twilio"],
}


def incomplete_reasons(
    *,
    start: date,
    end: date,
    unconverted: dict[tuple[date, str], set[str]],
    revenue_missing: dict[str, list[date]],
    revenue_known_from: date | None,
    unpriced_requests: int,
    health: list[CollectorHealth],
) -> dict[str, list[str]]:
    """For "revenue" and each cost category: the reasons its figure over [start, end] is
    incomplete (empty when it is whole)."""
    reasons: dict[str, list[str]] = defaultdict(list)
    for figure, currencies in _unconverted_in(start, end, unconverted).items():
        reasons[figure].append(f"no exchange rate for {', '.join(sorted(currencies))}")
    if any(start <= day <= end for days in revenue_missing.values() for day in days):
        currencies = sorted(c for c, days in revenue_missing.items() if days)
        reasons["revenue"].append(f"no exchange rate for MRR in {', '.join(currencies)}")
    if revenue_known_from and start < revenue_known_from <= end:
        reasons["revenue"].append(
            f"MRR is known from {revenue_known_from:%Y-%m-%d} only (the first Stripe snapshot)"
        )
    if unpriced_requests:
        requests = "1 LLM request has" if unpriced_requests == 1 else f"{unpriced_requests:,} LLM requests have"  # fmt: skip  # noqa: E501
        reasons[Category.LLM].append(f"{requests} no price")
    for figure, item in _stale_sources(end, health):
        if item.last_success:
            said = f"has not succeeded since {item.last_success:%Y-%m-%d}"
        else:
            said = "has never succeeded"
        reasons[figure].append(f"the {item.provider_name} collector {said}")
    return dict(reasons)


def _unconverted_in(start, end, unconverted) -> dict[str, set[str]]:
    by_category: dict[str, set[str]] = defaultdict(set)
    for (day, category), currencies in unconverted.items():
        if start <= day <= end:
            by_category[category] |= currencies
    return by_category


def _stale_sources(end: date, health: list[CollectorHealth]) -> list[tuple[str, CollectorHealth]]:
    """(figure, collector) for each stale collector (health page's rule) whose last success is
    before the period's end, or that never succeeded: the period may miss what it did not fetch."""
    by_name = {h.name: h for h in health}
    found = []
    for figure, names in SOURCES.items():
        for name in names:
            item = by_name.get(name)
            if item is None or not item.stale:  # stale: configured, or fed the ledger before
                continue
            if item.last_success is None or item.last_success.date() < end:
                found.append((figure, item))
    return found

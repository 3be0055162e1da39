"""The Business summary as the page, its JSON endpoint and its CSV downloads show it: the figures
of `reports.business` rounded to the currency's minor unit, as strings (never floats), with the
admin links that explain them. One block per function, in the order of the page."""

from decimal import Decimal
from urllib.parse import urlencode

from django.conf import settings
from django.urls import reverse

from collectors.selectors import collector_freshness
from costledger.money import round_money
from costledger.providers import Category, provider_name
from reports.buckets import Bucket
from reports.business import (
    BucketFigures,
    BusinessFigures,
    business_figures,
    by_bucket,
    llm_projection,
    monthly_llm,
)
from reports.periods import Period, period_query
from usage.selectors import LLM_CURRENCY

# The KPI cards, in order: (key, label, hint, the figure of PeriodFigures). The cost categories
# are the ledger's (costledger.providers.Category), so a card equals the same category's row of
# Costs by provider for the same range.
KPIS = [
    ("revenue", "Revenue", "accrued from MRR (Stripe)", lambda f: f.revenue),
    ("llm_costs", "LLM costs", "effective cost of LLM providers", lambda f: f.costs["llm"]),
    ("infrastructure_costs", "Infrastructure costs", "hosting, databases, vector DB",
     lambda f: f.costs["infrastructure"]),
    ("payments_costs", "Payment costs", "payment processing fees", lambda f: f.costs["payments"]),
    ("communications_costs", "Communications costs", "SMS and messaging",
     lambda f: f.costs["communications"]),
    ("other_costs", "Other costs", "every other cost", lambda f: f.costs["other"]),
    ("gross_margin", "Gross margin", "revenue minus LLM, infrastructure, payment and "
     "communications costs", lambda f: f.gross_margin),
    ("net_margin", "Net margin", "revenue minus all effective costs", lambda f: f.net_margin),
]  # fmt: skip


def business_summary(*, period: Period) -> dict:
    """Every figure of the Business summary for `period`, JSON-ready (see the page)."""
    figures = business_figures(period=period)
    buckets = by_bucket(figures)
    return {
        "period": _period(period),
        "currency": figures.currency,
        "kpis": _kpis(figures),
        "buckets": _buckets(figures),
        "revenue_vs_costs": _revenue_vs_costs(figures, buckets),
        "mrr_trend": _mrr_trend(figures, buckets),
        "top_users": _top_users(figures),
        "token_efficiency": [
            {
                "provider": r.provider,
                "model": r.model,
                "prompt_tokens": r.prompt_tokens,
                "completion_tokens": r.completion_tokens,
                "ratio": _text(r.ratio),
            }
            for r in figures.ratios
        ],  # fmt: skip
        "average_ratio": _average_ratio(figures),
        "error_rates": [
            {
                "provider": e.provider,
                "provider_name": provider_name(e.provider),
                "requests": e.requests,
                "successes": e.successes,
                "errors": e.errors,
                "error_percent": _text(e.error_percent),
            }
            for e in figures.error_rates
        ],  # fmt: skip
        "cost_breakdown": _breakdown(figures, buckets),
        "monthly_llm": _monthly_llm(figures),
        "unit_economics": _unit_economics(figures),
        "freshness": _freshness(figures),
        "notes": _notes(figures),
    }


def _money(value: Decimal | None, currency: str) -> str | None:
    return None if value is None else str(round_money(value, currency))


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _change(value: Decimal | None, previous: Decimal | None) -> str | None:
    if value is None or previous is None or previous == 0:
        return None
    return str(((value - previous) / abs(previous) * 100).quantize(Decimal("0.1")))


def _period(period: Period) -> dict:
    return {
        "key": period.key,
        "label": period.label,
        "start": period.start.isoformat(),
        "end": period.end.isoformat(),
        "compare": period.compare.key if period.compare else None,  # JSON: null, not "none"
        "compare_label": period.compare.label if period.compare else None,
        "previous_start": period.compare.start.isoformat() if period.compare else None,
        "previous_end": period.compare.end.isoformat() if period.compare else None,
        "days": period.days,
    }


def _kpis(figures: BusinessFigures) -> dict:
    now, before, currency = figures.now, figures.before, figures.currency
    kpis, values = {}, {}
    for key, label, hint, figure in KPIS:
        value, previous = figure(now), before and figure(before)
        values[key] = value
        kpis[key] = {
            "label": label,
            "value": _money(value, currency),
            "previous": _money(previous, currency),
            "change_percent": _change(value, previous),
            "hint": hint,
            "lower_is_better": key.endswith("_costs"),
            "incomplete": _incomplete(key, figures.incomplete),
        }
    for key in ("gross_margin", "net_margin"):
        value = values[key]
        kpis[key]["positive"] = None if value is None else value >= 0
        kpis[key]["percent"] = _margin_percent(value, now.revenue)
    return kpis


# Which figures each card adds up: a card is incomplete when any of them is.
KPI_FIGURES = {
    "revenue": ["revenue"],
    "llm_costs": ["llm"],
    "infrastructure_costs": ["infrastructure"],
    "payments_costs": ["payments"],
    "communications_costs": ["communications"],
    "other_costs": ["other"],
    "gross_margin": ["revenue", "llm", "infrastructure", "payments", "communications"],
    "net_margin": ["revenue", "llm", "infrastructure", "payments", "communications", "other"],
}


def _incomplete(key: str, reasons: dict[str, list[str]]) -> list[str]:
    """Why the card's figure is incomplete, each reason once."""
    return list(dict.fromkeys(r for figure in KPI_FIGURES[key] for r in reasons.get(figure, [])))


def _margin_percent(margin: Decimal | None, revenue: Decimal | None) -> str | None:
    """The margin as a percentage of revenue, to 0.1; None without revenue."""
    if margin is None or not revenue:
        return None
    return str((margin / revenue * 100).quantize(Decimal("0.1")))


def _buckets(figures: BusinessFigures) -> dict:
    """How the charts over time group the period's days, one entry per chart point."""
    buckets = figures.buckets
    return {
        "unit": buckets.unit,
        "description": buckets.description,
        "labels": [b.label(buckets.unit) for b in buckets.items],
        "starts": [b.start.isoformat() for b in buckets.items],
        "ends": [b.end.isoformat() for b in buckets.items],
        "days": [b.days for b in buckets.items],
        "partial": [_partial(b, buckets.unit) for b in buckets.items],
    }


def _partial(bucket: Bucket, unit: str) -> str | None:
    """Why a chart point holds less than its whole day, week or month; None when it is whole."""
    if not bucket.partial:
        return None
    whole = (bucket.full_end - bucket.full_start).days + 1
    running = "so far" if bucket.running else "in the period"
    if unit == "day":
        return "today, still coming in"
    return f"{bucket.days} of {whole} days {running}"


def _revenue_vs_costs(figures: BusinessFigures, buckets: list[BucketFigures]) -> dict:
    """Per bucket over the whole period: revenue accrued, effective costs, their difference."""
    currency = figures.currency
    return {
        "revenue": [_money(b.revenue, currency) for b in buckets],
        "costs": [_money(b.total_costs, currency) for b in buckets],
        "margin": [_money(b.margin, currency) for b in buckets],
    }


def _mrr_trend(figures: BusinessFigures, buckets: list[BucketFigures]) -> dict:
    """MRR in force at each bucket's end (today for the running one), and the MRR won and lost
    over its days."""
    currency = figures.currency
    return {
        "mrr": [_money(b.mrr, currency) for b in buckets],
        "new_mrr": [_money(b.new_mrr, currency) for b in buckets],
        "churned_mrr": [_money(b.churned_mrr, currency) for b in buckets],
    }


def _top_users(figures: BusinessFigures) -> list[dict]:
    """Each links to the user's page (reports.user_page) for the same period."""
    user_page, period = reverse("admin:user_usage"), period_query(figures.period)
    return [
        {
            "user_id": u.user_id,
            "label": u.email or u.user_id or "(no user)",
            "cost": _money(u.cost, LLM_CURRENCY),
            "requests": u.requests,
            "unpriced_requests": u.unpriced_requests,
            "url": f"{user_page}?{urlencode({'user_id': u.user_id})}&{period}",
        }
        for u in figures.top_users
    ]


def _average_ratio(figures: BusinessFigures) -> str | None:
    prompt = sum(r.prompt_tokens for r in figures.ratios)
    completion = sum(r.completion_tokens for r in figures.ratios)
    return str((Decimal(completion) / prompt).quantize(Decimal("0.0001"))) if prompt else None


def _breakdown(figures: BusinessFigures, buckets: list[BucketFigures]) -> dict:
    """The effective cost of each category per bucket: the categories of the KPI cards and of
    Costs by provider."""
    return {
        "series": [
            {
                "key": key,
                "label": label,
                "values": [_money(b.costs[key], figures.currency) for b in buckets],
            }
            for key, label in Category.choices
        ],
    }


def _monthly_llm(figures: BusinessFigures) -> dict:
    months = figures.llm_months
    return {
        "months": [m.label("month") for m in months],
        "partial": [_partial(m, "month") for m in months],
        "costs": [_money(v, figures.currency) for v in monthly_llm(figures)],
        "projection": _projection(figures),
    }


def _projection(figures: BusinessFigures) -> dict | None:
    value = llm_projection(figures)
    if value is None:
        return None
    month = figures.llm_months[-1].label("month")
    return {"month": month, "value": _money(value, figures.currency)}


def _unit_economics(figures: BusinessFigures) -> dict:
    usage, tags, currency = figures.usage, figures.tags, figures.currency
    users, cost, conversations = usage.active_users, usage.cost, tags.conversations
    subscriptions = figures.revenue.active_subscriptions(figures.period.end)
    revenue = figures.now.revenue
    return {
        "active_users": users,
        "llm_cost_attributed": _money(cost, LLM_CURRENCY),
        "cost_per_active_user": _money(cost / users, LLM_CURRENCY) if users else None,
        "conversations": conversations or None,
        "cost_per_conversation": _money(tags.conversation_cost / conversations, LLM_CURRENCY)
        if conversations
        else None,
        "by_tag": {
            key: [
                {"value": v.value, "cost": _money(v.cost, LLM_CURRENCY), "requests": v.requests}
                for v in values
            ]
            for key, values in tags.by_tag.items()
        },
        "active_subscriptions": subscriptions,
        "revenue_per_user": _money(revenue / subscriptions, currency)
        if revenue is not None and subscriptions
        else None,
    }


def _freshness(figures: BusinessFigures) -> dict:
    rates_url = reverse("admin:costledger_exchangerate_add")
    return {
        "collectors": collector_freshness(health=figures.collectors),
        "unpriced": {
            "models": figures.usage.unpriced_models,
            "requests": figures.usage.unpriced_requests,
            "url": reverse("admin:llm_unpriced"),
        },
        "missing_exchange_rates": [
            {
                "currency": m.currency,
                "first_day": m.first_day.isoformat(),
                "last_day": m.last_day.isoformat(),
                "add_url": f"{rates_url}?currency={m.currency}&day={m.first_day}",
            }
            for m in figures.missing_rates
        ],
    }


def _notes(figures: BusinessFigures) -> list[str]:
    notes = []
    if not figures.revenue.known:
        notes.append(
            "No Stripe key configured: revenue is unknown."
            if not settings.STRIPE_SECRET_KEY
            else "No MRR recorded yet: revenue is unknown until the Stripe collector runs."
        )
    if not figures.costs.any_recorded:
        notes.append("No costs recorded yet: run `manage.py sync_metrics` or enter invoices.")
    return notes

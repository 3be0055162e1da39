"""The Business summary: one selector builds every figure of the page, and the JSON endpoint
and the CSV downloads serialise the very same result, so they can never disagree.

Money figures are in the reporting currency. Revenue is accrued from MRR: each day earns that
day's MRR divided by the days of its month (a month of MRR over a month). Costs are the
ledger's effective costs (invoices over billed over computed over estimates). Per-user,
per-model and per-provider LLM figures come from the usage rollups (never raw events).
"""

import calendar
from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from urllib.parse import urlencode

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from collectors.selectors import collector_freshness
from costledger.days import add_months, days_between, month_start
from costledger.models import RevenueSnapshot
from costledger.money import round_money
from costledger.providers import Category, provider_name
from costledger.selectors import (
    MissingRate,
    _Rates,
    effective_cost_by_day,
)
from usage.selectors import (
    llm_cost_by_user,
    llm_error_rates,
    llm_page_scope,
    llm_tag_totals,
    llm_token_ratios,
    llm_usage_totals,
)

PRESETS = [
    ("7d", "7 days"),
    ("30d", "30 days"),
    ("this_month", "This month"),
    ("last_month", "Last month"),
    ("6m", "6 months"),
    ("12m", "12 months"),
]
BREAKDOWN = [
    ("llm", "LLM"),
    ("digitalocean", "DigitalOcean"),
    ("weaviate", "Weaviate"),
    ("supabase", "Supabase"),
    ("twilio", "Twilio"),
    ("payment_fees", "Payment fees"),
    ("other", "Other"),
]


@dataclass(frozen=True)
class Period:
    key: str
    label: str
    start: date
    end: date  # inclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def previous(self) -> "Period":
        """The period of the same length just before this one."""
        end = self.start - timedelta(days=1)
        return Period("previous", "Previous period", end - timedelta(days=self.days - 1), end)


def period_resolve(*, key: str | None = None, today: date | None = None) -> Period:
    """A preset period ending today (UTC). Unknown keys fall back to the last 30 days."""
    today = today or timezone.now().date()
    this_month = month_start(today)
    starts = {
        "7d": today - timedelta(days=6),
        "30d": today - timedelta(days=29),
        "this_month": this_month,
        "6m": add_months(this_month, -5),
        "12m": add_months(this_month, -11),
    }
    labels = dict(PRESETS)
    if key == "last_month":
        end = this_month - timedelta(days=1)
        return Period(key, "Last month", month_start(end), end)
    key = key if key in starts else "30d"
    return Period(key, labels[key], starts[key], today)


def _money(value: Decimal | None, currency: str) -> str | None:
    return None if value is None else str(round_money(value, currency))


def _change(value: Decimal | None, previous: Decimal | None) -> str | None:
    if value is None or previous is None or previous == 0:
        return None
    return str(((value - previous) / abs(previous) * 100).quantize(Decimal("0.1")))


class _Revenue:
    """Daily MRR in the reporting currency (each currency's latest snapshot on or before the
    day, converted at that day's rate) and the revenue each day accrues from it."""

    def __init__(self, *, start: date, end: date, reporting: str):
        self.points: dict[str, tuple[list[date], list[Decimal]]] = {}
        self.subscriptions: dict[date, int] = defaultdict(int)
        # Every snapshot up to `end`, in one query: the one in force on `start` may be older
        # than the range. (Daily rows per currency: a few thousand for years of history.)
        series: dict[str, list[tuple[date, Decimal]]] = defaultdict(list)
        for currency, day, mrr, active in (
            RevenueSnapshot.objects.filter(day__lte=end)
            .order_by("day")
            .values_list("currency", "day", "mrr", "active_subscriptions")
        ):
            series[currency].append((day, mrr))
            self.subscriptions[day] += active
        for currency, points in series.items():
            self.points[currency] = ([d for d, _ in points], [m for _, m in points])
        self.rates = _Rates(
            currencies=set(self.points), until=end + timedelta(days=1), reporting=reporting
        )
        self.missing: dict[str, list[date]] = defaultdict(list)

    @property
    def known(self) -> bool:
        return bool(self.points)

    def active_subscriptions(self, day: date) -> int | None:
        """Active subscriptions on the latest snapshot day on or before `day`."""
        days = sorted(d for d in self.subscriptions if d <= day)
        return self.subscriptions[days[-1]] if days else None

    def mrr(self, day: date) -> Decimal | None:
        if not self.known:
            return None
        total = Decimal(0)
        for currency, (days, values) in self.points.items():
            index = bisect_right(days, day)
            if not index:
                continue
            rate = self.rates.rate(currency, day)
            if rate is None:
                self.missing[currency].append(day)
                continue
            total += values[index - 1] * rate
        return total

    def missing_rates(self) -> list[MissingRate]:
        return [
            MissingRate(currency=c, first_day=min(days), last_day=max(days))
            for c, days in self.missing.items()
        ]

    def accrued(self, day: date) -> Decimal | None:
        mrr = self.mrr(day)
        return None if mrr is None else mrr / calendar.monthrange(day.year, day.month)[1]


def _kpi(label: str, value, previous, currency: str, hint: str) -> dict:
    return {
        "label": label,
        "value": _money(value, currency),
        "previous": _money(previous, currency),
        "change_percent": _change(value, previous),
        "hint": hint,
    }


def _sum(values) -> Decimal | None:
    values = list(values)
    return None if any(v is None for v in values) or not values else sum(values, Decimal(0))


def business_summary(*, period: Period) -> dict:
    """Every figure of the Business summary for `period`, JSON-ready (see the page)."""
    with llm_page_scope():
        return _business_summary(period)


def _business_summary(period: Period) -> dict:
    currency = settings.REPORTING_CURRENCY
    today = timezone.now().date()
    previous = period.previous
    six_months = add_months(month_start(period.end), -5)
    first = min(previous.start, six_months)
    costs = effective_cost_by_day(start=first, end=period.end + timedelta(days=1))
    total, llm, by_key = defaultdict(Decimal), defaultdict(Decimal), defaultdict(Decimal)
    for cost in costs.days:
        total[cost.day] += cost.amount
        for category, amount in cost.by_category.items():
            if category == Category.LLM:
                llm[cost.day] += amount
            by_key[(cost.day, _breakdown_key(cost.provider, category))] += amount
    revenue = _Revenue(start=first, end=period.end, reporting=currency)

    def figures(p: Period):
        days = days_between(p.start, p.end)
        earned = _sum(revenue.accrued(d) for d in days) if revenue.known else None
        spent_llm = sum((llm[d] for d in days), Decimal(0))
        spent = sum((total[d] for d in days), Decimal(0))
        margin = None if earned is None else earned - spent
        return earned, spent_llm, spent - spent_llm, margin

    now_figures, before_figures = figures(period), figures(previous)
    kpis = {
        key: _kpi(label, value, before, currency, hint)
        for (key, label, hint), value, before in zip(
            [
                ("revenue", "Revenue", "accrued from MRR (Stripe)"),
                ("llm_costs", "LLM costs", "effective cost of LLM providers"),
                ("infrastructure_costs", "Infrastructure costs", "every other provider"),
                ("net_margin", "Net margin", "revenue minus all effective costs"),
            ],
            now_figures,
            before_figures,
            strict=True,
        )
    }
    margin = now_figures[3]
    kpis["net_margin"]["positive"] = None if margin is None else margin >= 0

    chart_days = days_between(max(period.start, period.end - timedelta(days=29)), period.end)
    notes = []
    if not revenue.known:
        notes.append(
            "No Stripe key configured: revenue is unknown."
            if not settings.STRIPE_SECRET_KEY
            else "No MRR recorded yet: revenue is unknown until the Stripe collector runs."
        )
    if not costs.days:
        notes.append("No costs recorded yet: run `manage.py sync_metrics` or enter invoices.")
    week = days_between(period.end - timedelta(days=6), period.end)
    months = [add_months(six_months, i) for i in range(6)]
    monthly = [
        sum(
            (v for d, v in llm.items() if month_start(d) == m),
            Decimal(0),
        )
        for m in months
    ]
    users = llm_cost_by_user(start=period.start, end=period.end, limit=20)
    totals = llm_usage_totals(start=period.start, end=period.end)
    active_users, attributed = totals.active_users, totals.cost
    mrr_trend = {
        "months": [m.strftime("%Y-%m") for m in months],
        "mrr": [
            _money(revenue.mrr(min(add_months(m, 1) - timedelta(days=1), today)), currency)
            for m in months
        ],
    }
    revenue_vs_costs = {
        "days": [d.isoformat() for d in chart_days],
        "mrr": [_money(revenue.mrr(d), currency) for d in chart_days],
        "revenue": [_money(revenue.accrued(d), currency) for d in chart_days],
        "costs": [_money(total[d], currency) for d in chart_days],
        "margin": [
            None if revenue.accrued(d) is None else _money(revenue.accrued(d) - total[d], currency)
            for d in chart_days
        ],
    }
    missing = sorted(
        {*costs.missing_rates, *revenue.missing_rates()}, key=lambda m: (m.currency, m.first_day)
    )
    rates_url = reverse("admin:costledger_exchangerate_add")
    ratios = llm_token_ratios(start=period.start, end=period.end)
    prompt = sum(r.prompt_tokens for r in ratios)
    completion = sum(r.completion_tokens for r in ratios)
    active_subscriptions = revenue.active_subscriptions(period.end)
    tags = llm_tag_totals(start=period.start, end=period.end, keys=["agent", "feature"])
    by_tag = {
        key: [
            {"value": v.value, "cost": _money(v.cost, "USD"), "requests": v.requests}
            for v in values
        ]
        for key, values in tags.by_tag.items()
    }
    usage_url = reverse("admin:usage_llmusagedaily_changelist")
    return {
        "period": {
            "key": period.key,
            "label": period.label,
            "start": period.start.isoformat(),
            "end": period.end.isoformat(),
            "previous_start": previous.start.isoformat(),
            "previous_end": previous.end.isoformat(),
            "days": period.days,
        },
        "currency": currency,
        "kpis": kpis,
        "mrr_trend": mrr_trend,
        "revenue_vs_costs": revenue_vs_costs,
        "top_users": [
            {
                "user_id": u.user_id,
                "label": u.email or u.user_id or "(no user)",
                "cost": _money(u.cost, "USD"),
                "requests": u.requests,
                "unpriced_requests": u.unpriced_requests,
                "url": f"{usage_url}?{urlencode(_user_filter(u.user_id, period))}",
            }
            for u in users
        ],
        "token_efficiency": [
            {
                "provider": r.provider,
                "model": r.model,
                "prompt_tokens": r.prompt_tokens,
                "completion_tokens": r.completion_tokens,
                "ratio": None if r.ratio is None else str(r.ratio),
            }
            for r in ratios
        ],
        "average_ratio": str((Decimal(completion) / prompt).quantize(Decimal("0.0001")))
        if prompt
        else None,
        "error_rates": [
            {
                "provider": e.provider,
                "provider_name": provider_name(e.provider),
                "requests": e.requests,
                "successes": e.successes,
                "errors": e.errors,
                "error_percent": None if e.error_percent is None else str(e.error_percent),
            }
            for e in llm_error_rates(start=period.start, end=period.end)
        ],
        "infrastructure_breakdown": {
            "days": [d.isoformat() for d in week],
            "series": [
                {
                    "key": key,
                    "label": label,
                    "values": [_money(by_key[(d, key)], currency) for d in week],
                }
                for key, label in BREAKDOWN
            ],
        },
        "monthly_llm": {
            "months": [m.strftime("%Y-%m") for m in months],
            "costs": [_money(v, currency) for v in monthly],
            "projection": _projection(months[-1], llm, today, currency),
        },
        "unit_economics": {
            "active_users": active_users,
            "llm_cost_attributed": _money(attributed, "USD"),
            "cost_per_active_user": _money(attributed / active_users, "USD")
            if active_users
            else None,
            "conversations": tags.conversations or None,
            "cost_per_conversation": _money(tags.conversation_cost / tags.conversations, "USD")
            if tags.conversations
            else None,
            "by_tag": by_tag,
            "active_subscriptions": active_subscriptions,
            "revenue_per_user": _money(now_figures[0] / active_subscriptions, currency)
            if now_figures[0] is not None and active_subscriptions
            else None,
        },
        "freshness": {
            "collectors": collector_freshness(),
            "unpriced": {
                "models": totals.unpriced_models,
                "requests": totals.unpriced_requests,
                "url": reverse("admin:llm_unpriced"),
            },
            "missing_exchange_rates": [
                {
                    "currency": m.currency,
                    "first_day": m.first_day.isoformat(),
                    "last_day": m.last_day.isoformat(),
                    "add_url": f"{rates_url}?currency={m.currency}&day={m.first_day}",
                }
                for m in missing
            ],
        },
        "notes": notes,
    }


def _user_filter(user_id: str, period: Period) -> dict:
    return {"user_id": user_id, "day__gte": period.start, "day__lte": period.end}


def _breakdown_key(provider: str, category: str) -> str:
    if category == Category.LLM:
        return "llm"
    if category == Category.PAYMENTS:
        return "payment_fees"
    return provider if provider in {"digitalocean", "weaviate", "supabase", "twilio"} else "other"


def _projection(month: date, llm: dict, today: date, currency: str) -> dict | None:
    """This month's LLM cost run to the month's end at its month-to-date daily rate."""
    if month != month_start(today) or today.day < 2:
        return None
    elapsed = today.day  # today counts as a day run so far
    spent = sum((v for d, v in llm.items() if month_start(d) == month and d <= today), Decimal(0))
    days = calendar.monthrange(month.year, month.month)[1]
    return {"month": month.strftime("%Y-%m"), "value": _money(spent / elapsed * days, currency)}

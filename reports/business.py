"""The Business summary's figures: one selector reads everything the page shows for a period,
as numbers (`business_figures`); `reports.business_json` turns them into what the page, its JSON
endpoint and its CSV downloads serialise, so they can never disagree.

Money figures are in the reporting currency. Revenue is accrued from MRR: each day earns that
day's MRR divided by the days of its month (a month of MRR over a month). Costs are the
ledger's effective costs (invoices over billed over computed over estimates). Per-user,
per-model and per-provider LLM figures come from the usage sums (never raw events).
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from collectors.selectors import CollectorHealth, collector_health
from costledger.days import add_months, days_between, month_start
from costledger.providers import Category, provider_category
from costledger.selectors import MissingRate, effective_cost_by_day
from reports.completeness import incomplete_reasons
from reports.periods import Period
from reports.revenue import RevenueSeries
from usage.selectors import (
    LlmTagTotals,
    LlmUsageTotals,
    ModelTokenRatio,
    ProviderErrorRate,
    UserLlmCost,
    llm_cost_by_user,
    llm_error_rates,
    llm_page_scope,
    llm_tag_totals,
    llm_token_ratios,
    llm_usage_totals,
)

# The cost breakdown's series: the LLM providers together, the infrastructure providers one by
# one, payment fees, and the rest.
BREAKDOWN = [
    ("llm", "LLM"),
    ("digitalocean", "DigitalOcean"),
    ("weaviate", "Weaviate"),
    ("supabase", "Supabase"),
    ("twilio", "Twilio"),
    ("payment_fees", "Payment fees"),
    ("other", "Other"),
]
BREAKDOWN_PROVIDERS = {"digitalocean", "weaviate", "supabase", "twilio"}
TOP_USERS = 20


# What the gross margin takes off revenue: the cost of serving the product. "Other" costs (the
# rest of running the company) come off the net margin only.
COST_OF_SERVICE = (
    Category.LLM,
    Category.INFRASTRUCTURE,
    Category.PAYMENTS,
    Category.COMMUNICATIONS,
)


@dataclass(frozen=True)
class PeriodFigures:
    """The KPIs of a period: revenue, the effective cost of each category, the margins."""

    revenue: Decimal | None  # None: no MRR known
    costs: dict[str, Decimal]  # per category (Category values), every one present

    @property
    def total_costs(self) -> Decimal:
        return sum(self.costs.values(), Decimal(0))

    @property
    def gross_margin(self) -> Decimal | None:
        served = sum((self.costs[c] for c in COST_OF_SERVICE), Decimal(0))
        return None if self.revenue is None else self.revenue - served

    @property
    def net_margin(self) -> Decimal | None:
        return None if self.revenue is None else self.revenue - self.total_costs


@dataclass
class DailyCosts:
    """Effective costs per day: in all, of LLM providers, and per breakdown series."""

    total: dict[date, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    by_category: dict[tuple[date, str], Decimal] = field(
        default_factory=lambda: defaultdict(Decimal)
    )
    # (day, category) -> the currencies of costs left out for lack of an exchange rate
    unconverted: dict[tuple[date, str], set[str]] = field(default_factory=lambda: defaultdict(set))
    by_series: dict[tuple[date, str], Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    any_recorded: bool = False


@dataclass(frozen=True)
class BusinessFigures:
    period: Period
    currency: str
    today: date
    now: PeriodFigures
    before: PeriodFigures | None  # the period compared with, if any
    costs: DailyCosts
    revenue: RevenueSeries
    months: list[date]  # the six months of the monthly charts, oldest first
    month_end_mrr: list[Decimal | None]  # MRR at the end of each (today for this one)
    top_users: list[UserLlmCost]
    usage: LlmUsageTotals
    ratios: list[ModelTokenRatio]
    error_rates: list[ProviderErrorRate]
    tags: LlmTagTotals
    missing_rates: list[MissingRate]
    incomplete: dict[str, list[str]]  # "revenue" or a category -> why its figure is incomplete
    collectors: list[CollectorHealth]


def business_figures(*, period: Period) -> BusinessFigures:
    """Every figure of the Business summary for `period`."""
    with llm_page_scope():  # the LLM figures share their per-day lookups
        currency = settings.REPORTING_CURRENCY
        six_months = add_months(month_start(period.end), -5)
        compared = period.compare
        first = min(compared.start if compared else period.start, six_months)
        costs, missing_costs = _daily_costs(start=first, end=period.end)
        revenue = RevenueSeries(start=first, end=period.end, reporting=currency)
        now = _period_figures(period, costs, revenue)
        before = _period_figures(compared, costs, revenue) if compared else None
        months = [add_months(six_months, i) for i in range(6)]
        today = timezone.now().date()
        month_ends = [min(add_months(m, 1) - timedelta(days=1), today) for m in months]
        month_end_mrr = [revenue.mrr(end) for end in month_ends]  # before missing_rates()
        start, end = period.start, period.end
        usage = llm_usage_totals(start=start, end=end)
        health = collector_health(with_last_run=False)
        return BusinessFigures(
            period=period,
            currency=currency,
            today=today,
            now=now,
            before=before,
            costs=costs,
            revenue=revenue,
            months=months,
            month_end_mrr=month_end_mrr,
            top_users=llm_cost_by_user(start=start, end=end, limit=TOP_USERS),
            usage=usage,
            ratios=llm_token_ratios(start=start, end=end),
            error_rates=llm_error_rates(start=start, end=end),
            tags=llm_tag_totals(start=start, end=end, keys=["agent", "feature"]),
            missing_rates=sorted(
                {*missing_costs, *revenue.missing_rates()},
                key=lambda m: (m.currency, m.first_day),
            ),
            incomplete=incomplete_reasons(
                start=start,
                end=end,
                unconverted=costs.unconverted,
                revenue_missing=revenue.missing,
                unpriced_requests=usage.unpriced_requests,
                health=health,
            ),
            collectors=health,
        )


def _daily_costs(*, start: date, end: date) -> tuple[DailyCosts, list[MissingRate]]:
    costs = effective_cost_by_day(start=start, end=end + timedelta(days=1))
    daily = DailyCosts(any_recorded=bool(costs.days))
    for cost in costs.days:
        daily.total[cost.day] += cost.amount
        if cost.unconverted:
            daily.unconverted[(cost.day, provider_category(cost.provider))] |= set(cost.unconverted)
        for category, amount in cost.by_category.items():
            daily.by_category[(cost.day, category)] += amount
            daily.by_series[(cost.day, _series(cost.provider, category))] += amount
    return daily, costs.missing_rates


def _series(provider: str, category: str) -> str:
    """The breakdown series a provider's cost of a category is drawn in."""
    if category == Category.LLM:
        return "llm"
    if category == Category.PAYMENTS:
        return "payment_fees"
    return provider if provider in BREAKDOWN_PROVIDERS else "other"


def _period_figures(period: Period, costs: DailyCosts, revenue: RevenueSeries) -> PeriodFigures:
    days = days_between(period.start, period.end)
    earned = _sum(revenue.accrued(d) for d in days) if revenue.known else None
    spent = {
        category: sum((costs.by_category.get((d, category), Decimal(0)) for d in days), Decimal(0))
        for category in Category.values
    }
    return PeriodFigures(earned, spent)


def _sum(values) -> Decimal | None:
    """The sum, or None when there is nothing to add or any value is unknown."""
    values = list(values)
    return None if any(v is None for v in values) or not values else sum(values, Decimal(0))


def monthly_llm(figures: BusinessFigures) -> list[Decimal]:
    """The LLM cost of each of the six months."""
    by_month: dict[date, Decimal] = defaultdict(Decimal)
    for day, amount in _llm_by_day(figures):
        by_month[month_start(day)] += amount
    return [by_month[m] for m in figures.months]


def llm_projection(figures: BusinessFigures) -> Decimal | None:
    """This month's LLM cost run to the month's end at its month-to-date daily rate; None when
    the last month shown is not this one, or on its first day."""
    month, today = figures.months[-1], figures.today
    if month != month_start(today) or today.day < 2:
        return None
    spent = sum(
        (v for d, v in _llm_by_day(figures) if month_start(d) == month and d <= today),
        Decimal(0),
    )
    days_in_month = (add_months(month, 1) - month).days
    return spent / today.day * days_in_month  # today counts as a day run so far


def _llm_by_day(figures: BusinessFigures):
    """(day, LLM cost) of each day with a cost."""
    return (
        (day, amount)
        for (day, category), amount in figures.costs.by_category.items()
        if category == Category.LLM
    )

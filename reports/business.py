"""The Business summary's figures: one selector reads everything the page shows for a period,
as numbers (`business_figures`); `reports.business_json` turns them into what the page, its JSON
endpoint and its CSV downloads serialise, so they can never disagree.

Money figures are in the reporting currency. Revenue is accrued from MRR: each day earns that
day's MRR divided by the days of its month (a month of MRR over a month). Costs are the
ledger's effective costs (invoices over billed over computed over estimates). Per-user,
per-model and per-provider LLM figures come from the usage sums (never raw events).
"""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from collectors.selectors import CollectorHealth, collector_health
from costledger.days import add_months, days_between, month_start
from costledger.forecast import month_projection
from costledger.providers import Category
from costledger.selectors import CategoryCosts, MissingRate, effective_cost_by_category
from reports.buckets import Bucket, Buckets, buckets_for, months_for
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

TOP_USERS = 20
MONTHLY_AT_LEAST = 6  # months the monthly LLM chart shows, however short the period


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


@dataclass(frozen=True)
class BusinessFigures:
    period: Period
    currency: str
    today: date
    now: PeriodFigures
    before: PeriodFigures | None  # the period compared with, if any
    costs: CategoryCosts  # per day and category, over the period, its comparison and the months
    revenue: RevenueSeries
    buckets: Buckets  # how the charts over the period group its days
    llm_months: list[Bucket]  # the monthly LLM chart's months (the last clipped to the period)
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
        today = timezone.now().date()
        llm_months = _llm_months(period, today)
        compared = period.compare
        read = costs_read(period, today)
        costs = effective_cost_by_category(**read)
        revenue = RevenueSeries(start=read["start"], end=period.end, reporting=currency)
        now = _period_figures(period, costs, revenue)
        before = _period_figures(compared, costs, revenue) if compared else None
        buckets = buckets_for(start=period.start, end=period.end, today=today)
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
            buckets=buckets,
            llm_months=llm_months,
            top_users=llm_cost_by_user(start=start, end=end, limit=TOP_USERS),
            usage=usage,
            ratios=llm_token_ratios(start=start, end=end),
            error_rates=llm_error_rates(start=start, end=end),
            tags=llm_tag_totals(start=start, end=end, keys=["agent", "feature"]),
            missing_rates=sorted(
                {*costs.missing_rates, *revenue.missing_rates()},
                key=lambda m: (m.currency, m.first_day),
            ),
            incomplete=incomplete_reasons(
                start=start,
                end=end,
                unconverted=costs.unconverted,
                revenue_missing=revenue.missing,
                revenue_known_from=revenue.first_day,
                unpriced_requests=usage.unpriced_requests,
                health=health,
            ),
            collectors=health,
        )


def costs_read(period: Period, today: date) -> dict[str, date]:
    """The days whose effective costs the page reads ([start, end)): the period, the one it is
    compared with and the months of the monthly LLM chart."""
    compared = period.compare
    first = min(compared.start if compared else period.start, _llm_months(period, today)[0].start)
    return {"start": first, "end": period.end + timedelta(days=1)}


def _llm_months(period: Period, today: date) -> list[Bucket]:
    """The months of the period, at least the last six: whole calendar months, the last one
    ending with the period (partial when clipped or still running)."""
    at_least = add_months(month_start(period.end), 1 - MONTHLY_AT_LEAST)
    return months_for(start=min(month_start(period.start), at_least), end=period.end, today=today)


def _period_figures(period: Period, costs: CategoryCosts, revenue: RevenueSeries) -> PeriodFigures:
    days = days_between(period.start, period.end)
    return PeriodFigures(_accrued(revenue, days), _spent(costs, days))


def _accrued(revenue: RevenueSeries, days: list[date]) -> Decimal | None:
    """Revenue accrued over `days`; None when MRR is unknown on every one of them (days before
    the first snapshot are unknown, and the period's card says so)."""
    known = [a for a in (revenue.accrued(d) for d in days) if a is not None]
    return sum(known, Decimal(0)) if known else None


def _spent(costs: CategoryCosts, days: list[date]) -> dict[str, Decimal]:
    return {
        category: sum((costs.by_category.get((d, category), Decimal(0)) for d in days), Decimal(0))
        for category in Category.values
    }


@dataclass(frozen=True)
class BucketFigures:
    """A chart point: what a day, week or month of the period earned and cost."""

    bucket: Bucket
    revenue: Decimal | None  # accrued from MRR; None when MRR is unknown all along
    costs: dict[str, Decimal]  # per category, every one present
    mrr: Decimal | None  # in force on its last day (today for the running one)
    new_mrr: Decimal | None  # added over its days; None before the first snapshot
    churned_mrr: Decimal | None

    @property
    def total_costs(self) -> Decimal:
        return sum(self.costs.values(), Decimal(0))

    @property
    def margin(self) -> Decimal | None:
        return None if self.revenue is None else self.revenue - self.total_costs


def by_bucket(figures: BusinessFigures) -> list[BucketFigures]:
    """The period's figures per bucket (figures.buckets): what every chart over time draws."""
    result = []
    for bucket in figures.buckets.items:
        days = days_between(bucket.start, bucket.end)
        movements = [m for m in (figures.revenue.movement(d) for d in days) if m is not None]
        result.append(
            BucketFigures(
                bucket=bucket,
                revenue=_accrued(figures.revenue, days),
                costs=_spent(figures.costs, days),
                mrr=figures.revenue.mrr(min(bucket.end, figures.today)),
                new_mrr=sum((m[0] for m in movements), Decimal(0)) if movements else None,
                churned_mrr=sum((m[1] for m in movements), Decimal(0)) if movements else None,
            )
        )
    return result


def monthly_llm(figures: BusinessFigures) -> list[Decimal]:
    """The LLM cost of each month of the monthly chart (the last one up to the period's end)."""
    return [
        sum((_llm(figures, d) for d in days_between(m.start, m.end)), Decimal(0))
        for m in figures.llm_months
    ]


def llm_projection(figures: BusinessFigures) -> Decimal | None:
    """This month's LLM cost at its end (costledger.forecast: the month to yesterday plus the
    last 7 full days' run rate for each day left). None when the chart's last month is not the
    running one, or there is nothing to run."""
    if not figures.llm_months[-1].running:
        return None
    return month_projection(today=figures.today, cost_on=lambda day: _llm(figures, day))


def _llm(figures: BusinessFigures, day: date) -> Decimal:
    return figures.costs.by_category.get((day, Category.LLM), Decimal(0))

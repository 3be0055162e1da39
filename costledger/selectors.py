"""Reads of the ledger that pages, the API, invoices and alerts share.

Effective cost: for a provider and a day, the cost comes from the highest source present
(manual > api > usage > estimate); lower sources stay stored for reconciliation but are never
added on top. Adjustments (credit notes) are added to whichever source wins. Entries covering
several days are spread evenly over them (the pieces sum exactly to the entry), then converted
to the reporting currency with the rate in force on each day.
"""

from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from functools import lru_cache

from django.conf import settings
from django.db.models import Sum
from django.db.models.functions import TruncMonth

from costledger.days import add_months, month_start
from costledger.models import SOURCE_RANK, CostEntry, ExchangeRate, Source
from costledger.money import round_preserving_sum, split_evenly


@dataclass
class DailyProviderCost:
    """A provider's effective cost on one day, in the reporting currency.

    `amount` holds what could be converted; `unconverted` what could not (currency -> amount,
    for lack of an exchange rate). `complete` is False whenever something is unconverted.
    """

    day: date
    provider: str
    source: str
    amount: Decimal = Decimal(0)
    by_category: dict[str, Decimal] = field(default_factory=dict)
    unconverted: dict[str, Decimal] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return not self.unconverted


@dataclass(frozen=True)
class MissingRate:
    currency: str
    first_day: date
    last_day: date


@dataclass
class EffectiveCosts:
    start: date
    end: date  # exclusive
    currency: str
    days: list[DailyProviderCost]
    missing_rates: list[MissingRate]


class _Rates:
    """Exchange rates to the reporting currency, the latest on or before each day."""

    def __init__(self, *, currencies: set[str], until: date, reporting: str):
        self.reporting = reporting
        self._days: dict[str, list[date]] = defaultdict(list)
        self._rates: dict[str, list[Decimal]] = defaultdict(list)
        rows = ExchangeRate.objects.filter(currency__in=currencies - {reporting}, day__lt=until)
        for currency, day, rate in rows.order_by("currency", "day").values_list(
            "currency", "day", "rate"
        ):
            self._days[currency].append(day)
            self._rates[currency].append(rate)

    def rate(self, currency: str, day: date) -> Decimal | None:
        if currency == self.reporting:
            return Decimal(1)
        index = bisect_right(self._days.get(currency, []), day)
        return self._rates[currency][index - 1] if index else None


@lru_cache(maxsize=4096)
def _pieces(total: Decimal, currency: str, start: date, days: int) -> dict[date, Decimal]:
    amounts = split_evenly(total, currency, days)
    return {start + timedelta(days=i): amount for i, amount in enumerate(amounts)}


# Two feeds compute `usage` costs from the same traffic: the ingested events and the
# Prometheus metrics. Where both exist for a provider and day, the events win; they are never
# added together.
PROMETHEUS_FEED = f"{Source.USAGE}:prometheus"
FEED_RANK = {**SOURCE_RANK, PROMETHEUS_FEED: SOURCE_RANK[Source.USAGE] - Decimal("0.5")}


def _feed(group: dict) -> str:
    if group["source"] == Source.USAGE and group["reference"] == "prometheus":
        return PROMETHEUS_FEED
    return group["source"]


@dataclass(frozen=True)
class _Piece:
    category: str
    currency: str
    amount: Decimal  # in its own currency
    converted: Decimal | None  # in the reporting currency; None without a rate


def _converted(row: dict, rates: _Rates) -> dict[date, tuple[Decimal, Decimal | None]]:
    """The group's daily pieces over its whole period, each with its converted value.

    A multi-day charge in another currency is rounded to the reporting currency's minor unit
    as a whole (largest remainder), so its converted daily pieces add up to the converted total
    shown for the month, whatever window they are read through.
    """
    first, last = row["charge_period_start"], row["charge_period_end"]
    span = (last - first).days
    pieces = (
        {first: row["total"]} if span == 1 else _pieces(row["total"], row["currency"], first, span)
    )
    converted = {}
    for day, amount in pieces.items():
        rate = rates.rate(row["currency"], day)
        converted[day] = (amount, None if rate is None else amount * rate)
    if span > 1 and row["currency"] != rates.reporting:
        days = [day for day, (_, value) in converted.items() if value is not None]
        rounded = round_preserving_sum([converted[d][1] for d in days], rates.reporting)
        for day, value in zip(days, rounded, strict=True):
            converted[day] = (converted[day][0], value)
    return converted


def effective_cost_by_day(
    *,
    start: date,
    end: date,
    providers: list[str] | None = None,
    categories: list[str] | None = None,
) -> EffectiveCosts:
    """Effective cost per provider and day for the days in [start, end).

    `categories` keeps only those categories' part of each effective cost; which source wins
    is decided on the whole provider and day first, so a filter never changes the winner.
    Adjustments (credit notes) are added to whatever source wins.
    """
    reporting = settings.REPORTING_CURRENCY
    charges, adjustments = _pieces_by_day(start=start, end=end, providers=providers)
    missing: dict[str, list[date]] = defaultdict(list)
    days = []
    for provider, day in sorted(charges.keys() | adjustments.keys(), key=lambda k: (k[1], k[0])):
        sources = charges.get((provider, day), {})
        feed = max(sources, key=FEED_RANK.__getitem__) if sources else Source.MANUAL
        pieces = [*sources.get(feed, []), *adjustments.get((provider, day), [])]
        if categories:
            pieces = [p for p in pieces if p.category in categories]
            if not pieces:
                continue
        cost = DailyProviderCost(day=day, provider=provider, source=feed.partition(":")[0])
        for piece in pieces:
            if piece.converted is None:
                cost.unconverted[piece.currency] = (
                    cost.unconverted.get(piece.currency, Decimal(0)) + piece.amount
                )
                missing[piece.currency].append(day)
                continue
            cost.amount += piece.converted
            cost.by_category[piece.category] = (
                cost.by_category.get(piece.category, Decimal(0)) + piece.converted
            )
        days.append(cost)
    missing_rates = [
        MissingRate(currency=currency, first_day=min(ds), last_day=max(ds))
        for currency, ds in sorted(missing.items())
    ]
    return EffectiveCosts(
        start=start, end=end, currency=reporting, days=days, missing_rates=missing_rates
    )


def _pieces_by_day(*, start: date, end: date, providers: list[str] | None):
    """The cost entries charged in [start, end) as pieces per (provider, day), converted to the
    reporting currency: the charges per feed, and the adjustments apart."""
    entries = CostEntry.objects.filter(charge_period_start__lt=end, charge_period_end__gt=start)
    if providers:
        entries = entries.filter(provider__in=providers)
    groups = list(
        entries.values(
            "provider", "source", "reference", "adjustment", "category", "currency",
            "charge_period_start", "charge_period_end",
        )
        .annotate(total=Sum("billed_cost"))
        .order_by()
    )  # fmt: skip
    rates = _Rates(
        currencies={g["currency"] for g in groups},
        until=max((g["charge_period_end"] for g in groups), default=end),
        reporting=settings.REPORTING_CURRENCY,
    )
    charges: dict[tuple[str, date], dict[str, list[_Piece]]] = defaultdict(
        lambda: defaultdict(list)
    )
    adjustments: dict[tuple[str, date], list[_Piece]] = defaultdict(list)
    for group in groups:
        for day, (amount, converted) in _converted(group, rates).items():
            if not start <= day < end:
                continue
            piece = _Piece(group["category"], group["currency"], amount, converted)
            key = (group["provider"], day)
            if group["adjustment"]:
                adjustments[key].append(piece)
            else:
                charges[key][_feed(group)].append(piece)
    return charges, adjustments


@dataclass
class MonthCell:
    """A provider's effective cost over one month, and which sources it came from."""

    amount: Decimal = Decimal(0)
    sources: set[str] = field(default_factory=set)
    unconverted: dict[str, Decimal] = field(default_factory=dict)
    by_category: dict[str, Decimal] = field(default_factory=dict)

    def add(self, cost: DailyProviderCost) -> None:
        self.amount += cost.amount
        self.sources.add(cost.source)
        for currency, amount in cost.unconverted.items():
            self.unconverted[currency] = self.unconverted.get(currency, Decimal(0)) + amount
        for category, amount in cost.by_category.items():
            self.by_category[category] = self.by_category.get(category, Decimal(0)) + amount

    @property
    def complete(self) -> bool:
        return not self.unconverted


@dataclass
class MonthlyCosts:
    months: list[date]  # first day of each month, oldest first
    currency: str
    by_provider: dict[str, dict[date, MonthCell]]
    totals: dict[date, MonthCell]
    missing_rates: list[MissingRate]

    def by_category(self) -> dict[str, dict[date, Decimal]]:
        result: dict[str, dict[date, Decimal]] = defaultdict(dict)
        for month, cell in self.totals.items():
            for category, amount in cell.by_category.items():
                result[category][month] = amount
        return dict(result)


def effective_cost_by_month(
    *, last_month: date, months: int = 6, providers: list[str] | None = None
) -> MonthlyCosts:
    """Effective cost per provider for `months` whole months ending with `last_month`."""
    first = add_months(month_start(last_month), -(months - 1))
    last = add_months(month_start(last_month), 1) - timedelta(days=1)
    return effective_cost_by_months(start=first, end=last, providers=providers)


def effective_cost_by_months(
    *, start: date, end: date, providers: list[str] | None = None
) -> MonthlyCosts:
    """Effective cost per provider and calendar month over the days [start, end] (end
    included): the first and last months count only their days within the range, so a month's
    figure equals what any other report shows for the same days."""
    month_list, month = [], month_start(start)
    while month <= end:
        month_list.append(month)
        month = add_months(month, 1)
    daily = effective_cost_by_day(start=start, end=end + timedelta(days=1), providers=providers)
    by_provider: dict[str, dict[date, MonthCell]] = defaultdict(dict)
    totals = {month: MonthCell() for month in month_list}
    for cost in daily.days:
        month = month_start(cost.day)
        by_provider[cost.provider].setdefault(month, MonthCell()).add(cost)
        totals[month].add(cost)
    return MonthlyCosts(
        months=month_list,
        currency=daily.currency,
        by_provider=dict(sorted(by_provider.items())),
        totals=totals,
        missing_rates=daily.missing_rates,
    )


@dataclass
class Reconciliation:
    provider: str
    month: date
    computed: Decimal | None  # usage x price book (`usage` entries)
    billed: Decimal | None  # what the provider billed (`api` entries)

    @property
    def difference(self) -> Decimal | None:
        if self.computed is None or self.billed is None:
            return None
        return self.computed - self.billed

    @property
    def difference_percent(self) -> Decimal | None:
        if self.difference is None or not self.billed:
            return None
        return self.difference / self.billed * 100


def llm_reconciliation(
    *,
    last_month: date | None = None,
    months: int = 6,
    start: date | None = None,
    end: date | None = None,
) -> list[Reconciliation]:
    """Per LLM provider and month: computed cost beside billed cost, in USD, over the `months`
    months up to `last_month`, or over the days [start, end] (a month at either end counting
    only its days in the range).

    Computed comes from the ingested events where there are any that month, else from the
    Prometheus feed: both describe the same traffic and are never added together.
    """
    if start is None or end is None:
        start = add_months(month_start(last_month), -(months - 1))
        end = add_months(month_start(last_month), 1) - timedelta(days=1)
    rows = (
        CostEntry.objects.filter(
            category="llm",
            source__in=[Source.USAGE, Source.API],
            charge_period_start__gte=start,
            charge_period_start__lte=end,
        )
        .annotate(month=TruncMonth("charge_period_start"))
        .values("provider", "month", "source", "reference")
        .annotate(total=Sum("billed_cost"))
        .order_by()
    )
    figures: dict[tuple[str, date], dict[str, Decimal]] = defaultdict(dict)
    for row in rows:
        month = row["month"].date() if hasattr(row["month"], "date") else row["month"]
        kind = "billed" if row["source"] == Source.API else f"usage:{row['reference']}"
        cell = figures[(row["provider"], month)]
        cell[kind] = cell.get(kind, Decimal(0)) + row["total"]
    result = []
    for (provider, month), cell in sorted(figures.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        computed = cell.get("usage:events", cell.get("usage:prometheus"))
        if computed is None:
            computed = next((v for k, v in cell.items() if k.startswith("usage:")), None)
        result.append(Reconciliation(provider, month, computed, cell.get("billed")))
    return result

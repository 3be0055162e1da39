"""Reads of the ledger that pages, the API, invoices and alerts share.

Effective cost: for a provider and a day, the cost comes from the highest source present
(manual > api > usage > estimate); lower sources stay stored for reconciliation but are never
added on top. Adjustments (credit notes) are added to whichever source wins. Entries covering
several days are spread evenly over them (the pieces sum exactly to the entry), then converted
to the reporting currency with the rate in force on each day.
"""

import re
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from functools import lru_cache

from django.conf import settings
from django.db import connection
from django.db.models import Sum
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import TruncMonth

from costledger.days import add_months, month_start
from costledger.models import (
    SOURCE_RANK,
    CostEntry,
    CustomerMrr,
    CustomerRevenue,
    ExchangeRate,
    RevenueSnapshot,
    Source,
)
from costledger.money import round_preserving_sum, split_evenly
from costledger.providers import provider_category


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


def exchange_rate_on(*, currency: str, day: date) -> Decimal | None:
    """How much of the reporting currency one unit of `currency` is worth on `day`: the latest
    stored rate on or before it; None when there is none (never taken as 1)."""
    if currency == settings.REPORTING_CURRENCY:
        return Decimal(1)
    return (
        ExchangeRate.objects.filter(currency=currency, day__lte=day)
        .order_by("-day")
        .values_list("rate", flat=True)
        .first()
    )


# The apps above the core keep amounts of their own (usage's costs, billing's customers and
# invoices, budgets). Each adds, from its AppConfig.ready(), a function naming the currencies
# it holds, so that the core answers which currencies need a rate while importing no app.
CURRENCY_HOLDERS: list[Callable[[], Iterable[str]]] = []


def currency_holder_add(holder: Callable[[], Iterable[str]]) -> None:
    if holder not in CURRENCY_HOLDERS:
        CURRENCY_HOLDERS.append(holder)


def currencies_held() -> set[str]:
    """Every currency an amount is kept in: the ledger's rows and what the apps hold."""
    held: set[str] = set()
    for model in (CostEntry, RevenueSnapshot, CustomerRevenue, CustomerMrr):
        # order_by(): a model's default ordering would otherwise join the DISTINCT.
        held.update(model.objects.order_by().values_list("currency", flat=True).distinct())
    for holder in CURRENCY_HOLDERS:
        held.update(holder())
    return held


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
    group: int  # which charge group (`_charge_groups`) it was cut from


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
    groups = _charge_groups(start=start, end=end, providers=providers)
    return _effective_days(start=start, end=end, groups=groups, categories=categories)


def _effective_days(
    *, start: date, end: date, groups: list[dict], categories: list[str] | None = None
) -> EffectiveCosts:
    """`effective_cost_by_day` of the charge groups (`_charge_groups`) given."""
    reporting = settings.REPORTING_CURRENCY
    charges, adjustments = _pieces_by_day(start=start, end=end, groups=groups)
    missing: dict[str, list[date]] = defaultdict(list)
    days = []
    for provider, day in sorted(charges.keys() | adjustments.keys(), key=lambda k: (k[1], k[0])):
        sources = charges.get((provider, day), {})
        feed = _winning_feed(sources)
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
    return EffectiveCosts(
        start=start, end=end, currency=reporting, days=days, missing_rates=_missing_rates(missing)
    )


def _missing_rates(missing: dict[str, list[date]]) -> list[MissingRate]:
    return [
        MissingRate(currency=currency, first_day=min(days), last_day=max(days))
        for currency, days in sorted(missing.items())
    ]


def _winning_feed(sources: dict[str, list[_Piece]]) -> str:
    """The feed that counts for a provider and day: the highest present. A day with only
    adjustments (a credit note alone) is told as manual."""
    return max(sources, key=FEED_RANK.__getitem__) if sources else Source.MANUAL


# What tells charges apart for the effective cost: entries differing only by service (the models
# of a day's API bill) are summed and spread as one, so the daily pieces are rounded once.
_GROUP_KEY = (
    "provider", "source", "reference", "adjustment", "category", "currency",
    "charge_period_start", "charge_period_end",
)  # fmt: skip


def _entries_charged(*, start: date, end: date, providers: list[str] | None):
    entries = CostEntry.objects.filter(charge_period_start__lt=end, charge_period_end__gt=start)
    return entries.filter(provider__in=providers) if providers else entries


def _charge_groups(*, start: date, end: date, providers: list[str] | None) -> list[dict]:
    """The entries charged in [start, end), summed by `_GROUP_KEY` in the database."""
    entries = _entries_charged(start=start, end=end, providers=providers)
    return list(entries.values(*_GROUP_KEY).annotate(total=Sum("billed_cost")).order_by())


def _charge_groups_of(entries: list[dict]) -> list[dict]:
    """The same groups as `_charge_groups`, summed here from the entries themselves, each with
    the list of its entries (to tell which rows a piece came from)."""
    groups: dict[tuple, dict] = {}
    for entry in entries:
        key = tuple(entry[name] for name in _GROUP_KEY)
        if key not in groups:
            groups[key] = {**dict(zip(_GROUP_KEY, key, strict=True)), "total": Decimal(0)}
            groups[key]["entries"] = []
        groups[key]["total"] += entry["billed_cost"]
        groups[key]["entries"].append(entry)
    return list(groups.values())


def _pieces_by_day(*, start: date, end: date, groups: list[dict]):
    """The groups' pieces per (provider, day) in [start, end), converted to the reporting
    currency: the charges per feed, and the adjustments apart. Each piece knows its group by
    its index in `groups`."""
    rates = _Rates(
        currencies={g["currency"] for g in groups},
        until=max((g["charge_period_end"] for g in groups), default=end),
        reporting=settings.REPORTING_CURRENCY,
    )
    charges: dict[tuple[str, date], dict[str, list[_Piece]]] = defaultdict(
        lambda: defaultdict(list)
    )
    adjustments: dict[tuple[str, date], list[_Piece]] = defaultdict(list)
    for index, group in enumerate(groups):
        for day, (amount, converted) in _converted(group, rates).items():
            if not start <= day < end:
                continue
            piece = _Piece(group["category"], group["currency"], amount, converted, index)
            key = (group["provider"], day)
            if group["adjustment"]:
                adjustments[key].append(piece)
            else:
                charges[key][_feed(group)].append(piece)
    return charges, adjustments


@dataclass
class CategoryCosts:
    """The effective cost of all providers together per day and category over [start, end):
    what a page that adds providers up reads (the Business summary)."""

    start: date
    end: date  # exclusive
    currency: str
    by_category: dict[tuple[date, str], Decimal]  # (day, category) -> in the reporting currency
    # (day, the provider's category) -> the currencies of costs left out for lack of a rate
    unconverted: dict[tuple[date, str], set[str]]
    missing_rates: list[MissingRate]
    any_recorded: bool  # any charge or adjustment in the range, even of 0


# On PostgreSQL, in one statement: the providers with a charge in the range over more than one
# day (an invoice or estimate spread over a month) or in another currency ("spread"), and their
# charge groups, as `_charge_groups` has them; the other providers' charges are each one day in
# the reporting currency, so each charge is its own piece: per provider and day the highest
# feed counts (FEED_RANK: Prometheus usage just under the events' usage) with every adjustment,
# summed per day and category (rows without a provider).
_FEED_RANK_SQL = " ".join(
    [
        "CASE WHEN source = %(usage)s AND reference = 'prometheus' THEN %(prometheus)s",
        *(f"WHEN source = '{source.value}' THEN {rank}" for source, rank in SOURCE_RANK.items()),
        "END",
    ]
)
_CHARGED = f"""
SELECT {", ".join(_GROUP_KEY)}, billed_cost FROM {CostEntry._meta.db_table}
WHERE charge_period_start < %(end)s AND charge_period_end > %(start)s"""  # noqa: S608 (constant)
_BY_CATEGORY = f"""
WITH charged AS MATERIALIZED ({_CHARGED}
), spread AS (
    SELECT DISTINCT provider FROM charged
    WHERE charge_period_end <> charge_period_start + 1 OR currency <> %(reporting)s
), ranked AS (
    SELECT charge_period_start AS day, category, adjustment, billed_cost, rank,
        max(rank) FILTER (WHERE NOT adjustment)
            OVER (PARTITION BY provider, charge_period_start) AS top
    FROM (
        SELECT *, {_FEED_RANK_SQL} AS rank FROM charged
        WHERE provider NOT IN (SELECT provider FROM spread)
    ) AS entry
)
SELECT NULL, NULL, NULL, NULL, category, NULL, day, NULL, sum(billed_cost)
FROM ranked WHERE adjustment OR rank = top
GROUP BY day, category
UNION ALL
SELECT {", ".join(_GROUP_KEY)}, sum(billed_cost) FROM charged
WHERE provider IN (SELECT provider FROM spread)
GROUP BY {", ".join(_GROUP_KEY)}"""  # noqa: S608 (constant)


def effective_cost_by_category(*, start: date, end: date) -> CategoryCosts:
    """`effective_cost_by_day` over [start, end) added up per day and category, over every
    provider: the same figures, read faster over long ranges. On PostgreSQL a provider whose
    charges in the range are each one day in the reporting currency (daily bills and computed
    usage: most of the ledger) is added up in the database, where the feed that counts on each
    day is picked by the same ranks; the other providers' charges are cut into daily pieces
    here, as `effective_cost_by_day` does. Two years of ledger at 10 million events:
    docs/benchmarks.md."""
    reporting = settings.REPORTING_CURRENCY
    by_category: dict[tuple[date, str], Decimal] = defaultdict(Decimal)
    unconverted: dict[tuple[date, str], set[str]] = defaultdict(set)
    recorded = False
    if connection.vendor == "postgresql":
        groups = []
        with connection.cursor() as cursor:
            cursor.execute(
                _BY_CATEGORY,
                {
                    "start": start,
                    "end": end,
                    "reporting": reporting,
                    "usage": Source.USAGE.value,
                    "prometheus": FEED_RANK[PROMETHEUS_FEED],
                },
            )
            for row in cursor.fetchall():
                if row[0] is None:  # a day and category of the one-day providers
                    by_category[(row[6], row[4])] += row[8]
                    recorded = True
                else:
                    groups.append({**dict(zip(_GROUP_KEY, row, strict=False)), "total": row[8]})
    else:
        groups = _charge_groups(start=start, end=end, providers=None)
    rest = _effective_days(start=start, end=end, groups=groups)
    for cost in rest.days:
        recorded = True
        if cost.unconverted:
            unconverted[(cost.day, provider_category(cost.provider))] |= set(cost.unconverted)
        for category, amount in cost.by_category.items():
            by_category[(cost.day, category)] += amount
    return CategoryCosts(
        start=start,
        end=end,
        currency=reporting,
        by_category=dict(by_category),
        unconverted=dict(unconverted),
        missing_rates=rest.missing_rates,
        any_recorded=recorded,
    )


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


# The model a billed line item is for: its `model` tag (Anthropic's cost report), else the name
# before a comma (OpenAI's "gpt-4o-2024-08-06, input"), else the whole name (OpenRouter's
# "openai/gpt-4o"). A dated snapshot is the same model as its undated name.
_SNAPSHOT_SUFFIX = re.compile(r"-(\d{4}-\d{2}-\d{2}|\d{8})$")


def _billed_model(service: str, model_tag: str | None) -> str:
    return (model_tag or service.partition(",")[0]).strip() or service


def _model_key(model: str) -> str:
    return _SNAPSHOT_SUFFIX.sub("", model.strip().lower())


@dataclass
class Reconciliation:
    """An LLM provider's month: the cost computed from usage beside what the provider billed.

    How much of the bill the usage data covers, two ways:
    - `coverage_percent`: computed / billed x 100 (100: usage explains the whole bill in money;
      above 100: usage computed more than was billed);
    - `billed_with_usage_percent`: the part of the bill for models usage was computed for that
      month, / billed x 100; `models_without_usage` names the billed models with none (their
      usage is not reported to costledger, or they are not token usage: a tool, storage).
    """

    provider: str
    month: date
    computed: Decimal | None  # usage x price book (`usage` entries); None: no usage recorded
    billed: Decimal | None  # what the provider billed (`api` entries); None: no bill recorded
    billed_by_model: dict[str, Decimal] = field(default_factory=dict)  # adds up to `billed`
    usage_models: frozenset[str] = frozenset()  # `_model_key` of each model with usage

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

    def beyond(self, tolerance_percent: Decimal) -> bool:
        """Whether computed and billed differ by more than `tolerance_percent` of the bill:
        |computed - billed| > billed x tolerance / 100, a month without usage counting as 0
        computed. Without a bill there is nothing to reconcile with."""
        if self.billed is None:
            return False
        gap = abs((self.computed or Decimal(0)) - self.billed)
        return gap * 100 > abs(self.billed) * tolerance_percent

    @property
    def coverage_percent(self) -> Decimal | None:
        if not self.billed:
            return None
        return (self.computed or Decimal(0)) / self.billed * 100

    def has_usage(self, model: str) -> bool:
        return _model_key(model) in self.usage_models

    @property
    def billed_with_usage(self) -> Decimal | None:
        if self.billed is None:
            return None
        amounts = (a for model, a in self.billed_by_model.items() if self.has_usage(model))
        return sum(amounts, Decimal(0))

    @property
    def billed_with_usage_percent(self) -> Decimal | None:
        if not self.billed:
            return None
        return self.billed_with_usage / self.billed * 100

    @property
    def models_without_usage(self) -> list[str]:
        """The billed models no usage was computed for, the dearest first."""
        by_amount = sorted(self.billed_by_model.items(), key=lambda kv: (-kv[1], kv[0]))
        return [model for model, _ in by_amount if not self.has_usage(model)]


@dataclass(frozen=True)
class ReconciliationTotal:
    """The months with a bill, added up: what usage computed against what was billed. What
    usage computed for months without a bill is told apart (there is nothing to compare it
    with)."""

    computed: Decimal  # of the months with a bill (no usage: 0)
    billed: Decimal
    billed_with_usage: Decimal
    computed_without_bill: Decimal

    @property
    def difference(self) -> Decimal:
        return self.computed - self.billed

    @property
    def coverage_percent(self) -> Decimal | None:
        return self.computed / self.billed * 100 if self.billed else None

    @property
    def billed_with_usage_percent(self) -> Decimal | None:
        return self.billed_with_usage / self.billed * 100 if self.billed else None


def llm_reconciliation_total(*, rows: list[Reconciliation]) -> ReconciliationTotal:
    billed = [r for r in rows if r.billed is not None]
    return ReconciliationTotal(
        computed=sum((r.computed or Decimal(0) for r in billed), Decimal(0)),
        billed=sum((r.billed for r in billed), Decimal(0)),
        billed_with_usage=sum((r.billed_with_usage for r in billed), Decimal(0)),
        computed_without_bill=sum(
            (r.computed for r in rows if r.billed is None and r.computed is not None), Decimal(0)
        ),
    )


def llm_reconciliation(
    *,
    last_month: date | None = None,
    months: int = 6,
    start: date | None = None,
    end: date | None = None,
) -> list[Reconciliation]:
    """Per LLM provider and month: computed cost beside billed cost, in USD, over the `months`
    months up to `last_month`, or over the days [start, end] (a month at either end counting
    only its days in the range), with the bill per model and the models usage covers.

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
        .annotate(
            month=TruncMonth("charge_period_start"), model_tag=KeyTextTransform("model", "tags")
        )
        .values("provider", "month", "source", "reference", "service", "model_tag")
        .annotate(total=Sum("billed_cost"))
        .order_by()
    )
    figures: dict[tuple[str, date], dict[str, Decimal]] = defaultdict(dict)
    billed_models: dict[tuple[str, date], dict[str, Decimal]] = defaultdict(dict)
    usage_models: dict[tuple[str, date, str], set[str]] = defaultdict(set)
    for row in rows:
        month = row["month"].date() if hasattr(row["month"], "date") else row["month"]
        kind = "billed" if row["source"] == Source.API else f"usage:{row['reference']}"
        key = (row["provider"], month)
        cell = figures[key]
        cell[kind] = cell.get(kind, Decimal(0)) + row["total"]
        if kind == "billed":
            model = _billed_model(row["service"], row["model_tag"])
            billed_models[key][model] = billed_models[key].get(model, Decimal(0)) + row["total"]
        else:
            usage_models[(*key, kind)].add(_model_key(row["service"]))
    result = []
    for (provider, month), cell in sorted(figures.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        feed = next((k for k in ("usage:events", "usage:prometheus") if k in cell), None)
        feed = feed or next((k for k in cell if k.startswith("usage:")), None)
        result.append(
            Reconciliation(
                provider,
                month,
                cell.get(feed) if feed else None,
                cell.get("billed"),
                billed_models.get((provider, month), {}),
                frozenset(usage_models.get((provider, month, feed), set())),
            )
        )
    return result


# --- Which rows make a figure ------------------------------------------------------------------
#
# The same pieces as the effective cost, told per cost entry: on each day a piece either counts
# (its feed won, or it is an adjustment) or is superseded by the feed that won. A group of
# entries (`_GROUP_KEY`) is cut into pieces as one; its figure for a run of days is shared out
# to its entries in proportion to their billed cost, so that the entries' figures add up to the
# group's, hence to the effective cost, exactly.

LEDGER_QUANTUM = Decimal("1E-10")  # the ledger's money columns hold 10 decimal places
_ENTRY_FIELDS = (
    "id", *_GROUP_KEY, "service", "billed_cost", "quantity", "unit", "tags",
)  # fmt: skip


@dataclass(frozen=True)
class EntryPart:
    """A run of days of one cost entry told the same way: counted, or superseded by the same
    feed; every day of it with an exchange rate, or every day without."""

    entry_id: int
    first_day: date
    last_day: date  # included
    amount: Decimal  # the entry's share of those days, in its own currency
    converted: Decimal | None  # in the reporting currency; None for lack of a rate
    superseded_by: str | None = None  # the feed that counts instead; None when this counts
    superseded_by_entries: tuple[int, ...] = ()  # the rows of that feed on those days

    @property
    def counts(self) -> bool:
        return self.superseded_by is None

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1


@dataclass
class ExplainedEntry:
    """A cost entry and how much of it counts in a range."""

    entry: dict  # the CostEntry's fields (`_ENTRY_FIELDS`)
    parts: list[EntryPart]

    @property
    def counting(self) -> list[EntryPart]:
        return [part for part in self.parts if part.counts]

    @property
    def superseded(self) -> list[EntryPart]:
        return [part for part in self.parts if not part.counts]

    @property
    def counted(self) -> Decimal:
        """What it adds to the effective cost, in the reporting currency."""
        return sum((p.converted for p in self.counting if p.converted is not None), Decimal(0))

    @property
    def counted_billed(self) -> Decimal:
        """The same in its own currency, converted or not."""
        return sum((part.amount for part in self.counting), Decimal(0))

    @property
    def unconverted(self) -> Decimal:
        """What counts but could not be converted (no rate), in its own currency."""
        return sum((p.amount for p in self.counting if p.converted is None), Decimal(0))

    @property
    def status(self) -> str:
        if not self.superseded:
            return "counts"
        return "partly" if self.counting else "superseded"


@dataclass
class CellExplanation:
    """The cost entries that make a provider's effective cost over [start, end)."""

    provider: str
    start: date
    end: date  # exclusive
    currency: str
    entries: list[ExplainedEntry]
    missing_rates: list[MissingRate]

    @property
    def total(self) -> Decimal:
        """Equal to the effective cost of the same provider and days, to the last digit."""
        return sum((explained.counted for explained in self.entries), Decimal(0))

    @property
    def unconverted(self) -> dict[str, Decimal]:
        result: dict[str, Decimal] = {}
        for explained in self.entries:
            if explained.unconverted:
                currency = explained.entry["currency"]
                result[currency] = result.get(currency, Decimal(0)) + explained.unconverted
        return result


_STATUS_ORDER = {"counts": 0, "partly": 1, "superseded": 2}


def cost_entries_explained(*, provider: str, start: date, end: date) -> CellExplanation:
    """Every cost entry of `provider` charged in [start, end) (end exclusive), with the part of
    it that counts (converted), the days it counts and the days it is superseded and by which
    rows. The counted parts add up to `effective_cost_by_day` for the same days exactly."""
    entries, parts, missing = _entry_parts(start=start, end=end, providers=[provider])
    parts_of: dict[int, list[EntryPart]] = defaultdict(list)
    for part in parts:
        parts_of[part.entry_id].append(part)
    explained = [ExplainedEntry(entry, parts_of[entry["id"]]) for entry in entries]
    explained.sort(
        key=lambda e: (
            _STATUS_ORDER[e.status],
            -FEED_RANK[_feed(e.entry)],
            e.entry["charge_period_start"],
            e.entry["service"],
            e.entry["id"],
        )
    )
    return CellExplanation(
        provider=provider,
        start=start,
        end=end,
        currency=settings.REPORTING_CURRENCY,
        entries=explained,
        missing_rates=missing,
    )


@dataclass
class CountedLedger:
    """What counts of the ledger over [start, end), one part per entry and calendar month."""

    start: date
    end: date  # exclusive
    currency: str  # the reporting currency
    entries: dict[int, dict]  # by id: the CostEntry's fields (`_ENTRY_FIELDS`)
    parts: list[EntryPart]  # the counting parts only
    missing_rates: list[MissingRate]


def cost_ledger_counted(
    *, start: date, end: date, providers: list[str] | None = None
) -> CountedLedger:
    """The cost entries' parts that count over [start, end) (end exclusive), cut at month ends:
    superseded days are left out, so the converted parts of a provider add up to its effective
    cost, and an entry's parts in its own currency to what of it counts."""
    entries, parts, missing = _entry_parts(start=start, end=end, providers=providers, by_month=True)
    return CountedLedger(
        start=start,
        end=end,
        currency=settings.REPORTING_CURRENCY,
        entries={entry["id"]: entry for entry in entries},
        parts=sorted(
            (part for part in parts if part.counts),
            key=lambda p: (p.first_day, p.entry_id),
        ),
        missing_rates=missing,
    )


def _entry_parts(
    *, start: date, end: date, providers: list[str] | None, by_month: bool = False
) -> tuple[list[dict], list[EntryPart], list[MissingRate]]:
    entries = list(
        _entries_charged(start=start, end=end, providers=providers)
        .order_by("charge_period_start", "provider", "service", "id")
        .values(*_ENTRY_FIELDS)
    )
    groups = _charge_groups_of(entries)
    charges, adjustments = _pieces_by_day(start=start, end=end, groups=groups)
    told: dict[int, list[tuple[date, _Piece, str | None, tuple[int, ...]]]] = defaultdict(list)
    missing: dict[str, list[date]] = defaultdict(list)
    for key in charges.keys() | adjustments.keys():
        day, sources = key[1], charges.get(key, {})
        feed = _winning_feed(sources)
        for piece in [*sources.get(feed, []), *adjustments.get(key, [])]:
            told[piece.group].append((day, piece, None, ()))
            if piece.converted is None:
                missing[piece.currency].append(day)
        winners = tuple(e["id"] for p in sources.get(feed, []) for e in groups[p.group]["entries"])
        for other, pieces in sources.items():
            if other == feed:
                continue
            for piece in pieces:
                told[piece.group].append((day, piece, feed, winners))
    parts = [
        part
        for index, days in told.items()
        for run in _runs(days, by_month=by_month)
        for part in _shared_out(groups[index]["entries"], run)
    ]
    return entries, parts, _missing_rates(missing)


def _runs(days: list, *, by_month: bool) -> list[dict]:
    """A group's days cut into runs of consecutive days told the same way (and, `by_month`,
    within one calendar month)."""
    runs: list[dict] = []
    for day, piece, superseded_by, winners in sorted(days, key=lambda told: told[0]):
        run = runs[-1] if runs else None
        if (
            run is None
            or day != run["last_day"] + timedelta(days=1)
            or superseded_by != run["superseded_by"]
            or (piece.converted is None) != (run["converted"] is None)
            or (by_month and day.month != run["last_day"].month)
        ):
            run = {"first_day": day, "amount": Decimal(0), "superseded_by": superseded_by}
            run |= {"converted": None if piece.converted is None else Decimal(0), "by": set()}
            runs.append(run)
        run["last_day"] = day
        run["amount"] += piece.amount
        if piece.converted is not None:
            run["converted"] += piece.converted
        run["by"].update(winners)
    return runs


def _shared_out(entries: list[dict], run: dict) -> list[EntryPart]:
    """A group's run shared out to its entries in proportion to their billed cost."""
    weights = [entry["billed_cost"] for entry in entries]
    amounts = _shares(run["amount"], weights)
    converted = (
        [None] * len(entries) if run["converted"] is None else _shares(run["converted"], weights)
    )
    return [
        EntryPart(
            entry_id=entry["id"],
            first_day=run["first_day"],
            last_day=run["last_day"],
            amount=amount,
            converted=value,
            superseded_by=run["superseded_by"],
            superseded_by_entries=tuple(sorted(run["by"])),
        )
        for entry, amount, value in zip(entries, amounts, converted, strict=True)
    ]


def _shares(total: Decimal, weights: list[Decimal]) -> list[Decimal]:
    """`total` shared in proportion to `weights` to the ledger's 10 decimal places, the last
    share taking what rounding left, so that the shares add up to `total` exactly."""
    whole = sum(weights, Decimal(0))
    if len(weights) == 1 or not whole:
        return [Decimal(0)] * (len(weights) - 1) + [total]
    shares = [(total * weight / whole).quantize(LEDGER_QUANTUM) for weight in weights[:-1]]
    return [*shares, total - sum(shares, Decimal(0))]

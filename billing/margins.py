"""Margin per customer: what each customer brought in beside what it cost, per calendar month.

- Revenue: the customer's finalized invoices for the month, net of VAT and of the credit notes
  against them (`taxable_base`), plus what Stripe collected from its Stripe customer id
  (costledger.CustomerRevenue: paid invoices net of tax and refunds, by the day paid). A range
  that covers part of a month takes that part of the month's invoices, by days.
- LLM cost: exact, from the usage sums of the customer's usage users (the same days and feeds as
  every usage figure: usage.effective).
- Allocated cost: the month's shared costs (infrastructure, communications, payments: the
  ledger's effective cost, as the Business summary has it) shared out by
  settings.COST_ALLOCATION_RULE (share of LLM cost, share of requests, or evenly per active
  customer), in minor units by largest remainder so the shares add up to the shared cost to the
  cent. Each month's allocation is stored (CostAllocation) with its rule, basis and ratios, and
  recomputed only when what it comes from changed.

Usage of users no customer holds, and Stripe revenue of customers not linked to one, are the
"unassigned" row: shown, allocated like a customer under the usage rules, never dropped.
Everything is in the reporting currency; an amount with no exchange rate on its day is left out
and the figure it belongs to is marked incomplete (never taken at 1).
"""

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from functools import cached_property

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from billing.models import (
    AllocationRule,
    CostAllocation,
    CostAllocationShare,
    Customer,
    CustomerUser,
    DocumentKind,
    Invoice,
    InvoiceStatus,
)
from costledger.days import add_months, month_start
from costledger.models import CustomerRevenue
from costledger.money import allocate_by_weights, round_money
from costledger.providers import Category
from costledger.selectors import effective_cost_by_category, exchange_rate_on
from usage.effective import LLM_CURRENCY, day_sources, effective_rows_on, usd_cost
from usage.models import LlmUsageDaily

SHARED_CATEGORIES = (Category.INFRASTRUCTURE, Category.COMMUNICATIONS, Category.PAYMENTS)
RATIO_QUANTUM = Decimal("1e-20")
UNASSIGNED = None  # the key of the unassigned row


def month_pieces(start: date, end: date) -> list[tuple[date, date]]:
    """[start, end] (end included) cut at month boundaries: each piece within one month."""
    pieces, first = [], start
    while first <= end:
        last = min(add_months(month_start(first), 1) - timedelta(days=1), end)
        pieces.append((first, last))
        first = last + timedelta(days=1)
    return pieces


# --- What each customer used, earned ----------------------------------------------------------


@dataclass
class Party:
    """One customer's (or the unassigned usage's) figures over a piece or a range, in the
    reporting currency."""

    invoiced: Decimal = Decimal(0)
    stripe: Decimal = Decimal(0)
    llm_cost: Decimal = Decimal(0)
    requests: int = 0
    unpriced_requests: int = 0
    allocated: Decimal = Decimal(0)
    missing_rates: set[str] = field(default_factory=set)

    @property
    def revenue(self) -> Decimal:
        return self.invoiced + self.stripe

    @property
    def cost(self) -> Decimal:
        return self.llm_cost + self.allocated

    @property
    def margin(self) -> Decimal:
        return self.revenue - self.cost

    @property
    def margin_percent(self) -> Decimal | None:
        """Margin over revenue, in percent; None without revenue (no percentage of nothing)."""
        return self.margin * 100 / self.revenue if self.revenue > 0 else None

    @property
    def active(self) -> bool:
        return bool(self.requests or self.invoiced or self.stripe)

    def add(self, other: "Party") -> None:
        self.invoiced += other.invoiced
        self.stripe += other.stripe
        self.llm_cost += other.llm_cost
        self.requests += other.requests
        self.unpriced_requests += other.unpriced_requests
        self.allocated += other.allocated
        self.missing_rates |= other.missing_rates


class _Lookups:
    """What one computation reads once for all its months: exchange rates to the reporting
    currency (per currency and day), the customer holding each usage user, and the customer
    each Stripe customer id links to."""

    def __init__(self):
        self.reporting = settings.REPORTING_CURRENCY
        self._rates: dict[tuple[str, date], Decimal | None] = {}

    def convert(self, amount: Decimal, currency: str, day: date) -> Decimal | None:
        if currency == self.reporting:
            return amount
        key = (currency, day)
        if key not in self._rates:
            self._rates[key] = exchange_rate_on(currency=currency, day=day)
        rate = self._rates[key]
        return None if rate is None else amount * rate

    @cached_property
    def owners(self) -> dict[str, int]:
        return dict(CustomerUser.objects.values_list("user_id", "customer_id"))

    @cached_property
    def linked(self) -> dict[str, int]:
        return dict(
            Customer.objects.exclude(stripe_customer_id="").values_list("stripe_customer_id", "id")
        )


def _parties_of_piece(start: date, end: date, rates: _Lookups) -> dict[int | None, Party]:
    parties: dict[int | None, Party] = defaultdict(Party)
    _add_usage(parties, start, end, rates)
    _add_invoiced(parties, start, end, rates)
    _add_stripe(parties, start, end, rates)
    return parties


def _add_usage(parties: dict, start: date, end: date, rates: _Lookups) -> None:
    """Every user's usage over the piece, added to the customer holding the user (else to the
    unassigned row). Grouped per user (and per day when LLM costs need converting)."""
    sources = day_sources(start=start, end=end)
    per_day = rates.reporting != LLM_CURRENCY
    keys = ("user_id", "day") if per_day else ("user_id",)
    rows = (
        effective_rows_on(LlmUsageDaily, sources)
        .values(*keys)
        .annotate(n=Sum("requests"), unpriced=Sum("unpriced_requests"), usd=usd_cost(LlmUsageDaily))
        .order_by()
    )
    for row in rows:
        party = parties[rates.owners.get(row["user_id"], UNASSIGNED)]
        party.requests += row["n"]
        party.unpriced_requests += row["unpriced"]
        if row["usd"] is None:
            continue
        cost = rates.convert(row["usd"], LLM_CURRENCY, row["day"] if per_day else end)
        if cost is None:
            party.missing_rates.add(LLM_CURRENCY)
        else:
            party.llm_cost += cost


def _add_invoiced(parties: dict, start: date, end: date, rates: _Lookups) -> None:
    """The finalized invoices of the piece's month net of VAT, less the credit notes against
    them; a piece of a month takes its share of the month by days. Converted at the rate of
    its month's last day, whatever part of the month is asked (so the parts of a month add up
    to the month)."""
    month = month_start(start)
    next_month = add_months(month, 1)
    converted_on = next_month - timedelta(days=1)
    share = Fraction((end - start).days + 1, (next_month - month).days)
    finalized = Invoice.objects.filter(status=InvoiceStatus.FINALIZED)
    invoices = finalized.filter(
        kind=DocumentKind.INVOICE, period_start__gte=month, period_start__lt=next_month
    ).values_list("customer_id", "currency", "taxable_base")
    credits = finalized.filter(
        kind=DocumentKind.CREDIT_NOTE,
        credited_invoice__period_start__gte=month,
        credited_invoice__period_start__lt=next_month,
    ).values_list("customer_id", "currency", "taxable_base")
    for sign, rows in ((1, invoices), (-1, credits)):
        for customer_id, currency, base in rows:
            part = base * share.numerator / share.denominator
            amount = rates.convert(sign * part, currency, converted_on)
            if amount is None:
                parties[customer_id].missing_rates.add(currency)
            else:
                parties[customer_id].invoiced += amount


def _add_stripe(parties: dict, start: date, end: date, rates: _Lookups) -> None:
    """What Stripe collected per customer and day; a Stripe customer no billing customer is
    linked to counts in the unassigned row."""
    rows = (
        CustomerRevenue.objects.filter(provider="stripe", day__gte=start, day__lte=end)
        .values("customer_ref", "currency", "day")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    for row in rows:
        party = parties[rates.linked.get(row["customer_ref"], UNASSIGNED)]
        amount = rates.convert(row["total"], row["currency"], row["day"])
        if amount is None:
            party.missing_rates.add(row["currency"])
        else:
            party.stripe += amount


# --- The allocation ---------------------------------------------------------------------------


@dataclass
class SharedCosts:
    by_category: dict[str, Decimal]
    unconverted: set[str]

    @property
    def total(self) -> Decimal:
        return sum(self.by_category.values(), Decimal(0))


def shared_costs(start: date, end: date) -> SharedCosts:
    costs = effective_cost_by_category(start=start, end=end + timedelta(days=1))
    by_category = {category.value: Decimal(0) for category in SHARED_CATEGORIES}
    for (_, category), amount in costs.by_category.items():
        if category in by_category:
            by_category[category] += amount
    unconverted = set()
    for (_, category), currencies in costs.unconverted.items():
        if category in by_category:
            unconverted |= currencies
    return SharedCosts(by_category=by_category, unconverted=unconverted)


def _bases(rule: str, parties: dict[int | None, Party]) -> tuple[str, dict[int | None, Decimal]]:
    """The rule applied and each party's basis (parties with none left out). Under the usage
    rules every party with usage counts, unassigned included; evenly, each active customer.
    When nobody has any of the rule's basis the month is shared evenly, and with no active
    customer at all it stays with the unassigned row (never lost)."""
    if rule == AllocationRule.LLM_COST:
        bases = {key: p.llm_cost for key, p in parties.items() if p.llm_cost > 0}
    elif rule == AllocationRule.REQUESTS:
        bases = {key: Decimal(p.requests) for key, p in parties.items() if p.requests > 0}
    else:
        bases = {}
    if bases:
        return rule, bases
    active = {key: Decimal(1) for key, p in parties.items() if key is not None and p.active}
    return AllocationRule.EVEN, active or {UNASSIGNED: Decimal(1)}


def _fingerprint(rule: str, shared: SharedCosts, bases: dict) -> str:
    text = repr(
        (
            rule,
            settings.REPORTING_CURRENCY,
            sorted((k, str(v)) for k, v in shared.by_category.items()),
            sorted((str(k), str(v)) for k, v in bases.items()),
        )
    )
    return hashlib.sha256(text.encode()).hexdigest()


def kept(start: date, end: date) -> bool:
    """Whether the allocation of [start, end] is stored: a whole calendar month that has
    started. A part of a month, or a month to come, is computed for the page asking and not
    kept (any range would otherwise add rows)."""
    whole = start == month_start(start) and end == add_months(start, 1) - timedelta(days=1)
    return whole and start <= timezone.now().date()


def cost_allocation_refresh(
    *, start: date, end: date, parties: dict[int | None, Party], shared: SharedCosts
) -> tuple[CostAllocation, list[CostAllocationShare]]:
    """The allocation of the piece [start, end] and its shares. A whole month's is stored, and
    recomputed and rewritten when the shared costs, the rule or any basis changed since; else
    left as it is."""
    rule = settings.COST_ALLOCATION_RULE
    applied, bases = _bases(rule, parties)
    fingerprint = _fingerprint(rule, shared, bases)
    # A month with nothing to share is not kept either: a long range over empty months would
    # otherwise store a row for each.
    keep = kept(start, end) and bool(shared.total)
    stored = CostAllocation.objects.filter(start=start, end=end).first() if keep else None
    if stored and stored.fingerprint == fingerprint:
        return stored, list(stored.shares.all())
    allocation, shares = _allocation(start, end, rule, applied, bases, shared, fingerprint)
    if not keep:
        return allocation, shares
    try:
        with transaction.atomic():
            fields = {f.name: getattr(allocation, f.name) for f in ALLOCATION_FIELDS}
            allocation, _ = CostAllocation.objects.update_or_create(
                start=start, end=end, defaults=fields
            )
            allocation.shares.all().delete()
            for share in shares:
                share.allocation = allocation
            CostAllocationShare.objects.bulk_create(shares)
    except IntegrityError:
        # Another request stored the same month at the same moment: theirs is as good.
        allocation = CostAllocation.objects.get(start=start, end=end)
        return allocation, list(allocation.shares.all())
    return allocation, shares


ALLOCATION_FIELDS = [
    f for f in CostAllocation._meta.concrete_fields if f.name not in ("id", "start", "end")
]


def _allocation(
    start: date, end: date, rule: str, applied: str, bases: dict, shared: SharedCosts,
    fingerprint: str,
) -> tuple[CostAllocation, list[CostAllocationShare]]:  # fmt: skip
    """The allocation, not saved: the shared cost in minor units by largest remainder."""
    currency = settings.REPORTING_CURRENCY
    keys = sorted(bases, key=lambda k: (k is None, k or 0))
    total = sum(bases.values(), Decimal(0))
    amounts = allocate_by_weights(shared.total, currency, [bases[k] for k in keys])
    notes = []
    if applied != rule:
        notes.append(
            f"Nobody had {AllocationRule(rule).label.removeprefix('By share of ')} in this "
            "period: shared evenly per active customer."
        )
    if shared.unconverted:
        notes.append(
            "Costs in " + ", ".join(sorted(shared.unconverted)) + " have no exchange rate and "
            "are left out of the shared cost."
        )
    allocation = CostAllocation(
        start=start,
        end=end,
        rule=rule,
        applied_rule=applied,
        currency=currency,
        shared_cost=round_money(shared.total, currency),
        shared_by_category={k: f"{v.normalize():f}" for k, v in shared.by_category.items()},
        basis_total=total,
        note=" ".join(notes),
        fingerprint=fingerprint,
        computed_at=timezone.now(),
    )
    shares = [
        CostAllocationShare(
            customer_id=key,
            basis=bases[key],
            ratio=(bases[key] / total).quantize(RATIO_QUANTUM),
            amount=amount,
        )
        for key, amount in zip(keys, amounts, strict=True)
    ]
    # Largest first, as they are read back once stored (CostAllocationShare's ordering).
    shares.sort(key=lambda share: -share.amount)
    return allocation, shares


# --- The report -------------------------------------------------------------------------------


@dataclass
class PieceMargins:
    start: date
    end: date
    allocation: CostAllocation
    shares: list[CostAllocationShare]
    parties: dict[int | None, Party]


@dataclass
class CustomerMargins:
    start: date
    end: date
    currency: str
    rule: str
    pieces: list[PieceMargins]
    customers: dict[int, Customer]
    parties: dict[int | None, Party]  # over the whole range
    shared_by_category: dict[str, Decimal]
    shared_unconverted: set[str]

    @property
    def unassigned(self) -> Party:
        return self.parties.get(UNASSIGNED) or Party()

    def rows(self, *, highest_first: bool = False) -> list[tuple[Customer, Party]]:
        """The customers with any figure in the range, lowest margin first (or highest);
        the unassigned row is apart."""
        rows = [(self.customers[key], p) for key, p in self.parties.items() if key is not None]
        rows.sort(key=lambda row: (row[1].margin, row[0].name, row[0].pk), reverse=highest_first)
        return rows

    @property
    def total(self) -> Party:
        total = Party()
        for party in self.parties.values():
            total.add(party)
        return total

    @property
    def shared_cost(self) -> Decimal:
        return sum((piece.allocation.shared_cost for piece in self.pieces), Decimal(0))


def customer_margins(*, start: date, end: date) -> CustomerMargins:
    """Revenue, LLM cost, allocated cost and margin per customer over [start, end] (end
    included): each month (or part of one) on its own, then added up."""
    rates = _Lookups()
    pieces, parties = [], defaultdict(Party)
    shared_by_category: dict[str, Decimal] = defaultdict(Decimal)
    unconverted: set[str] = set()
    for first, last in month_pieces(start, end):
        piece = _parties_of_piece(first, last, rates)
        shared = shared_costs(first, last)
        allocation, shares = cost_allocation_refresh(
            start=first, end=last, parties=piece, shared=shared
        )
        for share in shares:
            piece[share.customer_id].allocated += share.amount
        for key, party in piece.items():
            parties[key].add(party)
        for category, amount in shared.by_category.items():
            shared_by_category[category] += amount
        unconverted |= shared.unconverted
        pieces.append(PieceMargins(first, last, allocation, shares, dict(piece)))
    ids = [key for key in parties if key is not None]
    customers = Customer.objects.in_bulk(ids)
    return CustomerMargins(
        start=start,
        end=end,
        currency=settings.REPORTING_CURRENCY,
        rule=settings.COST_ALLOCATION_RULE,
        pieces=pieces,
        customers=customers,
        parties=dict(parties),
        shared_by_category=dict(shared_by_category),
        shared_unconverted=unconverted,
    )


@dataclass(frozen=True)
class MonthMargin:
    month: date
    party: Party
    allocation: CostAllocation
    share: CostAllocationShare | None


def customer_margin_trend(*, customer: Customer, months: int = 12) -> list[MonthMargin]:
    """The customer's figures for each of the last `months` calendar months (this one so
    far included), oldest first, with the allocation share behind each month's cost."""
    today = timezone.now().date()
    first = add_months(month_start(today), -(months - 1))
    margins = customer_margins(start=first, end=today)
    trend = []
    for piece in margins.pieces:
        share = next((s for s in piece.shares if s.customer_id == customer.pk), None)
        trend.append(
            MonthMargin(
                month=piece.start,
                party=piece.parties.get(customer.pk) or Party(),
                allocation=piece.allocation,
                share=share,
            )
        )
    return trend

"""A customer's invoice for a calendar month (UTC), computed from their plan and the usage of
their users. The order is the contract (docs/DESIGN.md, "Customer billing"):

1. one line for the fixed fee and one per charge, the quantity from the usage sums of the
   customer's users over the month, the amount = the charge model applied, rounded HALF_UP to
   the currency's minor unit per line;
2. the discounts on the sum of the lines, one after the other, each on what the previous ones
   left and rounded to the minor unit; then the SLA credit on the discounted sum; then the
   minimum-commitment true-up, which brings what is left up to the commitment;
3. the VAT on the resulting taxable base, per rate, rounded once per rate; total = base + VAT.

Everything is Decimal. Nothing here writes: billing.issuing stores the result as a draft. A
billing run computes thousands of customers from one `BillingContext` (their plans, discounts,
uptimes, tax rates and usage, each loaded in one query).
"""

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, localcontext

from django.conf import settings
from django.db.models import Prefetch
from django.utils import timezone

from billing.charges import Charged, ChargeModel, Unit, charge_amount, in_units, tiers_parse
from billing.models import (
    METRIC_COUNTED,
    Customer,
    DiscountKind,
    LineKind,
    Metric,
    Plan,
    PlanCharge,
    SlaUptime,
    TaxRate,
    period_of,
    plain_rate,
)
from billing.taxes import tax_decision
from costledger.money import round_money
from costledger.selectors import exchange_rate_on
from usage.user_usage import UsageCounts, llm_usage_of_users

HUNDRED = Decimal(100)
# Wide enough for any quantity times any price a plan may hold, before the one rounding.
PRECISION = 60
UNIT_NAMES = {
    Unit.ONE: "",
    Unit.THOUSAND: "1K ",
    Unit.MILLION: "1M ",
}
METRIC_NOUNS = {
    Metric.INPUT_TOKENS: "tokens",
    Metric.OUTPUT_TOKENS: "tokens",
    Metric.CACHE_READ_TOKENS: "tokens",
    Metric.CACHE_WRITE_TOKENS: "tokens",
    Metric.REASONING_TOKENS: "tokens",
    Metric.REQUESTS: "requests",
    Metric.IMAGES: "images",
}


class InvoiceNotComputable(Exception):
    """What keeps a customer's invoice from being computed, said so that an admin can fix it."""


@dataclass(frozen=True)
class Line:
    kind: str
    description: str
    amount: Decimal  # rounded to the minor unit; negative for discounts and credits
    quantity: Decimal | None = None
    unit: str = ""
    unit_price: Decimal | None = None
    detail: dict = field(default_factory=dict)


@dataclass(frozen=True)
class TaxLine:
    name: str
    rate: Decimal  # a fraction: 0.2
    base: Decimal
    amount: Decimal


@dataclass(frozen=True)
class ComputedInvoice:
    customer_id: int
    period_start: date
    period_end: date
    currency: str
    customer_name: str
    customer_email: str
    customer_address: str
    customer_country: str
    customer_vat_number: str
    lines: list[Line]  # the fee and the usage charges, then discounts, SLA credit, true-up
    subtotal: Decimal
    discount_total: Decimal
    sla_credit: Decimal
    minimum_true_up: Decimal
    taxable_base: Decimal
    taxes: list[TaxLine]
    tax_total: Decimal
    total: Decimal
    tax_rule: str
    tax_mention: str
    warnings: list[str]
    billed_anything: bool  # a fee, a commitment or some usage: else there is nothing to invoice

    @property
    def fingerprint(self) -> str:
        """What the invoice says, hashed: a draft whose fingerprint is unchanged is left as is.
        (Built field by field: dataclasses.asdict deep-copies, ten times slower on a run.)"""
        said = [
            [getattr(self, name) for name in ("customer_id", *STORED_FIELDS)],
            [[line.kind, line.description, line.amount, line.quantity, line.unit,
              line.unit_price, line.detail] for line in self.lines],
            [[tax.name, tax.rate, tax.base, tax.amount] for tax in self.taxes],
        ]  # fmt: skip
        return hashlib.sha256(json.dumps(said, default=str, sort_keys=True).encode()).hexdigest()


# What an invoice row keeps of a computed invoice (its lines and taxes apart).
STORED_FIELDS = (
    "period_start", "period_end", "currency", "customer_name", "customer_email",
    "customer_address", "customer_country", "customer_vat_number", "subtotal", "discount_total",
    "sla_credit", "minimum_true_up", "taxable_base", "tax_total", "total", "tax_rule",
    "tax_mention", "warnings",
)  # fmt: skip


@dataclass
class BillingContext:
    """What a month's invoices are computed from, loaded once for any number of customers."""

    month: date
    customers: list[Customer]
    usage: dict[int, list[tuple[str, str, UsageCounts]]]  # customer id: (provider, model, counts)
    uptimes: dict[int | None, SlaUptime]  # customer id (None: all customers): the month's uptime
    tax_rates: dict[str, TaxRate]
    rates: dict[tuple[str, date], Decimal | None] = field(default_factory=dict)

    @property
    def period(self) -> tuple[date, date]:
        return period_of(self.month)

    def rate(self, currency: str, day: date) -> Decimal | None:
        """The stored exchange rate of `currency` on `day` (costledger), asked once per run."""
        if (currency, day) not in self.rates:
            self.rates[currency, day] = exchange_rate_on(currency=currency, day=day)
        return self.rates[currency, day]


def billing_context(*, month: date, customer_ids: list[int] | None = None) -> BillingContext:
    """Customers (all, or `customer_ids`) with their plan, charges, SLA tiers, discounts and
    users, and everything their invoices for `month` read."""
    start, end = period_of(month)
    customers = Customer.objects.prefetch_related("users", "discounts")
    if customer_ids is not None:
        customers = customers.filter(pk__in=customer_ids)
    customers = list(customers.order_by("name", "pk"))
    # A handful of plans for thousands of customers: each loaded once, with its charges and
    # tiers, and shared.
    plans = Plan.objects.filter(pk__in={c.plan_id for c in customers}).prefetch_related(
        "sla_tiers", Prefetch("charges", queryset=PlanCharge.objects.order_by("position", "id"))
    )
    plans = {plan.pk: plan for plan in plans}
    for customer in customers:
        customer.plan = plans.get(customer.plan_id)
    owner = {user.user_id: c.pk for c in customers for user in c.users.all()}
    usage: dict[int, list] = defaultdict(list)
    for (user_id, provider, model), counts in llm_usage_of_users(
        user_ids=list(owner), start=start, end=end
    ).items():
        usage[owner[user_id]].append((provider, model, counts))
    uptimes = {u.customer_id: u for u in SlaUptime.objects.filter(month=start)}
    return BillingContext(
        month=start,
        customers=customers,
        usage=usage,
        uptimes=uptimes,
        tax_rates={rate.country: rate for rate in TaxRate.objects.all()},
    )


def invoice_compute(*, customer: Customer, context: BillingContext) -> ComputedInvoice:
    """`customer`'s invoice for the context's month; InvoiceNotComputable says what is missing."""
    plan = customer.plan
    if plan is None:
        raise InvoiceNotComputable(f"{customer} has no plan: choose one on the customer.")
    if plan.currency != customer.currency:
        raise InvoiceNotComputable(
            f"{customer} is invoiced in {customer.currency} but its plan {plan} is priced in "
            f"{plan.currency}: give the customer a plan in its currency."
        )
    currency = customer.currency
    start, end = context.period
    with localcontext(prec=PRECISION):
        lines, warnings, used = _charge_lines(customer, context)
        if end >= timezone.now().date():
            warnings.insert(0, f"{start:%B %Y} is not over: the usage is counted until now.")
        subtotal = sum((line.amount for line in lines), Decimal(0))
        discounts = _discount_lines(customer, start, subtotal)
        discount_total = -sum((line.amount for line in discounts), Decimal(0))
        discounted = subtotal - discount_total
        sla = _sla_line(customer, context, discounted)
        sla_credit = -sla.amount if sla else Decimal(0)
        true_up = _true_up_line(plan, currency, discounted - sla_credit)
        minimum_true_up = true_up.amount if true_up else Decimal(0)
        base = discounted - sla_credit + minimum_true_up
        decision = _tax(customer, context)
        tax = TaxLine(
            name=_tax_name(decision, context),
            rate=decision.rate,
            base=base,
            amount=round_money(base * decision.rate, currency),
        )
    adjustments = [*discounts, *([sla] if sla else []), *([true_up] if true_up else [])]
    return ComputedInvoice(
        customer_id=customer.pk,
        period_start=start,
        period_end=end,
        currency=currency,
        customer_name=customer.name,
        customer_email=customer.email,
        customer_address=customer.billing_address,
        customer_country=customer.country,
        customer_vat_number=customer.vat_number,
        lines=[*lines, *adjustments],
        subtotal=subtotal,
        discount_total=discount_total,
        sla_credit=sla_credit,
        minimum_true_up=minimum_true_up,
        taxable_base=base,
        taxes=[tax],
        tax_total=tax.amount,
        total=base + tax.amount,
        tax_rule=decision.rule,
        tax_mention=decision.mention,
        warnings=warnings,
        billed_anything=bool(plan.monthly_fee or plan.minimum_commitment or used),
    )


def _charge_lines(customer: Customer, context: BillingContext) -> tuple[list[Line], list, bool]:
    """The fee line and one line per charge; the warnings; whether any usage was counted."""
    plan, currency = customer.plan, customer.currency
    lines, warnings = [], []
    if plan.monthly_fee:
        lines.append(
            Line(
                kind=LineKind.FEE,
                description=f"{plan.name}: monthly fee",
                amount=round_money(plan.monthly_fee, currency),
                quantity=Decimal(1),
                unit="month",
                unit_price=plan.monthly_fee,
            )
        )
    usage = context.usage.get(customer.pk, [])
    for charge in plan.charges.all():
        rows = [
            counts
            for provider, model, counts in usage
            if (not charge.provider or provider == charge.provider)
            and (not charge.model or model == charge.model)
        ]
        if charge.metric == Metric.LLM_COST:
            line, warning = _cost_line(charge, rows, currency, context)
            warnings += [warning] if warning else []
        else:
            line = _usage_line(charge, rows, currency)
        lines.append(line)
    return lines, warnings, any(counts.requests for _, _, counts in usage)


def _usage_line(charge: PlanCharge, rows: list[UsageCounts], currency: str) -> Line:
    counted = sum(getattr(counts, METRIC_COUNTED[charge.metric]) for counts in rows)
    quantity = in_units(counted, charge.unit)
    charged = _charged(charge, quantity, currency)
    return Line(
        kind=LineKind.USAGE,
        description=charge.label,
        amount=charged.amount,
        quantity=quantity,
        unit=_unit_name(charge),
        unit_price=charge.unit_price if charge.charge_model == ChargeModel.PER_UNIT else None,
        detail={
            "metric": charge.metric,
            "counted": str(counted),
            "charge_model": charge.charge_model,
            "exact": str(charged.exact),
            "steps": charged.detail,
        },
    )


def _charged(charge: PlanCharge, quantity: Decimal, currency: str) -> Charged:
    tiers = (
        tiers_parse(charge.tiers)
        if charge.charge_model in (ChargeModel.GRADUATED, ChargeModel.VOLUME)
        else None
    )
    package = Decimal(charge.package_size) if charge.package_size else None
    return charge_amount(
        model=charge.charge_model,
        quantity=quantity,
        currency=currency,
        unit_price=charge.unit_price,
        tiers=tiers,
        package_size=package,
    )


def _cost_line(
    charge: PlanCharge, rows: list[UsageCounts], currency: str, context: BillingContext
) -> tuple[Line, str | None]:
    """The LLM cost of the usage (USD in the sums) in the invoice's currency, plus the markup."""
    usd = sum((counts.cost for counts in rows if counts.cost is not None), Decimal(0))
    unpriced = sum(counts.unpriced_requests for counts in rows)
    quantity, rate_detail = _from_usd(usd, currency, context)
    price = 1 + charge.markup_percent / HUNDRED
    exact = quantity * price
    warning = None
    if unpriced:
        warning = (
            f"{charge.label}: {unpriced:,} request{'s' if unpriced > 1 else ''} had no price "
            "and are not charged; price them (LLM price book) and run the month again."
        )
    return Line(
        kind=LineKind.USAGE,
        description=charge.label,
        amount=round_money(exact, currency),
        quantity=quantity,
        unit=f"{currency} of LLM cost",
        unit_price=price,
        detail={
            "metric": charge.metric,
            "llm_cost_usd": str(usd),
            **rate_detail,
            "markup_percent": plain_rate(charge.markup_percent),
            "unpriced_requests": unpriced,
            "exact": str(exact),
        },
    ), warning


def _from_usd(usd: Decimal, currency: str, context: BillingContext) -> tuple[Decimal, dict]:
    if currency == "USD":
        return usd, {}
    day = context.period[1]
    usd_rate, rate = context.rate("USD", day), context.rate(currency, day)
    if usd_rate is None or rate is None:
        missing = "USD" if usd_rate is None else currency
        raise InvoiceNotComputable(
            f"No exchange rate of {missing} on or before {day} to turn the LLM cost (USD) into "
            f"{currency}: enter one under Exchange rates, then run the month again."
        )
    return usd * usd_rate / rate, {"usd_per_unit": str(rate / usd_rate), "rate_day": str(day)}


def _unit_name(charge: PlanCharge) -> str:
    if charge.unit == Unit.MINUTE:
        return "minutes"
    if charge.unit == Unit.GB:
        return "GB"
    return f"{UNIT_NAMES[charge.unit]}{METRIC_NOUNS[charge.metric]}"


def _discount_lines(customer: Customer, month: date, subtotal: Decimal) -> list[Line]:
    """Each discount of the month on what the previous ones left, never below zero."""
    lines, remaining, currency = [], subtotal, customer.currency
    for discount in sorted(customer.discounts.all(), key=lambda d: (d.starts_on, d.pk)):
        if not discount.applies_to(month):
            continue
        if discount.kind == DiscountKind.PERCENT:
            amount = round_money(remaining * discount.value / HUNDRED, currency)
            label = f"{discount.description} ({plain_rate(discount.value)} %)"
        else:
            amount = min(discount.value, remaining)
            label = discount.description
        amount = min(amount, remaining)
        lines.append(
            Line(
                kind=LineKind.DISCOUNT,
                description=label,
                amount=-amount,
                detail={"kind": discount.kind, "value": str(discount.value), "on": str(remaining)},
            )
        )
        remaining -= amount
    return lines


def _sla_line(customer: Customer, context: BillingContext, discounted: Decimal) -> Line | None:
    plan = customer.plan
    uptime = context.uptimes.get(customer.pk) or context.uptimes.get(None)
    if plan.sla_target is None or uptime is None or uptime.uptime >= plan.sla_target:
        return None
    reached = [tier.credit for tier in plan.sla_tiers.all() if uptime.uptime < tier.below]
    credit = max(reached, default=Decimal(0))
    if plan.sla_credit_cap is not None:
        credit = min(credit, plan.sla_credit_cap)
    if not credit or not discounted:
        return None
    amount = round_money(discounted * credit / HUNDRED, customer.currency)
    return Line(
        kind=LineKind.SLA_CREDIT,
        description=(
            f"SLA credit {plain_rate(credit)} %: uptime {plain_rate(uptime.uptime)} % in "
            f"{context.month:%B %Y} against {plain_rate(plan.sla_target)} % "
            f"({uptime.incident_reference})"
        ),
        amount=-amount,
        detail={
            "uptime": str(uptime.uptime),
            "target": str(plan.sla_target),
            "credit_percent": str(credit),
            "cap_percent": None if plan.sla_credit_cap is None else str(plan.sla_credit_cap),
            "on": str(discounted),
            "incident": uptime.incident_reference,
        },
    )


def _true_up_line(plan, currency: str, reached: Decimal) -> Line | None:
    minimum = plan.minimum_commitment
    if minimum is None or reached >= minimum:
        return None
    return Line(
        kind=LineKind.MINIMUM,
        description=f"Minimum commitment of {round_money(minimum, currency):,} {currency}: true-up",
        amount=round_money(minimum - reached, currency),
        detail={"minimum": str(minimum), "reached": str(reached)},
    )


def _tax(customer: Customer, context: BillingContext):
    seller = settings.BILLING_SELLER_COUNTRY
    override = customer.tax_override
    try:
        return tax_decision(
            country=customer.country,
            vat_number=customer.vat_number,
            seller_country=seller,
            standard_rates={c: r.rate / HUNDRED for c, r in context.tax_rates.items()},
            override=None if override is None else override / HUNDRED,
        )
    except KeyError:
        raise InvoiceNotComputable(
            f"No tax rate for {seller}, the seller's country (BILLING_SELLER_COUNTRY): enter "
            "its standard VAT under Tax rates."
        ) from None


def _tax_name(decision, context: BillingContext) -> str:
    if decision.rule in ("domestic", "eu_consumer"):
        return context.tax_rates[settings.BILLING_SELLER_COUNTRY].name
    if decision.rule == "reverse_charge":
        return "VAT 0 % (reverse charge)"
    if decision.rule == "export":
        return "VAT 0 % (export)"
    return f"VAT {plain_rate(decision.rate * HUNDRED)} %"

"""The Customers report: revenue, LLM cost, allocated cost and margin per customer over a
period, lowest margin first, with the "unassigned" row and how each month's shared costs were
shared out. One builder (`customer_margins`, billing/margins.py) feeds the page, its CSV and
XLSX and the JSON API, so they cannot disagree."""

from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views import View

from billing.margins import CustomerMargins, Party, PieceMargins, customer_margins
from costledger.money import round_money
from costledger.providers import Category
from costledger.query_params import QueryParams
from costledger.templatetags.ledger import allocation_rule_words
from reports.downloads import refused
from reports.export_links import export_links
from reports.exports import csv_response, xlsx_response
from reports.pages import _period_bar
from reports.periods import COMPARISONS, Period, period_query, period_read, period_resolve
from reports.tables import Table

PERMISSION = "billing.view_customer"
PERIOD_PARAMETERS = {"period", "start", "end"}
UNASSIGNED_LABEL = "Unassigned (usage of users no customer holds)"
HEADERS = [
    "Customer", "Invoiced (net of VAT)", "Collected by Stripe", "Revenue", "LLM cost",
    "Allocated cost", "Margin", "Margin %", "Requests", "Unpriced requests", "Incomplete",
]  # fmt: skip


def margins_period(params: QueryParams) -> Period:
    """The period asked; without one (or with one it cannot read: `params.errors` says why),
    the last full month (margins are a month-end figure)."""
    last_month = period_resolve(key="last_month", compare="none")
    if not any(params.params.get(name) for name in PERIOD_PARAMETERS):
        params.choice("compare", dict(COMPARISONS))  # nothing to compare, but still read
        return last_month
    period = period_read(params)
    return last_month if params.errors else period


def shown(party: Party, currency: str) -> Party:
    """The row as shown: each amount rounded to the minor unit, the margin from those, so that
    a row adds across (revenue - costs = margin) and the columns add down to the total."""
    return Party(
        invoiced=round_money(party.invoiced, currency),
        stripe=round_money(party.stripe, currency),
        llm_cost=round_money(party.llm_cost, currency),
        requests=party.requests,
        unpriced_requests=party.unpriced_requests,
        allocated=round_money(party.allocated, currency),
        missing_rates=party.missing_rates,
    )


def shown_rows(margins: CustomerMargins) -> tuple[list[tuple], Party, Party]:
    """(customer, shown row) lowest margin first, the unassigned row, and the total of the
    rows as shown."""
    currency = margins.currency
    rows = [(customer, shown(party, currency)) for customer, party in margins.rows()]
    unassigned = shown(margins.unassigned, currency)
    total = Party()
    for _, party in [*rows, (None, unassigned)]:
        total.add(party)
    return rows, unassigned, total


def incomplete(party: Party) -> list[str]:
    """Why a row's figures may be short: amounts left out for lack of a rate, unpriced usage."""
    reasons = []
    if party.missing_rates:
        reasons.append(f"no exchange rate for {', '.join(sorted(party.missing_rates))}")
    if party.unpriced_requests:
        n = party.unpriced_requests
        reasons.append(f"{n:,} LLM request{'s' if n != 1 else ''} without a price")
    return reasons


def _percent(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(Decimal("0.1"))


# --- Tables (CSV, XLSX) -----------------------------------------------------------------------


def _row(label: str, party: Party, currency: str) -> tuple:
    def money(amount):
        return round_money(amount, currency)

    return (
        label, money(party.invoiced), money(party.stripe), money(party.revenue),
        money(party.llm_cost), money(party.allocated), money(party.margin),
        _percent(party.margin_percent), party.requests, party.unpriced_requests,
        "; ".join(incomplete(party)),
    )  # fmt: skip


def customers_table(margins: CustomerMargins) -> Table:
    currency = margins.currency
    customers, unassigned, total = shown_rows(margins)
    rows = [_row(c.name, party, currency) for c, party in customers]
    rows.append(_row(UNASSIGNED_LABEL, unassigned, currency))
    rows.append(_row("Total", total, currency))
    return Table(
        name="customers",
        title="Margin per customer",
        headers=HEADERS,
        rows=rows,
        note=f"{margins.start} to {margins.end}, in {currency}; lowest margin first. "
        f"Shared costs allocated {allocation_rule_words(margins.rule)}.",
    )


def allocations_table(margins: CustomerMargins) -> Table:
    """Every month's allocation, one row per share: what each allocated figure comes from."""
    names = {pk: c.name for pk, c in margins.customers.items()}
    rows = []
    for piece in margins.pieces:
        allocation = piece.allocation
        for share in piece.shares:
            rows.append(
                (
                    allocation.start, allocation.end, allocation.get_applied_rule_display(),
                    allocation.shared_cost, allocation.basis_total,
                    names.get(share.customer_id, UNASSIGNED_LABEL), share.basis,
                    share.ratio, share.amount,
                )
            )  # fmt: skip
    return Table(
        name="allocations",
        title="How the shared costs were allocated",
        headers=[
            "From",
            "To",
            "Rule applied",
            "Shared cost",
            "Basis total",
            "Customer",
            "Basis",
            "Ratio",
            "Allocated",
        ],  # fmt: skip
        rows=rows,
        note=f"In {margins.currency}. Basis: LLM cost ({margins.currency}), requests, or 1 per "
        "active customer; ratio = basis / basis total; amounts by largest remainder, so each "
        "month's shares add up to its shared cost to the cent.",
    )


# --- JSON --------------------------------------------------------------------------------------


def _exact(value: Decimal) -> str:
    """A stored basis or ratio without its column's trailing zeros, never in exponent form."""
    return f"{value.normalize():f}"


def _money(amount: Decimal, currency: str) -> str:
    return str(round_money(amount, currency))


def _party_json(party: Party, currency: str) -> dict:
    percent = party.margin_percent
    return {
        "revenue": {
            "invoiced": _money(party.invoiced, currency),
            "stripe": _money(party.stripe, currency),
            "total": _money(party.revenue, currency),
        },
        "llm_cost": _money(party.llm_cost, currency),
        "allocated_cost": _money(party.allocated, currency),
        "margin": _money(party.margin, currency),
        "margin_percent": None if percent is None else str(_percent(percent)),
        "requests": party.requests,
        "unpriced_requests": party.unpriced_requests,
        "incomplete": incomplete(party),
    }


def _allocation_json(piece: PieceMargins) -> dict:
    allocation = piece.allocation
    return {
        "start": allocation.start.isoformat(),
        "end": allocation.end.isoformat(),
        "rule": allocation.rule,
        "applied_rule": allocation.applied_rule,
        "shared_cost": _money(allocation.shared_cost, allocation.currency),
        "shared_by_category": {
            category: _money(Decimal(amount), allocation.currency)
            for category, amount in allocation.shared_by_category.items()
        },
        "basis_total": _exact(allocation.basis_total),
        "note": allocation.note,
        "computed_at": allocation.computed_at.isoformat(),
        "shares": [
            {
                "customer_id": share.customer_id,
                "basis": _exact(share.basis),
                "ratio": _exact(share.ratio),
                "amount": _money(share.amount, allocation.currency),
            }
            for share in piece.shares
        ],
    }


def customer_margins_json(margins: CustomerMargins) -> dict:
    currency = margins.currency
    customers, unassigned, total = shown_rows(margins)
    return {
        "start": margins.start.isoformat(),
        "end": margins.end.isoformat(),
        "currency": currency,
        "allocation_rule": margins.rule,
        "order": "margin, lowest first",
        "customers": [
            {
                "id": customer.pk,
                "name": customer.name,
                "stripe_customer_id": customer.stripe_customer_id or None,
                **_party_json(party, currency),
            }
            for customer, party in customers
        ],
        "unassigned": _party_json(unassigned, currency),
        "total": _party_json(total, currency),
        "shared_cost": {
            # What was allocated: each month's shared cost rounded to the cent, added up.
            "total": _money(margins.shared_cost, currency),
            "by_category": {
                category: _money(amount, currency)
                for category, amount in margins.shared_by_category.items()
            },
            "left_out_for_lack_of_rate": sorted(margins.shared_unconverted),
        },
        "allocations": [_allocation_json(piece) for piece in margins.pieces],
    }


# --- Admin pages -------------------------------------------------------------------------------


class _CustomersView(View):
    site = None

    def dispatch(self, request, *args, **kwargs):
        if not request.user.has_perm(PERMISSION):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)


class CustomersPage(_CustomersView):
    def get(self, request):
        params = QueryParams(request.GET)
        period = margins_period(params)
        for problem in params.errors.values():
            messages.error(request, f"{problem} Showing last month instead.")
        margins = customer_margins(start=period.start, end=period.end)
        currency = margins.currency
        customers, unassigned, total = shown_rows(margins)
        rows = [
            {
                "customer": customer,
                "party": party,
                "url": reverse("admin:billing_customer_change", args=[customer.pk]),
                "percent": _percent(party.margin_percent),
                "incomplete": incomplete(party),
            }
            for customer, party in customers
        ]
        names = {pk: c.name for pk, c in margins.customers.items()}
        context = {
            **self.site.each_context(request),
            **_period_bar(period, compared=False),
            "title": "Customers",
            "currency": currency,
            "margins": margins,
            "rows": rows,
            "unassigned": unassigned,
            "unassigned_incomplete": incomplete(unassigned),
            "unassigned_percent": _percent(unassigned.margin_percent),
            "total": total,
            "total_percent": _percent(total.margin_percent),
            "losses": sum(1 for row in rows if row["party"].margin < 0),
            "shared_labels": [(c.value, c.label) for c in Category if c.value in
                              margins.shared_by_category],
            "allocations": [
                {
                    "allocation": piece.allocation,
                    "shares": [
                        (names.get(s.customer_id, "Unassigned"), s) for s in piece.shares
                    ],
                }
                for piece in margins.pieces
            ],
            "exports": export_links("customers", period_query(period)),
        }  # fmt: skip
        return TemplateResponse(request, "admin/reports/customers.html", context)


def _asked(request) -> tuple[Period, dict[str, str]]:
    params = QueryParams(request.GET)
    period = margins_period(params)
    return period, params.errors


class CustomersCsv(_CustomersView):
    def get(self, request):
        period, errors = _asked(request)
        if errors:
            return refused(errors)
        margins = customer_margins(start=period.start, end=period.end)
        return csv_response(
            customers_table(margins), filename=f"customers_{period.start}_{period.end}"
        )


class CustomersXlsx(_CustomersView):
    def get(self, request):
        period, errors = _asked(request)
        if errors:
            return refused(errors)
        margins = customer_margins(start=period.start, end=period.end)
        return xlsx_response(
            [customers_table(margins), allocations_table(margins)],
            filename=f"customers_{period.start}_{period.end}",
            title=f"Customers, {period.label}",
        )

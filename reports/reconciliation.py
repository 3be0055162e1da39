"""The LLM reconciliation as the page and its downloads show it: the tolerance beyond which a
month is highlighted, what coverage means, and the tables of the CSV and XLSX."""

import re
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings

from costledger.providers import provider_name
from costledger.selectors import Reconciliation, ReconciliationTotal
from reports.tables import Table

CURRENCY = "USD"  # computed and billed LLM costs are in USD (costledger.selectors)
_PERCENT = re.compile(r"[0-9]{1,3}(\.[0-9]{1,2})?")
PERCENT_QUANTUM = Decimal("0.01")

# What the page prints under the table and the XLSX carries as its own sheet.
DEFINITIONS = [
    ("Computed", "The cost of the provider's usage that month: the requests reported to "
     "costledger, priced with the price book (ingested events; where there are none, the "
     "Prometheus metrics)."),
    ("Billed", "What the provider's cost API says it billed that month."),
    ("Difference", "Computed minus billed, and as a percentage of billed."),
    ("Beyond tolerance", "The month is highlighted when |computed - billed| is more than the "
     "tolerance percentage of billed: at 5 %, computed 95.00 against billed 100.00 is within, "
     "94.99 is beyond. A month billed without any usage computed counts as computed 0."),
    ("Coverage", "Computed / billed x 100: how much of the bill, in money, the usage data "
     "accounts for. Below 100 % some of the bill has no usage behind it (traffic not reported, "
     "unpriced models); above 100 % usage was priced higher than billed."),
    ("Billed with usage", "The part of the bill for models usage was computed for that month, "
     "and its percentage of billed. A billed line item's model is its model label, else its "
     "name before a comma (\"gpt-4o, input\" is gpt-4o); a dated snapshot "
     "(gpt-4o-2024-08-06) counts as its model. The billed models without usage are listed."),
    ("Total", "The months with a bill, added up; usage computed for months without a bill has "
     "nothing to compare with and is shown apart."),
]  # fmt: skip


def tolerance_read(raw: str | None) -> tuple[Decimal, str | None]:
    """The tolerance `?tolerance=` asks for, else the setting; with what is wrong with the
    value asked (then the setting is used)."""
    default = settings.RECONCILIATION_TOLERANCE_PERCENT
    if raw is None or raw.strip() == "":
        return default, None
    shown = repr(raw if len(raw) <= 20 else f"{raw[:20]}…")
    if not _PERCENT.fullmatch(raw.strip()) or Decimal(raw.strip()) > 100:
        return default, (
            f"tolerance {shown} is not a percentage from 0 to 100 with at most two decimals "
            f"(e.g. 5 or 2.5); using {default} %."
        )
    return Decimal(raw.strip()), None


def percent(value: Decimal | None) -> Decimal | None:
    """A percentage as the page and the downloads show it: to 0.01."""
    return None if value is None else value.quantize(PERCENT_QUANTUM, rounding=ROUND_HALF_UP)


RECONCILIATION_HEADERS = [
    "month", "provider", "provider_name", "computed", "billed", "difference",
    "difference_percent", "beyond_tolerance", "coverage_percent", "billed_with_usage",
    "billed_with_usage_percent", "models_without_usage", "currency",
]  # fmt: skip
TOTAL_HEADERS = [
    "computed", "billed", "difference", "coverage_percent", "billed_with_usage",
    "billed_with_usage_percent", "computed_without_bill", "months_beyond_tolerance",
    "tolerance_percent", "currency",
]  # fmt: skip


def reconciliation_table(rows: list[Reconciliation], *, tolerance: Decimal, note: str) -> Table:
    """One row per provider and month: what the CSV download holds."""
    return Table(
        name="reconciliation",
        title="LLM cost reconciliation",
        headers=RECONCILIATION_HEADERS,
        rows=[_row(r, tolerance) for r in rows],
        note=f"{note} Tolerance {tolerance} % of billed; percentages to 0.01.",
    )


def reconciliation_tables(
    rows: list[Reconciliation], total: ReconciliationTotal, *, tolerance: Decimal, note: str
) -> list[Table]:
    """The XLSX: the months, the total and what each figure means."""
    beyond = sum(1 for r in rows if r.beyond(tolerance))
    total_row = (
        total.computed,
        total.billed,
        total.difference,
        percent(total.coverage_percent),
        total.billed_with_usage,
        percent(total.billed_with_usage_percent),
        total.computed_without_bill,
        beyond,
        tolerance,
        CURRENCY,
    )
    return [
        reconciliation_table(rows, tolerance=tolerance, note=note),
        Table(
            name="reconciliation total",
            title="LLM cost reconciliation: total",
            headers=TOTAL_HEADERS,
            rows=[total_row],
            note=note,
        ),
        Table(
            name="reconciliation definitions",
            title="What the reconciliation's figures mean",
            headers=["figure", "definition"],
            rows=list(DEFINITIONS),
        ),
    ]


def _row(r: Reconciliation, tolerance: Decimal) -> tuple:
    return (
        r.month,
        r.provider,
        provider_name(r.provider),
        r.computed,
        r.billed,
        r.difference,
        percent(r.difference_percent),
        r.beyond(tolerance),
        percent(r.coverage_percent),
        r.billed_with_usage,
        percent(r.billed_with_usage_percent),
        ", ".join(r.models_without_usage),
        CURRENCY,
    )

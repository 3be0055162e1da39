"""The Business summary and Costs by provider as tables (reports.tables.Table) for their CSV and
XLSX downloads, built from the same figures their pages show.

The Business summary's tables come from `chart_table`, the chart CSVs' own columns, so an export
follows the page's charts; its JSON-ready values (money as decimal strings, days as ISO text)
are turned back into Decimal and date here, so the workbook holds numbers and dates.
"""

import re
from datetime import date
from decimal import Decimal

from costledger.models import Source
from costledger.providers import Category, provider_name
from costledger.selectors import MonthCell, MonthlyCosts
from reports.exports import decimal_text
from reports.pages import CHARTS, chart_table
from reports.tables import Table, Value

# Columns of chart_table that hold names, never figures: a user id "00123" stays text.
TEXT_COLUMNS = {"user_id", "label", "email", "provider", "provider_name", "model", "figure", "key"}
_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_MONTH = re.compile(r"[0-9]{4}-[0-9]{2}")

KPI_HEADERS = [
    "figure",
    "value",
    "previous",
    "change_percent",
    "percent_of_revenue",
    "currency",
    "incomplete",
]
CHART_TITLES = {
    "revenue_vs_costs": "Revenue, costs and margin",
    "mrr_trend": "MRR and churn",
    "cost_breakdown": "Cost breakdown",
    "monthly_llm": "Monthly LLM costs",
    "top_users": "Top users by LLM cost",
    "token_efficiency": "Token efficiency per model",
    "error_rates": "Error rate per provider",
    "unit_economics": "Unit economics",
}


# --- Business summary --------------------------------------------------------------------------


def period_note(data: dict) -> str:
    """What a Business table covers, as the page says it."""
    period, currency = data["period"], data["currency"]
    said = f"{period['start']} to {period['end']}"
    if period["key"] != "custom":  # a custom range's label is its dates
        said = f"{period['label']}: {said}"
    if period.get("compare"):
        said += (
            f", compared with {period['compare_label'].lower()}, "
            f"{period['previous_start']} to {period['previous_end']}"
        )
    return f"{said}. Money in {currency}."


def business_kpi_table(data: dict) -> Table:
    """The KPI cards: each figure, the previous period's, the change and why it is incomplete."""
    rows = [
        (
            kpi["label"],
            _decimal(kpi["value"]),
            _decimal(kpi["previous"]),
            _decimal(kpi["change_percent"]),
            _decimal(kpi.get("percent")),
            data["currency"],
            "; ".join(kpi["incomplete"]),
        )
        for kpi in data["kpis"].values()
    ]
    return Table(
        name="KPIs",
        title="Key figures",
        headers=KPI_HEADERS,
        rows=rows,
        note=period_note(data) + " change_percent: against the period compared with.",
    )


def business_chart_tables(data: dict, charts: list[str] | None = None) -> list[Table]:
    """One table per chart of the page (or of `charts`), its columns those of its CSV."""
    tables = []
    for chart in charts or CHARTS:
        found = chart_table(data, chart)
        if found is None:
            continue
        headers, rows = found
        tables.append(
            Table(
                name=chart,
                title=CHART_TITLES.get(chart, chart.replace("_", " ").capitalize()),
                headers=list(headers),
                rows=[_exact_row(headers, row) for row in rows if not _nested(row)],
                note=period_note(data),
            )
        )
    return tables


def business_tables(data: dict) -> list[Table]:
    return [business_kpi_table(data), *business_chart_tables(data)]


def _exact_row(headers: list[str], row: tuple) -> tuple[Value, ...]:
    return tuple(_exact(h, v) for h, v in zip(headers, row, strict=False))


def _nested(row: tuple) -> bool:
    """A row holding a nested figure (unit economics' cost per tag value): not a cell's value."""
    return any(isinstance(value, dict | list) for value in row)


def _exact(header: str, value) -> Value:
    """A JSON-ready value as the figure it stands for: a decimal string as Decimal, an ISO day
    as a date; names, and what is neither, as they are."""
    if not isinstance(value, str) or header in TEXT_COLUMNS:
        return value
    if _DECIMAL.fullmatch(value):
        return Decimal(value)
    if _DAY.fullmatch(value) or _MONTH.fullmatch(value):
        try:
            return date.fromisoformat(value if len(value) == 10 else f"{value}-01")
        except ValueError:
            return value
    return value


def _decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


# --- Costs by provider -------------------------------------------------------------------------

COSTS_NOTE = (
    "Effective cost in {currency}: per provider and day the most trusted source counts (invoice, "
    "then billed, then computed, then estimate). {start} to {end}; a month at either end counts "
    "only its days in the range. Costs without an exchange rate are left out of the amounts "
    "(see unconverted)."
)


def costs_note(costs: MonthlyCosts, start: date, end: date) -> str:
    return COSTS_NOTE.format(currency=costs.currency, start=start, end=end)


def costs_by_provider_table(costs: MonthlyCosts, *, start: date, end: date) -> Table:
    """One row per provider and month with a cost: what the CSV download holds."""
    rows = [
        (
            provider,
            provider_name(provider),
            month,
            cell.amount,
            costs.currency,
            _sources(cell),
            _unconverted(cell),
        )
        for provider, cells in costs.by_provider.items()
        for month in costs.months
        if (cell := cells.get(month)) is not None
    ]
    return Table(
        name="costs_by_provider",
        title="Costs by provider",
        headers=["provider", "provider_name", "month", "amount", "currency", "sources",
                 "unconverted"],
        rows=rows,
        note=costs_note(costs, start, end),
    )  # fmt: skip


def costs_tables(costs: MonthlyCosts, *, start: date, end: date) -> list[Table]:
    """The page's three views: providers by month, categories by month, monthly totals."""
    note = costs_note(costs, start, end)
    months = [f"{m:%Y-%m}" for m in costs.months]
    return [
        Table(
            name="by provider",
            title="Costs by provider",
            headers=["provider", *months, "total"],
            rows=[*_provider_rows(costs), _total_row(costs)],
            note=note,
        ),
        Table(
            name="by category",
            title="Costs by category",
            headers=["category", *months, "total"],
            rows=[*_category_rows(costs), _total_row(costs)],
            note=note,
        ),
        Table(
            name="totals",
            title="Total per month",
            headers=["month", "amount", "currency", "complete", "unconverted"],
            rows=[
                (m, cell.amount, costs.currency, cell.complete, _unconverted(cell))
                for m, cell in ((m, costs.totals[m]) for m in costs.months)
            ],
            note=note,
        ),
    ]


def costs_total(costs: MonthlyCosts) -> Decimal:
    return sum((costs.totals[m].amount for m in costs.months), Decimal(0))


def _provider_rows(costs: MonthlyCosts) -> list[tuple]:
    rows = []
    for provider, cells in sorted(costs.by_provider.items(), key=lambda kv: provider_name(kv[0])):
        amounts = [cells[m].amount if m in cells else None for m in costs.months]
        rows.append((provider_name(provider), *amounts, _sum(amounts)))
    return rows


def _category_rows(costs: MonthlyCosts) -> list[tuple]:
    by_category = costs.by_category()
    rows = []
    for value, label in Category.choices:
        if value in by_category:
            amounts = [by_category[value].get(m) for m in costs.months]
            rows.append((label, *amounts, _sum(amounts)))
    return rows


def _total_row(costs: MonthlyCosts) -> tuple:
    amounts = [costs.totals[m].amount for m in costs.months]
    return ("Total", *amounts, _sum(amounts))


def _sum(amounts: list[Decimal | None]) -> Decimal:
    return sum((a for a in amounts if a is not None), Decimal(0))


def _sources(cell: MonthCell) -> str:
    return ", ".join(s.label for s in Source if s in cell.sources)


def _unconverted(cell: MonthCell) -> str:
    return "; ".join(
        f"{decimal_text(amount, code)} {code}" for code, amount in sorted(cell.unconverted.items())
    )

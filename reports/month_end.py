"""The month-end pack: one workbook for the accountant with every report for one calendar month,
each figure the same as its page shows for that month (the Business summary compared with the
previous month, Costs by provider, the LLM reconciliation), the provider invoices covering the
month and what is missing from the figures."""

from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.template.defaultfilters import pluralize
from django.utils import timezone

from billing.models import ProviderInvoice
from costledger.days import add_months, month_start
from costledger.selectors import (
    effective_cost_by_months,
    llm_reconciliation,
    llm_reconciliation_total,
)
from reports.business_json import business_summary
from reports.export_tables import business_chart_tables, business_kpi_table, costs_tables
from reports.periods import Period
from reports.reconciliation import reconciliation_tables
from reports.tables import Table

EARLIEST_MONTH, LATEST_MONTH = date(2000, 1, 1), date(2999, 12, 1)
# The Business summary's sections the pack carries (their columns are the chart CSVs').
BUSINESS_SECTIONS = ["top_users", "revenue_vs_costs", "mrr_trend"]


def last_full_month(today: date) -> date:
    return add_months(month_start(today), -1)


def month_read(raw: str | None, *, today: date) -> tuple[date, str | None]:
    """The month `?month=YYYY-MM` asks for (default: the last full month), with what is wrong
    with the value asked."""
    if raw is None or raw == "":
        return last_full_month(today), None
    shown = repr(raw if len(raw) <= 20 else f"{raw[:20]}…")
    try:
        month = date.fromisoformat(f"{raw}-01") if len(raw) == 7 else None
    except ValueError:
        month = None
    if month is None:
        return last_full_month(today), f"month {shown} is not a month; use YYYY-MM, e.g. 2026-11."
    if not EARLIEST_MONTH <= month <= LATEST_MONTH:
        return last_full_month(today), f"month {shown} is outside 2000-01 to 2999-12."
    return month, None


def month_period(month: date) -> Period:
    """The calendar month, compared with the previous calendar month."""
    last = add_months(month, 1) - timedelta(days=1)
    before = add_months(month, -1)
    previous = Period("previous", f"{before:%B %Y}", before, month - timedelta(days=1))
    return Period("custom", f"{month:%B %Y}", month, last, previous)


def pack_filename(month: date) -> str:
    return f"costledger-month-end-{month:%Y-%m}.xlsx"


def month_end_tables(*, month: date) -> list[Table]:
    """Every sheet of the pack for `month`, in the order an accountant reads them."""
    period = month_period(month)
    data = business_summary(period=period)
    costs = effective_cost_by_months(start=period.start, end=period.end)
    rows = llm_reconciliation(start=period.start, end=period.end)
    tolerance = settings.RECONCILIATION_TOLERANCE_PERCENT
    tables = [
        business_kpi_table(data),
        *costs_tables(costs, start=period.start, end=period.end),
        *reconciliation_tables(
            rows,
            llm_reconciliation_total(rows=rows),
            tolerance=tolerance,
            note=f"{period.label}: {period.start} to {period.end}. In USD.",
        ),
        *business_chart_tables(data, BUSINESS_SECTIONS),
        invoices_table(period),
        completeness_table(data),
    ]
    return [contents_table(period, tables), *tables]


def contents_table(period: Period, tables: list[Table]) -> Table:
    generated = timezone.now().astimezone(UTC).replace(microsecond=0, tzinfo=None)
    return Table(
        name="Contents",
        title=f"Month-end pack: {period.label}",
        headers=["sheet", "what it holds"],
        rows=[
            ("Month", f"{period.start} to {period.end} (UTC days)"),
            ("Compared with", f"{period.compare.start} to {period.compare.end}"),
            ("Reporting currency", settings.REPORTING_CURRENCY),
            ("Generated (UTC)", generated.isoformat(sep=" ")),
            *((t.name, t.title) for t in tables),
        ],
        note="Every figure equals what the report pages show for the same month.",
    )


def provider_invoices_for_month(*, start: date, end: date) -> list[ProviderInvoice]:
    """The provider invoices and credit notes whose period covers a day of [start, end]."""
    return list(
        ProviderInvoice.objects.filter(period_start__lte=end, period_end__gte=start)
        .select_related("entered_by")
        .order_by("provider", "period_start", "invoice_number")
    )


def invoices_table(period: Period) -> Table:
    invoices = provider_invoices_for_month(start=period.start, end=period.end)
    rows = [
        (
            invoice.invoice_number,
            invoice.get_kind_display(),
            invoice.get_provider_display(),
            invoice.invoice_date,
            invoice.period_start,
            invoice.period_end,
            invoice.signed_amount,
            invoice.currency,
            _who(invoice),
            _utc(invoice.created_at),
        )
        for invoice in invoices
    ]
    return Table(
        name="Provider invoices",
        title="Provider invoices covering the month",
        headers=["invoice_number", "kind", "provider", "invoice_date", "period_start",
                 "period_end", "amount", "currency", "entered_by", "entered_at"],
        rows=rows,
        note="Each invoice whose period covers a day of the month, for its whole amount as "
        "printed (a credit note negative); the ledger counts only the month's days of it.",
    )  # fmt: skip


def completeness_table(data: dict) -> Table:
    """What the month's figures lack: exchange rates, prices, collectors."""
    freshness, period = data["freshness"], data["period"]
    rows = [
        ("missing exchange rate", m["currency"], date.fromisoformat(m["first_day"]),
         date.fromisoformat(m["last_day"]),
         f"{m['currency']} amounts of these days are left out; add the rate in Ledger > "
         "Exchange rates.")
        for m in freshness["missing_exchange_rates"]
    ]  # fmt: skip
    unpriced = freshness["unpriced"]
    if unpriced["requests"]:
        rows.append(
            ("unpriced LLM usage", f"{unpriced['models']} model{pluralize(unpriced['models'])}",
             date.fromisoformat(period["start"]), date.fromisoformat(period["end"]),
             f"{unpriced['requests']} request{pluralize(unpriced['requests'])} without a price: "
             "their cost is left out of LLM costs; add the prices in the price book.")
        )  # fmt: skip
    for kpi in data["kpis"].values():
        rows.extend(
            ("incomplete figure", kpi["label"], None, None, reason) for reason in kpi["incomplete"]
        )
    if not rows:
        rows.append(("complete", "every figure", None, None, "nothing is missing"))
    return Table(
        name="Completeness",
        title="What the month's figures lack",
        headers=["check", "subject", "first_day", "last_day", "detail"],
        rows=rows,
        note=f"{period['start']} to {period['end']}.",
    )


def _who(invoice: ProviderInvoice) -> str:
    user = invoice.entered_by
    if user is None:
        return ""
    return user.get_username() + (f" <{user.email}>" if user.email else "")


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(UTC)

"""The reports' CSV and XLSX downloads and the month-end pack. Each reads the same parameters
as its page and writes the same figures; a parameter it cannot read is a 400 naming it (a
download has no page to show a message on)."""

from datetime import timedelta
from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.views import View

from costledger.days import add_months, month_start
from costledger.query_params import QueryParams
from costledger.selectors import (
    effective_cost_by_months,
    llm_reconciliation,
    llm_reconciliation_total,
)
from reports.business_json import business_summary
from reports.export_tables import business_kpi_table, business_tables, costs_by_provider_table
from reports.export_tables import costs_tables as costs_xlsx_tables
from reports.exports import csv_response, xlsx_response
from reports.month_end import month_end_tables, month_read, pack_filename
from reports.periods import COMPARISONS, Period, period_custom, period_read
from reports.reconciliation import reconciliation_table, reconciliation_tables, tolerance_read

DEFAULT_MONTHS = 6  # Costs by provider and the reconciliation: the six months up to this one
PERIOD_PARAMETERS = {"period", "start", "end"}


class ReportDownload(View):
    """A download of a report: staff who may read the ledger (as the pages)."""

    site = None

    def dispatch(self, request, *args, **kwargs):
        if not request.user.has_perm("costledger.view_costentry"):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)


def refused(errors: dict[str, str]) -> HttpResponse:
    """400, each parameter it could not read named with why."""
    text = "\n".join(f"{name}: {problem}" for name, problem in errors.items())
    return HttpResponse(text, status=400, content_type="text/plain; charset=utf-8")


def period_asked(request, *, default_months: bool = False) -> tuple[Period, dict[str, str]]:
    """The period the query asks for, with what it could not read. Without period parameters
    the Business default (30 days), or the six months up to this one as the Costs by provider
    and reconciliation pages show."""
    params = QueryParams(request.GET)
    if default_months and not PERIOD_PARAMETERS & set(request.GET):
        params.choice("compare", dict(COMPARISONS))  # nothing to compare, but still read
        this_month = month_start(timezone.now().date())
        first = add_months(this_month, -(DEFAULT_MONTHS - 1))
        last = add_months(this_month, 1) - timedelta(days=1)
        return period_custom(start=first, end=last, compare="none"), params.errors
    period = period_read(params)
    return period, params.errors


def _range_name(period: Period) -> str:
    return f"{period.start}_{period.end}"


# --- Business summary --------------------------------------------------------------------------


class BusinessXlsx(ReportDownload):
    """The whole Business summary: the KPIs, then one sheet per chart."""

    def get(self, request):
        period, errors = period_asked(request)
        if errors:
            return refused(errors)
        data = business_summary(period=period)
        return xlsx_response(
            business_tables(data),
            filename=f"business-summary_{_range_name(period)}",
            title=f"Business summary, {period.label}",
        )


class BusinessKpisCsv(ReportDownload):
    def get(self, request):
        period, errors = period_asked(request)
        if errors:
            return refused(errors)
        table = business_kpi_table(business_summary(period=period))
        return csv_response(table, filename=f"business-kpis_{_range_name(period)}")


# --- Costs by provider -------------------------------------------------------------------------


class CostsByProviderCsv(ReportDownload):
    """One row per provider and month."""

    def get(self, request):
        period, errors = period_asked(request, default_months=True)
        if errors:
            return refused(errors)
        costs = effective_cost_by_months(start=period.start, end=period.end)
        table = costs_by_provider_table(costs, start=period.start, end=period.end)
        return csv_response(table, filename=f"costs-by-provider_{_range_name(period)}")


class CostsByProviderXlsx(ReportDownload):
    """By provider (months as columns), by category, and the totals."""

    def get(self, request):
        period, errors = period_asked(request, default_months=True)
        if errors:
            return refused(errors)
        costs = effective_cost_by_months(start=period.start, end=period.end)
        return xlsx_response(
            costs_xlsx_tables(costs, start=period.start, end=period.end),
            filename=f"costs-by-provider_{_range_name(period)}",
            title=f"Costs by provider, {period.label}",
        )


# --- LLM reconciliation ------------------------------------------------------------------------


def _reconciliation_asked(request) -> tuple[Period, Decimal, dict[str, str]]:
    period, errors = period_asked(request, default_months=True)
    tolerance, problem = tolerance_read(request.GET.get("tolerance"))
    if problem:
        errors = {**errors, "tolerance": problem}
    return period, tolerance, errors


def reconciliation_note(period: Period) -> str:
    said = f"{period.start} to {period.end}"
    return f"{said if period.key == 'custom' else f'{period.label}: {said}'}; in USD."


class LlmReconciliationCsv(ReportDownload):
    def get(self, request):
        period, tolerance, errors = _reconciliation_asked(request)
        if errors:
            return refused(errors)
        rows = llm_reconciliation(start=period.start, end=period.end)
        table = reconciliation_table(rows, tolerance=tolerance, note=reconciliation_note(period))
        return csv_response(table, filename=f"llm-reconciliation_{_range_name(period)}")


class LlmReconciliationXlsx(ReportDownload):
    def get(self, request):
        period, tolerance, errors = _reconciliation_asked(request)
        if errors:
            return refused(errors)
        rows = llm_reconciliation(start=period.start, end=period.end)
        tables = reconciliation_tables(
            rows,
            llm_reconciliation_total(rows=rows),
            tolerance=tolerance,
            note=reconciliation_note(period),
        )
        return xlsx_response(
            tables,
            filename=f"llm-reconciliation_{_range_name(period)}",
            title=f"LLM cost reconciliation, {period.label}",
        )


# --- The month-end pack ------------------------------------------------------------------------


class MonthEndPage(ReportDownload):
    """Choose the month, download its pack."""

    def get(self, request):
        today = timezone.now().date()
        month, problem = month_read(request.GET.get("month"), today=today)
        if problem:
            messages.error(
                request, f"{problem[0].upper()}{problem[1:]} Showing the last full month."
            )
        context = {
            **self.site.each_context(request),
            "title": "Month-end pack",
            "month": month,
            "this_month": month_start(today),
            "download_url": reverse("admin:month_end_xlsx"),
            "filename": pack_filename(month),
        }
        return TemplateResponse(request, "admin/reports/month_end.html", context)


class MonthEndXlsx(ReportDownload):
    """One workbook with every report for `?month=YYYY-MM` (default: the last full month)."""

    def get(self, request):
        month, problem = month_read(request.GET.get("month"), today=timezone.now().date())
        if problem:
            return refused({"month": problem})
        return xlsx_response(
            month_end_tables(month=month),
            filename=pack_filename(month),
            title=f"Month-end pack {month:%Y-%m}",
        )

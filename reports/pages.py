"""The report pages of the admin. They read selectors only and render; `reports/admin.py`
adds them to the admin site."""

import csv
from datetime import date, timedelta
from urllib.parse import parse_qsl

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.views import View

from costledger.days import add_months, month_start
from costledger.models import Source
from costledger.providers import Category, provider_name
from costledger.query_params import QueryParams
from costledger.selectors import (
    effective_cost_by_months,
    llm_reconciliation,
    llm_reconciliation_total,
)
from reports.business_json import business_summary
from reports.drilldown import cost_cell_url, invoice_overlaps
from reports.export_links import export_links
from reports.periods import (
    COMPARISONS,
    PRESETS,
    Period,
    period_custom,
    period_query,
    period_read,
    period_resolve,
)
from reports.reconciliation import DEFINITIONS, tolerance_read

SUMMARY_MONTHS = 6


def _month_param(value: str | None) -> date | None:
    try:
        month = date.fromisoformat(f"{value}-01") if value else None
    except ValueError:
        return None
    return month if month and date(2000, 1, 1) <= month <= date(2999, 1, 1) else None


class CostsByProvider(View):
    """One row per provider, one column per month: effective cost and where it came from."""

    site = None

    def get(self, request):
        if not request.user.has_perm("costledger.view_costentry"):
            raise PermissionDenied
        this_month = month_start(timezone.now().date())
        period, last_month = self._range(request, this_month)
        costs = effective_cost_by_months(start=period.start, end=period.end)
        currency = costs.currency
        overlaps = invoice_overlaps(start=period.start, end=period.end)
        rows = [
            {
                "provider": provider,
                "name": provider_name(provider),
                "cells": [
                    self._cell(provider, month, cells.get(month), period, overlaps)
                    for month in costs.months
                ],
            }
            for provider, cells in sorted(
                costs.by_provider.items(), key=lambda kv: provider_name(kv[0])
            )
        ]
        by_category = costs.by_category()
        category_rows = [
            {"label": label, "amounts": [by_category[value].get(m) for m in costs.months]}
            for value, label in Category.choices
            if value in by_category
        ]
        context = {
            **self.site.each_context(request),
            "title": "Costs by provider",
            "currency": currency,
            "months": costs.months,
            "rows": rows,
            "totals": [costs.totals[m] for m in costs.months],
            "category_rows": category_rows,
            "missing_rates": costs.missing_rates,
            "sources": [(s.value, s.label) for s in Source],
            **_period_bar(period, compared=False),
            "previous": add_months(last_month, -SUMMARY_MONTHS).strftime("%Y-%m")
            if last_month
            else None,
            "next": add_months(last_month, SUMMARY_MONTHS).strftime("%Y-%m")
            if last_month and last_month < this_month
            else None,
            "reporting_currency": settings.REPORTING_CURRENCY,
            "add_rate_url": reverse("admin:costledger_exchangerate_add"),
            "exports": [
                *export_links("costs_by_provider", period_query(period)),
                ("FOCUS 1.2 CSV", f"{reverse('admin:focus_csv')}?{period_query(period)}"),
            ],
            "focus_url": f"{reverse('admin:focus_csv')}?{period_query(period)}",
        }
        return TemplateResponse(request, "admin/reports/costs_by_provider.html", context)

    @staticmethod
    def _range(request, this_month: date) -> tuple[Period, date | None]:
        """The report periods' parameters (period, start, end); else the six months up to
        `end=YYYY-MM` (browsable by six months; the default: up to this month), as before."""
        if {"period", "start"} & set(request.GET) or len(request.GET.get("end", "")) == 10:
            return business_period(request), None
        last_month = _month_param(request.GET.get("end"))
        if request.GET.get("end") and last_month is None:
            messages.error(
                request,
                f"'{request.GET['end']}' is not a month (YYYY-MM); showing the last 6 months.",
            )
        last_month = last_month or this_month
        first = add_months(last_month, -(SUMMARY_MONTHS - 1))
        end = add_months(last_month, 1) - timedelta(days=1)
        return period_custom(start=first, end=end, compare="none"), last_month

    @staticmethod
    def _cell(provider, month, cell, period, overlaps):
        if cell is None:
            return None
        ranked = [s for s in Source if s in cell.sources]
        # The cell's own days: a month at either end of the range counts only its days in it.
        first = max(month, period.start)
        last = min(add_months(month, 1) - timedelta(days=1), period.end)
        return {
            "amount": cell.amount,
            "sources": ranked,
            "unconverted": sorted(cell.unconverted.items()),
            "url": cost_cell_url(
                provider=provider, start=first, end=last, back=period_query(period)
            ),
            "overlaps": overlaps.get((provider, month), []),
        }


class LlmReconciliation(View):
    """Per LLM provider and month: what usage x prices computed beside what was billed."""

    site = None

    def get(self, request):
        if not request.user.has_perm("costledger.view_costentry"):
            raise PermissionDenied
        this_month = month_start(timezone.now().date())
        if {"period", "start", "end"} & set(request.GET):
            period = business_period(request)
        else:  # as before: the six months up to this one
            first = add_months(this_month, -(SUMMARY_MONTHS - 1))
            last = add_months(this_month, 1) - timedelta(days=1)
            period = period_custom(start=first, end=last, compare="none")
        tolerance, problem = tolerance_read(request.GET.get("tolerance"))
        if problem:
            messages.error(request, f"The {problem}")
        rows = llm_reconciliation(start=period.start, end=period.end)
        query = period_query(period)
        context = {
            **self.site.each_context(request),
            "title": "LLM cost reconciliation",
            "rows": rows,
            "lines": [(row, row.beyond(tolerance)) for row in rows],
            "total": llm_reconciliation_total(rows=rows),
            "tolerance": tolerance,
            "definitions": DEFINITIONS,
            "period_fields": parse_qsl(query),
            **_period_bar(period, compared=False),
            "period_keep": [("tolerance", tolerance)],
            "exports": export_links("llm_reconciliation", f"{query}&tolerance={tolerance}"),
        }
        return TemplateResponse(request, "admin/reports/llm_reconciliation.html", context)


def _columns(rows: list[dict], names: list[str]) -> list[tuple]:
    return [tuple(row[name] for name in names) for row in rows]


# The Business summary's charts, as their CSV downloads name them.
CHARTS = [
    "revenue_vs_costs",
    "mrr_trend",
    "cost_breakdown",
    "monthly_llm",
    "top_users",
    "token_efficiency",
    "error_rates",
    "unit_economics",
]
RENAMED_CHARTS = {"infrastructure_breakdown": "cost_breakdown"}  # links saved before the rename


def chart_table(data: dict, chart: str) -> tuple[list[str], list[tuple]] | None:
    """One chart's numbers as (headers, rows), or None for an unknown chart. Charts over time
    have one row per bucket (day, week or month: `data["buckets"]`), with its first and last
    day and why it is partial."""
    chart = RENAMED_CHARTS.get(chart, chart)
    if chart in ("revenue_vs_costs", "mrr_trend", "cost_breakdown"):
        return _bucket_table(data, chart)
    if chart == "top_users":
        names = ["user_id", "label", "cost", "requests", "unpriced_requests"]
        return names, _columns(data["top_users"], names)
    if chart == "token_efficiency":
        names = ["provider", "model", "prompt_tokens", "completion_tokens", "ratio"]
        return names, _columns(data["token_efficiency"], names)
    if chart == "error_rates":
        names = ["provider", "requests", "successes", "errors", "error_percent"]
        return names, _columns(data["error_rates"], names)
    if chart == "monthly_llm":
        monthly = data["monthly_llm"]
        rows = list(zip(monthly["months"], monthly["costs"], monthly["partial"], strict=True))
        projection = monthly["projection"]
        if projection:
            rows.append((f"{projection['month']} projected", projection["value"], "projection"))
        return ["month", "llm_cost", "partial"], rows
    if chart == "unit_economics":
        return ["figure", "value"], list(data["unit_economics"].items())
    return None


def _bucket_table(data: dict, chart: str) -> tuple[list[str], list[tuple]]:
    buckets = data["buckets"]
    columns = [buckets["starts"], buckets["ends"]]
    if chart == "cost_breakdown":
        series = data["cost_breakdown"]["series"]
        names = [s["key"] for s in series]
        columns += [s["values"] for s in series]
    else:
        names = list(data[chart])
        columns += [data[chart][name] for name in names]
    headers = ["start", "end", *names, "partial"]
    return headers, list(zip(*columns, buckets["partial"], strict=True))


def _period_bar(period: Period, *, compared: bool = True) -> dict:
    """What templates/admin/reports/periods.html shows: the preset buttons (each keeping the
    comparison chosen), the range form and, on a page that compares periods, the comparison."""
    presets = [
        {
            "key": key,
            "label": label,
            "active": key == period.key,
            "url": f"?{period_query(period_resolve(key=key, compare=period.compare_key))}",
        }
        for key, label in PRESETS
    ]
    return {
        "period": period,
        "presets": presets,
        "comparisons": COMPARISONS if compared else [],
        "compare": period.compare_key,
    }


def business_period(request) -> Period:
    """The period the query asks for; each parameter it cannot read is said in a message, and
    the page shows the default period instead."""
    params = QueryParams(request.GET)
    period = period_read(params)
    for problem in params.errors.values():
        messages.error(request, f"{problem} Showing {period.label.lower()} instead.")
    return period


class BusinessSummaryPage(View):
    """The Business summary: KPIs, margins, trends and top users for a chosen period."""

    site = None

    def get(self, request):
        if not request.user.has_perm("costledger.view_costentry"):
            raise PermissionDenied
        period = business_period(request)
        context = {
            **self.site.each_context(request),
            **_period_bar(period),
            "title": "Business summary",
            "summary_json": business_summary(period=period),
            "csv_query": period_query(period),
            "exports": export_links("business", period_query(period)),
        }
        response = TemplateResponse(request, "admin/reports/business.html", context)
        # Charts are drawn by our own static script from json_script data: no inline script.
        response["Content-Security-Policy"] = "script-src 'self'; object-src 'none'"
        return response


class BusinessChartCsv(View):
    """One chart's numbers as CSV, for the same period as the page."""

    site = None

    def get(self, request, chart):
        if not request.user.has_perm("costledger.view_costentry"):
            raise PermissionDenied
        params = QueryParams(request.GET)
        period = period_read(params)
        if params.errors:
            return HttpResponse(
                " ".join(params.errors.values()), status=400, content_type="text/plain"
            )
        table = chart_table(business_summary(period=period), chart)
        if table is None:
            raise Http404(f"No chart named {chart}.")
        headers, rows = table
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        name = f"{chart}_{period.start}_{period.end}.csv"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        writer = csv.writer(response)
        writer.writerow(headers)
        writer.writerows(("" if v is None else v for v in row) for row in rows)
        return response

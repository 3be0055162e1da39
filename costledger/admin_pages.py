"""Summary pages of the admin. They read selectors only and render."""

from datetime import date

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.views import View

from costledger.models import Source
from costledger.providers import Category, provider_name
from costledger.selectors import (
    add_months,
    effective_cost_by_month,
    llm_reconciliation,
    llm_unpriced_models,
    month_start,
)
from costledger.usage import llm_events_reprice

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
        last_month = _month_param(request.GET.get("end"))
        if request.GET.get("end") and last_month is None:
            messages.error(
                request,
                f"'{request.GET['end']}' is not a month (YYYY-MM); showing the last 6 months.",
            )
        last_month = last_month or this_month
        costs = effective_cost_by_month(last_month=last_month, months=SUMMARY_MONTHS)
        currency = costs.currency
        rows = [
            {
                "provider": provider,
                "name": provider_name(provider),
                "cells": [self._cell(provider, month, cells.get(month)) for month in costs.months],
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
            "previous": add_months(last_month, -SUMMARY_MONTHS).strftime("%Y-%m"),
            "next": add_months(last_month, SUMMARY_MONTHS).strftime("%Y-%m")
            if last_month < this_month
            else None,
            "reporting_currency": settings.REPORTING_CURRENCY,
            "add_rate_url": reverse("admin:costledger_exchangerate_add"),
        }
        return TemplateResponse(request, "admin/costledger/costs_by_provider.html", context)

    @staticmethod
    def _cell(provider, month, cell):
        if cell is None:
            return None
        ranked = [s for s in Source if s in cell.sources]
        entries_url = reverse("admin:costledger_costentry_changelist")
        return {
            "amount": cell.amount,
            "sources": ranked,
            "unconverted": sorted(cell.unconverted.items()),
            "url": f"{entries_url}?provider={provider}"
            f"&charge_period_start__lt={add_months(month, 1).isoformat()}"
            f"&charge_period_end__gt={month.isoformat()}",
        }


class LlmUnpriced(View):
    """Usage of models the price book does not know, with the way to price it."""

    site = None

    def get(self, request):
        if not request.user.has_perm("costledger.view_costentry"):
            raise PermissionDenied
        context = {
            **self.site.each_context(request),
            "title": "Unpriced LLM usage",
            "models": llm_unpriced_models(),
            "can_price": request.user.has_perm("costledger.add_modelprice"),
            "add_price_url": reverse("admin:costledger_modelprice_add"),
        }
        return TemplateResponse(request, "admin/costledger/llm_unpriced.html", context)

    def post(self, request):
        """Re-price one model's events over the days it was used (after adding its price)."""
        if not request.user.has_perm("costledger.add_modelprice"):
            raise PermissionDenied
        try:
            since = date.fromisoformat(request.POST.get("since", ""))
            until = date.fromisoformat(request.POST.get("until", ""))
        except ValueError:
            messages.error(request, "Re-price needs the first and last day (YYYY-MM-DD).")
            return redirect("admin:llm_unpriced")
        model = request.POST.get("model") or None
        changes = llm_events_reprice(since=since, until=until, model=model)
        priced = sum(c.newly_priced for c in changes)
        if priced:
            messages.success(request, f"{priced} events of {model} are priced now.")
        else:
            messages.warning(
                request,
                f"No event of {model} could be priced: add its price first (provider and model "
                "exactly as the events name them, effective on or before the first day).",
            )
        return redirect("admin:llm_unpriced")


class LlmReconciliation(View):
    """Per LLM provider and month: what usage x prices computed beside what was billed."""

    site = None

    def get(self, request):
        if not request.user.has_perm("costledger.view_costentry"):
            raise PermissionDenied
        this_month = month_start(timezone.now().date())
        context = {
            **self.site.each_context(request),
            "title": "LLM cost reconciliation",
            "rows": llm_reconciliation(last_month=this_month, months=SUMMARY_MONTHS),
        }
        return TemplateResponse(request, "admin/costledger/llm_reconciliation.html", context)

"""The admin page of unpriced LLM usage, and the re-price it offers (`usage/admin.py` adds it to
the admin site)."""

from datetime import date

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views import View

from costledger.validators import UNSTORABLE
from usage.reprice import llm_events_reprice
from usage.retention import DaysPruned
from usage.selectors import llm_unpriced_models


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
            "can_price": request.user.has_perm("usage.add_modelprice"),
            "add_price_url": reverse("admin:usage_modelprice_add"),
        }
        return TemplateResponse(request, "admin/usage/llm_unpriced.html", context)

    def post(self, request):
        """Re-price one model's events over the days it was used (after adding its price)."""
        if not request.user.has_perm("usage.add_modelprice"):
            raise PermissionDenied
        try:
            since = date.fromisoformat(request.POST.get("since", ""))
            until = date.fromisoformat(request.POST.get("until", ""))
        except ValueError:
            messages.error(request, "Re-price needs the first and last day (YYYY-MM-DD).")
            return redirect("admin:llm_unpriced")
        model = request.POST.get("model") or None
        if model and UNSTORABLE.search(model):  # PostgreSQL text cannot hold it: no event can
            messages.error(request, "Re-price needs the model's name as the events give it.")
            return redirect("admin:llm_unpriced")
        try:
            changes = llm_events_reprice(since=since, until=until, model=model)
        except DaysPruned as pruned:
            messages.error(request, str(pruned))
            return redirect("admin:llm_unpriced")
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

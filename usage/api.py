"""JSON endpoints of LLM usage kept from the system costledger replaces: cost per user, token
ratios per model, error rates per provider and cost per month. Staff session or the sync token,
like every endpoint of the JSON API; amounts and ratios are strings, never floats."""

from datetime import date
from decimal import Decimal

from django.http import JsonResponse
from django.views.decorators.http import require_GET

from costledger.api_auth import api_auth
from costledger.money import round_money
from costledger.query_params import QueryParams
from usage.selectors import (
    LLM_CURRENCY,
    llm_cost_by_month,
    llm_cost_by_user,
    llm_error_rates,
    llm_token_ratios,
)

PERMISSION = "costledger.view_costentry"


def _text(value: Decimal | None) -> str | None:
    """Exact, without the column's trailing zeros, and at least to the cent: 0.0001234, 12.50."""
    if value is None:
        return None
    cents = round_money(value, LLM_CURRENCY)
    return f"{cents if cents == value else value.normalize():f}"


@require_GET
@api_auth(PERMISSION)
def cost_by_user(request):
    """The top users by LLM cost over [start, end]; `email` is null when not known yet."""
    params = QueryParams(request.GET)
    start, end = params.date_range()
    limit = params.whole_number("limit", default=20, low=1, high=1000)
    if params.errors:
        return params.bad_request()
    users = llm_cost_by_user(start=start, end=end, limit=limit)
    items = [
        {
            "user_id": user.user_id,
            "email": user.email,
            "requests": user.requests,
            "tokens": user.tokens,
            "cost": _text(user.cost),
            "unpriced_requests": user.unpriced_requests,
        }
        for user in users
    ]
    return JsonResponse(
        _head(start, end) | {"currency": LLM_CURRENCY, "limit": limit, "items": items}
    )


@require_GET
@api_auth(PERMISSION)
def token_ratios(request):
    """Per provider and model: prompt tokens (input + cache), completion tokens (output +
    reasoning) and completion / prompt."""
    params = QueryParams(request.GET)
    start, end = params.date_range()
    if params.errors:
        return params.bad_request()
    items = [
        {
            "provider": ratio.provider,
            "model": ratio.model,
            "prompt_tokens": ratio.prompt_tokens,
            "completion_tokens": ratio.completion_tokens,
            "ratio": None if ratio.ratio is None else str(ratio.ratio),
        }
        for ratio in llm_token_ratios(start=start, end=end)
    ]
    return JsonResponse(_head(start, end) | {"items": items})


@require_GET
@api_auth(PERMISSION)
def error_rates(request):
    """Per provider: requests, successes, errors and the error percentage."""
    params = QueryParams(request.GET)
    start, end = params.date_range()
    if params.errors:
        return params.bad_request()
    items = [_error_rate(rate) for rate in llm_error_rates(start=start, end=end)]
    return JsonResponse(_head(start, end) | {"items": items})


def _error_rate(rate) -> dict:
    percent = None if rate.error_percent is None else str(rate.error_percent)
    return {
        "provider": rate.provider,
        "requests": rate.requests,
        "successes": rate.successes,
        "errors": rate.errors,
        "error_percent": percent,
        "error_pct": percent,  # the seed system's name, kept for its clients
    }


@require_GET
@api_auth(PERMISSION)
def monthly_summary(request):
    """LLM cost per calendar month (UTC), the last `months` months up to this one."""
    params = QueryParams(request.GET)
    months = params.whole_number("months", default=6, low=1, high=24)
    if params.errors:
        return params.bad_request()
    items = [
        {
            "month": month.month.strftime("%Y-%m"),
            "requests": month.requests,
            "tokens": month.tokens,
            "cost": _text(month.cost),
            "unpriced_requests": month.unpriced_requests,
        }
        for month in llm_cost_by_month(months=months)
    ]
    return JsonResponse({"months": months, "currency": LLM_CURRENCY, "items": items})


def _head(start: date, end: date) -> dict:
    return {"start": start.isoformat(), "end": end.isoformat()}

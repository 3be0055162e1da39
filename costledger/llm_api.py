"""JSON endpoints of LLM usage kept from the system costledger replaces: cost per user, token
ratios per model, error rates per provider and cost per month. Staff session or the sync token,
like every endpoint of costledger.api; amounts and ratios are strings, never floats."""

from decimal import Decimal

from django.http import JsonResponse
from django.views.decorators.http import require_GET

from costledger.api import api_auth, parse_date_range
from costledger.llm_selectors import (
    LLM_CURRENCY,
    llm_cost_by_month,
    llm_cost_by_user,
    llm_error_rates,
    llm_token_ratios,
)
from costledger.money import round_money

PERMISSION = "costledger.view_costentry"


def _bounded_int(params, name: str, default: int, low: int, high: int) -> tuple[int, str | None]:
    raw = params.get(name)
    if raw in (None, ""):
        return default, None
    try:
        value = int(raw)
    except ValueError:
        return default, f"{raw!r} is not a whole number; use {low} to {high}."
    if not low <= value <= high:
        return default, f"{name} must be from {low} to {high}, not {value}."
    return value, None


def _text(value: Decimal | None) -> str | None:
    """Exact, without the column's trailing zeros, and at least to the cent: 0.0001234, 12.50."""
    if value is None:
        return None
    cents = round_money(value, LLM_CURRENCY)
    return f"{cents if cents == value else value.normalize():f}"


def _range(request) -> tuple[dict, dict]:
    start, end, errors = parse_date_range(request.GET)
    return {"start": start, "end": end}, errors


def _bad_request(errors: dict) -> JsonResponse:
    return JsonResponse({"errors": errors}, status=400)


@require_GET
@api_auth(PERMISSION)
def cost_by_user(request):
    """The top users by LLM cost over [start, end]; `email` is null when not known yet."""
    dates, errors = _range(request)
    limit, limit_error = _bounded_int(request.GET, "limit", 20, 1, 1000)
    if limit_error:
        errors["limit"] = limit_error
    if errors:
        return _bad_request(errors)
    users = llm_cost_by_user(**dates, limit=limit)
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
    return JsonResponse(_head(dates) | {"currency": LLM_CURRENCY, "limit": limit, "items": items})


@require_GET
@api_auth(PERMISSION)
def token_ratios(request):
    """Per provider and model: prompt tokens (input + cache), completion tokens (output +
    reasoning) and completion / prompt."""
    dates, errors = _range(request)
    if errors:
        return _bad_request(errors)
    items = [
        {
            "provider": ratio.provider,
            "model": ratio.model,
            "prompt_tokens": ratio.prompt_tokens,
            "completion_tokens": ratio.completion_tokens,
            "ratio": None if ratio.ratio is None else str(ratio.ratio),
        }
        for ratio in llm_token_ratios(**dates)
    ]
    return JsonResponse(_head(dates) | {"items": items})


@require_GET
@api_auth(PERMISSION)
def error_rates(request):
    """Per provider: requests, successes, errors and the error percentage."""
    dates, errors = _range(request)
    if errors:
        return _bad_request(errors)
    items = [
        {
            "provider": rate.provider,
            "requests": rate.requests,
            "successes": rate.successes,
            "errors": rate.errors,
            "error_pct": None if rate.error_pct is None else str(rate.error_pct),
        }
        for rate in llm_error_rates(**dates)
    ]
    return JsonResponse(_head(dates) | {"items": items})


@require_GET
@api_auth(PERMISSION)
def monthly_summary(request):
    """LLM cost per calendar month (UTC), the last `months` months up to this one."""
    months, months_error = _bounded_int(request.GET, "months", 6, 1, 24)
    if months_error:
        return _bad_request({"months": months_error})
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


def _head(dates: dict) -> dict:
    return {"start": dates["start"].isoformat(), "end": dates["end"].isoformat()}

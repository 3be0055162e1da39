"""JSON endpoints for outside scripts and crons: staff session or the sync token."""

import hmac
from datetime import timedelta
from functools import wraps

from django.conf import settings
from django.http import JsonResponse
from django.views.decorators.http import require_GET

from costledger.business import PRESETS, business_summary, period_resolve
from costledger.money import round_money
from costledger.providers import Category
from costledger.query_params import QueryParams
from costledger.selectors import effective_cost_by_day


def _bearer_token(request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def bearer_token_valid(request) -> bool:
    """True when the request carries `Authorization: Bearer $SYNC_API_TOKEN` (set and equal)."""
    token, expected = _bearer_token(request), settings.SYNC_API_TOKEN
    return bool(token and expected) and hmac.compare_digest(token.encode(), expected.encode())


def unauthorized(message: str) -> JsonResponse:
    response = JsonResponse({"error": message}, status=401)
    response["WWW-Authenticate"] = 'Bearer realm="costledger"'
    return response


def api_auth(permission: str):
    """Let in `Authorization: Bearer $SYNC_API_TOKEN` and staff sessions holding `permission`
    (the same one the matching admin page asks); 401/403 otherwise."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if _bearer_token(request) is not None:
                if bearer_token_valid(request):
                    return view(request, *args, **kwargs)
                return unauthorized("The bearer token is not valid.")
            user = request.user
            if not user.is_authenticated:
                return unauthorized(
                    "Authentication required: send `Authorization: Bearer <SYNC_API_TOKEN>` "
                    "or log in to the admin."
                )
            if user.is_active and user.is_staff and user.has_perm(permission):
                return view(request, *args, **kwargs)
            return JsonResponse(
                {"error": f"Staff access with the {permission} permission is required."},
                status=403,
            )

        return wrapper

    return decorator


@require_GET
@api_auth("costledger.view_costentry")
def infrastructure_costs(request):
    """Effective cost per day and provider, in the reporting currency."""
    params = QueryParams(request.GET)
    start, end = params.date_range()
    categories = params.names("category", allowed=Category.values)
    providers = params.names("provider")
    if params.errors:
        return params.bad_request()

    costs = effective_cost_by_day(
        start=start, end=end + timedelta(days=1), providers=providers, categories=categories
    )
    currency = costs.currency
    items = [
        {
            "day": cost.day.isoformat(),
            "provider": cost.provider,
            "cost": str(round_money(cost.amount, currency)) if cost.complete else None,
            "currency": currency,
            "source": cost.source,
            "by_category": {
                category: str(round_money(amount, currency))
                for category, amount in sorted(cost.by_category.items())
            },
            **(
                {"unconverted": {c: str(round_money(a, c)) for c, a in cost.unconverted.items()}}
                if cost.unconverted
                else {}
            ),
        }
        for cost in costs.days
    ]
    return JsonResponse(
        {
            "start": start.isoformat(),
            "end": end.isoformat(),
            "currency": currency,
            "items": items,
            "missing_exchange_rates": [
                {
                    "currency": missing.currency,
                    "first_day": missing.first_day.isoformat(),
                    "last_day": missing.last_day.isoformat(),
                }
                for missing in costs.missing_rates
            ],
        }
    )


@require_GET
@api_auth("costledger.view_costentry")
def business_summary_api(request):
    """Every figure of the admin's Business summary, for the same `period` (one selector serves
    both, so they cannot disagree)."""
    params = QueryParams(request.GET)
    key = params.choice("period", dict(PRESETS))
    if params.errors:
        return params.bad_request()
    return JsonResponse(business_summary(period=period_resolve(key=key)))

"""JSON endpoints for outside scripts and crons: staff session or the sync token."""

import hmac
from datetime import date, timedelta
from functools import wraps

from django.conf import settings
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from costledger.business import PRESETS, business_summary, period_resolve
from costledger.money import round_money
from costledger.providers import Category
from costledger.selectors import effective_cost_by_day

MAX_RANGE_DAYS = 366
DEFAULT_RANGE_DAYS = 30
# Dates outside this range are typing mistakes, and near date.max they would overflow.
EARLIEST, LATEST = date(2000, 1, 1), date(2999, 12, 31)


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


def parse_date_range(params) -> tuple[date, date, dict]:
    """Read `start` and `end` (inclusive, YYYY-MM-DD). Defaults: the last 30 days."""
    errors = {}
    today = timezone.now().date()
    values = {}
    for name, default in (("start", None), ("end", today)):
        raw = params.get(name)
        if raw in (None, ""):
            values[name] = default
            continue
        try:
            values[name] = date.fromisoformat(raw)
        except ValueError:
            errors[name] = f"{raw!r} is not a date; use YYYY-MM-DD."
            continue
        if not EARLIEST <= values[name] <= LATEST:
            errors[name] = f"{raw} is outside {EARLIEST} to {LATEST}."
    end = values.get("end") or today
    start = values.get("start") or max(end - timedelta(days=DEFAULT_RANGE_DAYS - 1), EARLIEST)
    if errors:
        return start, end, errors
    if end < start:
        errors["end"] = f"end ({end}) is before start ({start})."
    elif (end - start).days + 1 > MAX_RANGE_DAYS:
        errors["end"] = (
            f"The range {start} to {end} is {(end - start).days + 1} days; "
            f"at most {MAX_RANGE_DAYS} days may be asked at once."
        )
    return start, end, errors


def _list_param(params, name: str, allowed: set[str] | None = None) -> tuple[list[str], str | None]:
    values = [v for raw in params.getlist(name) for v in raw.split(",") if v]
    unknown = sorted(set(values) - allowed) if allowed is not None else []
    if unknown:
        return (
            values,
            f"Unknown {name} {', '.join(unknown)}; use one of {', '.join(sorted(allowed))}.",
        )
    return values, None


@require_GET
@api_auth("costledger.view_costentry")
def infrastructure_costs(request):
    """Effective cost per day and provider, in the reporting currency."""
    start, end, errors = parse_date_range(request.GET)
    categories, category_error = _list_param(request.GET, "category", set(Category.values))
    providers, _ = _list_param(request.GET, "provider")
    if category_error:
        errors["category"] = category_error
    if errors:
        return JsonResponse({"errors": errors}, status=400)

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
    key = request.GET.get("period")
    if key and key not in dict(PRESETS):
        return JsonResponse(
            {
                "errors": {
                    "period": f"Unknown period {key!r}; use one of {', '.join(dict(PRESETS))}."
                }
            },
            status=400,
        )
    return JsonResponse(business_summary(period=period_resolve(key=key)))

"""The reports as JSON, for outside scripts and crons: staff session or the sync token."""

from datetime import timedelta

from django.http import JsonResponse
from django.views.decorators.http import require_GET

from billing.margins import customer_margins
from costledger.api_auth import api_auth
from costledger.money import round_money
from costledger.providers import Category
from costledger.query_params import QueryParams
from costledger.selectors import effective_cost_by_day
from reports.business_json import business_summary
from reports.customers import customer_margins_json, margins_period
from reports.periods import period_read


@require_GET
@api_auth("costledger.view_costentry")
def infrastructure_costs(request):
    """Effective cost per day and provider, in the reporting currency, over `start`/`end` (by
    default the last 30 days) or a report preset (`period=last_month`)."""
    params = QueryParams(request.GET)
    if "period" in request.GET:  # the reports' presets; compare= has no meaning here
        period = period_read(params)
        start, end = period.start, period.end
    else:
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
    """Every figure of the admin's Business summary, for the same period parameters (one
    selector serves both, so they cannot disagree): `period=<preset>` or `start`/`end`, and
    `compare`."""
    params = QueryParams(request.GET)
    period = period_read(params)
    if params.errors:
        return params.bad_request()
    return JsonResponse(business_summary(period=period))


@require_GET
@api_auth("billing.view_customer")
def customer_margins_api(request):
    """Revenue, LLM cost, allocated cost and margin per customer over `start`/`end` (end
    included) or `period=<preset>`; by default the last full month. The same figures as the
    admin's Customers report, and how each month's shared costs were allocated."""
    params = QueryParams(request.GET)
    period = margins_period(params)
    if params.errors:
        return params.bad_request()
    return JsonResponse(customer_margins_json(customer_margins(start=period.start, end=period.end)))

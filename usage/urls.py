from django.urls import path

from usage import api, ingest

urlpatterns = [
    path("api/v1/usage/events", ingest.usage_events, name="api-usage-events"),
    path("api/v1/metrics/cost-by-user", api.cost_by_user, name="api-cost-by-user"),
    path("api/v1/metrics/token-ratios", api.token_ratios, name="api-token-ratios"),
    path("api/v1/metrics/error-rates", api.error_rates, name="api-error-rates"),
    path(
        "api/v1/metrics/metrics-monthly-summary",
        api.monthly_summary,
        name="api-metrics-monthly-summary",
    ),
]

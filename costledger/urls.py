from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from costledger import api, llm_api

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("admin/", admin.site.urls),
    path(
        "api/v1/metrics/infrastructure-costs",
        api.infrastructure_costs,
        name="api-infrastructure-costs",
    ),
    path("api/v1/metrics/cost-by-user", llm_api.cost_by_user, name="api-cost-by-user"),
    path("api/v1/metrics/token-ratios", llm_api.token_ratios, name="api-token-ratios"),
    path("api/v1/metrics/error-rates", llm_api.error_rates, name="api-error-rates"),
    path(
        "api/v1/metrics/metrics-monthly-summary",
        llm_api.monthly_summary,
        name="api-metrics-monthly-summary",
    ),
    path(
        "api/v1/metrics/business-summary",
        api.business_summary_api,
        name="api-business-summary",
    ),
    path("", include("collectors.urls")),
]

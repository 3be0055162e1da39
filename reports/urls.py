from django.urls import path

from reports import api

urlpatterns = [
    path(
        "api/v1/metrics/infrastructure-costs",
        api.infrastructure_costs,
        name="api-infrastructure-costs",
    ),
    path(
        "api/v1/metrics/customer-margins",
        api.customer_margins_api,
        name="api-customer-margins",
    ),
    path(
        "api/v1/metrics/business-summary",
        api.business_summary_api,
        name="api-business-summary",
    ),
]

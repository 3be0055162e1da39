from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from costledger import api

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("admin/", admin.site.urls),
    path(
        "api/v1/metrics/infrastructure-costs",
        api.infrastructure_costs,
        name="api-infrastructure-costs",
    ),
    path("", include("collectors.urls")),
]

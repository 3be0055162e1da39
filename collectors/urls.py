from django.urls import path

from collectors import api

urlpatterns = [
    path("api/v1/metrics/sync-all", api.sync_all, name="api-sync-all"),
]

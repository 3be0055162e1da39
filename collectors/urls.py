from django.urls import path

from collectors import api, ingest

urlpatterns = [
    path("api/v1/metrics/sync-all", api.sync_all, name="api-sync-all"),
    path("api/v1/usage/events", ingest.usage_events, name="api-usage-events"),
]

from django.apps import AppConfig


class ReportsConfig(AppConfig):
    """The summary pages, their JSON API and exports: read-only, they may read every app."""

    name = "reports"
    verbose_name = "Reports"

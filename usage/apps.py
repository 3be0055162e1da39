from django.apps import AppConfig


class UsageConfig(AppConfig):
    """LLM usage: events, their daily sums, the price book, the ingest API and its keys."""

    name = "usage"
    verbose_name = "LLM usage"
    default_auto_field = "django.db.models.BigAutoField"

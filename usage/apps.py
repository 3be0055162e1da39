from django.apps import AppConfig


class UsageConfig(AppConfig):
    """LLM usage: events, their daily sums, the price book, the ingest API and its keys."""

    name = "usage"
    verbose_name = "LLM usage"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from costledger.selectors import currency_holder_add

        currency_holder_add(_currencies_held)


def _currencies_held() -> set[str]:
    """Usage costs are kept in one currency (LLM_CURRENCY): it needs a rate once there is usage."""
    from usage.effective import LLM_CURRENCY
    from usage.models import LlmUsageDaily

    return {LLM_CURRENCY} if LlmUsageDaily.objects.exists() else set()

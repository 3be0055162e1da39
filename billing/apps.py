from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = "Billing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from costledger.selectors import currency_holder_add

        currency_holder_add(_currencies_held)


def _currencies_held() -> set[str]:
    """The currencies customers are billed in: exchange rate loaders write rates for them."""
    from billing.models import Customer, Invoice, Plan

    return {
        currency
        for model in (Customer, Plan, Invoice)
        for currency in model.objects.order_by().values_list("currency", flat=True).distinct()
    }

from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"
    verbose_name = "Budgets and alerts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from collectors.signals import sync_run_finished
        from costledger.selectors import currency_holder_add

        sync_run_finished.connect(_check_after_sync, dispatch_uid="alerts-after-sync")
        currency_holder_add(_currencies_held)


def _currencies_held() -> set[str]:
    """Budgets' currencies: their actuals are converted at the stored rates."""
    from alerts.models import Budget

    return set(Budget.objects.order_by().values_list("currency", flat=True).distinct())


def _check_after_sync(sender, sync_run_id, status, **kwargs):
    """After each sync, once its writes are committed: the costs just collected may cross a
    threshold, and a failed collector should be told now, not at the next hourly check."""
    from django.db import transaction

    from alerts.tasks import check_alerts_task

    transaction.on_commit(check_alerts_task.delay)

from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"
    verbose_name = "Budgets and alerts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from collectors.signals import sync_run_finished

        sync_run_finished.connect(_check_after_sync, dispatch_uid="alerts-after-sync")


def _check_after_sync(sender, sync_run_id, status, **kwargs):
    """After each sync, once its writes are committed: the costs just collected may cross a
    threshold, and a failed collector should be told now, not at the next hourly check."""
    from django.db import transaction

    from alerts.tasks import check_alerts_task

    transaction.on_commit(check_alerts_task.delay)

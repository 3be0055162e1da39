"""Celery tasks: beat checks the alerts hourly, and each finished sync asks for a check."""

from celery import shared_task

from alerts.delivery import deliveries_send
from alerts.services import alerts_check


@shared_task
def check_alerts_task() -> int:
    """Evaluate every rule, raise what is new, send what is due (retries included); the count
    of alerts raised."""
    result = alerts_check()
    deliveries_send()
    return len(result.raised)


@shared_task
def send_scheduled_reports_task() -> int:
    """Beat runs this daily: each weekly and monthly report goes out once for the period just
    ended (retries of failed sends included); the count sent."""
    from alerts.scheduled import reports_send

    return sum(1 for done in reports_send() if done["status"] == "sent")

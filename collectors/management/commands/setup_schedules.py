from dataclasses import dataclass

from django.core.management.base import BaseCommand
from django.db import transaction
from django_celery_beat.models import CrontabSchedule, PeriodicTask


@dataclass(frozen=True)
class Schedule:
    name: str
    task: str  # the Celery task's name: beat sends it, no import needed
    hour: str
    minute: str
    description: str
    day_of_month: str = "*"


DAILY_SYNC = "costledger: sync all collectors daily"
DAILY_PRUNE = "costledger: prune raw usage events daily"
DAILY_CLOSE_MONTHS = "costledger: add up the usage of months that ended, daily"
HOURLY_ALERTS = "costledger: check budgets and alerts, hourly"
DAILY_REPORTS = "costledger: send the scheduled reports, daily"
MONTHLY_BILLING = "costledger: draft the customer invoices of the month before, on the 1st"
SCHEDULES = [
    Schedule(
        DAILY_SYNC, "collectors.tasks.sync_all_task", "2", "15",
        "Runs every collector for yesterday and today (UTC). Edit the time here; "
        "`manage.py setup_schedules --reset` restores 02:15 UTC.",
    ),
    Schedule(
        DAILY_PRUNE, "usage.tasks.prune_usage_events_task", "3", "30",
        "Deletes the raw usage events older than USAGE_EVENTS_RETENTION_DAYS (their sums stay). "
        "`manage.py setup_schedules --reset` restores 03:30 UTC.",
    ),
    Schedule(
        DAILY_CLOSE_MONTHS, "usage.tasks.close_usage_months_task", "0", "20",
        "Adds up the per-user LLM usage of a month once it has ended, for the reports of long "
        "ranges (a no-op on the other days). `manage.py setup_schedules --reset` restores 00:20 "
        "UTC.",
    ),
    Schedule(
        HOURLY_ALERTS, "alerts.tasks.check_alerts_task", "*", "5",
        "Evaluates every budget and alert rule, raises what is new and sends its notifications "
        "(each sync also asks for a check when it ends). `manage.py setup_schedules --reset` "
        "restores minute 5 of every hour.",
    ),
    Schedule(
        DAILY_REPORTS, "alerts.tasks.send_scheduled_reports_task", "6", "0",
        "Sends each weekly report on Mondays and each monthly one on the 1st, for the period "
        "just ended (a no-op once sent). `manage.py setup_schedules --reset` restores 06:00 UTC.",
    ),
    Schedule(
        MONTHLY_BILLING, "billing.tasks.billing_run_task", "4", "0",
        "Creates or refreshes the draft invoices of the month just ended (billing_run), after "
        "the night's sync; finalized invoices are never touched. `manage.py setup_schedules "
        "--reset` restores 04:00 UTC on the 1st.",
        day_of_month="1",
    ),
]  # fmt: skip


class Command(BaseCommand):
    help = (
        "Create the default Celery beat schedules: the daily sync of every collector at 02:15 "
        "UTC, the pruning of raw usage events at 03:30 UTC, the adding up of the months that "
        "ended at 00:20 UTC, the alert checks at minute 5 of every hour, the scheduled "
        "reports at 06:00 UTC and the draft invoices on the 1st at 04:00 UTC. Idempotent; a "
        "schedule edited in the admin is left as it is unless --reset."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--reset", action="store_true", help="put the default times back on edited schedules"
        )

    @transaction.atomic
    def handle(self, *args, reset: bool, **options):
        for schedule in SCHEDULES:
            self._schedule(schedule, reset)

    def _schedule(self, schedule: Schedule, reset: bool) -> None:
        crontab, _ = CrontabSchedule.objects.get_or_create(
            minute=schedule.minute,
            hour=schedule.hour,
            day_of_week="*",
            day_of_month=schedule.day_of_month,
            month_of_year="*",
            timezone="UTC",
        )
        task = PeriodicTask.objects.filter(name=schedule.name).first()
        if task and not reset:
            self.stdout.write(f"'{schedule.name}' exists ({task.crontab}); left as it is.")
            return
        PeriodicTask.objects.update_or_create(
            name=schedule.name,
            defaults={
                "task": schedule.task,
                "crontab": crontab,
                "interval": None,
                "enabled": True,
                "description": schedule.description,
            },
        )
        if schedule.hour == "*":
            when = f"hourly at minute {schedule.minute}"
        elif schedule.day_of_month != "*":
            when = f"on day {schedule.day_of_month} of each month at {int(schedule.hour):02}:{schedule.minute} UTC"  # noqa: E501
        else:
            when = f"daily at {int(schedule.hour):02}:{schedule.minute} UTC"
        self.stdout.write(self.style.SUCCESS(f"'{schedule.name}' scheduled {when}."))

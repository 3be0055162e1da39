from django.core.management.base import BaseCommand
from django.db import transaction
from django_celery_beat.models import CrontabSchedule, PeriodicTask

DAILY_SYNC = "costledger: sync all collectors daily"


class Command(BaseCommand):
    help = (
        "Create the default Celery beat schedule: the daily sync of every collector at "
        "02:15 UTC. Idempotent; a schedule edited in the admin is left as it is unless --reset."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--reset", action="store_true", help="put the default time back on an edited schedule"
        )

    @transaction.atomic
    def handle(self, *args, reset: bool, **options):
        crontab, _ = CrontabSchedule.objects.get_or_create(
            minute="15",
            hour="2",
            day_of_week="*",
            day_of_month="*",
            month_of_year="*",
            timezone="UTC",
        )
        task = PeriodicTask.objects.filter(name=DAILY_SYNC).first()
        if task and not reset:
            self.stdout.write(f"'{DAILY_SYNC}' exists ({task.crontab}); left as it is.")
            return
        PeriodicTask.objects.update_or_create(
            name=DAILY_SYNC,
            defaults={
                "task": "collectors.tasks.sync_all_task",
                "crontab": crontab,
                "interval": None,
                "enabled": True,
                "description": "Runs every collector for yesterday and today (UTC). "
                "Edit the time here; `manage.py setup_schedules --reset` restores 02:15 UTC.",
            },
        )
        self.stdout.write(self.style.SUCCESS(f"'{DAILY_SYNC}' scheduled daily at 02:15 UTC."))

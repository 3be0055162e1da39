from django.core.management.base import BaseCommand

from usage.months import llm_usage_months_close


class Command(BaseCommand):
    help = (
        "Add up the per-user LLM usage of every month that has ended (UTC) and is not closed yet, "
        "for the reports of long ranges; the trigger keeps it from then on. Beat runs it daily "
        "(setup_schedules); run it by hand where no beat runs. Running it again changes nothing."
    )

    def handle(self, *args, **options):
        months = llm_usage_months_close()
        closed = ", ".join(f"{month:%Y-%m}" for month in months) or "none left to close"
        self.stdout.write(self.style.SUCCESS(f"Months added up: {closed}."))

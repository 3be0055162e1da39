from django.core.management.base import BaseCommand

from usage.sums import trigger_function


class Command(BaseCommand):
    help = (
        "Print the SQL of the trigger function that keeps the per-model and per-user LLM sums, "
        "generated from usage/sums.py: save it as the next usage/sql/llm_usage_daily_sums_vN.sql "
        "and run it from a migration."
    )

    def handle(self, *args, **options):
        self.stdout.write(trigger_function(), ending="")

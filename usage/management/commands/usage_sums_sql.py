from django.core.management.base import BaseCommand

from usage.sums import tag_trigger_functions, trigger_function


class Command(BaseCommand):
    help = (
        "Print the SQL of the trigger function that keeps the per-model and per-user LLM sums, "
        "generated from usage/sums.py: save it as the next usage/sql/llm_usage_daily_sums_vN.sql "
        "and run it from a migration. With --tags, the functions of the triggers on the tag sums "
        "(usage/sql/llm_usage_tag_next_days_vN.sql)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--tags", action="store_true")

    def handle(self, *args, **options):
        sql = tag_trigger_functions() if options["tags"] else trigger_function()
        self.stdout.write(sql, ending="")

import re

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from usage.retention import MINIMUM_DAYS, llm_events_prune


def _days(value: str) -> int:
    found = re.fullmatch(r"(\d{1,5})d?", value.strip())
    if not found:
        raise CommandError(f"--older-than {value!r} is not a number of days: write e.g. 400d.")
    return int(found[1])


class Command(BaseCommand):
    help = (
        "Delete the raw LLM usage events of the days before today minus --older-than (default: "
        "USAGE_EVENTS_RETENTION_DAYS), in batches. Every daily sum stays; events of those days "
        "are refused from then on, and those days can no longer be re-priced or rebuilt."
    )

    def add_arguments(self, parser):
        parser.add_argument("--older-than", help="e.g. 400d (default: the retention setting)")
        parser.add_argument("--batch-size", type=int, default=10_000)

    def handle(self, *args, older_than, batch_size, **options):
        if older_than is None:
            if not settings.USAGE_EVENTS_RETENTION_DAYS:
                raise CommandError(
                    "USAGE_EVENTS_RETENTION_DAYS is 0 (keep raw events forever): give "
                    "--older-than, e.g. 400d, to prune anyway."
                )
            days = settings.USAGE_EVENTS_RETENTION_DAYS
        else:
            days = _days(older_than)
        if days < MINIMUM_DAYS:
            raise CommandError(
                f"--older-than {days}d would leave less than {MINIMUM_DAYS} days of raw events: "
                "re-pricing and rebuilding a recent day need them."
            )
        if not 1 <= batch_size <= 1_000_000:
            raise CommandError("--batch-size must be between 1 and 1000000.")
        deleted = llm_events_prune(older_than_days=days, batch_size=batch_size)
        self.stdout.write(
            self.style.SUCCESS(
                f"{deleted} raw events older than {days} days deleted; their sums stay."
            )
        )

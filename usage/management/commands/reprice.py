from django.core.management.base import BaseCommand, CommandError

from costledger.management.dates import command_date
from usage.reprice import llm_events_reprice
from usage.retention import DaysPruned


class Command(BaseCommand):
    help = (
        "Cost LLM usage events again with the current price book (after adding or correcting "
        "a price), and rebuild their daily figures. Provider-reported costs are kept."
    )

    def add_arguments(self, parser):
        parser.add_argument("--since", required=True, help="first day, YYYY-MM-DD")
        parser.add_argument("--until", required=True, help="last day (inclusive), YYYY-MM-DD")
        parser.add_argument("--model", help="only events of this model (as the events name it)")

    def handle(self, *args, since, until, model, **options):
        first, last = command_date(since, "--since"), command_date(until, "--until")
        if last < first:
            raise CommandError(f"--until {last} is before --since {first}.")
        try:
            changes = llm_events_reprice(since=first, until=last, model=model)
        except DaysPruned as pruned:
            raise CommandError(str(pruned)) from pruned
        if not changes:
            self.stdout.write(f"Nothing changed between {first} and {last}.")
            return
        for c in changes:
            self.stdout.write(
                f"{c.provider}/{c.model}: {c.events} events re-priced, {c.before} -> {c.after} "
                f"USD ({c.newly_priced} newly priced, {c.now_unpriced} now unpriced)"
            )

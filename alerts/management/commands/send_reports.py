import contextlib
import json
import sys

from django.core.management.base import BaseCommand

from alerts.scheduled import reports_send


class Command(BaseCommand):
    help = (
        "Send each enabled scheduled report (Budgets and alerts > Scheduled reports) for the "
        "period just ended, once: the week before (Monday to Sunday) or the month before. Beat "
        "runs it daily at 06:00 UTC; running it again sends nothing twice. --dry-run: say what "
        "would be sent."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true")
        parser.add_argument("--dry-run", action="store_true")

    def handle(self, *args, **options):
        # With --json, stdout is the JSON alone (see check_alerts).
        quiet = (
            contextlib.redirect_stdout(sys.stderr) if options["json"] else contextlib.nullcontext()
        )
        with quiet:
            done = reports_send(dry_run=options["dry_run"])
        if options["json"]:
            self.stdout.write(json.dumps(done, indent=2))
        elif not done:
            self.stdout.write("Nothing to send: every report went out for its last period.")
        for row in [] if options["json"] else done:
            self.stdout.write(f"{row['status'].upper()}: {row['report']} for {row['period']}")

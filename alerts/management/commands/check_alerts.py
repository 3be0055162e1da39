import contextlib
import json
import sys

from django.core.management.base import BaseCommand

from alerts.delivery import deliveries_send
from alerts.services import alerts_check, alerts_raised_before


class Command(BaseCommand):
    help = (
        "Evaluate every budget and alert rule now: print what fired and why, raise each alert "
        "once (however often this runs) and send its notifications. --dry-run writes and sends "
        "nothing. Exit 0 whatever fired; beat runs it hourly and after each sync."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="print the result as JSON")
        parser.add_argument(
            "--dry-run", action="store_true", help="evaluate only: raise and send nothing"
        )

    def handle(self, *args, **options):
        # With --json, stdout is the JSON alone: the console email backend (the quick start's
        # default) prints each email to stdout, so while sending, that goes to stderr.
        quiet = (
            contextlib.redirect_stdout(sys.stderr) if options["json"] else contextlib.nullcontext()
        )
        with quiet:
            result = alerts_check(dry_run=options["dry_run"])
            before = alerts_raised_before(result.findings) if result.dry_run else set()
            sent = {} if options["dry_run"] else deliveries_send()
        raised = {(a.rule, a.scope, a.threshold, a.period) for a in result.raised}
        rows = [
            {
                "status": ("already notified" if f.key in before else "would fire")
                if result.dry_run else ("fired" if f.key in raised else "already notified"),
                "rule": f.rule, "scope": f.scope, "threshold": f.threshold, "period": f.period,
                "title": f.title, "message": f.message, "incomplete": f.incomplete,
                "figures": f.figures,
            }
            for f in result.findings
        ]  # fmt: skip
        resolved = [{"rule": a.rule, "scope": a.scope, "title": a.title} for a in result.resolved]
        if options["json"]:
            payload = {"dry_run": result.dry_run, "findings": rows, "resolved": resolved,
                       "deliveries": sent, "skipped": result.skipped}  # fmt: skip
            self.stdout.write(json.dumps(payload, indent=2, default=str))
            return
        if not rows and not resolved:
            self.stdout.write("Nothing to alert: every budget and rule is within its limits.")
        for row in rows:
            self.stdout.write(f"{row['status'].upper()}: {row['title']}\n    {row['message']}")
        for row in resolved:
            self.stdout.write(f"RESOLVED: {row['title']}")
        for reason in result.skipped:
            self.stdout.write(f"NOT CHECKED: {reason}")
        if sent:
            self.stdout.write(
                f"Notifications: {sent['sent']} sent, {sent['retry']} to retry, "
                f"{sent['failed']} failed for good (see Budgets and alerts > Alerts)."
            )

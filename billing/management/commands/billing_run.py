import json

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from billing.issuing import InvoiceRefused, billing_run
from billing.models import Customer
from costledger.days import add_months, month_start
from costledger.management.dates import command_month


class Command(BaseCommand):
    help = (
        "Create or refresh the draft invoices of a calendar month (UTC) from each customer's "
        "plan and usage. Running it again replaces drafts and never touches a finalized "
        "invoice. Exit 1 when a customer's invoice could not be computed (the message says "
        "what to fix); the others are written all the same."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--period", help="the month, YYYY-MM (default: the month before this one)"
        )
        parser.add_argument("--customer", help="only this customer (its id in the admin)")
        parser.add_argument("--json", action="store_true", help="print the result as JSON")

    def handle(self, *args, **options):
        if options["period"] is None:
            month = add_months(month_start(timezone.now().date()), -1)
        else:
            month = command_month(options["period"], "--period")
        customer_ids = None
        if options["customer"] is not None:
            raw = options["customer"]
            if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
                raise CommandError(f"--customer {raw[:40]!r} is not a customer id (a number).")
            if not Customer.objects.filter(pk=int(raw)).exists():
                raise CommandError(f"No customer has the id {raw}: see Customers in the admin.")
            customer_ids = [int(raw)]
        try:
            outcomes = billing_run(month=month, customer_ids=customer_ids)
        except InvoiceRefused as refusal:
            raise CommandError(f"--period {month:%Y-%m}: {refusal}") from None
        failed = [o for o in outcomes if o.outcome == "error"]
        if options["json"]:
            payload = {"period": f"{month:%Y-%m}", "invoices": [o.as_json() for o in outcomes]}
            self.stdout.write(json.dumps(payload, indent=2))
        else:
            self._print(month, outcomes)
        if failed:
            raise CommandError(
                f"{len(failed)} customer invoice{'s' if len(failed) > 1 else ''} of "
                f"{month:%Y-%m} could not be computed: fix what each says, then run again."
            )

    def _print(self, month, outcomes):
        if not outcomes:
            self.stdout.write(f"No customer to invoice for {month:%Y-%m}: add one in the admin.")
        for o in outcomes:
            total = f" {o.total:,} {o.currency}" if o.total is not None else ""
            message = f": {o.message}" if o.message else ""
            self.stdout.write(f"{o.outcome.upper():>9} {o.customer}{total}{message}")
        counts = {}
        for o in outcomes:
            counts[o.outcome] = counts.get(o.outcome, 0) + 1
        summary = ", ".join(f"{n} {name}" for name, n in sorted(counts.items()))
        self.stdout.write(f"{month:%Y-%m}: {summary or 'nothing'}.")

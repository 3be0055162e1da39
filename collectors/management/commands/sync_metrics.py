import json
import sys
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from collectors.base import SyncWindow
from collectors.engine import default_window, sync_run_create, sync_run_execute
from collectors.models import RunStatus, Trigger
from collectors.registry import COLLECTOR_NAMES
from costledger.management.dates import command_date

MAX_BACKFILL_DAYS = 366


class Command(BaseCommand):
    help = (
        "Run the collectors now, in this process. Default window: yesterday and today (UTC). "
        "Prints one line per collector and day (or JSON); exits 1 if any collector failed."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--only",
            action="append",
            metavar="NAME",
            help=f"run only this collector (repeatable): {', '.join(COLLECTOR_NAMES)}",
        )
        parser.add_argument("--date", help="one UTC day, YYYY-MM-DD")
        parser.add_argument("--since", help="backfill from this day (YYYY-MM-DD), day by day")
        parser.add_argument("--until", help="last day of the backfill, inclusive (default today)")
        parser.add_argument("--json", action="store_true", help="print the run as JSON")

    def handle(self, *args, only, date, since, until, json: bool, **options):
        window = self._window(date, since, until)
        try:
            run = sync_run_create(trigger=Trigger.COMMAND, window=window, collectors=only)
        except ValueError as error:
            raise CommandError(f"{error}.") from None
        run = sync_run_execute(sync_run_id=run.pk)
        collector_runs = sorted(
            run.collector_runs.all(),
            key=lambda r: (r.window_start, COLLECTOR_NAMES.index(r.collector)),
        )
        if json:
            self.stdout.write(_as_json(run, collector_runs))
        else:
            for collector_run in collector_runs:
                self.stdout.write(self._line(collector_run))
        if any(r.status == RunStatus.FAILED for r in collector_runs):
            sys.exit(1)

    def _window(self, day, since, until) -> SyncWindow:
        if day and (since or until):
            raise CommandError("Use either --date or --since/--until, not both.")
        if until and not since:
            raise CommandError("--until needs --since (the first day to backfill).")
        if day:
            return SyncWindow.day(command_date(day, "--date"))
        if since:
            first = command_date(since, "--since")
            last = command_date(until, "--until") if until else timezone.now().date()
            if last < first:
                raise CommandError(f"--until {last} is before --since {first}.")
            if (last - first).days + 1 > MAX_BACKFILL_DAYS:
                # One run is one transaction per collector and day, holding each collector's
                # lock throughout: a year is what one run should hold.
                raise CommandError(
                    f"{first} to {last} is {(last - first).days + 1:,} days; backfill at most "
                    f"{MAX_BACKFILL_DAYS} days per run (run the command once per year)."
                )
            return SyncWindow(first, last + timedelta(days=1))
        return default_window()

    def _line(self, run) -> str:
        status = {
            RunStatus.OK: self.style.SUCCESS,
            RunStatus.SKIPPED: self.style.WARNING,
            RunStatus.FAILED: self.style.ERROR,
        }.get(run.status, str)(f"{run.status:<8}")
        detail = run.reason or ", ".join(f"{k}={v}" for k, v in run.figures.items())
        seconds = (run.duration_ms or 0) / 1000
        return (
            f"{run.collector:<15} {run.window_start}  {status} {run.rows_written:>6} rows "
            f"{seconds:>6.1f}s  {detail}"
        )


def _as_json(run, collector_runs) -> str:
    return json.dumps(
        {
            "sync_run": run.pk,
            "status": run.status,
            "window": {"start": run.window_start, "end": run.window_end - timedelta(days=1)},
            "collectors": [
                {
                    "collector": r.collector,
                    "day": r.window_start,
                    "status": r.status,
                    "reason": r.reason,
                    "rows_written": r.rows_written,
                    "duration_ms": r.duration_ms,
                    "figures": r.figures,
                    "notes": r.notes,
                }
                for r in collector_runs
            ],
        },
        cls=DjangoJSONEncoder,
        indent=2,
    )

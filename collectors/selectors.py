"""Reads of the run log and of the collectors' settings: the health of each collector, what
each reads from the environment, and the state of a sync run."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Max, Q, QuerySet
from django.utils import timezone

from collectors.base import Collector
from collectors.http import address_shown
from collectors.models import FINISHED, CollectorRun, RunStatus, SyncRun
from collectors.registry import COLLECTOR_NAMES, collector_class


@dataclass
class CollectorHealth:
    name: str
    provider_name: str
    missing_settings: list[str]
    last_success: datetime | None
    last_run: CollectorRun | None
    stale: bool

    @property
    def configured(self) -> bool:
        return not self.missing_settings


def collector_health(*, with_last_run: bool = True) -> list[CollectorHealth]:
    """Per collector: configured or not, last success, last run, and whether it is stale (no
    success for COLLECTOR_STALE_HOURS while set up, or since its credentials went missing).
    Three queries whatever the history."""
    cutoff = timezone.now() - timedelta(hours=settings.COLLECTOR_STALE_HOURS)
    successes = dict(
        CollectorRun.objects.filter(status=RunStatus.OK)
        .values("collector")
        .annotate(last=Max("finished_at"))
        .values_list("collector", "last")
    )
    latest = {}
    if with_last_run:
        latest_ids = (
            CollectorRun.objects.filter(finished_at__isnull=False)
            .values("collector")
            .annotate(last=Max("pk"))
            .values_list("last", flat=True)
        )
        runs = CollectorRun.objects.filter(pk__in=list(latest_ids))
        latest = {run.collector: run for run in runs}
    health = []
    for name in COLLECTOR_NAMES:
        cls = collector_class(name)
        missing = cls.missing_settings()
        last_success = successes.get(name)
        health.append(
            CollectorHealth(
                name=name,
                provider_name=cls.provider_name,
                missing_settings=missing,
                last_success=last_success,
                last_run=latest.get(name),
                # Set up and not succeeding, or once succeeding and now without its
                # credentials: both leave the ledger's figures getting old.
                stale=(not missing or last_success is not None)
                and (last_success is None or last_success < cutoff),
            )
        )
    return health


def collector_freshness(*, health: list[CollectorHealth] | None = None) -> list[dict]:
    """Collector health as plain data, for the Business summary's freshness block."""
    return [
        {
            "name": item.name,
            "provider": item.provider_name,
            "configured": item.configured,
            "missing_settings": item.missing_settings,
            "last_success": item.last_success.isoformat() if item.last_success else None,
            "stale": item.stale,
        }
        for item in (health if health is not None else collector_health(with_last_run=False))
    ]


@dataclass(frozen=True)
class CollectorVariable:
    """A setting a collector reads: set or not, and its value only for a base URL."""

    name: str
    required: bool
    is_set: bool
    address: str = ""


def collector_variables(*, collector: type[Collector]) -> list[CollectorVariable]:
    """The settings the collector reads, required first. Values are never read out here except
    the base URLs' (Collector.address_settings says why)."""
    names = [*collector.required_settings, *collector.optional_settings]
    return [
        CollectorVariable(
            name=name,
            required=name in collector.required_settings,
            is_set=bool(getattr(settings, name, "")),
            address=(
                address_shown(str(getattr(settings, name, "")))
                if name in collector.address_settings
                else ""
            ),
        )
        for name in names
    ]


def collectors_configured() -> list[str]:
    """The names of the collectors whose required settings are all set."""
    return [name for name in COLLECTOR_NAMES if not collector_class(name).missing_settings()]


# The state of a sync run, from its status and its collector runs' counts.
SYNC_RUN_STATES = {
    "pending": "Pending",
    "running": "Running",
    "ok": "OK",
    "partly_failed": "Partly failed",
    "failed": "Failed",
    "skipped": "Skipped: nothing ran",
}


def sync_runs_counted(queryset: QuerySet[SyncRun]) -> QuerySet[SyncRun]:
    """Sync runs with their collector runs counted by outcome (`ok`, `skipped`, `failed`)."""

    def count(status: str) -> Count:
        return Count("collector_runs", filter=Q(collector_runs__status=status))

    return queryset.annotate(
        ok=count(RunStatus.OK), skipped=count(RunStatus.SKIPPED), failed=count(RunStatus.FAILED)
    )


def sync_run_state(*, status: str, ok: int, failed: int) -> str:
    """A key of SYNC_RUN_STATES. A finished run's status says only whether anything failed; a
    reader also needs to know whether anything succeeded: one failure among nine collectors
    is not the news that all failed, and a run where every collector was skipped did nothing."""
    if status not in FINISHED:
        return status
    if failed:
        return "partly_failed" if ok else "failed"
    return "ok" if ok else "skipped"


@dataclass(frozen=True)
class ProviderOverview:
    """A row of the Providers page."""

    health: CollectorHealth
    variables: list[CollectorVariable]
    test_request: str  # what Test connection sends


def providers_overview() -> list[ProviderOverview]:
    """Every registered collector: its health, the variables it reads, and its test request."""
    return [
        ProviderOverview(
            health=item,
            variables=collector_variables(collector=collector_class(item.name)),
            test_request=collector_class(item.name)().connection_probe().request_shown,
        )
        for item in collector_health()
    ]

"""Reads of the run log: the health of each collector."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Max
from django.utils import timezone

from collectors.models import CollectorRun, RunStatus
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

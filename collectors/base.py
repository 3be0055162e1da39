"""The shape every collector has: a name, the settings it needs, and collect(window)."""

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, ClassVar

from django.conf import settings
from django.utils import timezone

from collectors.errors import CollectorSkipped


@dataclass(frozen=True)
class SyncWindow:
    """The UTC days a run collects: [start, end)."""

    start: date
    end: date

    def __post_init__(self):
        if self.end <= self.start:
            raise ValueError(f"empty window {self.start}..{self.end}")

    @classmethod
    def day(cls, day: date) -> "SyncWindow":
        return cls(day, day + timedelta(days=1))

    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days)]

    def __str__(self):
        last = self.end - timedelta(days=1)
        return str(self.start) if last == self.start else f"{self.start}..{last}"


NOT_BACKFILLED = (
    "{provider} reports its state as it is now, so {window} (a past day) is not back-filled: "
    "that day keeps what its own run wrote"
)


def window_is_today(window: "SyncWindow") -> bool:
    """True when the window holds today (UTC): state-based figures (counts, sizes, plans) can
    only be read for now, never for a past day."""
    return window.start <= timezone.now().date() < window.end


@dataclass
class CollectResult:
    """What a collector wrote: rows, a few headline figures, and notes for the admin."""

    rows_written: int = 0
    figures: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


class Collector:
    """Subclasses set `name`, `provider_name` and `required_settings`, and implement collect().

    collect() runs inside one database transaction opened by the engine: it raises a
    CollectorError to fail (the transaction is rolled back, nothing is written) and returns a
    CollectResult when done. The sync_run_id is stamped on every ledger row it writes.
    """

    name: ClassVar[str]
    provider_name: ClassVar[str]
    required_settings: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *, sync_run_id: int | None = None):
        self.sync_run_id = sync_run_id

    @classmethod
    def missing_settings(cls) -> list[str]:
        return [name for name in cls.required_settings if not getattr(settings, name, "")]

    def check_configured(self) -> None:
        missing = self.missing_settings()
        if missing:
            names = " and ".join(missing)
            verb = "is" if len(missing) == 1 else "are"
            raise CollectorSkipped(f"{names} {verb} not set")

    def collect(self, window: SyncWindow) -> CollectResult:
        raise NotImplementedError

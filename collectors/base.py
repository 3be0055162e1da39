"""The shape every collector has: a name, the settings it needs, and collect(window)."""

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, ClassVar
from urllib.parse import urlencode

from django.conf import settings
from django.utils import timezone

from collectors.errors import CollectorSkipped
from collectors.http import ProviderHTTP


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


@dataclass(frozen=True)
class ConnectionProbe:
    """The one small read-only request that tests a collector's connection: a GET of `path`
    whose documented answer holds the key `expect` (in an XML `document`: an element of that
    name). `shown` is the request as the Providers page may show it (no account id filled
    in); `refused_hint` is added when the key is refused."""

    path: str
    expect: str
    shown: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    refused_hint: str = ""
    document: str = "JSON"  # or "XML"

    @property
    def request_shown(self) -> str:
        if self.shown:
            return self.shown
        query = f"?{urlencode(self.params, safe='():')}" if self.params else ""
        return f"GET {self.path}{query}"


def not_set_reason(names: list[str]) -> str:
    """Why a collector is skipped, naming each unset variable and where to set it."""
    joined = " and ".join(names)
    verb, pronoun = ("is", "it") if len(names) == 1 else ("are", "them")
    return (
        f"{joined} {verb} not set: add {pronoun} to the environment (.env; see .env.example) "
        "and restart"
    )


@dataclass
class CollectResult:
    """What a collector wrote: rows, a few headline figures, and notes for the admin."""

    rows_written: int = 0
    figures: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


class Collector:
    """Subclasses set `name`, `provider_name` and `required_settings`, and implement collect(),
    provider_http() and connection_probe().

    collect() runs inside one database transaction opened by the engine: it raises a
    CollectorError to fail (the transaction is rolled back, nothing is written) and returns a
    CollectResult when done. The sync_run_id is stamped on every ledger row it writes.
    """

    name: ClassVar[str]
    provider_name: ClassVar[str]
    required_settings: ClassVar[tuple[str, ...]] = ()
    # Read when set, not needed to run: a base URL with a default, a second token, a price table.
    optional_settings: ClassVar[tuple[str, ...]] = ()
    # The base URLs among the settings above: the Providers page shows their values (without
    # user info or query string), because an admin checking a proxy or a fake needs to see
    # where the collector connects, and an address is no credential. Every other setting is
    # shown as set or not set, never its value: an account id or project ref is not a secret
    # by itself, but the page does not need it and it sits beside the secrets.
    address_settings: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *, sync_run_id: int | None = None):
        self.sync_run_id = sync_run_id

    @classmethod
    def missing_settings(cls) -> list[str]:
        return [name for name in cls.required_settings if not getattr(settings, name, "")]

    def check_configured(self) -> None:
        missing = self.missing_settings()
        if missing:
            raise CollectorSkipped(not_set_reason(missing))

    def collect(self, window: SyncWindow) -> CollectResult:
        raise NotImplementedError

    def provider_http(
        self, *, timeout: float | None = None, retries: int | None = None
    ) -> ProviderHTTP:
        """The session to the provider with the required settings' credentials (`timeout` and
        `retries` default to the COLLECTOR_HTTP_* settings)."""
        raise NotImplementedError

    def connection_probe(self) -> ConnectionProbe:
        raise NotImplementedError

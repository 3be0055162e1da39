"""Collectors are tested against fake HTTP responses shaped like the providers' documented
examples (tests/collectors/fixtures/); the network is never reached: `responses` refuses any
request that no test registered."""

from datetime import date

import pytest
import responses as responses_lib

from collectors.base import SyncWindow
from collectors.engine import sync_run_create, sync_run_execute
from collectors.models import CollectorRun, Trigger
from tests.fakeproviders.server import fixture  # noqa: F401 (the collectors' tests import it here)


@pytest.fixture
def fake_http():
    with responses_lib.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture(autouse=True)
def slept(monkeypatch):
    """Backoff waits are recorded, not slept."""
    waits: list[float] = []
    monkeypatch.setattr("collectors.http._sleep", waits.append)
    return waits


@pytest.fixture(autouse=True)
def _no_credentials(settings):
    """Every collector starts unconfigured; a test sets what it needs."""
    for name in (
        "DO_API_TOKEN",
        "STRIPE_SECRET_KEY",
        "TWILIO_ACCOUNT_SID",
        "TWILIO_AUTH_TOKEN",
        "SUPABASE_URL",
        "SUPABASE_KEY",
        "SUPABASE_ACCESS_TOKEN",
        "SUPABASE_PROJECT_REF",
        "WEAVIATE_URL",
        "WEAVIATE_API_KEY",
        "PROMETHEUS_URL",
        "OPENAI_ADMIN_KEY",
        "ANTHROPIC_ADMIN_KEY",
        "OPENROUTER_API_KEY",
        "PAYPAL_CLIENT_ID",
        "PAYPAL_CLIENT_SECRET",
        "ECB_RATES_URL",
    ):
        setattr(settings, name, "")


def run_collector(
    name: str, day: date | None = None, window: SyncWindow | None = None
) -> CollectorRun:
    """Run one collector through the engine (in this process, this thread) and return its run."""
    window = window or SyncWindow.day(day or date(2026, 11, 20))
    sync_run = sync_run_create(trigger=Trigger.COMMAND, window=window, collectors=[name])
    sync_run_execute(sync_run_id=sync_run.pk, parallel=False)
    return CollectorRun.objects.filter(sync_run=sync_run).latest("window_start")

"""The fake provider server answers like the providers, so every collector runs ok against it."""

from contextlib import nullcontext
from datetime import date

import pytest
import time_machine

from collectors.registry import COLLECTOR_NAMES
from tests.collectors.conftest import run_collector
from tests.fakeproviders.server import FakeProviders, environment, provider_module

pytestmark = pytest.mark.django_db
DAY = date(2026, 11, 20)


def _has_fake(name):
    try:
        provider_module(name)
    except ModuleNotFoundError:
        return False
    return True


@pytest.mark.parametrize("name", [n for n in COLLECTOR_NAMES if _has_fake(n)])
def test_each_collector_is_ok_against_the_fake_server(name, settings):
    # Collectors of state (counts, sizes) read it for today only: run them on DAY.
    stateful = name in {"supabase", "weaviate"}
    clock = (
        time_machine.travel("2026-11-20 12:00:00+00:00", tick=False) if stateful else nullcontext()
    )
    with clock, FakeProviders(day=DAY) as fake:
        for key, value in environment(fake.url, [name]).items():
            setattr(settings, key, value)
        run = run_collector(name, DAY)
    assert (run.status, run.reason) == ("ok", "")
    expected = provider_module(name).EXPECTED
    assert {k: str(run.figures.get(k)) for k in expected} == {
        k: str(v) for k, v in expected.items()
    }

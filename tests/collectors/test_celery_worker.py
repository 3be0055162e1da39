"""A real Celery worker, with Redis as its broker, runs the sync-all task against the local
fake provider server: the path production takes, end to end."""

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from collectors.base import SyncWindow
from collectors.engine import sync_run_create
from collectors.models import SyncRun, Trigger
from collectors.registry import COLLECTOR_NAMES
from collectors.tasks import sync_all_task
from tests.fakeproviders.server import FakeProviders, environment, provider_module

ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def start_worker(env: dict, queue: str, log: Path) -> subprocess.Popen:
    celery = shutil.which("celery", path=str(Path(sys.executable).parent)) or "celery"
    return subprocess.Popen(
        [
            celery,
            "-A",
            "costledger",
            "worker",
            "-P",
            "threads",
            "-c",
            "10",
            "-Q",
            queue,
            "-n",
            f"{queue}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-l",
            "INFO",
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_sync_all_against_the_fake_providers(settings, tmp_path):
    today = timezone.now().date()
    queue = f"test-{uuid.uuid4().hex[:8]}"
    with FakeProviders(day=today) as fake:
        env = {
            **os.environ,
            **environment(fake.url),
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "CELERY_QUEUE": queue,
            "COLLECTOR_HTTP_BACKOFF": "0",
        }
        log = tmp_path / "worker.log"
        worker = start_worker(env, queue, log)
        try:
            run = sync_run_create(
                trigger=Trigger.SCHEDULE, window=SyncWindow.day(today), exclusive=True
            )
            sync_all_task.apply_async(args=[run.pk], queue=queue)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and not SyncRun.objects.get(pk=run.pk).finished_at:
                time.sleep(0.25)
        finally:
            worker.terminate()
            worker.wait(timeout=30)
    run = SyncRun.objects.get(pk=run.pk)
    results = {r.collector: (r.status, r.reason) for r in run.collector_runs.all()}
    assert run.finished_at, (
        f"the worker did not finish the run; its log:\n{log.read_text()[-3000:]}"
    )
    assert results == {name: ("ok", "") for name in COLLECTOR_NAMES}, log.read_text()[-3000:]
    for collector_run in run.collector_runs.all():
        module = provider_module(collector_run.collector)
        # The Supabase and Weaviate estimates of a day depend on its month's length.
        expected = module.expected_on(today) if hasattr(module, "expected_on") else module.EXPECTED
        figures = {k: str(collector_run.figures.get(k)) for k in expected}
        assert figures == {k: str(v) for k, v in expected.items()}, collector_run.collector

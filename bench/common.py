"""Shared set-up of the benchmarks: a fresh PostgreSQL database, Django configured on it, the
local fake providers and a real Celery worker. Benchmarks are not tests: they print figures."""

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCH_DB = os.environ.get("BENCH_DATABASE", "costledger_bench")
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")


def bench_env(**extra) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "costledger.settings",
        "SECRET_KEY": "benchmark-only",
        "ALLOWED_HOSTS": "localhost,127.0.0.1",
        "DATABASE_URL": f"{PG}/{BENCH_DB}",
        "REDIS_URL": REDIS_URL,
        "COLLECTOR_HTTP_BACKOFF": "0",
        "LOG_LEVEL": "WARNING",
        **extra,
    }


def fresh_database() -> None:
    """Drop and recreate the benchmark database, then migrate it."""
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=bench_env(),
        check=True,
    )


def django_setup(**extra) -> None:
    os.environ.update(bench_env(**extra))
    import django

    django.setup()


class Worker:
    """A real Celery worker on its own queue; `concurrency` threads."""

    def __init__(self, env: dict[str, str], concurrency: int = 10):
        self.queue = f"bench-{uuid.uuid4().hex[:8]}"
        self.env = {**env, "CELERY_QUEUE": self.queue}
        self.concurrency = concurrency
        self.log = Path(f"/tmp/{self.queue}.log")

    def __enter__(self):
        celery = shutil.which("celery", path=str(Path(sys.executable).parent)) or "celery"
        self.process = subprocess.Popen(
            [
                celery,
                "-A",
                "costledger",
                "worker",
                "-P",
                "threads",
                "-c",
                str(self.concurrency),
                "-Q",
                self.queue,
                "-n",
                f"{self.queue}@%h",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-l",
                "WARNING",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
        )
        time.sleep(3)  # let it connect before the clock starts
        return self

    def __exit__(self, *exc):
        self.process.terminate()
        self.process.wait(timeout=30)


def median(values):
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def percentile(values, fraction: float):
    """The value below which `fraction` of `values` fall (nearest rank): p95 is 0.95."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(fraction * len(ordered)) - 1))]


def cpu_calibration() -> float:
    """Seconds for 10 million additions in a Python loop: how fast this machine's cores are at
    the moment, so that figures taken on different days (virtual machines vary) can be compared.
    """
    started = time.perf_counter()
    total = 0
    for i in range(10_000_000):
        total += i
    return time.perf_counter() - started

"""Sync-all wall time against fake providers that add 200 ms to every response.

The collectors run in parallel (one Celery task each), so a sync of every collector should take
at most 1.5x the slowest single collector, not the sum of them. Each figure is the median of
--repeat runs through a real Celery worker (threads pool, concurrency 10) with Redis as broker.

    .venv/bin/python bench/bench_sync_all.py [--delay-ms 200] [--repeat 3]
"""

import argparse
import time

from common import Worker, bench_env, django_setup, fresh_database, median


def timed_run(collectors, queue) -> float:
    from django.utils import timezone

    from collectors.base import SyncWindow
    from collectors.engine import sync_run_create
    from collectors.models import SyncRun, Trigger
    from collectors.tasks import sync_all_task

    window = SyncWindow.day(timezone.now().date())
    run = sync_run_create(trigger=Trigger.COMMAND, window=window, collectors=collectors)
    started = time.monotonic()
    sync_all_task.apply_async(args=[run.pk], queue=queue)
    while not SyncRun.objects.filter(pk=run.pk, finished_at__isnull=False).exists():
        time.sleep(0.02)
    elapsed = time.monotonic() - started
    failed = run.collector_runs.exclude(status="ok").values_list("collector", "status", "reason")
    if failed:
        raise SystemExit(f"not every collector was ok: {list(failed)}")
    return elapsed


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--delay-ms", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    fresh_database()
    from tests.fakeproviders.server import FakeProviders, environment  # needs sys.path

    with FakeProviders(delay=args.delay_ms / 1000) as fake:
        env = bench_env(**environment(fake.url))
        django_setup(**environment(fake.url))
        from collectors.registry import COLLECTOR_NAMES

        with Worker(env) as worker:
            timed_run(["twilio"], worker.queue)  # warm-up: imports, connections
            single = {
                name: median([timed_run([name], worker.queue) for _ in range(args.repeat)])
                for name in COLLECTOR_NAMES
            }
            requests_before = len(fake.requests)
            together = median([timed_run(None, worker.queue) for _ in range(args.repeat)])
            requests = (len(fake.requests) - requests_before) // args.repeat

    slowest = max(single, key=single.get)
    print(f"fake provider delay: {args.delay_ms} ms per response; median of {args.repeat} runs")
    for name, seconds in sorted(single.items(), key=lambda kv: -kv[1]):
        print(f"  {name:<15} alone: {seconds:6.2f} s")
    print(f"sum of singles:        {sum(single.values()):6.2f} s")
    print(f"sync-all ({requests} requests): {together:6.2f} s")
    ratio = together / single[slowest]
    verdict = "OK" if ratio <= 1.5 else "TOO SLOW"
    print(f"sync-all / slowest single ({slowest}): {ratio:.2f}x  (target <= 1.5x) {verdict}")


if __name__ == "__main__":
    main()

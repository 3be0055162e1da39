"""Peak memory of the Stripe collector over 10,000 subscriptions (100 pages of 100).

MRR is aggregated as the pages arrive, so memory must stay flat whatever the number of
subscriptions. The collector runs in this process against the local fake Stripe; the figure is
the process's peak resident set size (ru_maxrss: everything, Python, Django, the SDK and the
fake server thread included), beside the peak of Python allocations during the run.

    .venv/bin/python bench/bench_stripe_memory.py [--pages 100] [--page-size 100]
"""

import argparse
import resource
import time
import tracemalloc

from common import django_setup, fresh_database


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=100)
    parser.add_argument("--page-size", type=int, default=100)
    args = parser.parse_args()

    fresh_database()
    from tests.fakeproviders import stripe as fake_stripe
    from tests.fakeproviders.server import FakeProviders, environment

    fake_stripe.PAGES, fake_stripe.PAGE_SIZE = args.pages, args.page_size
    with FakeProviders(routes=fake_stripe.ROUTES) as fake:
        django_setup(**environment(fake.url, ["stripe"]))
        from django.utils import timezone

        from collectors.base import SyncWindow
        from collectors.engine import sync_run_create, sync_run_execute
        from collectors.models import Trigger

        window = SyncWindow.day(timezone.now().date())  # today: MRR is read
        before = rss_mb()
        tracemalloc.start()
        started = time.monotonic()
        run = sync_run_create(trigger=Trigger.COMMAND, window=window, collectors=["stripe"])
        run = sync_run_execute(sync_run_id=run.pk, parallel=False)
        elapsed = time.monotonic() - started
        _, python_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        pages = sum(1 for method, path in fake.requests if path.endswith("/v1/subscriptions"))

    collector_run = run.collector_runs.get()
    if collector_run.status != "ok":
        raise SystemExit(f"stripe run {collector_run.status}: {collector_run.reason}")
    figures = collector_run.figures
    subscriptions = args.pages * args.page_size
    print(f"subscriptions: {subscriptions} in {pages} pages; sync took {elapsed:.1f} s")
    print(
        f"MRR: {figures.get('mrr')}  active: {figures.get('active_subscriptions')}  "
        f"trialing: {figures.get('trialing_subscriptions')}"
    )
    print(f"peak RSS before the sync: {before:.0f} MB; whole process at the end: {rss_mb():.0f} MB")
    print(f"peak Python allocations during the sync (tracemalloc): {python_peak / 2**20:.1f} MB")
    verdict = "OK" if rss_mb() < 150 else "OVER"
    print(f"target: peak memory under 150 MB -> {verdict}")


if __name__ == "__main__":
    main()

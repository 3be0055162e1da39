"""The alert check at scale: every rule and budget evaluated on the data of
bench_business_page.py (10 million LLM events over two years, 100,000 users, two years of daily
costs; reused as they are: run that benchmark first, or pass --keep-data to reuse its database).

Measurement: `alerts_check(dry_run=True)` (every rule, five budgets: all costs, LLM,
infrastructure, one provider, one in EUR) and `budget_months` alone, median of 10 after 1
warm-up; then one real check (raising the alerts found), and a second one, which must raise
nothing. No target in the issue; the check runs hourly and after each sync, so it should stay
well under a second.

    BENCH_DATABASE=costledger_bench_speed .venv/bin/python bench/bench_check_alerts.py
"""

import subprocess
import sys
import time
from datetime import date
from decimal import Decimal

from common import ROOT, bench_env, cpu_calibration, django_setup, median


def timed(call, runs=10) -> float:
    call()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return median(samples)


def main():
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT,
                   env=bench_env(), check=True)  # fmt: skip
    django_setup()
    from django.utils import timezone

    from alerts.budgets import budget_months
    from alerts.models import Alert, Budget
    from alerts.services import alerts_check
    from costledger.models import CostEntry, ExchangeRate
    from usage.models import LlmUsageDaily

    Alert.objects.all().delete()
    Budget.objects.all().delete()
    month = timezone.now().date().replace(day=1)
    for name, scope, amount, currency in [
        ("All", "total", "20000", "USD"),
        ("LLM", "category:llm", "2000", "USD"),
        ("Infrastructure", "category:infrastructure", "100", "USD"),
        ("DigitalOcean", "provider:digitalocean", "50", "USD"),
        ("All in EUR", "total", "18000", "EUR"),
    ]:
        Budget.objects.create(name=name, scope=scope, amount=Decimal(amount), currency=currency,
                              effective_from=month)  # fmt: skip
    if not ExchangeRate.objects.filter(currency="EUR").exists():
        ExchangeRate.objects.create(day=date(2000, 1, 1), currency="EUR", rate=Decimal("1.08"))
    print(f"data: {LlmUsageDaily.objects.count():,} daily usage rows, "
          f"{CostEntry.objects.count():,} cost entries, 5 budgets")  # fmt: skip
    today = timezone.now().date()
    print(f"budget_months (5 budgets): {timed(lambda: budget_months(today=today)):.1f} ms")
    dry_run = timed(lambda: alerts_check(dry_run=True))
    print(f"alerts_check, dry run (every rule and budget): {dry_run:.1f} ms")
    started = time.perf_counter()
    first = alerts_check()
    print(f"first real check: {(time.perf_counter() - started) * 1000:.0f} ms, "
          f"{len(first.raised)} alerts raised, skipped: {first.skipped or 'none'}")  # fmt: skip
    second = alerts_check()
    print(f"second check: {len(second.raised)} alerts raised (must be 0)")
    print(f"machine: 10 million Python additions in {cpu_calibration():.2f} s")


if __name__ == "__main__":
    main()

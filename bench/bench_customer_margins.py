"""Margin per customer at scale: the Customers report for a month of 10,000 customers and 10
million LLM events, and a customer's 12-month trend.

Data: the billing benchmark's (bench_billing_run.py: 25,000 users, 20,000 of them held by the
10,000 customers, 10M events in November 2026, four plans), with November's invoices run and
finalized, a Stripe payment per linked customer (one in four) on some day of the month, and the
month's shared costs: DigitalOcean's invoice spread over the month and daily Twilio and Stripe
fees.

Measurement: `customer_margins` of November, timed three times: cold (the month's allocation
computed and stored), warm (nothing changed: the stored allocation kept), and after one shared
cost changed (the allocation rewritten); then one customer's 12-month trend (the customer page).
Checks: the shares add up to the shared cost; customer 0's LLM cost equals the raw events'.

    .venv/bin/python bench/bench_customer_margins.py [--keep-data]
"""

import argparse
import time
from datetime import date, timedelta
from decimal import Decimal

import bench_billing_run as billing_bench
from common import cpu_calibration, django_setup, fresh_database

MONTH = billing_bench.MONTH
END = date(2026, 11, 30)
TARGET_S = 10  # an admin page should answer in seconds even at this size


def world_create() -> None:
    from django.db.models import CharField, Value
    from django.db.models.functions import Cast, Concat

    from billing.issuing import billing_run
    from billing.models import Customer, Invoice
    from costledger.models import CustomerRevenue, Source
    from costledger.services import cost_entries_upsert
    from tests.factories import cost_entry

    started = time.monotonic()
    billing_run(month=MONTH)
    finalized = Invoice.objects.filter(status="draft", period_start=MONTH)
    # Bulk rather than invoice_finalize per invoice: numbering is not what is measured here.
    finalized.update(
        status="finalized",
        issue_date=date(2026, 12, 1),
        number=Concat(Value("BENCH-"), Cast("id", CharField())),
    )
    print(f"setup: November invoiced and finalized: {time.monotonic() - started:.0f} s")
    linked = []
    for n, customer in enumerate(Customer.objects.order_by("pk")[::4]):
        customer.stripe_customer_id = f"cus_Bench{n:06d}"
        linked.append(customer)
        CustomerRevenue(
            day=MONTH + timedelta(days=n % 30), provider="stripe",
            customer_ref=customer.stripe_customer_id, currency="USD",
            amount=Decimal("49.00"), paid=Decimal("49.00"), invoices=1,
        ).save()  # fmt: skip
    Customer.objects.bulk_update(linked, ["stripe_customer_id"])
    entries = [
        cost_entry(provider="digitalocean", day=MONTH, days=30, amount="18250.00",
                   source=Source.API, service="App Platform"),
    ]  # fmt: skip
    for n in range(30):
        day = MONTH + timedelta(days=n)
        entries += [
            cost_entry(provider="twilio", day=day, amount="412.19", source=Source.API,
                       service="totalprice"),
            cost_entry(provider="stripe", day=day, amount="1304.33", source=Source.API,
                       service="processing fees", reference="USD"),
        ]  # fmt: skip
    cost_entries_upsert(entries=entries)


def timed(label: str, call):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        started = time.monotonic()
        result = call()
        seconds = time.monotonic() - started
    print(f"{label}: {seconds:.2f} s, {len(queries)} queries")
    return seconds, result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--keep-data", action="store_true")
    args = parser.parse_args()
    print(f"CPU calibration: {cpu_calibration():.2f} s")
    if not args.keep_data:
        fresh_database()
        django_setup()
        for phase, seconds in billing_bench.generate().items():
            print(f"generate: {phase}: {seconds:.0f} s")
        billing_bench.customers_create()
        world_create()
    else:
        django_setup()
        from billing.models import Invoice

        if not Invoice.objects.filter(status="finalized").exists():
            world_create()
    from billing.margins import customer_margin_trend, customer_margins
    from billing.models import CostAllocation, Customer
    from costledger.models import CostEntry

    CostAllocation.objects.all().delete()
    cold, margins = timed("November, cold (allocation computed and stored)",
                          lambda: customer_margins(start=MONTH, end=END))  # fmt: skip
    warm, _ = timed("November, nothing changed", lambda: customer_margins(start=MONTH, end=END))
    entry = CostEntry.objects.filter(provider="twilio").order_by("pk").first()
    entry.billed_cost += Decimal("0.01")
    entry.save()
    changed, margins = timed("November, a shared cost changed (allocation rewritten)",
                             lambda: customer_margins(start=MONTH, end=END))  # fmt: skip
    customer = Customer.objects.get(name="Customer 00000")
    trend, _ = timed(
        "one customer's 12-month trend", lambda: customer_margin_trend(customer=customer)
    )
    rows = margins.rows()
    shares = sum(share.amount for share in margins.pieces[0].shares)
    print(f"figures: {len(rows):,} customers, {sum(1 for _, p in rows if p.margin < 0):,} "
          f"unprofitable; shared {margins.shared_cost} = shares {shares}: "
          f"{'OK' if shares == margins.shared_cost else 'DIFFERS'}")  # fmt: skip
    _check_customer_zero(margins)
    worst = max(cold, changed, trend)
    print(f"target: under {TARGET_S} s: {'MET' if worst < TARGET_S else 'MISSED'} ({worst:.1f} s)")


def _check_customer_zero(margins) -> None:
    from django.db import connection

    party = next(p for c, p in margins.rows() if c.name == "Customer 00000")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT sum(cost) FROM costledger_llmusageevent "
            "WHERE user_id IN ('bill-user-0', 'bill-user-1') AND day BETWEEN %s AND %s",
            [MONTH, END],
        )
        raw = cursor.fetchone()[0]
    verdict = "OK" if raw == party.llm_cost else "DIFFERS"
    print(f"check: customer 0 LLM cost {raw} (raw events) vs {party.llm_cost}: {verdict}")


if __name__ == "__main__":
    main()

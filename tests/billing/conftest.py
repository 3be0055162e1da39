"""Customer billing's test world: usage stored through the real ingest path, plans, customers."""

import itertools
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import time_machine

from billing.issuing import billing_run, credit_note_issue, invoice_finalize
from billing.models import Customer, CustomerUser, Invoice, Plan, PlanCharge, TaxRate
from costledger.models import CustomerRevenue, Source
from costledger.services import cost_entries_upsert
from tests.factories import cost_entry
from usage.events import UsageEvent, llm_events_record

NOVEMBER = date(2026, 11, 1)
_ids = itertools.count(1)


@pytest.fixture(autouse=True)
def _french_vat(request):
    """France's 20 % VAT, which migration 0004 creates: a transactional test elsewhere in the
    run empties every table, so it is made sure of here."""
    if "db" in request.fixturenames or request.node.get_closest_marker("django_db"):
        request.getfixturevalue("db" if not _transactional(request) else "transactional_db")
        TaxRate.objects.get_or_create(
            country="FR", defaults={"name": "TVA 20 %", "rate": Decimal(20)}
        )


def _transactional(request) -> bool:
    marker = request.node.get_closest_marker("django_db")
    return bool(marker and marker.kwargs.get("transaction"))


@pytest.fixture(autouse=True)
def _today():
    """December 2nd, 2026, 10:00 UTC: November is over and may be finalized."""
    with time_machine.travel("2026-12-02 10:00:00+00:00", tick=False):
        yield


def record(user: str, day: date = date(2026, 11, 10), *, provider="openai", model="gpt-4o",
           cost: str | None = None, **counts) -> None:  # fmt: skip
    """One usage event of `user` on `day`, stored as ingest stores it."""
    noon = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    event = UsageEvent(
        event_id=f"ev-{next(_ids)}", timestamp=noon,
        user_id=user, provider=provider, model=model,
        cost=None if cost is None else Decimal(cost), **counts,
    )  # fmt: skip
    assert llm_events_record(events=[event]) == ["accepted"]


def plan(name="Pro", currency="EUR", fee="0", charges=(), **fields) -> Plan:
    created = Plan.objects.create(name=name, currency=currency, monthly_fee=Decimal(fee), **fields)
    for position, charge in enumerate(charges):
        PlanCharge.objects.create(plan=created, position=position, **charge)
    return created


def customer(plan: Plan | None, *users: str, name="Acme SAS", country="FR", vat_number="",
             currency=None, **fields) -> Customer:  # fmt: skip
    created = Customer.objects.create(
        name=name, email="billing@acme.example", billing_address="1 rue X\n75001 Paris",
        country=country, vat_number=vat_number,
        currency=currency or (plan.currency if plan else "EUR"), plan=plan, **fields,
    )  # fmt: skip
    for user in users:
        CustomerUser.objects.create(customer=created, user_id=user)
    return created


@pytest.fixture
def world():
    """The hand-computed November of tests/billing/test_margins.py (its docstring)."""
    acme = customer(
        plan("Acme plan", currency="USD", fee="100"), "u-acme", name="Acme",
        stripe_customer_id="cus_Acme",
    )  # fmt: skip
    globex = customer(
        plan("Globex plan", currency="USD", fee="20"), "u-glob", name="Globex", country="US"
    )
    record("u-acme", date(2026, 11, 3), cost="20.00", input_tokens=1000)
    record("u-acme", date(2026, 11, 20), cost="10.00", input_tokens=500)
    record("u-glob", date(2026, 11, 5), cost="60.00", input_tokens=9000)
    record("u-nobody", date(2026, 11, 7), cost="10.00", input_tokens=100)
    cost_entries_upsert(
        entries=[
            cost_entry(provider="digitalocean", day=NOVEMBER, days=30, amount="100.00",
                       source=Source.API, service="App Platform"),
            cost_entry(provider="twilio", day=date(2026, 11, 9), amount="20.00",
                       source=Source.API, service="totalprice"),
            cost_entry(provider="stripe", day=date(2026, 11, 9), amount="3.33",
                       source=Source.API, service="processing fees", reference="USD"),
        ]
    )  # fmt: skip
    for ref, amount in (("cus_Acme", "50.00"), ("cus_Other", "5.00")):
        CustomerRevenue.objects.create(
            day=date(2026, 11, 15), provider="stripe", customer_ref=ref, currency="USD",
            amount=Decimal(amount), paid=Decimal(amount), invoices=1,
        )  # fmt: skip
    billing_run(month=NOVEMBER)
    for invoice in Invoice.objects.filter(status="draft"):
        invoice_finalize(invoice_id=invoice.pk)
    acme_invoice = Invoice.objects.get(customer=acme)
    assert (acme_invoice.taxable_base, acme_invoice.total) == (Decimal(100), Decimal(120))
    credit_note_issue(invoice_id=acme_invoice.pk, reason="Outage", amount=Decimal("10"))
    return acme, globex

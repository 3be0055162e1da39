"""Customer billing's test world: usage stored through the real ingest path, plans, customers."""

import itertools
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import time_machine

from billing.models import Customer, CustomerUser, Plan, PlanCharge, TaxRate
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

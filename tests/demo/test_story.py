"""The demo tells one story, read through the selectors the pages use: the LLM providers billed
a few % more than the logged requests cost at the price book (the reconciliation page), the
users' LLM costs add up to the LLM usage total (the Business summary), and the providers
without a billing API have an invoice for every month before this one (Costs by provider).

The demo is loaded once for the module, as `make run` loads it (`seed_demo`, which loads the
package's price book itself when the demo's models have no price), on 2026-11-21: it spans
June to November 2026. It is rolled back when the module's tests are done."""

from datetime import date, timedelta
from decimal import Decimal
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.db import transaction
from django.db.models import Sum

from billing.models import ProviderInvoice
from costledger.days import add_months
from costledger.models import CostEntry, Source
from costledger.selectors import effective_cost_by_months, llm_reconciliation
from usage.models import LlmUsageDaily, LlmUsageEvent, ModelPrice, UsageUser
from usage.selectors import llm_usage_totals
from usage.top_users import llm_cost_by_user

TODAY = date(2026, 11, 21)
FIRST_DAY = date(2026, 6, 1)  # the first day of the fifth month before November
MONTHS = [date(2026, month, 1) for month in range(6, 12)]  # June to November
LLM_PROVIDERS = ["anthropic", "openai", "openrouter"]  # those with a billing API
INVOICE_ONLY = ["supabase", "weaviate"]  # no billing API: estimates, then invoices


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), transaction.atomic():
        with time_machine.travel("2026-11-21 08:00:00+00:00", tick=False):
            call_command("seed_demo", stdout=StringIO())
        yield
        transaction.set_rollback(True)


@pytest.fixture
def story(demo, db):
    """Each test in its own savepoint inside the module's demo."""


def test_every_llm_provider_billed_a_few_percent_from_the_computed_cost_every_month(story):
    rows = llm_reconciliation(start=FIRST_DAY, end=TODAY)
    assert sorted((r.month, r.provider) for r in rows) == [
        (month, provider) for month in MONTHS for provider in LLM_PROVIDERS
    ]
    for row in rows:
        assert row.computed and row.billed, row
        assert Decimal("0.5") <= abs(row.difference_percent) <= 5, row
    # Usually billed above what was logged (traffic no one logged), now and then a little below.
    above = [row for row in rows if row.billed > row.computed]
    assert len(rows) * 2 // 3 <= len(above) < len(rows)


def test_the_users_llm_costs_add_up_to_the_llm_usage_total(story):
    for start, end in [(FIRST_DAY, TODAY), (date(2026, 10, 1), date(2026, 10, 31))]:
        users = llm_cost_by_user(start=start, end=end, limit=UsageUser.objects.count() + 1)
        totals = llm_usage_totals(start=start, end=end)
        assert sum(user.cost for user in users) == totals.cost > 0
        # The business summary's LLM cost (what the providers billed) is a few % above.
        months = effective_cost_by_months(start=start, end=end)
        billed = sum(cell.by_category.get("llm", 0) for cell in months.totals.values())
        assert abs(billed - totals.cost) <= billed * Decimal("0.05")


def test_only_the_in_house_model_is_left_unpriced(story):
    totals = llm_usage_totals(start=FIRST_DAY, end=TODAY)
    # One request on the 9th, 18th and 27th of each month: three a month from June to
    # October, and the 9th and 18th of November.
    assert (totals.unpriced_requests, totals.unpriced_models) == (17, 1)
    assert not LlmUsageEvent.objects.filter(user_id="").exists()


def test_the_providers_without_billing_api_have_an_invoice_for_every_past_month(story):
    months = effective_cost_by_months(start=FIRST_DAY, end=TODAY)
    for provider in INVOICE_ONLY:
        cells = months.by_provider[provider]
        assert [sorted(cells[month].sources) for month in MONTHS] == [["manual"]] * 5 + [
            ["estimate"]
        ]
        for month in MONTHS[:-1]:
            invoice = ProviderInvoice.objects.get(provider=provider, period_start=month)
            assert invoice.period_end == add_months(month, 1) - timedelta(days=1)
            estimated = sum(
                CostEntry.objects.filter(
                    provider=provider,
                    source=Source.ESTIMATE,
                    charge_period_start__gte=month,
                    charge_period_start__lt=add_months(month, 1),
                ).values_list("billed_cost", flat=True)
            )
            assert abs(invoice.amount - estimated) <= estimated * Decimal("0.06"), invoice
    assert not ProviderInvoice.objects.filter(period_start=MONTHS[-1]).exists()


def test_the_demo_loads_the_price_book_it_needs(story):
    assert ModelPrice.objects.filter(provider="openai", model="gpt-4o").exists()


def demo_state():
    return (
        sorted(
            CostEntry.objects.values_list(
                "provider", "service", "charge_period_start", "source", "billed_cost", "quantity"
            )
        ),
        LlmUsageEvent.objects.aggregate(Sum("input_tokens"), Sum("cost")),
        sorted(LlmUsageDaily.objects.values_list("day", "user_id", "model", "requests", "cost")),
        sorted(ProviderInvoice.objects.values_list("invoice_number", "amount")),
        ProviderInvoice.history.count(),
    )


def test_loading_the_demo_again_later_the_same_day_changes_nothing(story):
    before = demo_state()
    with time_machine.travel("2026-11-21 20:00:00+00:00", tick=False):
        call_command("seed_demo", stdout=StringIO())
    assert demo_state() == before

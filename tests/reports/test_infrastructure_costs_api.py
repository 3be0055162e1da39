from datetime import date
from decimal import Decimal

import pytest
import time_machine
from django.contrib.auth.models import User
from django.urls import reverse

from billing.models import ProviderInvoice
from billing.services import provider_invoice_save
from costledger.models import Source
from costledger.services import cost_entries_upsert, exchange_rate_set
from tests.factories import cost_entry, daily_costs

pytestmark = pytest.mark.django_db
URL = reverse("api-infrastructure-costs")
OCT_1, NOV_1 = date(2026, 10, 1), date(2026, 11, 1)
TOKEN = "s3cret-sync-token"


@pytest.fixture(autouse=True)
def _token(settings):
    settings.SYNC_API_TOKEN = TOKEN


def get(client, token=TOKEN, **params):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.get(URL, params, headers=headers)


def test_october_supabase_invoice_is_exactly_its_amount_in_the_api(client):
    daily_costs(provider="supabase", start=OCT_1, end=NOV_1, amount="1.07")
    invoice = ProviderInvoice(
        provider="supabase",
        invoice_number="S-10",
        invoice_date=NOV_1,
        period_start=OCT_1,
        period_end=date(2026, 10, 31),
        amount=Decimal("25.00"),
        currency="USD",
    )
    provider_invoice_save(invoice=invoice)
    body = get(client, start="2026-10-01", end="2026-10-31").json()
    items = [i for i in body["items"] if i["provider"] == "supabase"]
    assert len(items) == 31
    assert {i["source"] for i in items} == {"manual"}
    assert sum(Decimal(i["cost"]) for i in items) == Decimal("25.00")
    assert items[0] == {
        "day": "2026-10-01",
        "provider": "supabase",
        "cost": "0.81",
        "currency": "USD",
        "source": "manual",
        "by_category": {"infrastructure": "0.81"},
    }

    invoice.amount = Decimal("27.50")
    provider_invoice_save(invoice=invoice)
    body = get(client, start="2026-10-01", end="2026-10-31").json()
    assert sum(Decimal(i["cost"]) for i in body["items"] if i["provider"] == "supabase") == Decimal(
        "27.50"
    )


def test_end_is_inclusive_and_days_are_ordered(client):
    daily_costs(provider="twilio", start=OCT_1, end=NOV_1, amount="0.50", source=Source.API)
    body = get(client, start="2026-10-30", end="2026-10-31").json()
    assert [i["day"] for i in body["items"]] == ["2026-10-30", "2026-10-31"]
    assert (body["start"], body["end"], body["currency"]) == ("2026-10-30", "2026-10-31", "USD")


def test_filters_by_category_and_provider(client):
    daily_costs(
        provider="twilio", start=OCT_1, end=date(2026, 10, 2), amount="0.50", source=Source.API
    )
    daily_costs(
        provider="openai", start=OCT_1, end=date(2026, 10, 2), amount="3.00", source=Source.API
    )
    body = get(client, start="2026-10-01", end="2026-10-01", category="llm").json()
    assert [i["provider"] for i in body["items"]] == ["openai"]
    body = get(client, start="2026-10-01", end="2026-10-01", provider="twilio").json()
    assert [i["provider"] for i in body["items"]] == ["twilio"]


def test_missing_exchange_rate_is_reported_and_the_cost_left_empty(client):
    cost_entries_upsert(entries=[cost_entry(day=OCT_1, amount="10.00", currency="EUR")])
    cost_entries_upsert(entries=[cost_entry(day=date(2026, 10, 2), amount="10.00", currency="EUR")])
    exchange_rate_set(day=date(2026, 10, 2), currency="EUR", rate=Decimal("1.1"))
    body = get(client, start="2026-10-01", end="2026-10-02").json()
    first, second = body["items"]
    assert first["cost"] is None and first["unconverted"] == {"EUR": "10.00"}
    assert second["cost"] == "11.00" and "unconverted" not in second
    assert body["missing_exchange_rates"] == [
        {"currency": "EUR", "first_day": "2026-10-01", "last_day": "2026-10-01"}
    ]


@pytest.mark.parametrize(
    ("params", "field", "text"),
    [
        ({"start": "2026-13-01"}, "start", "is not a date"),
        ({"start": "yesterday"}, "start", "YYYY-MM-DD"),
        ({"end": "2026/10/01"}, "end", "is not a date"),
        ({"start": "2026-10-02", "end": "2026-10-01"}, "end", "before start"),
        ({"start": "2025-01-01", "end": "2026-01-02"}, "end", "at most 366 days"),
        (
            {"start": "2026-10-01", "end": "2026-10-02", "category": "food"},
            "category",
            "Unknown category food",
        ),
    ],
)
def test_bad_parameters_are_400_naming_the_field(client, params, field, text):
    response = get(client, **params)
    assert response.status_code == 400
    assert text in response.json()["errors"][field]


def test_a_full_leap_year_is_allowed(client):
    assert get(client, start="2028-01-01", end="2028-12-31").status_code == 200


@time_machine.travel("2026-11-21 12:00:00+00:00", tick=False)
def test_default_range_is_the_last_30_days(client):
    body = get(client).json()
    assert (body["start"], body["end"]) == ("2026-10-23", "2026-11-21")


def test_without_credentials_401(client):
    response = get(client, token=None)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_wrong_token_401(client):
    assert get(client, token="nope").status_code == 401


def test_no_token_configured_means_bearer_is_refused(client, settings):
    settings.SYNC_API_TOKEN = ""
    assert get(client, token="").status_code == 401
    assert client.get(URL, headers={"Authorization": "Bearer "}).status_code == 401


def test_sessions_need_staff_and_the_page_permission(client, viewer_user):
    user = User.objects.create_user("customer", password="pw")
    client.force_login(user)
    assert get(client, token=None).status_code == 403
    user.is_staff = True  # staff, but may not view costs: refused like the summary page
    user.save()
    assert get(client, token=None).status_code == 403
    client.force_login(viewer_user)
    assert get(client, token=None).status_code == 200


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": "2026-10-01", "end": "9999-12-31"}, "end"),
        ({"start": "0001-01-01", "end": "0001-01-05"}, "start"),
        ({"end": "1999-01-01"}, "end"),
    ],
)
def test_dates_far_outside_any_ledger_are_400_not_500(client, params, field):
    response = get(client, **params)
    assert response.status_code == 400
    assert "outside" in response.json()["errors"][field]


def test_a_foreign_currency_invoice_sums_to_the_monthly_figure(client):
    exchange_rate_set(day=date(2026, 9, 30), currency="EUR", rate=Decimal("1.0837"))
    cost_entries_upsert(
        entries=[
            cost_entry(day=OCT_1, days=31, amount="25.00", currency="EUR", source=Source.MANUAL)
        ]
    )
    body = get(client, start="2026-10-01", end="2026-10-31").json()
    assert sum(Decimal(i["cost"]) for i in body["items"]) == Decimal("27.09")  # 25.00 x 1.0837
    first_half = get(client, start="2026-10-01", end="2026-10-15").json()
    second_half = get(client, start="2026-10-16", end="2026-10-31").json()
    halves = [Decimal(i["cost"]) for i in first_half["items"] + second_half["items"]]
    assert sum(halves) == Decimal("27.09")


def test_a_category_filter_never_changes_which_source_wins(client):
    cost_entries_upsert(
        entries=[
            cost_entry(provider="openai", day=OCT_1, amount="9.00", source=Source.API),
            cost_entry(
                provider="openai", day=OCT_1, amount="4.00", source=Source.MANUAL, service="Support"
            ),
        ]
    )
    # The manual row is filed under "other": with ?category=llm, openai's day has nothing left,
    # rather than falling back to the api figure the invoice replaced.
    from costledger.models import CostEntry

    CostEntry.objects.filter(source=Source.MANUAL).update(category="other")
    body = get(client, start="2026-10-01", end="2026-10-01", category="llm").json()
    assert body["items"] == []
    body = get(client, start="2026-10-01", end="2026-10-01", category="other").json()
    assert [(i["cost"], i["source"]) for i in body["items"]] == [("4.00", "manual")]


def test_only_get(client):
    response = client.post(URL, headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 405

"""The Customers report, its downloads, the JSON API and a customer's trend, on the hand-computed
November of test_margins.py: Acme margin 73.00, Globex -114.00 (unprofitable), unassigned
-17.33, shared cost 123.33."""

import csv
import io
from datetime import date
from decimal import Decimal

import openpyxl
import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase as HypothesisTestCase

from billing.issuing import billing_run, invoice_finalize
from billing.models import CostAllocation, Invoice
from tests.billing.conftest import customer, plan

pytestmark = pytest.mark.django_db
API = reverse("api-customer-margins")
NOVEMBER = {"start": "2026-11-01", "end": "2026-11-30"}
TOKEN = "margins-sync-token"


@pytest.fixture(autouse=True)
def _token(settings):
    settings.SYNC_API_TOKEN = TOKEN


def test_the_api_gives_each_customer_lowest_margin_first(client, world):
    response = client.get(API, NOVEMBER, HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    body = response.json()
    assert (body["start"], body["end"], body["currency"]) == ("2026-11-01", "2026-11-30", "USD")
    assert body["allocation_rule"] == "llm_cost"
    globex, acme = body["customers"]
    assert (globex["name"], globex["margin"], globex["margin_percent"]) == (
        "Globex", "-114.00", "-570.0"
    )  # fmt: skip
    assert acme["revenue"] == {"invoiced": "90.00", "stripe": "50.00", "total": "140.00"}
    assert (acme["llm_cost"], acme["allocated_cost"], acme["margin"]) == ("30.00", "37.00", "73.00")
    assert acme["margin_percent"] == "52.1" and acme["stripe_customer_id"] == "cus_Acme"
    assert body["unassigned"]["margin"] == "-17.33"
    assert body["unassigned"]["llm_cost"] == "10.00"
    assert body["total"]["allocated_cost"] == body["shared_cost"]["total"] == "123.33"
    assert body["shared_cost"]["by_category"] == {
        "infrastructure": "100.00", "communications": "20.00", "payments": "3.33"
    }  # fmt: skip
    (allocation,) = body["allocations"]
    assert [(s["basis"], s["ratio"], s["amount"]) for s in allocation["shares"]] == [
        ("60", "0.6", "74.00"),
        ("30", "0.3", "37.00"),
        ("10", "0.1", "12.33"),
    ]  # fmt: skip  (largest share first)
    assert sum(Decimal(s["amount"]) for s in allocation["shares"]) == Decimal("123.33")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"start": "2026-11-31", "end": "2026-11-30"}, "start"),
        ({"start": "2026-11-01"}, "end"),
        ({"start": "2026-12-01", "end": "2026-11-01"}, "end"),
        ({"start": "0001-01-01", "end": "9999-12-31"}, "start"),
        ({"start": "2026-11-01\x00", "end": "2026-11-30"}, "start"),
        ({"period": "fortnight"}, "period"),
        ({"period": "last_month", "start": "2026-11-01", "end": "2026-11-30"}, "period"),
        ({"compare": "yesterday"}, "compare"),
    ],
)
def test_bad_parameters_are_a_400_naming_each(client, query, field):
    response = client.get(API, query, HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not CostAllocation.objects.exists()


@pytest.mark.parametrize("raw", ["start=%ED%A0%80&end=2026-11-30", "start=%FF&end=2026-11-30"])
def test_undecodable_parameters_are_a_400(client, raw):
    response = client.get(f"{API}?{raw}", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 400 and "start" in response.json()["errors"]


def test_the_api_without_credentials_or_permission_is_refused(client, world):
    assert client.get(API, NOVEMBER).status_code == 401
    assert client.get(API, NOVEMBER, HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    client.force_login(User.objects.create_user("plain", password="pw", is_staff=True))
    assert client.get(API, NOVEMBER).status_code == 403


def test_the_api_defaults_to_last_month(client, world):
    body = client.get(API, HTTP_AUTHORIZATION=f"Bearer {TOKEN}").json()
    assert (body["start"], body["end"]) == ("2026-11-01", "2026-11-30")


@pytest.mark.parametrize("role", ["viewer_user", "finance_user"])
def test_the_page_shows_each_customer_and_highlights_the_unprofitable(client, world, request, role):
    client.force_login(request.getfixturevalue(role))
    response = client.get(reverse("admin:customers"), NOVEMBER)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.index("Globex") < html.index("Acme")
    assert html.count('class="is-loss"') == 1  # Globex; the unassigned row says so apart
    assert "-114.00" in html and "73.00" in html and "-17.33" in html and "123.33" in html
    assert "1 unprofitable customer" in html
    assert "By share of LLM cost".lower() in html.lower()


def test_the_page_is_refused_without_the_permission(client, world):
    client.force_login(User.objects.create_user("plain", password="pw", is_staff=True))
    assert client.get(reverse("admin:customers"), NOVEMBER).status_code == 403


def test_the_csv_and_xlsx_hold_the_same_figures(client, world, viewer_user):
    client.force_login(viewer_user)
    response = client.get(reverse("admin:customers_csv"), NOVEMBER)
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:8] == [
        "Customer", "Invoiced (net of VAT)", "Collected by Stripe", "Revenue", "LLM cost",
        "Allocated cost", "Margin", "Margin %",
    ]  # fmt: skip
    assert [r[0] for r in rows[1:]] == [
        "Globex", "Acme", "Unassigned (usage of users no customer holds)", "Total"
    ]  # fmt: skip
    assert rows[2][1:8] == ["90.00", "50.00", "140.00", "30.00", "37.00", "73.00", "52.10"]
    assert rows[4][5:7] == ["123.33", "-58.33"]
    response = client.get(reverse("admin:customers_xlsx"), NOVEMBER)
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    sheet = book["customers"]
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    acme = next(row for row in values if row[0] == "Acme")
    assert acme[6] == 73 and isinstance(acme[6], int | float)
    shares = [[c.value for c in row] for row in book["allocations"].iter_rows()]
    assert sum(row[8] for row in shares if isinstance(row[8], int | float)) == pytest.approx(123.33)


def test_a_bad_period_in_a_download_is_a_400(client, viewer_user):
    client.force_login(viewer_user)
    response = client.get(reverse("admin:customers_csv"), {"start": "x", "end": "2026-11-30"})
    assert response.status_code == 400 and b"start" in response.content


def test_a_customer_page_shows_its_trend(client, world, viewer_user):
    acme, _ = world
    client.force_login(viewer_user)
    response = client.get(reverse("admin:billing_customer_change", args=[acme.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Margin, last 12 months" in html and 'id="margin-trend-data"' in html
    assert "73.00" in html and "30.00 % of 123.33" in html


class TestHostileRanges(HypothesisTestCase):
    @hypothesis_settings(max_examples=40, deadline=None)
    @given(start=st.text(max_size=12), end=st.text(max_size=12))
    def test_any_text_is_a_200_or_a_400_naming_the_field(self, start, end):
        response = self.client.get(
            API, {"start": start, "end": end}, HTTP_AUTHORIZATION=f"Bearer {TOKEN}"
        )
        assert response.status_code in (200, 400)
        if response.status_code == 400:
            assert set(response.json()["errors"]) <= {"start", "end", "period", "compare"}


def test_the_json_says_amounts_the_same_way_every_time(client, world):
    bodies = [
        client.get(API, NOVEMBER, HTTP_AUTHORIZATION=f"Bearer {TOKEN}").json() for _ in range(2)
    ]
    assert bodies[0] == bodies[1]
    (allocation,) = bodies[1]["allocations"]
    assert allocation["shared_cost"] == "123.33"
    assert allocation["shared_by_category"] == {
        "infrastructure": "100.00", "communications": "20.00", "payments": "3.33"
    }  # fmt: skip
    empty = client.get(
        API, {"start": "2026-09-01", "end": "2026-09-30"}, HTTP_AUTHORIZATION=f"Bearer {TOKEN}"
    ).json()
    assert empty["allocations"][0]["shared_cost"] == "0.00"
    assert empty["total"]["margin"] == "0.00"


def test_the_rows_as_shown_add_up_across_and_down(client, viewer_user):
    """Three customers, each invoiced 10.00 for November: one day of it is 0.3333... each,
    shown 0.33; the total is the 0.99 shown above it, not a 1.00 that no column adds to."""
    for n in range(3):
        customer(plan(f"P{n}", currency="USD", fee="10"), name=f"C{n}", country="US")
    billing_run(month=date(2026, 11, 1))
    for invoice in Invoice.objects.all():
        invoice_finalize(invoice_id=invoice.pk)
    body = client.get(
        API, {"start": "2026-11-01", "end": "2026-11-01"}, HTTP_AUTHORIZATION=f"Bearer {TOKEN}"
    ).json()
    assert [c["revenue"]["total"] for c in body["customers"]] == ["0.33"] * 3
    assert body["total"]["revenue"]["total"] == "0.99" == body["total"]["margin"]


def test_empty_dates_mean_last_month_and_a_bad_period_on_the_page_says_so(
    client, world, viewer_user
):
    body = client.get(API, {"start": "", "end": ""}, HTTP_AUTHORIZATION=f"Bearer {TOKEN}").json()
    assert (body["start"], body["end"]) == ("2026-11-01", "2026-11-30")
    client.force_login(viewer_user)
    response = client.get(reverse("admin:customers"), {"start": "2026-13-01", "end": "x"})
    assert response.status_code == 200
    messages = [str(m) for m in response.context["messages"]]
    assert messages and all(m.endswith("Showing last month instead.") for m in messages)
    assert response.context["period"].start.isoformat() == "2026-11-01"

"""The Business summary's figures, checked against hand-computed values."""

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse

from billing.models import ProviderInvoice
from billing.services import provider_invoice_save
from costledger.models import RevenueSnapshot, Source
from costledger.services import cost_entries_upsert, exchange_rate_set
from reports.business_json import business_summary
from reports.pages import CHARTS
from reports.periods import period_resolve
from tests.factories import cost_entry, daily_costs
from usage.events import UsageEvent, llm_events_record
from usage.models import ModelPrice

pytestmark = pytest.mark.django_db
TODAY = date(2026, 11, 21)


@pytest.fixture(autouse=True)
def _today():
    with time_machine.travel("2026-11-21 10:00:00+00:00", tick=False):
        yield


@pytest.fixture
def ledger():
    """MRR 3,000.00 from Nov 1 (100.00 a day in November); a Supabase invoice of 50.00 for
    Nov 10-19 (5.00 a day, across the period boundary); OpenAI billed 2.00 a day from Nov 15; a
    Weaviate cost in EUR with no exchange rate."""
    RevenueSnapshot.objects.create(
        day=date(2026, 11, 1), currency="USD", mrr=Decimal("3000.00"), active_subscriptions=100
    )
    provider_invoice_save(
        invoice=ProviderInvoice(
            provider="supabase", invoice_number="S-1", invoice_date=date(2026, 11, 20),
            period_start=date(2026, 11, 10), period_end=date(2026, 11, 19),
            amount=Decimal("50.00"), currency="USD",
        )
    )  # fmt: skip
    daily_costs(
        provider="openai",
        start=date(2026, 11, 15),
        end=date(2026, 11, 22),
        amount="2.00",
        source=Source.API,
    )
    cost_entries_upsert(
        entries=[
            cost_entry(provider="weaviate", day=date(2026, 11, 16), amount="10.00", currency="EUR")
        ]
    )


@pytest.fixture
def usage():
    ModelPrice.objects.create(
        provider="openai",
        model="gpt-4o",
        effective_from=date(2024, 1, 1),
        input_mtok=Decimal("2.5"),
        output_mtok=Decimal("10"),
    )

    def event(n, user, conversation, agent="support", tokens=(1_000_000, 100_000)):
        return UsageEvent(
            event_id=f"e{n}", timestamp=datetime(2026, 11, 20, 9, tzinfo=UTC), user_id=user,
            provider="openai", model="gpt-4o", input_tokens=tokens[0], output_tokens=tokens[1],
            tags={"conversation_id": conversation, "agent": agent},
        )  # fmt: skip

    # u1: 2 x 3.50 = 7.00 (one conversation); u2: 1 x 3.50 (another conversation)
    llm_events_record(
        events=[event(1, "u1", "c1"), event(2, "u1", "c1"), event(3, "u2", "c2", "writer")]
    )


def test_kpis_for_the_last_7_days_against_the_7_before(ledger):
    summary = business_summary(period=period_resolve(key="7d"))
    assert (summary["period"]["start"], summary["period"]["end"]) == ("2026-11-15", "2026-11-21")
    kpis = summary["kpis"]
    assert (kpis["revenue"]["value"], kpis["revenue"]["previous"]) == ("700.00", "700.00")
    assert (kpis["llm_costs"]["value"], kpis["llm_costs"]["previous"]) == ("14.00", "0.00")
    # The invoice's 5.00 a day: Nov 15-19 in this period, Nov 10-14 in the previous one.
    assert (kpis["infrastructure_costs"]["value"], kpis["infrastructure_costs"]["previous"]) == (
        "25.00",
        "25.00",
    )
    assert (kpis["net_margin"]["value"], kpis["net_margin"]["previous"]) == ("661.00", "675.00")
    assert kpis["net_margin"]["positive"] is True
    assert kpis["net_margin"]["change_percent"] == "-2.1"
    assert kpis["llm_costs"]["change_percent"] is None  # nothing to compare with


def test_a_missing_exchange_rate_is_called_out_and_never_taken_as_one(ledger):
    summary = business_summary(period=period_resolve(key="7d"))
    assert summary["freshness"]["missing_exchange_rates"] == [
        {
            "currency": "EUR",
            "first_day": "2026-11-16",
            "last_day": "2026-11-16",
            "add_url": "/admin/costledger/exchangerate/add/?currency=EUR&day=2026-11-16",
        }
    ]
    exchange_rate_set(day=date(2026, 11, 1), currency="EUR", rate=Decimal("1.10"))
    summary = business_summary(period=period_resolve(key="7d"))
    assert summary["kpis"]["infrastructure_costs"]["value"] == "36.00"
    assert summary["freshness"]["missing_exchange_rates"] == []


def test_daily_charts_and_the_7_day_breakdown(ledger):
    summary = business_summary(period=period_resolve(key="7d"))
    buckets = summary["buckets"]
    assert buckets["unit"] == "day" and buckets["starts"][0] == "2026-11-15"
    assert len(buckets["labels"]) == 7
    assert buckets["partial"] == [None] * 6 + ["today, still coming in"]
    chart = summary["revenue_vs_costs"]
    assert chart["revenue"][0] == "100.00"
    assert chart["costs"][:2] == ["7.00", "7.00"]  # 5.00 Supabase + 2.00 OpenAI
    assert chart["margin"][-1] == "98.00"
    assert summary["mrr_trend"]["mrr"][0] == "3000.00"
    series = {s["key"]: s["values"] for s in summary["cost_breakdown"]["series"]}
    assert series["infrastructure"] == ["5.00"] * 5 + ["0.00"] * 2
    assert series["llm"] == ["2.00"] * 7
    assert series["other"] == ["0.00"] * 7  # unconverted EUR is not added as dollars


def test_monthly_llm_costs_with_this_months_projection(ledger):
    monthly = business_summary(period=period_resolve(key="30d"))["monthly_llm"]
    assert monthly["months"] == ["2026-06", "2026-07", "2026-08", "2026-09", "2026-10", "2026-11"]
    assert monthly["costs"][-1] == "14.00"
    assert monthly["partial"] == [None] * 5 + ["21 of 30 days so far"]
    # To yesterday (Nov 15-20): 12.00; the last 7 full days (Nov 14-20) ran 12.00 / 7 a day,
    # for the 10 days left with today: 12 + 120 / 7 = 29.142857...
    assert monthly["projection"] == {"month": "2026-11", "value": "29.14"}


def test_a_12_month_range_is_drawn_by_month_and_each_point_adds_up_to_the_cards():
    """MRR 310.00 from 2025-11-01 (10.00 a day in 31-day months), 1.00 of OpenAI a day over
    the whole year: the 12 full months Nov 2025 - Oct 2026, one point each."""
    RevenueSnapshot.objects.create(
        day=date(2025, 11, 1), currency="USD", mrr=Decimal("310.00"), new_mrr=Decimal("310.00")
    )
    RevenueSnapshot.objects.create(
        day=date(2026, 3, 10), currency="USD", mrr=Decimal("248.00"), churned_mrr=Decimal("62.00")
    )
    daily_costs(provider="openai", start=date(2025, 11, 1), end=date(2026, 11, 1), amount="1.00", source=Source.API)  # fmt: skip  # noqa: E501
    summary = business_summary(period=period_resolve(key="12m"))
    buckets = summary["buckets"]
    assert buckets["unit"] == "month" and len(buckets["labels"]) == 12
    assert (buckets["labels"][0], buckets["labels"][-1]) == ("2025-11", "2026-10")
    assert buckets["partial"] == [None] * 12
    chart = summary["revenue_vs_costs"]
    assert chart["costs"][:4] == ["30.00", "31.00", "31.00", "28.00"]  # Nov, Dec, Jan, Feb
    assert chart["revenue"][0] == "310.00"  # 10.00 a day for 30 days of a 30-day month
    # March: 9 days at 310/31 = 10.00 and 22 days at 248/31 = 8.00
    assert chart["revenue"][4] == "266.00" and chart["margin"][4] == "235.00"
    mrr = summary["mrr_trend"]
    assert mrr["mrr"][3:5] == ["310.00", "248.00"]
    assert (mrr["new_mrr"][0], mrr["churned_mrr"][4]) == ("310.00", "62.00")
    kpis = summary["kpis"]
    assert sum(Decimal(v) for v in chart["costs"]) == Decimal(kpis["llm_costs"]["value"])
    assert sum(Decimal(v) for v in chart["revenue"]) == Decimal(kpis["revenue"]["value"])
    # The previous 12 months had no MRR at all: unknown, not zero.
    assert kpis["revenue"]["previous"] is None and kpis["revenue"]["change_percent"] is None


def test_a_quarter_is_drawn_by_week_clipped_at_both_ends(ledger):
    summary = business_summary(period=period_resolve(key="last_quarter"))
    buckets = summary["buckets"]
    # Jul 1 2026 is a Wednesday: the first week holds 5 of its 7 days; Sep 30 a Wednesday too.
    assert buckets["unit"] == "week" and buckets["starts"][:2] == ["2026-07-01", "2026-07-06"]
    assert buckets["partial"][0] == "5 of 7 days in the period"
    assert (buckets["ends"][-1], buckets["partial"][-1]) == (
        "2026-09-30",
        "3 of 7 days in the period",
    )
    assert sum(buckets["days"]) == 92


def test_revenue_before_the_first_snapshot_is_unknown_and_the_card_says_so(ledger):
    """MRR is known from Nov 1: the 30 days to Nov 21 count Nov 1-21 only, and say why."""
    kpis = business_summary(period=period_resolve(key="30d"))["kpis"]
    assert kpis["revenue"]["value"] == "2100.00"  # 21 days at 100.00
    assert kpis["revenue"]["incomplete"] == [
        "MRR is known from 2026-11-01 only (the first Stripe snapshot)"
    ]
    assert kpis["revenue"]["previous"] is None


def test_top_users_token_efficiency_error_rates_and_unit_economics(ledger, usage):
    summary = business_summary(period=period_resolve(key="7d"))
    assert [(u["user_id"], u["cost"], u["requests"]) for u in summary["top_users"]] == [
        ("u1", "7.00", 2), ("u2", "3.50", 1),
    ]  # fmt: skip
    assert (
        summary["top_users"][0]["url"] == "/admin/user-usage/?user_id=u1&period=7d&compare=previous"
    )
    assert summary["token_efficiency"] == [
        {
            "provider": "openai",
            "model": "gpt-4o",
            "prompt_tokens": 3_000_000,
            "completion_tokens": 300_000,
            "ratio": "0.1000",
        }
    ]
    assert summary["error_rates"][0]["error_percent"] == "0.00"
    economics = summary["unit_economics"]
    assert (economics["active_users"], economics["cost_per_active_user"]) == (2, "5.25")
    assert (economics["conversations"], economics["cost_per_conversation"]) == (2, "5.25")
    assert economics["by_tag"]["agent"] == [
        {"value": "support", "cost": "7.00", "requests": 2},
        {"value": "writer", "cost": "3.50", "requests": 1},
    ]
    assert economics["revenue_per_user"] == "7.00"  # 700.00 over 100 active subscriptions


def test_without_stripe_revenue_is_unknown_not_zero(settings):
    settings.STRIPE_SECRET_KEY = ""
    daily_costs(
        provider="openai",
        start=date(2026, 11, 15),
        end=date(2026, 11, 22),
        amount="2.00",
        source=Source.API,
    )
    summary = business_summary(period=period_resolve(key="7d"))
    assert summary["kpis"]["revenue"]["value"] is None
    assert summary["kpis"]["net_margin"]["value"] is None
    assert "No Stripe key configured: revenue is unknown." in summary["notes"]


def test_the_json_endpoint_returns_the_page_figures(admin_client, ledger, usage):
    body = admin_client.get(reverse("api-business-summary"), {"period": "7d"}).json()
    assert body == business_summary(period=period_resolve(key="7d"))
    bad = admin_client.get(reverse("api-business-summary"), {"period": "fortnight"})
    assert bad.status_code == 400 and "period" in bad.json()["errors"]


def test_every_chart_downloads_as_csv(admin_client, ledger, usage):
    summary = business_summary(period=period_resolve(key="7d"))
    for chart in [
        *CHARTS,
        "infrastructure_breakdown",  # its old name, in saved links
    ]:
        response = admin_client.get(reverse("admin:business_csv", args=[chart]), {"period": "7d"})
        assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(response.content.decode())))
        assert len(rows) > 1, chart
    users = list(
        csv.reader(
            io.StringIO(
                admin_client.get(
                    reverse("admin:business_csv", args=["top_users"]), {"period": "7d"}
                ).content.decode()
            )
        )
    )
    assert users[1][:3] == ["u1", "u1", summary["top_users"][0]["cost"]]
    assert admin_client.get(reverse("admin:business_csv", args=["nope"])).status_code == 404


def test_the_page_renders_for_staff_who_may_view_costs(client, viewer_user, ledger, usage):
    client.force_login(viewer_user)
    response = client.get(reverse("admin:business"), {"period": "7d"})
    assert response.status_code == 200
    assert response.context["summary_json"] == business_summary(period=period_resolve(key="7d"))
    assert "script-src 'self'" in response["Content-Security-Policy"]
    page = response.content.decode()
    assert 'id="business-data"' in page and "661.00" in page


def test_the_page_is_refused_to_non_staff_and_staff_without_the_permission(client, staff_user):
    from django.contrib.auth.models import User

    assert client.get(reverse("admin:business")).status_code == 302  # to the login page
    client.force_login(User.objects.create_user("customer", password="pw"))
    assert client.get(reverse("admin:business")).status_code == 302
    client.force_login(staff_user)
    assert client.get(reverse("admin:business")).status_code == 403


def test_the_page_is_linked_first_on_the_admin_index(admin_client):
    index = admin_client.get(reverse("admin:index")).content.decode()
    reports = index[index.index("Reports") :]
    assert reports.index(reverse("admin:business")) < reports.index(
        reverse("admin:costs_by_provider")
    )


def test_the_whole_page_takes_fewer_than_20_queries(
    client, viewer_user, ledger, usage, django_assert_max_num_queries
):
    client.force_login(viewer_user)
    with django_assert_max_num_queries(19):
        assert client.get(reverse("admin:business")).status_code == 200


def test_each_cost_category_has_its_card_and_the_margins_their_percent(ledger):
    """Stripe's fees are payments, Twilio communications, an unlisted provider other: each has
    its card; the gross margin leaves only "other" costs out, the net margin none."""
    exchange_rate_set(day=date(2026, 11, 1), currency="EUR", rate=Decimal("1.10"))
    for provider, amount in (("stripe", "3.00"), ("twilio", "1.50"), ("other", "0.50")):
        daily_costs(provider=provider, start=date(2026, 11, 15), end=date(2026, 11, 22), amount=amount)  # fmt: skip  # noqa: E501
    kpis = business_summary(period=period_resolve(key="7d"))["kpis"]
    values = {key: kpi["value"] for key, kpi in kpis.items()}
    assert values == {
        "revenue": "700.00", "llm_costs": "14.00", "infrastructure_costs": "36.00",
        "payments_costs": "21.00", "communications_costs": "10.50", "other_costs": "3.50",
        # 700 - (14 + 36 + 21 + 10.50) and then - 3.50
        "gross_margin": "618.50", "net_margin": "615.00",
    }  # fmt: skip
    assert (kpis["gross_margin"]["percent"], kpis["net_margin"]["percent"]) == ("88.4", "87.9")
    assert kpis["payments_costs"]["lower_is_better"] and not kpis["revenue"]["lower_is_better"]


def test_a_category_on_the_cards_equals_its_row_of_costs_by_provider(admin_client, ledger):
    """The same figure on every page for the same range: November to date, whose costs all
    fall before today."""
    exchange_rate_set(day=date(2026, 11, 1), currency="EUR", rate=Decimal("1.10"))
    daily_costs(provider="stripe", start=date(2026, 11, 3), end=date(2026, 11, 6), amount="2.25")
    kpis = business_summary(period=period_resolve(key="this_month"))["kpis"]
    page = admin_client.get(reverse("admin:costs_by_provider"))
    november = page.context["months"].index(date(2026, 11, 1))
    rows = {row["label"]: row["amounts"][november] for row in page.context["category_rows"]}
    assert rows["Infrastructure"] == Decimal(kpis["infrastructure_costs"]["value"]) == Decimal("61.00")  # fmt: skip  # noqa: E501
    assert rows["LLM"] == Decimal(kpis["llm_costs"]["value"]) == Decimal("14.00")
    assert rows["Payments"] == Decimal(kpis["payments_costs"]["value"]) == Decimal("6.75")


def test_a_card_whose_inputs_are_missing_says_so_with_the_reason(ledger, settings):
    kpis = business_summary(period=period_resolve(key="7d"))["kpis"]
    assert kpis["infrastructure_costs"]["incomplete"] == ["no exchange rate for EUR"]
    assert kpis["net_margin"]["incomplete"] == ["no exchange rate for EUR"]
    assert kpis["llm_costs"]["incomplete"] == [] and kpis["revenue"]["incomplete"] == []
    # Last month had no EUR cost: whole.
    assert business_summary(period=period_resolve(key="last_month"))["kpis"]["net_margin"]["incomplete"] == []  # fmt: skip  # noqa: E501

    exchange_rate_set(day=date(2026, 11, 1), currency="EUR", rate=Decimal("1.10"))
    llm_events_record(
        events=[UsageEvent(event_id="u", timestamp=datetime(2026, 11, 20, tzinfo=UTC),
                           provider="openai", model="no-price-yet", input_tokens=10)]
    )  # fmt: skip
    settings.STRIPE_SECRET_KEY = "sk_test_x"  # configured, and never succeeded
    kpis = business_summary(period=period_resolve(key="7d"))["kpis"]
    assert kpis["llm_costs"]["incomplete"] == ["1 LLM request has no price"]
    assert kpis["revenue"]["incomplete"] == ["the Stripe collector has never succeeded"]
    assert kpis["payments_costs"]["incomplete"] == ["the Stripe collector has never succeeded"]
    assert kpis["infrastructure_costs"]["incomplete"] == []
    assert kpis["gross_margin"]["incomplete"] == [
        "the Stripe collector has never succeeded", "1 LLM request has no price"
    ]  # fmt: skip


@pytest.mark.parametrize(
    "query",
    [{"period": "7d"}, {"start": "2026-11-15", "end": "2026-11-21", "compare": "none"}],
)
def test_costs_by_provider_takes_the_report_periods_and_counts_only_their_days(
    admin_client, ledger, query
):
    """Nov 15-21 on both pages: the November column holds those seven days only, and equals
    the cards."""
    exchange_rate_set(day=date(2026, 11, 1), currency="EUR", rate=Decimal("1.10"))
    page = admin_client.get(reverse("admin:costs_by_provider"), query)
    assert page.context["months"] == [date(2026, 11, 1)]
    rows = {row["label"]: row["amounts"][0] for row in page.context["category_rows"]}
    kpis = business_summary(period=period_resolve(key="7d"))["kpis"]
    assert rows["Infrastructure"] == Decimal(kpis["infrastructure_costs"]["value"]) == Decimal("36.00")  # fmt: skip  # noqa: E501
    assert rows["LLM"] == Decimal(kpis["llm_costs"]["value"]) == Decimal("14.00")
    assert b"counts only its days in the range" in page.content

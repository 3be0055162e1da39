"""The per-user page, its CSV and XLSX, through the real view and database, against figures
computed by hand."""

import csv
import io
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from html import unescape
from urllib.parse import parse_qs, urlencode, urlsplit

import openpyxl
import pytest
import time_machine
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from reports.business_json import business_summary
from reports.periods import period_custom, period_resolve
from reports.user_page import user_page_url
from usage.events import UsageEvent, llm_events_record
from usage.models import LlmUsageDaily, LlmUsageSource, UsageUser
from usage.user_usage import UsageCounts, llm_user_known, llm_user_usage

pytestmark = pytest.mark.django_db
TODAY = date(2026, 11, 21)
# A user id with what a path would mangle: "/", "%", a space, "..", unicode.
USER = "team/ü 100%/../ℵ"
PAGE = "/admin/user-usage/"


@pytest.fixture(autouse=True)
def _today():
    with time_machine.travel("2026-11-21 10:00:00+00:00", tick=False):
        yield


def event(n, day, user=USER, model="gpt-4o", tags=None, **tokens):
    return UsageEvent(
        event_id=f"e{n}", timestamp=datetime(day.year, day.month, day.day, 9, tzinfo=UTC),
        user_id=user, provider="openai", model=model, tags=tags, **tokens,
    )  # fmt: skip


@pytest.fixture
def usage(gpt4o):
    """gpt-4o at 2.50 in, 10 out, 1.25 cache read per million tokens.

    USER over the last 30 days (Oct 23 - Nov 21):
      Nov 18: 2 x (1,000,000 in + 100,000 out) = 2 x 3.50 = 7.00, one an error; agent=support,
              feature=chat
      Nov 20: 400,000 in + 50,000 out + 800,000 cache read = 1.00 + 0.50 + 1.00 = 2.50,
              agent=writer; and 1,000 in + 100 out of "mystery-1", which has no price,
              agent=support
      => 4 requests, 1 error, 2,401,000 in, 250,100 out, 800,000 cache read, 3,451,100
         tokens, 9.50, 1 unpriced.
    USER in the previous 30 days (Sep 23 - Oct 22): Oct 10, 1,000,000 in = 2.50.
    USER a year back: Nov 3, 2025, 100,000 in = 0.25.
    Someone else, Nov 18: 3.50 (must not show)."""
    UsageUser.objects.create(user_id=USER, email="ann@example.com")
    nov18, nov20 = date(2026, 11, 18), date(2026, 11, 20)
    chat = {"agent": "support", "feature": "chat", "conversation_id": "c1"}
    events = [
        event(1, nov18, tags=chat, input_tokens=1_000_000, output_tokens=100_000),
        event(2, nov18, tags=chat, input_tokens=1_000_000, output_tokens=100_000, is_error=True),
        event(3, nov20, tags={"agent": "writer"}, input_tokens=400_000, output_tokens=50_000,
              cache_read_tokens=800_000),
        event(4, nov20, model="mystery-1", tags={"agent": "support"}, input_tokens=1_000,
              output_tokens=100),
        event(5, date(2026, 10, 10), input_tokens=1_000_000),
        event(6, date(2025, 11, 3), input_tokens=100_000),
        event(7, nov18, user="someone-else", tags={"agent": "support"}, input_tokens=1_000_000,
              output_tokens=100_000),
    ]  # fmt: skip
    assert llm_events_record(events=events) == ["accepted"] * 7


@pytest.fixture
def admin_client(client):
    client.force_login(User.objects.create_superuser("root", password="pw"))
    return client


def page(client, user_id=USER, **params):
    return client.get(PAGE, {"user_id": user_id, **params})


def text_of(response) -> str:
    """The page's visible text, tags dropped and spaces collapsed."""
    html = re.sub(r"<script.*?</script>", " ", response.content.decode(), flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def table_rows(response, name) -> list[list[str]]:
    """The body rows of the page's table `data-table=name`, as the cells' text."""
    html = response.content.decode()
    table = re.search(rf'<table[^>]*data-table="{name}".*?</table>', html, flags=re.S).group(0)
    body = re.search(r"<tbody>(.*?)</tbody>", table, flags=re.S).group(1)
    return [
        [re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", "", cell))).strip() for cell in cells]
        for cells in (
            re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, flags=re.S)
            for row in re.findall(r"<tr>(.*?)</tr>", body, flags=re.S)
        )
    ]


# The figures -------------------------------------------------------------------------------


def test_the_users_totals_against_the_comparison_period(usage, admin_client):
    response = page(admin_client, period="30d")
    assert response.status_code == 200
    text = text_of(response)
    assert "ann@example.com" in text and USER in text
    kpis = dict(
        re.findall(
            r'data-kpi="(\w+)".*?business-kpi-amount">([^<]+)<',
            response.content.decode(),
            flags=re.S,
        )
    )  # noqa: E501
    assert kpis == {
        "cost": "9.50", "requests": "4", "tokens": "3,451,100", "errors": "1",
        "unpriced_requests": "1", "revenue": "not yet",
    }  # fmt: skip
    # The previous 30 days: one request of 2.50; the cost card is incomplete (1 unpriced).
    assert "Previous period: 2.50 USD ( ▲ up 280.0%)" in text
    assert "Incomplete: 1 unpriced request left out." in text
    assert "Revenue per user comes with customer billing." in text
    assert "1 of this user's requests has no price" in text


def test_totals_are_the_days_added_up_and_the_business_summarys_top_user_figure(usage):
    for period in (period_resolve(key="30d"), period_custom(start=date(2025, 11, 1), end=TODAY)):
        figures = llm_user_usage(user_id=USER, start=period.start, end=period.end)
        assert len(figures.days) == period.days
        assert figures.totals == sum((d.counts for d in figures.days), UsageCounts())
        top = {u["user_id"]: u for u in business_summary(period=period)["top_users"]}[USER]
        assert (top["cost"], top["requests"], top["unpriced_requests"]) == (
            str(figures.totals.cost.quantize(Decimal("0.01"))),
            figures.totals.requests,
            figures.totals.unpriced_requests,
        )
    assert figures.totals.cost == Decimal("12.25")  # 9.50 + 2.50 + 0.25
    days = {d.day: d.counts for d in llm_user_usage(user_id=USER, start=date(2026, 11, 18),
                                                    end=TODAY).days}  # fmt: skip
    assert days[date(2026, 11, 18)] == UsageCounts(
        requests=2, errors=1, input_tokens=2_000_000, output_tokens=200_000,
        cost=Decimal("7.00"),
    )  # fmt: skip
    assert days[date(2026, 11, 19)] == UsageCounts(cost=Decimal(0))  # no usage costs nothing


def test_per_provider_per_model_per_tag_and_unpriced(usage, admin_client):
    response = page(admin_client, period="30d")
    assert table_rows(response, "providers") == [["OpenAI", "4", "1", "3,451,100", "9.50", "1"]]
    assert table_rows(response, "models") == [
        ["OpenAI", "gpt-4o", "3", "1", "2,400,000", "250,000", "800,000", "0", "0", "9.50", "0"],
        ["OpenAI", "mystery-1", "1", "0", "1,000", "100", "0", "0", "0", "0.00", "1"],
    ]
    # Per tag: support 2 x 3.50 + the unpriced one; writer 2.50; chat 7.00. No conversations.
    assert table_rows(response, "tags") == [
        ["agent", "support", "3", "7.00", "1"],
        ["agent", "writer", "1", "2.50", "0"],
        ["feature", "chat", "2", "7.00", "0"],
    ]
    assert table_rows(response, "unpriced") == [
        ["OpenAI", "mystery-1", "1", "2026-11-20", "2026-11-20"]
    ]
    assert f'href="{reverse("admin:llm_unpriced")}"' in response.content.decode()


def test_the_trend_per_day_for_30_days(usage, admin_client):
    response = page(admin_client, period="30d")
    rows = table_rows(response, "trend")
    assert len(rows) == 30 and rows[0][0] == "2026-10-23"
    assert rows[26] == ["2026-11-18", "2", "1", "2,200,000", "7.00", "0"]
    assert rows[28] == ["2026-11-20", "2", "0", "1,251,100", "2.50", "1"]
    assert rows[29] == ["2026-11-21 (partial)", "0", "0", "0", "0.00", "0"]  # today, running
    chart = response.context["chart"]
    assert chart["unit"] == "day" and chart["cost"][26] == "7.00" and chart["requests"][28] == 2


def test_the_trend_of_12_months_is_bucketed_by_month_and_says_so(usage, admin_client):
    response = page(admin_client, period="12m")  # Nov 1, 2025 to Oct 31, 2026
    text = text_of(response)
    assert "LLM cost and requests per month" in text
    assert "12 months: the period is 365 days long, so its days are added up per month" in text
    rows = table_rows(response, "trend")
    assert [r[0] for r in rows][:2] == ["2025-11-01 to 2025-11-30", "2025-12-01 to 2025-12-31"]
    assert len(rows) == 12
    assert rows[0] == ["2025-11-01 to 2025-11-30", "1", "0", "100,000", "0.25", "0"]
    assert rows[11] == ["2026-10-01 to 2026-10-31", "1", "0", "1,000,000", "2.50", "0"]
    assert all(row[4] == "0.00" for row in rows[1:11])
    chart = response.context["chart"]
    assert chart["labels"][0] == "2025-11" and chart["partial"] == [False] * 12


def test_a_range_of_weeks_clips_its_ends_and_marks_them_partial(usage, admin_client):
    # Oct 1 (a Thursday) to Nov 21 (today, a Saturday): 52 days, per day; 100 days: weeks.
    response = page(admin_client, start="2026-08-14", end="2026-11-21")
    rows = table_rows(response, "trend")
    assert rows[0][0] == "2026-08-14 to 2026-08-16 (partial)"  # Friday to Sunday
    assert rows[1][0] == "2026-08-17 to 2026-08-23"
    assert rows[-1][0] == "2026-11-16 to 2026-11-21 (partial)"
    assert rows[-1][1:] == ["4", "1", "3,451,100", "9.50", "1"]
    total = sum(Decimal(row[4]) for row in rows)
    assert total == Decimal("12.00")  # Oct 10's 2.50 and the 9.50 of November


# The downloads -----------------------------------------------------------------------------


def test_the_xlsx_holds_every_table_of_the_page_as_numbers(usage, admin_client):
    response = admin_client.get(
        reverse("admin:user_usage_xlsx"), {"user_id": USER, "period": "30d"}
    )
    assert response.status_code == 200
    workbook = openpyxl.load_workbook(io.BytesIO(response.content))
    assert workbook.sheetnames == ["totals", "trend", "providers", "models", "tags", "unpriced"]

    def rows(name):
        sheet = workbook[name]
        values = list(sheet.iter_rows(values_only=True))
        return values[3:]  # title, note, headers

    totals = {row[0]: row[1:] for row in rows("totals")}
    assert totals["LLM cost (USD)"] == (9.5, 2.5)
    assert totals["Requests"] == (4, 1)
    assert totals["Tokens"] == (3_451_100, 1_000_000)
    assert totals["Unpriced requests"] == (1, 0)
    assert totals["Revenue"][0] == "Revenue per user comes with customer billing"
    models = rows("models")
    assert models[0][:4] == ("openai", "gpt-4o", 3, 1) and models[0][9] == 9.5
    assert rows("tags") == [
        ("agent", "support", 3, 7, 1), ("agent", "writer", 1, 2.5, 0), ("feature", "chat", 2, 7, 0),
    ]  # fmt: skip
    assert [(*row[:3], row[3].date(), row[4].date()) for row in rows("unpriced")] == [
        ("openai", "mystery-1", 1, date(2026, 11, 20), date(2026, 11, 20))
    ]
    trend = rows("trend")
    assert len(trend) == 30 and trend[26][0].date() == date(2026, 11, 18) and trend[26][6] == 7
    assert sum(row[6] for row in trend) == pytest.approx(9.5)
    # The page's tables, cell for cell (as text), are the same figures.
    page_models = table_rows(page(admin_client, period="30d"), "models")
    assert [(r[1], r[2], r[-2]) for r in page_models] == [
        (row[1], str(row[2]), f"{Decimal(str(row[9])):.2f}") for row in models
    ]


def test_each_table_downloads_as_csv(usage, admin_client):
    url = reverse("admin:user_usage_csv", args=["models"])
    response = admin_client.get(url, {"user_id": USER, "period": "30d"})
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="llm_user_team')
    lines = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert lines[0][:3] == ["Provider", "Model", "Requests"]
    assert lines[1][:4] == ["openai", "gpt-4o", "3", "1"] and lines[1][9] == "9.50"
    tags = admin_client.get(reverse("admin:user_usage_csv", args=["tags"]), {"user_id": USER})
    assert list(csv.reader(io.StringIO(tags.content.decode("utf-8-sig"))))[1] == [
        "agent",
        "support",
        "3",
        "7.00",
        "1",
    ]
    missing = admin_client.get(reverse("admin:user_usage_csv", args=["nope"]), {"user_id": USER})
    assert missing.status_code == 404
    bad = admin_client.get(url, {"user_id": USER, "start": "2026-13-01", "end": "2026-11-01"})
    assert bad.status_code == 400 and b"start" in bad.content


# User ids that round-trip, and those that cannot be anyone's ------------------------------


@pytest.mark.parametrize(
    "user_id",
    [USER, "a/b", "100%", "%2F", "with space", "../x", "..", "?a=1&b=#c", "ü ℵ 😀", "+plus", ""],
)
def test_every_user_id_round_trips_through_the_links(user_id, gpt4o, admin_client):
    llm_events_record(events=[event(1, date(2026, 11, 20), user=user_id, input_tokens=400_000)])
    response = admin_client.get(user_page_url(user_id=user_id, period=period_resolve(key="7d")))
    assert response.status_code == 200
    assert response.context["usage"].user_id == user_id
    assert response.context["usage"].totals.cost == Decimal("1.00")
    # The period bar's links and its form keep the user.
    preset = next(p for p in response.context["presets"] if p["key"] == "30d")
    assert parse_qs(urlsplit(preset["url"]).query, keep_blank_values=True)["user_id"] == [user_id]
    again = admin_client.get(PAGE + preset["url"])
    assert again.status_code == 200 and again.context["usage"].user_id == user_id
    assert response.context["period_keep"] == [("user_id", user_id)]
    # The daily usage list links to the page.
    listing = admin_client.get(reverse("admin:usage_llmusagedaily_changelist"))
    assert f'href="{PAGE}?{urlencode({"user_id": user_id})}"'.replace("&", "&amp;") in (
        listing.content.decode()
    )


def test_usage_without_a_user_id_has_its_page(gpt4o, admin_client):
    llm_events_record(events=[event(1, date(2026, 11, 20), user="", input_tokens=400_000)])
    response = admin_client.get(PAGE + "?user_id=&period=7d")
    assert response.status_code == 200
    assert "Requests without a user id" in text_of(response)


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("user_id=nobody", 404),
        ("user_id=" + "x" * 10_000, 404),
        ("user_id=../", 404),
        ("user_id=%ED%A0%80", 404),  # a lone surrogate as UTF-8: Django reads U+FFFD
        ("user_id=%C3%28", 404),  # not UTF-8 at all
        ("user_id=a%00b", 400),  # NUL: refused for every page by the middleware
    ],
)
def test_an_id_no_usage_was_recorded_under_is_a_404_that_says_so(
    query, status, usage, admin_client
):
    response = admin_client.get(f"{PAGE}?{query}")
    assert response.status_code == status
    if status == 404:
        assert "No LLM usage is recorded for the user id" in text_of(response)
    for download in (
        reverse("admin:user_usage_xlsx"),
        reverse("admin:user_usage_csv", args=["tags"]),
    ):
        assert admin_client.get(f"{download}?{query}").status_code == status


def test_an_id_longer_than_any_column_is_nobody_without_asking_the_database(usage):
    assert llm_user_known(user_id="x" * 201) is False
    assert llm_user_usage(user_id="x" * 201, start=TODAY, end=TODAY).totals.requests == 0


def test_no_user_or_two_is_a_400_naming_the_parameter(usage, admin_client):
    response = admin_client.get(PAGE, {"period": "30d"})
    assert response.status_code == 400 and "?user_id=" in text_of(response)
    twice = admin_client.get(PAGE + "?user_id=a&user_id=b")
    assert twice.status_code == 400 and "user_id is given 2 times" in text_of(twice)


@pytest.mark.parametrize(
    "params",
    [
        {"start": "2026-02-30", "end": "2026-03-01"},
        {"start": "0001-01-01", "end": "9999-12-31"},
        {"start": "2026-01-01", "end": "2025-01-01"},
        {"period": "\ud800"},
        {"compare": "x" * 10_000},
        {"start": "2020-01-01", "end": "2026-11-21"},
    ],
)
def test_bad_periods_show_the_default_with_a_message(params, usage, admin_client):
    query = urlencode({"user_id": USER, **params}, errors="surrogatepass")
    response = admin_client.get(f"{PAGE}?{query}")
    assert response.status_code == 200
    assert response.context["report"].period.key == "30d"
    assert "instead" in text_of(response)


# Who may look --------------------------------------------------------------------------------


def test_finance_and_viewer_may_look_others_may_not(usage, client, finance_user, viewer_user):
    for user in (finance_user, viewer_user):
        client.force_login(user)
        assert page(client).status_code == 200
        assert client.get(reverse("admin:user_usage_xlsx"), {"user_id": USER}).status_code == 200
    client.force_login(User.objects.create_user("plain", password="pw", is_staff=True))
    assert page(client).status_code == 403
    assert client.get(reverse("admin:user_usage_xlsx"), {"user_id": USER}).status_code == 403
    client.logout()
    assert page(client).status_code == 302


def test_the_page_reads_sums_in_a_few_queries_and_allows_no_inline_script(usage, admin_client):
    with CaptureQueriesContext(connection) as queries:
        response = page(admin_client, period="12m")
    assert response.status_code == 200
    assert response["Content-Security-Policy"].startswith("script-src 'self'")
    assert "<script>" not in response.content.decode()
    sql = " ".join(q["sql"] for q in queries.captured_queries)
    assert "costledger_llmusageevent" not in sql  # sums, never raw events
    assert len(queries.captured_queries) <= 20


def test_a_prometheus_only_user_counts_the_days_without_events(gpt4o, admin_client):
    """Where a day has no events, its Prometheus rows count (as on every page)."""
    LlmUsageDaily.objects.create(
        day=date(2026, 11, 19), user_id="prom", provider="openai", model="gpt-4o",
        source=LlmUsageSource.PROMETHEUS, requests=5, cost=Decimal("1.25"),
    )  # fmt: skip
    LlmUsageDaily.objects.create(
        day=date(2026, 11, 20), user_id="prom", provider="openai", model="gpt-4o",
        source=LlmUsageSource.PROMETHEUS, requests=7, cost=Decimal("9.00"),
    )  # fmt: skip
    # Nov 20 has events (someone else's): its Prometheus rows do not count.
    llm_events_record(events=[event(1, date(2026, 11, 20), user="x", input_tokens=1)])
    response = page(admin_client, user_id="prom", period="7d")
    assert response.status_code == 200
    assert response.context["usage"].totals.requests == 5
    assert response.context["usage"].totals.cost == Decimal("1.25")
    assert "no email known" in text_of(response)


def test_a_known_user_without_usage_in_the_period_has_a_page_of_zeros(usage, admin_client):
    UsageUser.objects.create(user_id="quiet", email="quiet@example.com")
    response = page(admin_client, user_id="quiet", period="7d")
    assert response.status_code == 200
    assert response.context["usage"].totals == UsageCounts(cost=Decimal(0))
    assert "No LLM usage of this user from 2026-11-15 to 2026-11-21." in text_of(response)
    # Usage in the comparison period only: shown, beside zeros (USER's Oct 10, 30 days back).
    response = page(admin_client, start="2026-10-11", end="2026-11-09", compare="previous")
    assert response.status_code == 200 and response.context["report"].previous.requests == 1


def test_an_id_seen_only_by_prometheus_is_found_by_its_rows_in_the_range(gpt4o, admin_client):
    LlmUsageDaily.objects.create(
        day=date(2026, 11, 19), user_id="prom", provider="openai", model="gpt-4o",
        source=LlmUsageSource.PROMETHEUS, requests=5, cost=Decimal("1.25"),
    )  # fmt: skip
    assert page(admin_client, user_id="prom", period="7d").status_code == 200
    far = page(admin_client, user_id="prom", start="2026-01-01", end="2026-01-31")
    assert far.status_code == 404
    assert "from 2026-01-01 to 2026-01-31 or from 2025-12-01 to 2025-12-31" in text_of(far)


def test_images_streaming_and_bandwidth_show_when_the_user_has_any(admin_client):
    from datetime import date as day_
    from decimal import Decimal as D

    from usage.models import LlmUsageDaily

    def row(user_id, **quantities):
        LlmUsageDaily.objects.create(day=day_(2026, 11, 10), user_id=user_id, provider="openai",
                                     model="gpt-4o", source="events", requests=2,
                                     cost=D("0.50"), **quantities)  # fmt: skip

    row("streamer", images=3, stream_duration_ms=90_000, bandwidth_bytes=2_500_000_001)
    row("plain")
    url = "/admin/user-usage/?start=2026-11-01&end=2026-11-30&user_id="
    html = admin_client.get(url + "streamer").content.decode()
    assert "Images <strong>3</strong>" in html
    assert "Streaming (minutes) <strong>1.5</strong>" in html  # 90 s
    assert "Bandwidth (GB) <strong>2.500000001</strong>" in html  # exact; billing rounds up
    assert "Other quantities" not in admin_client.get(url + "plain").content.decode()

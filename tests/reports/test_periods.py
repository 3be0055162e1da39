"""The report periods as finance counts them (issue 13): calendar presets, each compared with
the previous period of the same kind; any range; the same parameters on the page, its CSVs and
the JSON API, each bad one named."""

from datetime import date

import pytest
import time_machine
from django.urls import reverse
from django.utils.datastructures import MultiValueDict

from costledger.query_params import QueryParams
from reports.periods import period_custom, period_read, period_resolve

TODAY = date(2026, 11, 21)


@pytest.fixture(autouse=True)
def today():
    with time_machine.travel("2026-11-21 10:00:00+00:00", tick=False):
        yield


@pytest.mark.parametrize(
    ("key", "period", "compared"),
    [
        ("7d", "2026-11-15 2026-11-21", "2026-11-08 2026-11-14"),
        ("30d", "2026-10-23 2026-11-21", "2026-09-23 2026-10-22"),
        ("this_month", "2026-11-01 2026-11-21", "2026-10-01 2026-10-21"),
        ("last_month", "2026-10-01 2026-10-31", "2026-09-01 2026-09-30"),
        ("this_quarter", "2026-10-01 2026-11-21", "2026-07-01 2026-08-21"),
        ("last_quarter", "2026-07-01 2026-09-30", "2026-04-01 2026-06-30"),
        ("ytd", "2026-01-01 2026-11-21", "2025-01-01 2025-11-21"),
        ("12m", "2025-11-01 2026-10-31", "2024-11-01 2025-10-31"),
        ("6m", "2026-05-01 2026-10-31", "2025-11-01 2026-04-30"),
        ("nonsense", "2026-10-23 2026-11-21", "2026-09-23 2026-10-22"),
    ],
)
def test_each_preset_is_a_calendar_period_compared_with_the_one_of_its_kind_before(
    key, period, compared
):
    resolved = period_resolve(key=key)
    assert f"{resolved.start} {resolved.end}" == period
    assert f"{resolved.compare.start} {resolved.compare.end}" == compared


@pytest.mark.parametrize(
    ("today", "key", "compared"),
    [
        (date(2026, 3, 31), "this_month", "2026-02-01 2026-02-28"),  # the month before is shorter
        (date(2026, 5, 31), "this_quarter", "2026-01-01 2026-02-28"),
        (date(2028, 2, 29), "ytd", "2027-01-01 2027-02-28"),
    ],
)
def test_a_period_to_date_is_compared_with_the_same_days_clipped_to_the_shorter_month(
    today, key, compared
):
    resolved = period_resolve(key=key, today=today)
    assert f"{resolved.compare.start} {resolved.compare.end}" == compared


def test_a_range_compares_with_the_days_before_the_same_days_last_year_or_nothing():
    leap = period_custom(start=date(2024, 2, 10), end=date(2024, 2, 29), compare="previous")
    assert (leap.compare.start, leap.compare.end) == (date(2024, 1, 21), date(2024, 2, 9))
    last_year = period_custom(start=date(2024, 2, 10), end=date(2024, 2, 29), compare="last_year")
    assert (last_year.compare.start, last_year.compare.end) == (date(2023, 2, 10), date(2023, 2, 28))  # fmt: skip  # noqa: E501
    assert period_custom(start=TODAY, end=TODAY, compare="none").compare is None
    assert period_resolve(key="this_month", compare="last_year").compare.start == date(2025, 11, 1)


def read(query: str):
    params = QueryParams(MultiValueDict({k: [v] for k, v in (p.split("=") for p in query.split("&"))}))  # fmt: skip  # noqa: E501
    return period_read(params), params.errors


def test_any_range_is_read_from_start_and_end():
    period, errors = read("start=2025-01-01&end=2026-11-21&compare=last_year")
    assert errors == {}
    assert (period.key, period.start, period.end, period.compare.key) == (
        "custom", date(2025, 1, 1), date(2026, 11, 21), "last_year"
    )  # fmt: skip


@pytest.mark.parametrize(
    ("query", "field", "says"),
    [
        ("start=2026-11-01", "end", "needs both start and end"),
        ("start=2026-11-21&end=2026-11-01", "end", "is before start"),
        ("start=2020-01-01&end=2026-11-21", "end", "three years"),
        ("period=7d&start=2026-11-01&end=2026-11-02", "period", "not both"),
        ("period=fortnight", "period", "use one of 7d, 30d, this_month, last_month, this_q"),
        ("period=6x", "period", "last_quarter, ytd, 12m, or give start and end."),
        ("compare=yesterday", "compare", "Unknown compare"),
        ("start=11/01/2026&end=2026-11-02", "start", "use YYYY-MM-DD"),
        ("start=0001-01-01&end=2026-11-02", "start", "outside"),
    ],
)
def test_what_cannot_be_read_is_named_and_the_default_is_kept(query, field, says):
    period, errors = read(query)
    assert says in errors[field]
    assert period.key == "30d"


def test_the_api_takes_the_same_parameters_and_names_each_bad_one(admin_client):
    url = reverse("api-business-summary")
    body = admin_client.get(url, {"start": "2026-10-01", "end": "2026-10-31", "compare": "none"}).json()  # fmt: skip  # noqa: E501
    assert body["period"] | {"label": None} == {
        "key": "custom", "label": None, "start": "2026-10-01", "end": "2026-10-31",
        "compare": None, "compare_label": None, "previous_start": None, "previous_end": None,
        "days": 31,
    }  # fmt: skip
    assert body["kpis"]["revenue"]["change_percent"] is None
    bad = admin_client.get(url, {"start": "2026-10-31", "end": "2026-10-01", "compare": "x"})
    assert bad.status_code == 400 and set(bad.json()["errors"]) == {"end", "compare"}


def test_the_page_keeps_the_range_in_its_links_and_says_what_it_could_not_read(admin_client):
    page = admin_client.get(
        reverse("admin:business"),
        {"start": "2026-10-01", "end": "2026-10-31", "compare": "last_year"},  # fmt: skip  # noqa: E501
    )
    assert page.context["csv_query"] == "start=2026-10-01&end=2026-10-31&compare=last_year"
    assert b"compared with same period last year, 2025-10-01 to 2025-10-31" in page.content
    presets = {p["key"]: p["url"] for p in page.context["presets"]}
    assert presets["last_quarter"] == "?period=last_quarter&compare=last_year"
    csv = admin_client.get(reverse("admin:business_csv", args=["top_users"]) + "?" + page.context["csv_query"])  # fmt: skip  # noqa: E501
    assert csv.status_code == 200
    assert "top_users_2026-10-01_2026-10-31.csv" in csv["Content-Disposition"]
    bad = admin_client.get(reverse("admin:business"), {"start": "2026-13-01", "end": "2026-10-31"})
    assert bad.status_code == 200
    assert any("is not a date" in str(m) for m in bad.context["messages"])
    assert bad.context["summary_json"]["period"]["key"] == "30d"
    refused = admin_client.get(reverse("admin:business_csv", args=["top_users"]), {"start": "x"})
    assert refused.status_code == 400


def test_pages_that_compare_nothing_offer_no_comparison(admin_client):
    """Costs by provider and the reconciliation show one period: no "compared with" to choose."""
    business = admin_client.get(reverse("admin:business")).content.decode()
    assert 'select name="compare"' in business
    for name in ("admin:costs_by_provider", "admin:llm_reconciliation"):
        page = admin_client.get(reverse(name), {"period": "last_month"}).content.decode()
        assert 'select name="compare"' not in page, name
        assert 'name="start"' in page, name

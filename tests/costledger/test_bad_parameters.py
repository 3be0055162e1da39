"""A bad query parameter gets a 4xx naming it, never a 500: the parsers of the JSON API, the
middleware refusing NUL, and the admin's lists. tests/test_url_sweep.py tries every URL."""

from datetime import UTC, datetime

import pytest
import time_machine
from django.contrib import admin
from django.http import QueryDict
from django.urls import reverse
from django.utils.datastructures import MultiValueDict

from costledger.admin_site import BadParametersRefused
from costledger.models import CostEntry
from costledger.query_params import QueryParams
from usage.events import UsageEvent, llm_events_record

pytestmark = pytest.mark.django_db
TOKEN = "s3cret-sync-token"
DATED = ["api-infrastructure-costs", "api-cost-by-user", "api-token-ratios", "api-error-rates"]


@pytest.fixture(autouse=True)
def _token(settings):
    settings.SYNC_API_TOKEN = TOKEN


def api_get(client, name: str, query: str):
    return client.get(f"{reverse(name)}?{query}", headers={"Authorization": f"Bearer {TOKEN}"})


def changelist(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


# The JSON API -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", DATED)
@pytest.mark.parametrize("end", ["0001-01-01", "1999-12-31", "9999-12-31", "99999999999999999999"])
def test_an_end_alone_outside_the_ledger_is_400_naming_it(client, name, end):
    response = api_get(client, name, f"end={end}")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["end"]


@time_machine.travel("2026-11-21 12:00:00+00:00", tick=False)
def test_an_end_alone_still_starts_the_range_30_days_before_it(client):
    body = api_get(client, "api-token-ratios", "end=2026-10-31").json()
    assert (body["start"], body["end"]) == ("2026-10-02", "2026-10-31")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("start=2999-12-31", "start"),
        ("start=2000-01-01", "start"),
        ("start=2026-10-02&end=2026-10-01", "end"),
    ],
)
def test_a_range_error_names_the_date_given_not_the_default(client, query, field):
    response = api_get(client, "api-error-rates", query)
    assert response.status_code == 400
    assert list(response.json()["errors"]) == [field]


def params(query: str) -> QueryParams:
    return QueryParams(QueryDict(query))


@pytest.mark.parametrize(
    ("query", "text"),
    [
        ("limit=1&limit=2", "given 2 times"),
        ("limit=99999999999999999999", "from 1 to 1000"),
        (f"limit={'9' * 5000}", "5000 characters long"),
        ("limit=1_000", "not a whole number"),
        ("limit=%D9%A5", "not a whole number"),  # an Arabic-Indic 5, which int() reads
    ],
)
def test_whole_numbers_are_plain_digits_given_once(query, text):
    read = params(query)
    assert read.whole_number("limit", default=20, low=1, high=1000) == 20
    assert text in read.errors["limit"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("start=2026-10-01&start=2026-10-02", "start"),
        (f"end={'x' * 10_000}", "end"),
        ("start=2026-10-01&end=%ED%A0%80", "end"),
        ("start=-1", "start"),
    ],
)
def test_a_bad_date_is_an_error_of_its_parameter_only(query, field):
    read = params(query)
    read.date_range()
    assert list(read.errors) == [field]


def test_a_long_error_value_is_quoted_short():
    read = params(f"start={'x' * 10_000}")
    read.date_range()
    assert len(read.errors["start"]) < 200


@pytest.mark.parametrize("value", ["\x00", "\ud800", "x" * 101])
def test_names_refuse_what_no_name_holds(value):
    read = QueryParams(MultiValueDict({"provider": ["openai", value]}))
    assert read.names("provider") == []
    assert "provider" in read.errors


def test_names_are_repeated_or_comma_separated_and_checked():
    read = params("category=llm,infrastructure&category=food")
    assert read.names("category", allowed=["llm", "infrastructure"]) == []
    assert read.errors["category"].startswith("Unknown category food;")


def test_an_unknown_choice_is_named():
    read = params("period=forever")
    assert read.choice("period", ["7d", "30d"]) is None
    assert read.errors == {"period": "Unknown period 'forever'; use one of 7d, 30d."}


# NUL, refused by the middleware ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "name"),
    [("provider=%00", "provider"), ("start=2026-10-01%00", "start"), ("%00=1", "\x00")],
)
def test_nul_in_an_api_parameter_is_a_json_400_naming_it(client, query, name):
    response = api_get(client, "api-infrastructure-costs", query)
    assert response.status_code == 400
    assert list(response.json()["errors"]) == [name]


def test_nul_is_refused_before_authentication(client):
    assert client.get(f"{reverse('api-cost-by-user')}?provider=%00").status_code == 400


def test_nul_on_an_admin_page_is_a_plain_400_naming_it(admin_client):
    response = admin_client.get(f"{changelist(CostEntry)}?provider=%00")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
    assert b"'provider'" in response.content


def test_bytes_that_are_not_utf8_arrive_as_replacement_characters():
    """Why only NUL can reach a view over HTTP: Django decodes a lone surrogate's bytes (or any
    invalid UTF-8) with replacement, which PostgreSQL stores fine."""
    query = QueryDict("a=%ED%A0%80&b=%FF")
    assert (query["a"], query["b"]) == ("\ufffd" * 3, "\ufffd")


# The admin's lists ----------------------------------------------------------------------------


def test_every_model_admin_refuses_bad_parameters():
    """Ours and those of other apps (auth, django-celery-beat): the site adds the mixin."""
    for model, model_admin in admin.site._registry.items():
        assert isinstance(model_admin, BadParametersRefused), model


def test_an_unknown_cost_filter_value_lists_every_event(admin_client):
    llm_events_record(
        events=[
            UsageEvent(
                event_id="evt-1",
                timestamp=datetime(2026, 10, 1, 9, tzinfo=UTC),
                provider="acme",
                model="acme-1",
            )
        ]
    )
    response = admin_client.get(f"{reverse('admin:usage_llmusageevent_changelist')}?cost=x")
    assert response.status_code == 200
    assert b"evt-1" in response.content


HIERARCHIES = [
    pytest.param(model, model_admin.date_hierarchy, id=model._meta.label)
    for model, model_admin in admin.site._registry.items()
    if model_admin.date_hierarchy
]


@pytest.mark.parametrize(("model", "field"), HIERARCHIES)
@pytest.mark.parametrize(
    "drill_down",
    [
        "year=99999999999999999999",
        "year=2026&{f}__month=99999999999999999999",
        "year=2026&{f}__month=1&{f}__day=99999999999999999999",
        "year=9999&{f}__month=12&{f}__day=31",
        "year=9999",
        "year=0",
        "year=-1",
        "year=abc",
    ],
)
def test_a_date_hierarchy_out_of_range_redirects_with_e_1(admin_client, model, field, drill_down):
    query = f"{field}__{drill_down.format(f=field)}"
    response = admin_client.get(f"{changelist(model)}?{query}")
    assert (response.status_code, response["Location"]) == (302, f"{changelist(model)}?e=1")


def test_a_lookup_the_database_refuses_redirects_with_e_1(admin_client):
    response = admin_client.get(f"{changelist(CostEntry)}?service__regex=(")
    assert (response.status_code, response["Location"]) == (302, f"{changelist(CostEntry)}?e=1")


def test_an_empty_to_field_opens_the_object(admin_client):
    entry = CostEntry.objects.create(
        provider="supabase",
        service="Pro",
        category="infrastructure",
        charge_period_start="2026-10-01",
        charge_period_end="2026-10-02",
        billed_cost="1",
        source="estimate",
    )
    url = reverse("admin:costledger_costentry_change", args=[entry.pk])
    assert admin_client.get(f"{url}?_to_field=").status_code == 200


def test_copying_a_price_of_thousands_of_digits_opens_an_empty_form(admin_client):
    url = reverse("admin:usage_modelprice_add")
    assert admin_client.get(f"{url}?copy={'9' * 5000}").status_code == 200


@pytest.mark.parametrize(
    "form",
    [
        {"since": "2026-10-01", "until": "2026-10-31", "model": "acme\x00"},
        {"since": "0001-01-01", "until": "9999-12-31", "model": "x" * 10_000},
        {"since": "2026-10-31", "until": "2026-10-01"},
        {"since": "2026-10-01\x00", "until": "abc"},
    ],
)
def test_a_reprice_with_bad_input_goes_back_to_the_page(admin_client, form):
    response = admin_client.post(reverse("admin:llm_unpriced"), form)
    assert (response.status_code, response["Location"]) == (302, reverse("admin:llm_unpriced"))


def test_more_parameters_than_django_reads_is_a_400(client):
    query = "&".join(f"p{i}=1" for i in range(1001))
    assert client.get(f"{reverse('api-cost-by-user')}?{query}").status_code == 400


@pytest.mark.parametrize(
    "path",
    ["/admin/usage/usageuser/%00/change/", "/admin/usage/usageuser/%00/history/",
     "/admin/usage/usageuser/a%00b/delete/", "/admin/billing/providerinvoice/%00/change/"],
)  # fmt: skip
def test_nul_in_an_admin_object_id_is_a_plain_400(admin_client, path):
    response = admin_client.get(path)
    assert response.status_code == 400 and b"NUL" in response.content


def test_nul_in_an_api_path_is_a_json_400(client):
    response = client.get("/api/v1/metrics/error-rates%00")
    assert response.status_code == 400 and "path" in response.json()["errors"]


@pytest.mark.parametrize("object_id", ["abc", "1%ED%A0%80", "99999999999999999999", "-1"])
@pytest.mark.parametrize("page", ["history", "change", "delete"])
def test_an_id_naming_no_object_redirects_on_every_object_page(admin_client, object_id, page):
    """django-simple-history's history view read its rows by an unchecked id (500 on `abc`)."""
    response = admin_client.get(f"/admin/billing/providerinvoice/{object_id}/{page}/")
    assert response.status_code == 302 and response.url == "/admin/"


@pytest.mark.parametrize("value", ["%ED%A0%80", "NaN", "Open%20AI", "openai%0A", "a" * 65])
def test_a_provider_that_is_not_a_slug_is_a_400_naming_it(admin_client, value):
    response = admin_client.get(f"/api/v1/metrics/infrastructure-costs?provider={value}")
    assert response.status_code == 400 and "provider" in response.json()["errors"]

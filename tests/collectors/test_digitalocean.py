"""The DigitalOcean collector against answers shaped like DigitalOcean's documented examples.

Shapes come from DigitalOcean's OpenAPI spec (github.com/digitalocean/openapi, under
specification/resources/): billing/responses/invoices.yml and invoice.yml (the invoice list
with `invoice_preview`, invoice items, `links.pages.next` as absolute URLs, amounts as strings),
the balance example (month_to_date_balance, account_balance, month_to_date_usage as strings,
generated_at), apps/responses/examples.yml (the `apps` list, trimmed of deployment progress),
databases/responses/database_clusters.yml, and registry/models/registry.yml and
subscription_tier.yml (integer byte counts).
"""

from datetime import date
from decimal import Decimal

import pytest
import responses
import time_machine

from costledger.models import CostEntry, MetricSample
from costledger.selectors import effective_cost_by_day
from tests.collectors.conftest import fixture, run_collector

pytestmark = pytest.mark.django_db
BASE = "https://do.test"
TOKEN = "dop_v1_not-a-real-token"
DAY = date(2026, 11, 20)
OCTOBER_UUID = "22737513-0ea7-4206-8ceb-98a575af7681"
INVOICES = f"{BASE}/v2/customers/my/invoices"
FIRST_PAGE = [responses.matchers.query_param_matcher({"per_page": "200"})]


@pytest.fixture
def digitalocean(settings):
    settings.DO_API_TOKEN = TOKEN
    settings.DO_API_URL = BASE


@pytest.fixture
def on_day():
    with time_machine.travel("2026-11-20 12:00:00+00:00", tick=False):
        yield


def balance(usage="11.21", generated_at="2026-11-20T06:31:50Z"):
    return fixture(
        "digitalocean_balance.json",
        month_to_date_balance="23.44",
        account_balance="12.23",
        month_to_date_usage=usage,
        generated_at=generated_at,
    )


def invoices(period="2026-10", amount="46.79", older="2026-09", preview="2026-11"):
    return fixture(
        "digitalocean_invoices.json",
        invoice_amount=amount,
        invoice_period=period,
        older_period=older,
        preview_amount="11.21",
        preview_period=preview,
        preview_updated_at="2026-11-20T06:31:50Z",
    )


def items(start="2026-10-01", end="2026-11-01"):
    return fixture(
        "digitalocean_invoice_items.json",
        start_time=f"{start}T00:00:00Z",
        end_time=f"{end}T00:00:00Z",
    )


def serve(fake_http, *, balance_body=None, invoices_body=None, apps=None, databases=None):
    fake_http.get(f"{BASE}/v2/customers/my/balance", json=balance_body or balance())
    fake_http.get(INVOICES, json=invoices_body or invoices(), match=FIRST_PAGE)
    fake_http.get(f"{INVOICES}/{OCTOBER_UUID}", json=items(), match=FIRST_PAGE)
    fake_http.get(f"{BASE}/v2/apps", json=apps or fixture("digitalocean_apps.json"))
    fake_http.get(f"{BASE}/v2/databases", json=databases or fixture("digitalocean_databases.json"))
    fake_http.get(f"{BASE}/v2/registry", json=fixture("digitalocean_registry.json"))
    fake_http.get(
        f"{BASE}/v2/registry/subscription",
        json=fixture("digitalocean_registry_subscription.json"),
    )


def requested_paths(fake_http):
    return [call.request.path_url.split("?")[0] for call in fake_http.calls]


def test_the_current_month_is_its_month_to_date_usage(fake_http, digitalocean, on_day):
    apps = fixture("digitalocean_apps.json")
    apps["apps"][0]["spec"]["workers"] = [
        {"name": "queue", "instance_size_slug": "apps-s-1vcpu-1gb", "instance_count": 2}
    ]
    databases = fixture("digitalocean_databases.json")
    databases["databases"][0]["storage_size_mib"] = 61440
    serve(fake_http, apps=apps, databases=databases)

    run = run_collector("digitalocean", DAY)

    assert (run.status, run.reason) == ("ok", "")
    entry = CostEntry.objects.get()
    assert (
        entry.service,
        entry.charge_period_start,
        entry.charge_period_end,
        entry.billed_cost,
        entry.currency,
        entry.source,
        entry.reference,
        entry.sync_run_id,
    ) == (
        "Month-to-date usage",
        date(2026, 11, 1),
        date(2026, 11, 21),
        Decimal("11.21"),
        "USD",
        "api",
        "month-to-date",
        run.sync_run_id,
    )
    assert entry.raw["balance"]["generated_at"] == "2026-11-20T06:31:50Z"
    assert entry.raw["invoice_preview"]["invoice_period"] == "2026-11"
    samples = {(s.metric, s.dimensions_key): s.value for s in MetricSample.objects.filter(day=DAY)}
    assert samples == {
        ("apps", "{}"): 1,
        ("app_instances", '{"app":"sample-php","instance_size":"apps-s-1vcpu-0.5gb"}'): 1,
        ("app_instances", '{"app":"sample-php","instance_size":"apps-s-1vcpu-1gb"}'): 2,
        ("database_nodes", '{"cluster":"backend","engine":"pg","size":"db-s-2vcpu-4gb"}'): 1,
        ("database_storage_mib", '{"cluster":"backend"}'): 61440,
        ("registry_storage_bytes", '{"registry":"example"}'): 29393920,
        ("registry_included_storage_bytes", '{"registry":"example","tier":"basic"}'): 5368709120,
    }
    assert run.rows_written == 1 + len(samples)
    assert run.figures == {
        "currency": "USD",
        "month_to_date_usage": "11.21",
        "account_balance": "12.23",
        "balance_generated_at": "2026-11-20T06:31:50+00:00",
        "preview_period": "2026-11",
        "preview_amount": "11.21",
        "invoiced": {},
        "apps": 1,
        "app_instances": 3,
        "databases": 1,
        "database_nodes": 1,
        "registry_storage_bytes": 29393920,
    }
    assert fake_http.calls[0].request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert f"/v2/customers/my/invoices/{OCTOBER_UUID}" not in requested_paths(fake_http)


def test_an_issued_invoice_is_written_per_product_across_pages(fake_http, digitalocean, on_day):
    first = invoices(period="2026-09", older="2026-08")
    first["links"] = {"pages": {"next": f"{INVOICES}?page=2&per_page=200"}}
    second = invoices(period="2026-10", amount="50.00", older="2026-07")
    items_first = items()
    items_first["links"] = {"pages": {"next": f"{INVOICES}/{OCTOBER_UUID}?page=2&per_page=2"}}
    items_second = items()
    items_second["invoice_items"][0]["amount"] = "0.66"
    items_second["invoice_items"][1].update(product="Droplets", amount="1.00")
    serve(fake_http, invoices_body=first)
    fake_http.get(f"{INVOICES}?page=2&per_page=200", json=second)
    # FIRST_PAGE keeps a first page's answer from also answering its second page
    fake_http.replace(
        responses.GET, f"{INVOICES}/{OCTOBER_UUID}", json=items_first, match=FIRST_PAGE
    )
    fake_http.get(f"{INVOICES}/{OCTOBER_UUID}?page=2&per_page=2", json=items_second)

    run = run_collector("digitalocean", date(2026, 10, 15))

    assert (run.status, run.reason) == ("ok", "")
    october = CostEntry.objects.filter(charge_period_start=date(2026, 10, 1))
    assert dict(october.values_list("service", "billed_cost")) == {
        "Kubernetes Clusters": Decimal("13.00"),
        "Spaces Subscription": Decimal("34.45"),
        "Droplets": Decimal("1.00"),
        "Taxes, credits and adjustments": Decimal("1.55"),
    }
    assert {(e.charge_period_end, e.reference, e.source) for e in october} == {
        (date(2026, 11, 1), OCTOBER_UUID, "api")
    }
    kubernetes = october.get(service="Kubernetes Clusters")
    assert kubernetes.raw["item_count"] == 2
    assert kubernetes.raw["invoice_period"] == "2026-10"
    # every run also refreshes the month in progress
    assert CostEntry.objects.get(charge_period_start=date(2026, 11, 1)).reference == (
        "month-to-date"
    )
    assert run.figures["invoiced"] == {"2026-10": "50.00"}
    assert not MetricSample.objects.exists()  # sizes are today's, not October 15th's
    assert "/v2/customers/my/invoices/fdabb512-6faf-443c-ba2e-665452332a9e" not in (
        requested_paths(fake_http)
    )


def _sync_on(fake_http, moment, day, *, balance_body, invoices_body):
    fake_http.reset()
    serve(fake_http, balance_body=balance_body, invoices_body=invoices_body)
    with time_machine.travel(moment, tick=False):
        return run_collector("digitalocean", day)


def test_the_invoice_replaces_the_month_to_date_row_once_issued(fake_http, digitalocean):
    october = {"charge_period_start": date(2026, 10, 1)}
    run = _sync_on(
        fake_http,
        "2026-10-31 20:00:00+00:00",
        date(2026, 10, 31),
        balance_body=balance("40.10", "2026-10-31T18:00:00Z"),
        invoices_body=invoices(period="2026-09", older="2026-08", preview="2026-10"),
    )
    assert run.status == "ok"
    assert CostEntry.objects.get(**october).billed_cost == Decimal("40.10")

    # November 1st: the balance has moved on, October's invoice is not issued yet
    run = _sync_on(
        fake_http,
        "2026-11-01 03:00:00+00:00",
        date(2026, 10, 31),
        balance_body=balance("0.42", "2026-11-01T01:00:00Z"),
        invoices_body=invoices(period="2026-09", older="2026-08", preview="2026-11"),
    )
    assert run.status == "ok"
    assert CostEntry.objects.get(**october).billed_cost == Decimal("40.10")  # kept
    assert any("2026-10 invoice" in note for note in run.notes)
    assert CostEntry.objects.get(charge_period_start=date(2026, 11, 1)).charge_period_end == (
        date(2026, 11, 2)
    )

    # November 2nd: a run for today settles October from its invoice
    run = _sync_on(
        fake_http,
        "2026-11-02 05:00:00+00:00",
        date(2026, 11, 2),
        balance_body=balance("1.10", "2026-11-02T04:00:00Z"),
        invoices_body=invoices(period="2026-10", amount="46.79", preview="2026-11"),
    )
    assert run.status == "ok"
    assert dict(CostEntry.objects.filter(**october).values_list("service", "billed_cost")) == {
        "Kubernetes Clusters": Decimal("12.34"),
        "Spaces Subscription": Decimal("34.45"),
    }
    costs = effective_cost_by_day(start=date(2026, 10, 1), end=date(2026, 11, 3))
    by_day = {c.day: c.amount for c in costs.days if c.provider == "digitalocean"}
    assert sum(v for d, v in by_day.items() if d.month == 10) == Decimal("46.79")
    assert by_day[date(2026, 11, 1)] + by_day[date(2026, 11, 2)] == Decimal("1.10")


def test_running_twice_writes_the_same_rows(fake_http, digitalocean, on_day):
    serve(fake_http)
    run_collector("digitalocean", date(2026, 10, 15))
    first = list(CostEntry.objects.values_list("service", "billed_cost", "charge_period_end"))
    samples = MetricSample.objects.count()
    run_collector("digitalocean", date(2026, 10, 15))
    run_collector("digitalocean", DAY)
    run_collector("digitalocean", DAY)
    assert list(CostEntry.objects.values_list("service", "billed_cost", "charge_period_end")) == (
        first
    )
    assert len(first) == 3  # October's two products and November's month-to-date
    assert MetricSample.objects.count() == 5 and samples == 0


def test_an_account_with_nothing_running(fake_http, digitalocean, on_day):
    serve(
        fake_http,
        apps={"links": {}, "meta": {"total": 0}},  # App Platform leaves empty lists out
        databases={"databases": []},
    )
    fake_http.replace(
        responses.GET,
        f"{BASE}/v2/registry",
        status=404,
        json={"id": "not_found", "message": "The resource you requested could not be found."},
    )
    run = run_collector("digitalocean", DAY)
    assert (run.status, run.reason) == ("ok", "")
    assert run.notes == ["DigitalOcean has no container registry on this account"]
    assert (run.figures["apps"], run.figures["registry_storage_bytes"]) == (0, 0)
    assert list(MetricSample.objects.values_list("metric", "value")) == [("apps", 0)]


def test_without_a_token_it_is_skipped_naming_the_variable(fake_http):
    run = run_collector("digitalocean", DAY)
    assert (run.status, run.reason) == (
        "skipped",
        "DO_API_TOKEN is not set: add it to the environment (.env; see .env.example) and restart",
    )
    assert not fake_http.calls


@pytest.mark.parametrize("status", [401, 403])
def test_a_rejected_token_fails_saying_so(fake_http, digitalocean, status):
    fake_http.get(
        f"{BASE}/v2/customers/my/balance",
        status=status,
        json={"id": "Unauthorized", "message": "Unable to authenticate you"},
    )
    run = run_collector("digitalocean", DAY)
    assert run.status == "failed"
    assert run.reason.startswith(f"credentials rejected by DigitalOcean (HTTP {status})")
    assert TOKEN not in run.reason


def test_an_undocumented_balance_fails_and_writes_nothing(fake_http, digitalocean, on_day):
    body = balance()
    del body["month_to_date_usage"]
    serve(fake_http, balance_body=body)
    run = run_collector("digitalocean", DAY)
    assert run.status == "failed"
    assert "without 'month_to_date_usage'" in run.reason
    assert not CostEntry.objects.exists() and not MetricSample.objects.exists()


def test_a_bad_answer_late_in_the_run_undoes_what_it_wrote(fake_http, digitalocean, on_day):
    serve(fake_http)
    fake_http.replace(responses.GET, f"{BASE}/v2/registry", json={"registry": {"name": "x"}})
    run = run_collector("digitalocean", date(2026, 10, 15))
    assert run.status == "failed"
    assert "without 'storage_usage_bytes'" in run.reason
    assert not CostEntry.objects.exists() and not MetricSample.objects.exists()


def test_an_amount_that_is_not_a_number_fails(fake_http, digitalocean, on_day):
    serve(fake_http, balance_body=balance(usage="about 11 dollars"))
    run = run_collector("digitalocean", DAY)
    assert run.status == "failed"
    assert "month_to_date_usage='about 11 dollars', not a number" in run.reason

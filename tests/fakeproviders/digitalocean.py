"""DigitalOcean's billing, App Platform, database and registry answers, as documented
(fixtures: digitalocean_*.json). The balance is generated on the server's day, so the run for
that day writes the month-to-date row; the previous month's invoice and its items are served
for backfills of that month."""

from datetime import timedelta

from tests.fakeproviders.server import Route, fixture

MONTH_TO_DATE, ACCOUNT_BALANCE, PREVIEW = "11.21", "12.23", "11.21"
INVOICE = "46.79"  # the two documented items: 12.34 + 34.45


def _months(day):
    this_month = day.replace(day=1)
    last_month = (this_month - timedelta(days=1)).replace(day=1)
    older = (last_month - timedelta(days=1)).replace(day=1)
    return this_month, last_month, older


def _balance(query, day):
    return fixture(
        "digitalocean_balance.json",
        month_to_date_balance="23.44",
        account_balance=ACCOUNT_BALANCE,
        month_to_date_usage=MONTH_TO_DATE,
        generated_at=f"{day.isoformat()}T06:31:50Z",
    )


def _invoices(query, day):
    this_month, last_month, older = _months(day)
    return fixture(
        "digitalocean_invoices.json",
        invoice_amount=INVOICE,
        invoice_period=f"{last_month:%Y-%m}",
        older_period=f"{older:%Y-%m}",
        preview_amount=PREVIEW,
        preview_period=f"{this_month:%Y-%m}",
        preview_updated_at=f"{day.isoformat()}T06:31:50Z",
    )


def _invoice_items(query, day):
    _, last_month, _ = _months(day)
    return fixture(
        "digitalocean_invoice_items.json",
        start_time=f"{last_month.isoformat()}T00:00:00Z",
        end_time=f"{day.replace(day=1).isoformat()}T00:00:00Z",
    )


ROUTES = [
    Route("GET", "/digitalocean/v2/customers/my/balance", _balance),
    Route("GET", "/digitalocean/v2/customers/my/invoices", _invoices),
    Route("GET", "^/digitalocean/v2/customers/my/invoices/[0-9a-f-]+$", _invoice_items),
    Route("GET", "/digitalocean/v2/apps", fixture("digitalocean_apps.json")),
    Route("GET", "/digitalocean/v2/databases", fixture("digitalocean_databases.json")),
    Route("GET", "/digitalocean/v2/registry", fixture("digitalocean_registry.json")),
    Route(
        "GET",
        "/digitalocean/v2/registry/subscription",
        fixture("digitalocean_registry_subscription.json"),
    ),
]
ENV = {"DO_API_URL": "{base}/digitalocean", "DO_API_TOKEN": "fake-do-token"}
EXPECTED = {
    "month_to_date_usage": MONTH_TO_DATE,
    "account_balance": ACCOUNT_BALANCE,
    "preview_amount": PREVIEW,
    "apps": 1,
    "app_instances": 1,
    "databases": 1,
    "database_nodes": 1,
    "registry_storage_bytes": 29393920,
}

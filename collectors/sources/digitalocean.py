"""DigitalOcean: what it billed (issued invoices, month-to-date usage) and what is running
(App Platform apps, managed databases, the container registry).

DigitalOcean bills by the month, so its cost rows cover a billing month, not a day; all of them
are source `api`. For a provider and day the ledger adds up every row of the winning source, so
each month holds exactly one of these figures, never two:

- A month whose invoice is issued (`GET /v2/customers/my/invoices`, then its items from
  `/v2/customers/my/invoices/{invoice_uuid}`): one CostEntry per product on the invoice (its
  items summed by `product`), over the whole month, referenced by the invoice UUID; plus one
  "Taxes, credits and adjustments" row for whatever the items do not add up to (taxes and
  credits are not items), so the month sums to the invoice's `amount` exactly.
- The month the balance is for (`GET /v2/customers/my/balance`, the month of `generated_at`),
  while it has no invoice: one provisional "Month-to-date usage" row of `month_to_date_usage`,
  from the 1st through the day of `generated_at`, so its daily pieces are the average so far.
  The invoice preview is the same money seen another way (its amount "reflects month-to-date
  usage"), so it goes in the figures and the row's `raw`, never in a row of its own.
- A month with neither (the previous month on the 1st, before DigitalOcean issues its invoice)
  is left as it is.

Writing a month replaces every DigitalOcean `api` row that starts in it, so an invoice
supersedes the month-to-date row and a re-run replaces instead of adding. A run writes its
window's month (a backfill reloads that month's invoice), the current month-to-date, and any
month still holding a provisional row whose invoice has since been issued: a month gets settled
even if no run's window falls in it after the invoice appears.

Sizes (app instances, database nodes and added storage, registry storage) are the state now:
they are written as MetricSamples for today, and only when the window includes today; a backfill
of a past day reports them in its figures but records none.

https://docs.digitalocean.com/reference/api/digitalocean/#tag/Billing
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.utils import timezone

from collectors.base import Collector, CollectResult, ConnectionProbe, SyncWindow
from collectors.errors import ProviderRefused, UnexpectedResponse
from collectors.http import ProviderHTTP, decimal_of, require, time_of
from costledger.models import CostEntry, MetricSample, Source
from costledger.providers import Category
from costledger.services import cost_entries_replace, metric_samples_upsert

PROVIDER, NAME = "digitalocean", "DigitalOcean"
CURRENCY = "USD"  # DigitalOcean's amounts carry no currency: they are "billed in USD"
PER_PAGE = 200  # the most DigitalOcean lists per page
MONTH_TO_DATE = "month-to-date"  # the reference of the provisional row
MONTH_TO_DATE_SERVICE = "Month-to-date usage"
ADJUSTMENTS_SERVICE = "Taxes, credits and adjustments"
ALWAYS_ON_COMPONENTS = ("services", "workers")  # App Platform components billed per instance
ITEM_EXCERPT = ("product", "description", "group_description", "amount", "duration")


@dataclass(frozen=True)
class Balance:
    month_to_date_usage: Decimal
    account_balance: Decimal
    generated_at: datetime
    raw: dict

    @property
    def month(self) -> date:
        return self.generated_at.date().replace(day=1)


@dataclass(frozen=True)
class Size:
    metric: str
    dimensions: dict
    value: Decimal
    unit: str


class DigitalOceanCollector(Collector):
    name = "digitalocean"
    provider_name = NAME
    required_settings = ("DO_API_TOKEN",)
    optional_settings = ("DO_API_URL",)
    address_settings = ("DO_API_URL",)

    def provider_http(self, **options) -> ProviderHTTP:
        return ProviderHTTP(
            NAME,
            settings.DO_API_URL,
            headers={"Authorization": f"Bearer {settings.DO_API_TOKEN}"},
            **options,
        )

    def connection_probe(self) -> ConnectionProbe:
        # The balance, not /v2/account: the collector's first request, so a token scoped to
        # billing:read alone (all it needs) passes, and one without it fails here.
        return ConnectionProbe("/v2/customers/my/balance", expect="month_to_date_usage")

    def collect(self, window: SyncWindow) -> CollectResult:
        self.http = self.provider_http()
        balance = self._balance()
        invoices, preview = self._invoices()
        notes: list[str] = []
        rows, invoiced = self._write_costs(window, balance, invoices, preview, notes)
        sizes = self._sizes(notes)
        today = timezone.now().date()
        if window.start <= today < window.end:
            rows += metric_samples_upsert(samples=[self._sample(today, s) for s in sizes])
        return CollectResult(
            rows_written=rows,
            figures={
                "currency": CURRENCY,
                "month_to_date_usage": balance.month_to_date_usage,
                "account_balance": balance.account_balance,
                "balance_generated_at": balance.generated_at.isoformat(),
                "preview_period": (preview or {}).get("invoice_period", ""),
                "preview_amount": _money(preview, "amount") if preview else "",
                "invoiced": invoiced,
                **_size_figures(sizes),
            },
            notes=notes,
        )

    def _write_costs(
        self,
        window: SyncWindow,
        balance: Balance,
        invoices: dict[date, list[dict]],
        preview: dict | None,
        notes: list[str],
    ) -> tuple[int, dict[str, Decimal]]:
        """Write each month this run settles (module docstring); rows written and invoiced."""
        rows, invoiced = 0, {}
        for month in sorted(self._months_to_write(window, balance)):
            if month in invoices:
                entries = [e for inv in invoices[month] for e in self._invoice_entries(month, inv)]
                invoiced[f"{month:%Y-%m}"] = sum((e.billed_cost for e in entries), Decimal(0))
            elif month == balance.month:
                entries = [self._month_to_date_entry(balance, preview)]
            else:
                notes.append(
                    f"DigitalOcean has not issued the {month:%Y-%m} invoice yet and the "
                    f"month-to-date usage is for {balance.month:%Y-%m}: the {month:%Y-%m} "
                    "rows were left as they were"
                )
                continue
            rows += cost_entries_replace(scope=_month_scope(month), entries=entries)
        return rows, invoiced

    def _months_to_write(self, window: SyncWindow, balance: Balance) -> set[date]:
        provisional = CostEntry.objects.filter(
            provider=PROVIDER, source=Source.API, reference=MONTH_TO_DATE
        ).values_list("charge_period_start", flat=True)
        return {day.replace(day=1) for day in window.days()} | {balance.month} | set(provisional)

    def _balance(self) -> Balance:
        data = self.http.get_json("/v2/customers/my/balance")
        return Balance(
            month_to_date_usage=_money(data, "month_to_date_usage"),
            account_balance=_money(data, "account_balance"),
            generated_at=time_of(
                require(data, "generated_at", provider=NAME), field="generated_at", provider=NAME
            ),
            raw={
                k: data.get(k) for k in ("month_to_date_usage", "account_balance", "generated_at")
            },
        )

    def _invoices(self) -> tuple[dict[date, list[dict]], dict | None]:
        """Issued invoices by billing month, and the current month's preview."""
        by_month: dict[date, list[dict]] = defaultdict(list)
        preview = None
        path, params = "/v2/customers/my/invoices", {"per_page": PER_PAGE}
        for page in self.http.pages(path, params=params, next_page=_next_page):
            for invoice in require(page, "invoices", provider=NAME) or []:
                period = require(invoice, "invoice_period", provider=NAME)
                by_month[_month_of(period)].append(invoice)
            preview = preview or page.get("invoice_preview")
        if preview is not None and not isinstance(preview, dict):
            raise UnexpectedResponse(f"{NAME} answered invoice_preview={preview!r}, not an object")
        return by_month, preview

    def _invoice_entries(self, month: date, invoice: dict) -> list[CostEntry]:
        """One entry per product on the invoice, and one for what its items leave out."""
        uuid = str(require(invoice, "invoice_uuid", provider=NAME))
        total = _money(invoice, "amount")
        by_product: dict[str, list[dict]] = defaultdict(list)
        path, params = f"/v2/customers/my/invoices/{quote(uuid, safe='')}", {"per_page": PER_PAGE}
        for page in self.http.pages(path, params=params, next_page=_next_page):
            for item in require(page, "invoice_items", provider=NAME) or []:
                by_product[str(item.get("product") or "Other")].append(item)
        header = {k: invoice.get(k) for k in ("invoice_uuid", "invoice_period", "amount")}
        entries = [
            self._month_entry(
                month,
                service=product,
                cost=sum((_money(item, "amount") for item in items), Decimal(0)),
                reference=uuid,
                raw={
                    **header,
                    "item_count": len(items),
                    "items": [{k: i.get(k) for k in ITEM_EXCERPT} for i in items[:5]],
                },
            )
            for product, items in by_product.items()
        ]
        rest = total - sum((e.billed_cost for e in entries), Decimal(0))
        if rest or not entries:
            entries.append(
                self._month_entry(
                    month, service=ADJUSTMENTS_SERVICE, cost=rest, reference=uuid, raw=header
                )
            )
        return entries

    def _month_entry(
        self, month: date, *, service: str, cost: Decimal, reference: str, raw: dict
    ) -> CostEntry:
        return CostEntry(
            provider=PROVIDER,
            service=service,
            category=Category.INFRASTRUCTURE,
            charge_period_start=month,
            charge_period_end=_next_month(month),
            billed_cost=cost,
            currency=CURRENCY,
            source=Source.API,
            reference=reference,
            tags={"invoice_period": f"{month:%Y-%m}"},
            sync_run_id=self.sync_run_id,
            raw=raw,
        )

    def _month_to_date_entry(self, balance: Balance, preview: dict | None) -> CostEntry:
        return CostEntry(
            provider=PROVIDER,
            service=MONTH_TO_DATE_SERVICE,
            category=Category.INFRASTRUCTURE,
            charge_period_start=balance.month,
            charge_period_end=balance.generated_at.date() + timedelta(days=1),
            billed_cost=balance.month_to_date_usage,
            currency=CURRENCY,
            source=Source.API,
            reference=MONTH_TO_DATE,
            tags={"invoice_period": f"{balance.month:%Y-%m}", "provisional": True},
            sync_run_id=self.sync_run_id,
            raw={"balance": balance.raw, "invoice_preview": preview},
        )

    def _sizes(self, notes: list[str]) -> list[Size]:
        return [*self._app_sizes(), *self._database_sizes(), *self._registry_sizes(notes)]

    def _app_sizes(self) -> list[Size]:
        instances: dict[tuple[str, str], int] = defaultdict(int)
        apps = 0
        path, params = "/v2/apps", {"per_page": PER_PAGE}
        for page in self.http.pages(path, params=params, next_page=_next_page):
            for app in _listed(page, "apps"):
                apps += 1
                name = str(require(app, "spec", "name", provider=NAME))
                for kind in ALWAYS_ON_COMPONENTS:
                    for component in app["spec"].get(kind) or []:
                        size = str(component.get("instance_size_slug") or "")
                        instances[name, size] += _instance_count(component)
        return [Size("apps", {}, Decimal(apps), "apps")] + [
            Size("app_instances", {"app": app, "instance_size": size}, Decimal(n), "instances")
            for (app, size), n in instances.items()
        ]

    def _database_sizes(self) -> list[Size]:
        sizes = []
        for page in self.http.pages("/v2/databases", next_page=_next_page):
            for cluster in require(page, "databases", provider=NAME) or []:
                name = str(require(cluster, "name", provider=NAME))
                nodes = require(cluster, "num_nodes", provider=NAME)
                dimensions = {
                    "cluster": name,
                    "engine": str(require(cluster, "engine", provider=NAME)),
                    "size": str(require(cluster, "size", provider=NAME)),
                }
                sizes.append(
                    Size("database_nodes", dimensions, _count(nodes, "num_nodes"), "nodes")
                )
                if cluster.get("storage_size_mib") is not None:
                    added = _count(cluster["storage_size_mib"], "storage_size_mib")
                    sizes.append(Size("database_storage_mib", {"cluster": name}, added, "MiB"))
        return sizes

    def _registry_sizes(self, notes: list[str]) -> list[Size]:
        data = self._get_unless_absent("/v2/registry")
        if data is None:
            notes.append("DigitalOcean has no container registry on this account")
            return []
        registry = require(data, "registry", provider=NAME)
        name = str(require(registry, "name", provider=NAME))
        used = require(registry, "storage_usage_bytes", provider=NAME)
        sizes = [
            Size(
                "registry_storage_bytes",
                {"registry": name},
                _count(used, "storage_usage_bytes"),
                "B",
            )
        ]
        subscription = self.http.get_json("/v2/registry/subscription")
        tier = require(subscription, "subscription", "tier", provider=NAME)
        included = require(tier, "included_storage_bytes", provider=NAME)
        dimensions = {"registry": name, "tier": str(tier.get("slug") or "")}
        sizes.append(
            Size(
                "registry_included_storage_bytes",
                dimensions,
                _count(included, "included_storage_bytes"),
                "B",
            )
        )
        return sizes

    def _get_unless_absent(self, path: str) -> Any:
        """The answer, or None when DigitalOcean says the thing does not exist (HTTP 404)."""
        try:
            return self.http.get_json(path)
        except ProviderRefused as refused:
            if refused.status == 404:
                return None
            raise

    def _sample(self, day: date, size: Size) -> MetricSample:
        return MetricSample(
            provider=PROVIDER,
            metric=size.metric,
            day=day,
            dimensions=size.dimensions,
            value=size.value,
            unit=size.unit,
            sync_run_id=self.sync_run_id,
        )


def _size_figures(sizes: list[Size]) -> dict[str, int]:
    totals = {
        "apps": 0,
        "app_instances": 0,
        "databases": 0,
        "database_nodes": 0,
        "registry_storage_bytes": 0,
    }
    for size in sizes:
        if size.metric in totals:
            totals[size.metric] += int(size.value)
        if size.metric == "database_nodes":
            totals["databases"] += 1
    return totals


def _month_scope(month: date) -> dict:
    """Every DigitalOcean `api` row of a billing month: what writing that month replaces."""
    return {
        "provider": PROVIDER,
        "source": Source.API,
        "charge_period_start__gte": month,
        "charge_period_start__lt": _next_month(month),
    }


def _next_month(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1)


def _next_page(page: Any) -> str | None:
    """DigitalOcean's `links.pages.next`: an absolute URL, absent on the last page."""
    if not isinstance(page, dict):
        return None
    return ((page.get("links") or {}).get("pages") or {}).get("next")


def _listed(page: Any, key: str) -> list:
    """A list that App Platform leaves out of the answer when it is empty (meta.total 0)."""
    if isinstance(page, dict) and key not in page and (page.get("meta") or {}).get("total") == 0:
        return []
    return require(page, key, provider=NAME) or []


def _instance_count(component: dict) -> int:
    if "instance_count" in component:
        return int(_count(component["instance_count"], "instance_count"))
    autoscaling = component.get("autoscaling") or {}
    return int(_count(autoscaling.get("min_instance_count", 1), "min_instance_count"))


def _money(data: Any, key: str) -> Decimal:
    value = decimal_of(require(data, key, provider=NAME), field=key, provider=NAME)
    if not value.is_finite():
        raise UnexpectedResponse(f"{NAME} answered {key}={value!r}, not an amount")
    return value


def _count(value: Any, field: str) -> Decimal:
    count = decimal_of(value, field=field, provider=NAME)
    if not count.is_finite() or count < 0:
        raise UnexpectedResponse(f"{NAME} answered {field}={value!r}, not a count")
    return count


def _month_of(period: Any) -> date:
    """An `invoice_period` ("2026-10") as the first day of that month."""
    try:
        return date.fromisoformat(f"{period}-01")
    except ValueError:
        raise UnexpectedResponse(
            f"{NAME} answered invoice_period={period!r}, not a YYYY-MM month"
        ) from None

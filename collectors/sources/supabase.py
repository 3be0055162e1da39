"""Supabase: monthly active users, database disk, plan and add-ons, and a cost estimate.

Supabase has no billing API, so the cost is an **estimate** (source `estimate`) from the price
table below; an invoice an admin enters (source `manual`) supersedes it by the ledger's
precedence.

What is read:
- Auth admin API, with the service role key (SUPABASE_URL + SUPABASE_KEY): every user, paged
  with `GET {SUPABASE_URL}/auth/v1/admin/users?page=N&per_page=M` until a short page
  (https://github.com/supabase/auth, openapi.yaml: `{"aud": ..., "users": [UserSchema]}`).
- Management API (SUPABASE_API_URL, `Authorization: Bearer SUPABASE_ACCESS_TOKEN`), for the
  project SUPABASE_PROJECT_REF or else the subdomain of SUPABASE_URL:
  `GET /v1/projects/{ref}` (its organization), `GET /v1/organizations/{slug}` (the plan),
  `GET /v1/projects/{ref}/billing/addons` (selected add-ons with their prices),
  `GET /v1/projects/{ref}/config/disk` (provisioned disk, what is billed) and
  `GET /v1/projects/{ref}/config/disk/util` (bytes used: the dashboard's database size).
  Without SUPABASE_ACCESS_TOKEN the run is still ok: it notes what it left out.

Monthly active users, as counted here: users whose `last_sign_in_at` falls in the calendar month
(UTC) of the day collected, up to the end of that day. Supabase bills users who signed in *or
refreshed a session* in the billing cycle, and `last_sign_in_at` only keeps the latest sign-in,
so this is a lower bound: a user who only refreshed tokens, or who signed in again after the day
collected (backfills of past months), is not counted.

The estimate of a month, per line (each written as its own CostEntry, `service` below):
- `plan`: the plan's base fee (without SUPABASE_ACCESS_TOKEN the plan is unknown and
  `assumed_plan` is used, tagged `assumed`);
- `mau`: MAU over the plan's included users x the price per user;
- `disk`: provisioned disk GB over the included GB x the price per GB (IOPS and throughput
  above the included ones are not estimated);
- one line per selected add-on (`compute_instance`, `pitr`, `ipv4`, `custom_domain`...): the
  price the Management API gives for the variant (hourly prices x 24 x days in the month),
  or `addons[<variant id>]` from the price table when set; the plan's `compute_credit` is
  taken off the compute add-on.
Each monthly amount is spread evenly over the days of its month (costledger.money.split_evenly:
the daily pieces sum exactly to the month) and the window's day gets its piece. Zero lines other
than the plan are not written. A plan absent from the price table gets no estimate (a note says
so) rather than a made-up one.

Price table: DEFAULT_PRICES, overridden key by key by settings.SUPABASE_PRICES (a dict, or its
JSON text), e.g. SUPABASE_PRICES='{"plans": {"pro": {"mau_per_user": "0.00325"}},
"addons": {"ci_small": "15"}}'.
"""

from bisect import bisect_left
from calendar import monthrange
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from ipaddress import ip_address
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

from collectors.base import (
    NOT_BACKFILLED,
    Collector,
    CollectResult,
    ConnectionProbe,
    SyncWindow,
    window_is_today,
)
from collectors.errors import CollectorError, UnexpectedResponse
from collectors.http import MAX_PAGES, ProviderHTTP, decimal_of, require, time_of
from collectors.sources.price_tables import price_of, price_table
from costledger.models import CostEntry, MetricSample, Source
from costledger.money import split_evenly
from costledger.providers import Category
from costledger.services import cost_entries_replace_days, metric_samples_upsert
from usage.users import usage_users_upsert

PROVIDER = "supabase"
AUTH = "Supabase"
MANAGEMENT = "Supabase Management API"
USERS_PER_PAGE = 1000

# Supabase's published prices (supabase.com/pricing), per month, in `currency`. Strings, so that
# they are read as exact Decimals. Per plan: `base` fee, `mau_included` users and `mau_per_user`
# above them, `disk_included_gb` and `disk_per_gb` above them (provisioned size), and the
# `compute_credit` taken off the compute add-on. `addons`: monthly price per add-on variant id
# (e.g. "ci_small", "pitr_7"), overriding the price the Management API gives.
DEFAULT_PRICES: dict[str, Any] = {
    "currency": "USD",
    "assumed_plan": "pro",
    "plans": {
        "free": {
            "base": "0",
            "mau_included": "50000",
            "mau_per_user": "0",
            "disk_included_gb": "0",
            "disk_per_gb": "0",
            "compute_credit": "0",
        },
        "pro": {
            "base": "25",
            "mau_included": "100000",
            "mau_per_user": "0.00325",
            "disk_included_gb": "8",
            "disk_per_gb": "0.125",
            "compute_credit": "10",
        },
        "team": {
            "base": "599",
            "mau_included": "100000",
            "mau_per_user": "0.00325",
            "disk_included_gb": "8",
            "disk_per_gb": "0.125",
            "compute_credit": "10",
        },
    },
    "addons": {},
}
PLAN_PRICE_KEYS = (
    "base",
    "mau_included",
    "mau_per_user",
    "disk_included_gb",
    "disk_per_gb",
    "compute_credit",
)


@dataclass
class Project:
    """What the Management API says about the project (None of it without an access token)."""

    plan: str | None = None
    disk_gb: Decimal | None = None
    disk_used_bytes: Decimal | None = None
    addons: list[dict] = field(default_factory=list)


@dataclass
class Line:
    """One line of a month's estimate."""

    service: str
    monthly: Decimal
    quantity: Decimal | None = None
    unit: str = ""
    tags: dict = field(default_factory=dict)
    raw: dict = field(default_factory=dict)


class SupabaseCollector(Collector):
    name = "supabase"
    provider_name = "Supabase"
    required_settings = ("SUPABASE_URL", "SUPABASE_KEY")
    optional_settings = (
        "SUPABASE_ACCESS_TOKEN",
        "SUPABASE_PROJECT_REF",
        "SUPABASE_API_URL",
        "SUPABASE_PRICES",
    )
    address_settings = ("SUPABASE_URL", "SUPABASE_API_URL")

    def provider_http(self, **options) -> ProviderHTTP:
        """The auth admin API, with the service-role key (the Management API has its own)."""
        key = settings.SUPABASE_KEY
        return ProviderHTTP(
            AUTH,
            settings.SUPABASE_URL,
            headers={"apikey": key, "Authorization": f"Bearer {key}"},
            **options,
        )

    def connection_probe(self) -> ConnectionProbe:
        # One user of the auth admin list: what the service-role key is needed for. The
        # optional Management API token is not tested: without it the collector still runs.
        return ConnectionProbe(
            "/auth/v1/admin/users", expect="users", params={"page": 1, "per_page": 1}
        )

    def collect(self, window: SyncWindow) -> CollectResult:
        if not window_is_today(window):
            return CollectResult(
                notes=[NOT_BACKFILLED.format(provider=self.provider_name, window=window)]
            )
        prices = supabase_prices()
        notes: list[str] = []
        sign_ins, users_total, emails = self._sign_ins()
        # The directory of emails the per-user pages show; not counted in rows_written, which
        # are ledger rows.
        usage_users_upsert(users=emails)
        project = self._project(notes, prices)
        samples, entries, estimates = [], [], {}
        for day in window.days():
            mau = _active_users(sign_ins, day)
            samples += self._samples(day, mau, users_total, project)
            lines = _estimate_lines(day, mau, project, prices, notes)
            if lines is not None:
                entries += [self._cost_entry(day, line, prices["currency"]) for line in lines]
                estimates[day] = sum((line.monthly for line in lines), Decimal(0))
        rows = cost_entries_replace_days(
            start=window.start,
            end=window.end,
            entries=entries,
            provider=PROVIDER,
            source=Source.ESTIMATE,
        )
        rows += metric_samples_upsert(samples=samples)
        last = window.days()[-1]
        figures: dict[str, Any] = {
            "mau": _active_users(sign_ins, last),
            "users_total": users_total,
            "plan": project.plan or "",
        }
        if project.disk_gb is not None:
            figures["disk_size_gb"] = project.disk_gb
        if project.disk_used_bytes is not None:
            figures["disk_used_bytes"] = project.disk_used_bytes
        if estimates:
            figures["estimate"] = sum((e.billed_cost for e in entries), Decimal(0))
            figures["estimate_monthly"] = estimates.get(last, Decimal(0))
            figures["currency"] = prices["currency"]
        return CollectResult(rows_written=rows, figures=figures, notes=list(dict.fromkeys(notes)))

    # Auth admin API -------------------------------------------------------------------------

    def _sign_ins(self) -> tuple[list[datetime], int, dict[str, str]]:
        """Every user's last sign-in (sorted; users who never signed in have none), the number
        of users and each user's email (empty for a phone-only user), reading pages until one
        is shorter than asked for."""
        http = self.provider_http()
        sign_ins: list[datetime] = []
        emails: dict[str, str] = {}
        total, previous_first = 0, None
        for page in range(1, MAX_PAGES + 1):
            body = http.get_json(
                "/auth/v1/admin/users", params={"page": page, "per_page": USERS_PER_PAGE}
            )
            users = require(body, "users", provider=AUTH)
            if not isinstance(users, list):
                raise UnexpectedResponse(
                    f"{AUTH} answered users={type(users).__name__}, not a list"
                )
            first = users[0].get("id") if users and isinstance(users[0], dict) else None
            if first is not None and first == previous_first:
                raise UnexpectedResponse(
                    f"{AUTH} answered page {page} of the users with page {page - 1} again"
                )
            previous_first = first
            for user in users:
                emails[str(require(user, "id", provider=AUTH))] = str(user.get("email") or "")
                if user.get("last_sign_in_at"):  # absent for users who never signed in
                    sign_ins.append(
                        time_of(
                            user["last_sign_in_at"],
                            field="last_sign_in_at",
                            provider=AUTH,
                            naive_is_utc=True,
                        )
                    )
            total += len(users)
            if len(users) < USERS_PER_PAGE:
                return sorted(sign_ins), total, emails
        raise UnexpectedResponse(f"{AUTH} kept paginating the users ({MAX_PAGES} pages)")

    # Management API -------------------------------------------------------------------------

    def _project(self, notes: list[str], prices: dict) -> Project:
        token = getattr(settings, "SUPABASE_ACCESS_TOKEN", "")
        left_out = "the plan, add-ons and disk size are left out"
        assumed = f"the estimate assumes the {prices['assumed_plan']!r} plan and counts MAU only"
        if not token:
            notes.append(
                f"SUPABASE_ACCESS_TOKEN is not set, so {left_out} ({assumed}); set it to a "
                "Supabase access token to include them"
            )
            return Project()
        ref = project_ref()
        if not ref:
            notes.append(
                f"SUPABASE_PROJECT_REF is not set and SUPABASE_URL has no project subdomain, so "
                f"{left_out} ({assumed}); set SUPABASE_PROJECT_REF"
            )
            return Project()
        http = ProviderHTTP(
            MANAGEMENT, settings.SUPABASE_API_URL, headers={"Authorization": f"Bearer {token}"}
        )
        about = http.get_json(f"/v1/projects/{ref}")
        slug = _field(about, "organization_slug") or require(
            about, "organization_id", provider=MANAGEMENT
        )
        plan = _field(http.get_json(f"/v1/organizations/{slug}"), "plan")
        if not plan:
            notes.append(
                f"{MANAGEMENT} did not say the plan of organization {slug}; the estimate assumes "
                f"the {prices['assumed_plan']!r} plan"
            )
        addons = require(
            http.get_json(f"/v1/projects/{ref}/billing/addons"),
            "selected_addons",
            provider=MANAGEMENT,
        )
        if not isinstance(addons, list):
            raise UnexpectedResponse(f"{MANAGEMENT} answered selected_addons that is not a list")
        disk = http.get_json(f"/v1/projects/{ref}/config/disk")
        used = http.get_json(f"/v1/projects/{ref}/config/disk/util")
        return Project(
            plan=str(plan) if plan else None,
            disk_gb=_number(require(disk, "attributes", "size_gb", provider=MANAGEMENT), "size_gb"),
            disk_used_bytes=_number(
                require(used, "metrics", "fs_used_bytes", provider=MANAGEMENT), "fs_used_bytes"
            ),
            addons=addons,
        )

    # Ledger rows ----------------------------------------------------------------------------

    def _samples(
        self, day: date, mau: int, users_total: int, project: Project
    ) -> list[MetricSample]:
        figures = [("mau", Decimal(mau), "users"), ("users_total", Decimal(users_total), "users")]
        if project.disk_gb is not None:
            figures.append(("disk_size", project.disk_gb, "GB"))
        if project.disk_used_bytes is not None:
            figures.append(("disk_used", project.disk_used_bytes, "bytes"))
        return [
            MetricSample(
                provider=PROVIDER,
                metric=metric,
                day=day,
                value=value,
                unit=unit,
                sync_run_id=self.sync_run_id,
            )
            for metric, value, unit in figures
        ]

    def _cost_entry(self, day: date, line: Line, currency: str) -> CostEntry:
        days = monthrange(day.year, day.month)[1]
        return CostEntry(
            provider=PROVIDER,
            service=line.service,
            category=Category.INFRASTRUCTURE,
            charge_period_start=day,
            charge_period_end=day + timedelta(days=1),
            billed_cost=split_evenly(line.monthly, currency, days)[day.day - 1],
            currency=currency,
            quantity=line.quantity,
            unit=line.unit,
            source=Source.ESTIMATE,
            tags=line.tags,
            sync_run_id=self.sync_run_id,
            raw={"monthly": str(line.monthly), "days_in_month": days, **line.raw},
        )


def _estimate_lines(
    day: date, mau: int, project: Project, prices: dict, notes: list[str]
) -> list[Line] | None:
    """The month's estimate by line, or None when the plan has no prices."""
    plan = project.plan or prices["assumed_plan"]
    plan_prices = prices["plans"].get(plan)
    if plan_prices is None:
        notes.append(
            f"no prices for the {plan!r} plan in SUPABASE_PRICES, so no estimate was written; "
            "add the plan to SUPABASE_PRICES or enter Supabase's invoice"
        )
        return None
    price = {
        key: price_of(plan_prices.get(key), setting="SUPABASE_PRICES", name=f"plans.{plan}.{key}")
        for key in PLAN_PRICE_KEYS
    }
    tags = {"plan": plan} if project.plan else {"plan": plan, "assumed": True}
    lines = [Line("plan", price["base"], tags=tags, raw={"plan": plan})]
    extra_users = max(Decimal(mau) - price["mau_included"], Decimal(0))
    lines.append(
        Line(
            "mau",
            extra_users * price["mau_per_user"],
            quantity=extra_users,
            unit="users",
            raw={"mau": mau, "included": str(price["mau_included"])},
        )
    )
    if project.disk_gb is not None:
        extra_gb = max(project.disk_gb - price["disk_included_gb"], Decimal(0))
        lines.append(
            Line(
                "disk",
                extra_gb * price["disk_per_gb"],
                quantity=extra_gb,
                unit="GB",
                raw={"size_gb": str(project.disk_gb), "included": str(price["disk_included_gb"])},
            )
        )
    lines += [_addon_line(day, addon, price["compute_credit"], prices) for addon in project.addons]
    return [line for line in lines if line.service == "plan" or line.monthly]


def _addon_line(day: date, addon: Any, compute_credit: Decimal, prices: dict) -> Line:
    kind = str(require(addon, "type", provider=MANAGEMENT))
    variant = str(require(addon, "variant", "id", provider=MANAGEMENT))
    price = require(addon, "variant", "price", provider=MANAGEMENT)
    amount = decimal_of(
        require(price, "amount", provider=MANAGEMENT), field="price.amount", provider=MANAGEMENT
    )
    interval = require(price, "interval", provider=MANAGEMENT)
    if variant in prices["addons"]:
        monthly = price_of(
            prices["addons"][variant], setting="SUPABASE_PRICES", name=f"addons.{variant}"
        )
    elif interval == "monthly":
        monthly = amount
    elif interval == "hourly":
        monthly = amount * 24 * monthrange(day.year, day.month)[1]
    else:
        raise UnexpectedResponse(
            f"{MANAGEMENT} answered add-on {variant} priced per {interval!r}, not hourly or monthly"
        )
    if kind == "compute_instance":
        monthly = max(monthly - compute_credit, Decimal(0))
    raw = {"variant": variant, "amount": str(amount), "interval": interval}
    return Line(kind, monthly, tags={"variant": variant}, raw=raw)


def _active_users(sign_ins: list[datetime], day: date) -> int:
    """Users whose last sign-in is in the day's month, up to the end of the day (UTC)."""
    start = datetime(day.year, day.month, 1, tzinfo=UTC)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=UTC)
    return bisect_left(sign_ins, end) - bisect_left(sign_ins, start)


def project_ref() -> str:
    """SUPABASE_PROJECT_REF, or the subdomain of SUPABASE_URL (https://<ref>.supabase.co)."""
    ref = getattr(settings, "SUPABASE_PROJECT_REF", "")
    if ref:
        return ref
    host = urlsplit(settings.SUPABASE_URL).hostname or ""
    try:
        ip_address(host)
        return ""
    except ValueError:
        pass
    labels = host.split(".")
    return labels[0] if len(labels) >= 3 else ""


def supabase_prices() -> dict:
    """DEFAULT_PRICES overridden key by key (nested dicts merged) by settings.SUPABASE_PRICES."""
    prices = price_table(
        setting="SUPABASE_PRICES",
        defaults=DEFAULT_PRICES,
        documented_in="collectors/sources/supabase.py",
    )
    plans, addons = prices["plans"], prices["addons"]
    if not (
        isinstance(plans, dict)
        and all(isinstance(p, dict) for p in plans.values())
        and isinstance(addons, dict)
    ):
        raise CollectorError(
            "SUPABASE_PRICES must map plans to objects of prices and addons to prices; see "
            "collectors/sources/supabase.py"
        )
    return prices


def _field(data: Any, key: str) -> Any:
    if not isinstance(data, dict):
        raise UnexpectedResponse(f"{MANAGEMENT} answered {type(data).__name__}, not an object")
    return data.get(key)


def _number(value: Any, name: str) -> Decimal:
    number = decimal_of(value, field=name, provider=MANAGEMENT)
    if not number.is_finite() or number < 0:
        raise UnexpectedResponse(f"{MANAGEMENT} answered {name}={value!r}, not a size")
    return number

"""Every URL the project serves, asked by every role with hostile query parameters.

It holds four promises: no answer is a 5xx; who may not see a row gets no page holding it; a
Viewer's POST writes nothing; no credential ever appears in a body. The URLs come from the URL
resolver, so a new page is swept as soon as it is routed (or the sweep says how to fill it in).
"""

import logging
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from io import StringIO
from typing import NamedTuple
from urllib.parse import quote

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.admin import (
    BooleanFieldListFilter,
    DateFieldListFilter,
    RelatedFieldListFilter,
)
from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import transaction
from django.test import Client
from django.urls import URLResolver, get_resolver, reverse
from django_celery_beat.models import (
    ClockedSchedule,
    IntervalSchedule,
    PeriodicTask,
    SolarSchedule,
)

from alerts.models import Alert, Budget, Channel, Delivery, ReportSend, ScheduledReport
from billing.issuing import billing_run, credit_note_issue, invoice_finalize
from billing.models import (
    Customer,
    CustomerUser,
    Invoice,
    Plan,
    PlanCharge,
    ProviderInvoice,
    SlaCreditTier,
    SlaUptime,
)
from billing.services import provider_invoice_save
from collectors.models import CollectorRun, RunStatus, SyncRun, Trigger
from costledger.models import CostEntry, ExchangeRate, MetricSample, RevenueSnapshot
from tests.factories import daily_costs
from usage.events import UsageEvent, llm_events_record
from usage.keys import ingest_key_create
from usage.models import LlmUsagePruning, ModelPrice, UsageUser

pytestmark = [
    pytest.mark.django_db,
    # Django warns (the suite turns warnings into errors) when a date-only value such as
    # 2026-10-01 filters a DateTimeField: in production a log line, not an error.
    pytest.mark.filterwarnings("ignore:DateTimeField .* received a naive datetime:RuntimeWarning"),
]
DAY = date(2026, 10, 1)

# Query-string fragments, already percent-encoded where the encoding is the point.
HOSTILE = {
    "NUL": "%00",
    "first date": "0001-01-01",
    "last date": "9999-12-31",
    "huge number": "99999999999999999999",
    "5000 digits": "9" * 5000,
    "negative": "-1",
    "empty": "",
    "word": "abc",
    "lone surrogate": "%ED%A0%80",
    "10 kB": "x" * 10_000,
}

CREDENTIALS = [
    "SYNC_API_TOKEN",
    "DO_API_TOKEN",
    "STRIPE_SECRET_KEY",
    "TWILIO_ACCOUNT_SID",
    "TWILIO_AUTH_TOKEN",
    "SUPABASE_KEY",
    "SUPABASE_ACCESS_TOKEN",
    "WEAVIATE_API_KEY",
    "PROMETHEUS_BEARER_TOKEN",
    "OPENAI_ADMIN_KEY",
    "ANTHROPIC_ADMIN_KEY",
    "OPENROUTER_API_KEY",
]

# Values that only who may view their table may see, and the permissions that let one see them.
MARKERS = {
    "sweep-service-9f3": {"costledger.view_costentry"},
    "SWEEP-INV-4417": {"billing.view_providerinvoice", "costledger.view_costentry"},
    "sweep-attachment-5c2": {"billing.view_providerinvoice"},
    "sweep.user@example.com": {"usage.view_usageuser", "costledger.view_costentry"},
    "sweep-event-77": {"usage.view_llmusageevent"},
    "sweep-key-owner": {"usage.view_ingestkey"},
    "sweep-beat-task": {"django_celery_beat.view_periodictask"},
}

# Parameters the pages read or link with, beyond each change list's own filters.
PAGE_PARAMS = {
    "api-infrastructure-costs": ["start", "end", "category", "provider"],
    "api-cost-by-user": ["start", "end", "limit"],
    "api-token-ratios": ["start", "end"],
    "api-error-rates": ["start", "end"],
    "api-metrics-monthly-summary": ["months"],
    "api-business-summary": ["period"],
    "business": ["period"],
    "business_csv": ["period"],
    "costs_by_provider": ["end"],
    "user_usage": ["user_id", "period", "start", "end", "compare"],
    "user_usage_csv": ["user_id", "period"],
    "user_usage_xlsx": ["user_id", "period"],
    "login": ["next"],
    "autocomplete": ["app_label", "model_name", "field_name", "term", "page"],
}
ADD_PARAMS = ["copy", "provider", "model", "effective_from", "currency", "day"]
ADMIN_PARAMS = ["_changelist_filters", "_popup"]
# Where those two are all a view reads, the values that differ for text it only passes on;
# and those that differ for a page number (`p`), which Django reads the same on every list.
AS_TEXT = ["NUL", "empty", "huge number", "lone surrogate", "10 kB"]
PAGES = [f"p={HOSTILE[key]}" for key in ["NUL", "empty", "word", "negative", "huge number"]]
# Parameters that end a request early when their value is wrong (a 400, or the list's ?e=1
# redirect) are sent alone: together with others, they would hide what the others do. Those of
# these filters (but `__isnull`, read as a boolean whatever it is), the date hierarchy, `p`, and
# `_to_field` only twice, as any value but "" is refused by the same check as "abc".
GATE_FILTERS = (BooleanFieldListFilter, DateFieldListFilter, RelatedFieldListFilter)
TO_FIELD = ["_to_field=", "_to_field=abc"]


# The data: a little of everything, each table holding one marker --------------------------


@pytest.fixture
def world(settings, superuser):
    for number, name in enumerate(CREDENTIALS):
        setattr(settings, name, f"sweep-secret-{number}-{name.lower()}")
    daily_costs(provider="digitalocean", start=DAY, end=date(2026, 10, 4), amount="4.00")
    CostEntry.objects.filter(provider="digitalocean").update(service="sweep-service-9f3")
    MetricSample.objects.create(provider="weaviate", metric="objects", day=DAY, value=120)
    RevenueSnapshot.objects.create(day=DAY, currency="USD", mrr=Decimal("900.00"))
    ExchangeRate.objects.create(day=DAY, currency="EUR", rate=Decimal("1.08"))
    UsageUser.objects.create(user_id="user-1", email="sweep.user@example.com")
    ModelPrice.objects.create(
        provider="acme", model="acme-1", effective_from=DAY, input_mtok=Decimal("1")
    )
    llm_events_record(
        events=[
            UsageEvent(
                event_id="sweep-event-77",
                timestamp=datetime(2026, 10, 1, 9, tzinfo=UTC),
                provider="acme",
                model="acme-1",
                user_id="user-1",
                input_tokens=1000,
            )
        ]
    )
    run = SyncRun.objects.create(
        trigger=Trigger.API, status=RunStatus.OK, window_start=DAY, window_end=date(2026, 10, 2)
    )
    CollectorRun.objects.create(
        sync_run=run, collector="stripe", window_start=DAY, window_end=date(2026, 10, 2)
    )
    _, full_key = ingest_key_create(name="sweep-key-owner")
    LlmUsagePruning.objects.create(through_day=date(2001, 1, 1))  # before every event here
    call_command("setup_schedules", stdout=StringIO())
    PeriodicTask.objects.filter(task__startswith="collectors.").update(name="sweep-beat-task")
    IntervalSchedule.objects.create(every=5, period=IntervalSchedule.MINUTES)
    SolarSchedule.objects.create(event="sunrise", latitude=48.85, longitude=2.35)
    ClockedSchedule.objects.create(clocked_time=datetime(2026, 12, 1, tzinfo=UTC))
    invoice = provider_invoice_save(
        invoice=ProviderInvoice(
            provider="supabase",
            invoice_number="SWEEP-INV-4417",
            invoice_date=date(2026, 11, 1),
            period_start=DAY,
            period_end=date(2026, 10, 31),
            amount=Decimal("25.00"),
            currency="USD",
            attachment=SimpleUploadedFile("bill.pdf", b"%PDF-1.7 sweep-attachment-5c2"),
        ),
        user=superuser,
    )
    budget = Budget.objects.create(
        name="sweep-budget-31", scope="category:llm", amount=Decimal("1000"), currency="USD",
        effective_from=date(2026, 10, 1),
    )  # fmt: skip
    hook = Channel.objects.create(
        name="sweep-hook", kind="webhook",
        webhook_url="https://hooks.example.com/services/T9/B9/sweep-webhook-secret-8d1",
    )  # fmt: skip
    alert = Alert.objects.create(
        rule="budget", scope=f"budget:{budget.pk}", threshold="80", period="2026-10",
        budget=budget, title="sweep-alert-52", message="Spent 812.00 USD of 1,000.00 USD",
        link="/admin/business/?period=this_month", fired_at=datetime(2026, 10, 20, tzinfo=UTC),
    )  # fmt: skip
    Delivery.objects.create(alert=alert, channel=hook, event="fired",
                            next_attempt_at=datetime(2026, 10, 20, tzinfo=UTC))  # fmt: skip
    customer = Customer.objects.create(
        name="sweep-customer-88", email="ap@sweep.example", billing_address="1 Sweep St",
        country="US", currency="USD",
    )  # fmt: skip
    CustomerUser.objects.create(customer=customer, user_id="user-1")
    plan = Plan.objects.create(name="sweep-plan-31", currency="USD", monthly_fee=Decimal("10"),
                               sla_target=Decimal("99.9"))  # fmt: skip
    PlanCharge.objects.create(plan=plan, metric="input_tokens", unit="1m", unit_price=Decimal(2))
    SlaCreditTier.objects.create(plan=plan, below=Decimal("99.9"), credit=Decimal(10))
    Customer.objects.filter(pk=customer.pk).update(plan=plan)
    SlaUptime.objects.create(month=date(2026, 9, 1), uptime=Decimal("99.1"),
                             incident_reference="sweep-incident-17")  # fmt: skip
    billing_run(month=date(2026, 9, 1))
    issued = invoice_finalize(invoice_id=Invoice.objects.get().pk, today=date(2026, 10, 2))
    credit_note_issue(invoice_id=issued.pk, reason="sweep-credit-reason", amount=Decimal(1))
    billing_run(month=date(2026, 10, 1))  # a draft beside them
    report = ScheduledReport.objects.create(name="sweep-report-64", frequency="weekly",
                                            recipients="cfo@example.com")  # fmt: skip
    ReportSend.objects.create(report=report, period="2026-W40",
                              next_attempt_at=datetime(2026, 10, 5, tzinfo=UTC))  # fmt: skip
    secrets = [getattr(settings, name) for name in CREDENTIALS]
    return {
        "invoice": invoice,
        "secrets": [
            *secrets,
            settings.SECRET_KEY,
            full_key,
            hook.webhook_url,
            "sweep-webhook-secret",
        ],
    }


@pytest.fixture(autouse=True)
def _quiet(caplog):
    # Thousands of refused requests would log thousands of warnings, 10 kB values included.
    # On the loggers themselves: django-celery-beat's task form runs django.setup() again,
    # which configures the "django" logger anew.
    for name in ("django.request", "django.security"):
        caplog.set_level(logging.CRITICAL, logger=name)


@pytest.fixture
def superuser(db):
    return User.objects.create_superuser("root", "root@example.com", "pw")


@pytest.fixture
def roles(world, superuser, staff_user, viewer_user, finance_user):
    """A logged-in client per role, and the API's bearer-token callers."""
    customer = User.objects.create_user("customer", password="pw")
    clients = {"anonymous": Client(raise_request_exception=False)}
    for name, user in [
        ("non-staff", customer),
        ("staff without permissions", staff_user),
        ("Viewer", viewer_user),
        ("Finance", finance_user),
        ("superuser", superuser),
    ]:
        clients[name] = Client(raise_request_exception=False)
        clients[name].force_login(user)
        clients[name].user = user
    token = world["secrets"][0]
    clients["sync token"] = Client(
        headers={"Authorization": f"Bearer {token}"}, raise_request_exception=False
    )
    clients["wrong token"] = Client(
        headers={"Authorization": "Bearer not-the-token"}, raise_request_exception=False
    )
    return clients


# The URLs ---------------------------------------------------------------------------------


def _routes():
    """(route, name) of every URL pattern, includes flattened."""

    def walk(resolver, prefix):
        for entry in resolver.url_patterns:
            route = prefix + str(entry.pattern)
            if isinstance(entry, URLResolver):
                yield from walk(entry, route)
            else:
                yield route, entry.name

    return list(walk(get_resolver(), ""))


PLACEHOLDER = re.compile(r"<(?:\w+:)?(\w+)>|\(\?P<(\w+)>[^)]*\)|\([^)]*\)")
MODEL_ROUTE = re.compile(r"admin/(\w+)/(\w+)/")


def _model(route: str):
    """The model of an admin route (admin/<app>/<model>/...), or None."""
    found = MODEL_ROUTE.match(route)
    try:
        return apps.get_model(*found.groups()) if found else None
    except LookupError:
        return None


def _path(route: str, world) -> str:
    """A concrete path for a route, on existing objects; fails on a placeholder it cannot fill."""
    model = _model(route) or CostEntry  # CostEntry: the object of admin/r/<type>/<id>/
    existing = model._default_manager.order_by("pk").first()
    assert existing is not None, f"The sweep needs one {model.__name__}: create it in `world`."
    values = {
        "object_id": existing.pk,
        "id": existing.pk,
        "pk": existing.pk,
        "content_type_id": ContentType.objects.get_for_model(CostEntry).pk,
        "version_id": world["invoice"].history.order_by("history_id").first().history_id,
        "app_label": "costledger",
        "model": "llmusageevent",  # the old admin addresses of the models moved to usage
        "chart": "top_users",
        "table": "models",  # a table of the per-user page
        "url": "no-such-page/",
        "number": Invoice.objects.exclude(number=None).order_by("pk").first().number,
    }
    # Unnamed groups are django-simple-history's: (object id, version id).
    positional = iter(["object_id", "version_id"])

    def fill(match):
        key = match.group(1) or match.group(2) or next(positional)
        assert key in values, f"The sweep cannot fill <{key}> in {route}: teach _path."
        return quote(str(values[key]))

    return "/" + PLACEHOLDER.sub(fill, route).replace("^", "").replace("$", "")


class Swept(NamedTuple):
    path: str
    together: list[str]  # parameters sent at once, all with the same hostile value
    alone: list[str]  # parameters sent one at a time
    extra: list[str]  # whole queries
    values: list[str] = list(HOSTILE.values())


def _swept(route: str, name: str | None, world, superuser_client) -> Swept:
    path, name = _path(route, world), name or ""
    if name in PAGE_PARAMS:  # one at a time: one 400 would hide what another does
        return Swept(path, [], PAGE_PARAMS[name], [])
    if not route.startswith("admin/"):
        return Swept(path, [], [], [])
    if name.endswith("_changelist"):
        return _changelist(path, _model(route), superuser_client)
    if name.endswith("_add"):
        return Swept(path, [*ADMIN_PARAMS, *ADD_PARAMS], [], TO_FIELD)
    if name.endswith(("_change", "_delete")):
        return Swept(path, ADMIN_PARAMS, [], TO_FIELD, [HOSTILE[key] for key in AS_TEXT])
    if name.endswith("_history"):
        return Swept(path, [], [], PAGES)
    if not name:  # admin/<app>/<model>/<id>/ redirects to the change form, reading nothing
        return Swept(path, [], [], [])
    return Swept(path, ADMIN_PARAMS, [], [])


def _changelist(path: str, model, superuser_client) -> Swept:
    """A change list's own filter parameters, its date hierarchy and a regex lookup."""
    together, alone, extra = [*ADMIN_PARAMS, "o", "q", "_facets"], [], [*TO_FIELD, *PAGES]
    for spec in superuser_client.get(path).context["cl"].filter_specs:
        for name in spec.expected_parameters():
            gate = isinstance(spec, GATE_FILTERS) and not name.endswith("__isnull")
            (alone if gate else together).append(name)
    texts = [f.name for f in model._meta.concrete_fields if f.get_internal_type() == "CharField"]
    extra += [f"{texts[0]}__regex=(", f"{texts[0]}__regex=["] if texts else []
    if hierarchy := admin.site._registry[model].date_hierarchy:
        alone += [f"{hierarchy}__{part}" for part in ("year", "month", "day")]
        extra += _date_hierarchy_queries(hierarchy)
    return Swept(path, together, alone, extra)


def _date_hierarchy_queries(field: str) -> list[str]:
    """Drill-downs that are valid numbers but not dates, or past the last date."""
    return [
        f"{field}__year=9999",
        f"{field}__year=9999&{field}__month=12",
        f"{field}__year=9999&{field}__month=12&{field}__day=31",
        f"{field}__year=2026&{field}__month=99999999999999999999",
        f"{field}__year=2026&{field}__month=2&{field}__day=30",
        f"{field}__year=2026&{field}__day=99999999999999999999",
        f"{field}__year=2026&{field}__year=abc",
        f"{field}__year=0",
    ]


@pytest.fixture
def urls(roles, world) -> list[Swept]:
    return [_swept(route, name, world, roles["superuser"]) for route, name in _routes()]


# The checks -------------------------------------------------------------------------------


def _body(response) -> str:
    if response.streaming:  # the test client closes the file once it is read
        content = b"".join(response.streaming_content)
    else:
        content = response.content
    return content.decode("utf-8", "replace")


class Sweep:
    def __init__(self, roles, world):
        self.roles, self.secrets = roles, world["secrets"]
        self.failures: list[str] = []

    def get(self, role: str, path: str, query: str = "") -> None:
        # In a savepoint rolled back at once: in production each request has the database to
        # itself, here a failed query would abort the test's transaction for every later one.
        with transaction.atomic():
            response = self.roles[role].get(f"{path}?{query}")
            transaction.set_rollback(True)
        self.check(role, "GET", path, query, response)

    def post(self, role: str, path: str, data: dict) -> None:
        with transaction.atomic():  # kept unless it failed: what it wrote is what is checked
            response = self.roles[role].post(path, data)
            transaction.set_rollback(response.status_code >= 500)
        self.check(role, "POST", path, "", response)

    def check(self, role, method, path, query, response) -> None:
        body = _body(response)
        asked = f"{method} {path}?{query[:120]} as {role}: {response.status_code}"
        if response.status_code >= 500:
            self.failures.append(f"{asked}, a server error")
        for secret in self.secrets:
            if secret in body:
                self.failures.append(f"{asked}, shows the secret {secret[:20]}…")
        user = getattr(self.roles[role], "user", None)
        staff = user is not None and user.is_staff
        if not staff and role != "sync token" and path.startswith("/admin/"):
            login = reverse("admin:login")
            if response.status_code == 200 and path != login:
                self.failures.append(f"{asked}, a page for a role that may see none")
            # Django's logout page sends who is not logged in to the index, which sends to login.
            target = response.get("Location", "")
            elsewhere = not target.startswith(login) and target != reverse("admin:index")
            if response.status_code == 302 and elsewhere:
                self.failures.append(f"{asked}, a redirect elsewhere than to the login")
        elif response.status_code == 200 and not staff and role != "sync token":
            self.failures.append(f"{asked}, an answer for a role that may have none")
        for marker, permissions in MARKERS.items():
            allowed = role == "sync token" or (staff and any(map(user.has_perm, permissions)))
            if marker in body and not allowed:
                self.failures.append(f"{asked}, shows {marker} to a role that may not see it")
        if path.startswith("/api/") and response.status_code == 400:
            sent = {part.split("=", 1)[0] for part in query.split("&")}
            errors = response.json().get("errors")
            if not errors or not set(errors) <= {n.replace("%00", "\x00") for n in sent}:
                self.failures.append(f"{asked}, a 400 not naming the parameter: {body[:200]}")

    def assert_clean(self) -> None:
        assert not self.failures, f"{len(self.failures)} failures:\n" + "\n".join(
            self.failures[:40]
        )


def _query(names: list[str], value: str) -> str:
    return "&".join(f"{name}={value}" for name in names)


# The sweeps -------------------------------------------------------------------------------


def test_every_url_for_every_role(roles, world, urls):
    """The superuser's turn is the next test, with every value."""
    sweep = Sweep(roles, world)
    for role in [role for role in roles if role != "superuser"]:
        for url in urls:
            if role.endswith("token") and not url.path.startswith("/api/"):
                continue
            params = url.together + url.alone
            sweep.get(role, url.path)
            sweep.get(role, url.path, _query([*params, "%00"], HOSTILE["NUL"]))
            sweep.get(role, url.path, _query(params, HOSTILE["huge number"]))
    sweep.assert_clean()


def test_every_hostile_value_on_every_url_as_superuser(roles, world, urls):
    sweep = Sweep(roles, world)
    for url in urls:
        sweep.get("superuser", url.path)
        for value in url.values:
            if url.together:
                sweep.get("superuser", url.path, _query(url.together, value))
            for name in url.alone:
                sweep.get("superuser", url.path, f"{name}={value}")
        for query in url.extra:
            sweep.get("superuser", url.path, query)
    sweep.assert_clean()


def _rows() -> dict[str, list]:
    """Every row of every table (sessions aside), many-to-many links included."""
    tables = [
        m for m in apps.get_models(include_auto_created=True) if m._meta.label != "sessions.Session"
    ]
    return {m._meta.label: list(m._default_manager.order_by("pk").values()) for m in tables}


def test_no_post_from_who_may_not_write_changes_anything(roles, world, urls):
    """Viewers and everyone below them POST to every URL, as a form would: nothing changes."""
    sweep = Sweep(roles, world)
    before = _rows()
    for role in ["anonymous", "non-staff", "staff without permissions", "Viewer", "wrong token"]:
        for url in urls:
            if url.path == reverse("admin:logout"):
                continue  # logging out writes nothing, and would end the role's session
            sweep.post(role, url.path, _post_data(url.path))
    sweep.assert_clean()
    assert _rows() == before


def _post_data(path: str) -> dict:
    """What the URL's forms would post: a delete confirmation, a bulk delete, a key, a re-price."""
    model = _model(path.removeprefix("/")) or CostEntry
    return {
        "post": "yes",
        "action": "delete_selected",
        "_selected_action": [str(model._default_manager.order_by("pk").first().pk)],
        "name": "written by a viewer",
        "since": "2026-10-01",
        "until": "2026-10-31",
        "model": "acme-1",
    }

"""Every admin add and change form, posted with hostile values in each field in turn.

The promises (issue "Hardening: every bad input gets a clear error and changes nothing"):
- no answer is a 5xx;
- a refused value re-renders the form (200) with an error on its field, and no table of the
  database changes (rows compared, not only counted: a change form must not update either);
- the few values a form stores rather than refuses are listed in ACCEPTED with the reason, and
  are stored exactly as entered;
- a Viewer's POST, and a Finance user's on a superuser-only form, is refused (403) and writes
  nothing.

The forms come from the admin registry (test_every_admin_form_is_swept fails for one missing
from FORMS) and their fields from the admins' own form classes, so a new field is swept as soon
as it exists. One test per form and field posts each of its values in turn, each rolled back
before the next (one test per value would take twice the ~20 s this file may take). Which
values: see CHANGE_SAMPLE and THIRD_PARTY_SAMPLE.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import cache, cached_property
from types import SimpleNamespace
from urllib.parse import quote, urlencode

import pytest
from django import forms
from django.contrib import admin
from django.contrib.auth.models import Group, User
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.test import Client, RequestFactory
from django.urls import reverse
from django_celery_beat.models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    SolarSchedule,
)

from alerts.models import AlertRule, Budget, Channel, ScheduledReport
from billing.models import (
    MAX_INVOICE_DAYS,
    Customer,
    CustomerUser,
    Plan,
    ProviderInvoice,
    SlaUptime,
    TaxRate,
)
from billing.services import provider_invoice_save
from costledger.models import CostEntry, ExchangeRate, Source
from costledger.validators import MAX_NOTES_LENGTH
from usage.models import IngestKey, ModelPrice
from usage.pricing import TokenUsage, price_book_load, usage_cost

pytestmark = pytest.mark.django_db
PDF = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


class PercentEncoded(str):
    """A value sent as these bytes of a urlencoded body, not as text: %ED%A0%80 are the UTF-8
    bytes of a lone surrogate, which no str can carry through the test client (it encodes the
    body as UTF-8 and refuses). Django decodes them to U+FFFD."""


# --- The hostile values, by the kind of form field they are posted to -------------------------

TEXT = {
    "NUL": "ab\x00cd",
    "surrogate bytes": PercentEncoded("%ED%A0%80"),
    "100 kB": "x" * 100_000,
}
DATE = {"0001-01-01": "0001-01-01", "9999-12-31": "9999-12-31"}
DATETIME = {"0001-01-01": ("0001-01-01", "00:00:00"), "9999-12-31": ("9999-12-31", "23:59:59")}
NUMBER = {
    "1e30": "1e30",
    "20 nines": "99999999999999999999",
    "1e400": "1e400",
    "NaN": "NaN",
    "Infinity": "Infinity",
    "negative": "-1",
    "12 decimals": "0.123456789012",
}
JSON = {
    **TEXT,
    "invalid": "{",
    "nested 10000": "[" * 10_000 + "]" * 10_000,
    "NUL escape": '{"input": [{"start": 1, "price": "1\\u0000"}]}',
    "surrogate escape": '{"\\ud800": 1}',
    "5000-digit number": "9" * 5000,
}
FILE = {"NUL in name": "in\x00voice.pdf", "300-char name": "i" * 296 + ".pdf"}
CHOICE = {label: TEXT[label] for label in ("NUL", "surrogate bytes")}
VALUES = {
    "text": TEXT,
    "choice": CHOICE,
    "date": DATE,
    "datetime": DATETIME,
    "number": NUMBER,
    "json": JSON,
    "file": FILE,
}
# Our add forms (what Finance enters) get every value. A change form shares its form class with
# its add form: one value per field shows that a refused change updates nothing. A third-party
# form's fields are Django's own classes, swept in full on ours: a sample, all values where its
# own code reads them (text and JSON).
CHANGE_SAMPLE = {
    "text": ["surrogate bytes"],
    "choice": ["surrogate bytes"],
    "date": ["9999-12-31"],
    "datetime": ["9999-12-31"],
    "number": ["20 nines"],
    "json": ["invalid"],
    "file": ["300-char name"],
}
THIRD_PARTY_SAMPLE = {
    **VALUES,
    "choice": ["surrogate bytes"],
    "number": ["20 nines", "NaN", "negative"],
    "json": [*TEXT, "invalid", "nested 10000", "NUL escape", "surrogate escape"],
}
OUR_APPS = {"alerts", "billing", "collectors", "costledger", "usage"}


def field_kind(form_field: forms.Field) -> str | None:
    """Which hostile values a form field gets; None for those that only pick rows or booleans,
    and for the disabled ones (never read from the POST)."""
    if form_field.disabled or isinstance(
        form_field, forms.ModelChoiceField | forms.BooleanField | forms.NullBooleanField
    ):
        return None
    if isinstance(form_field, forms.ChoiceField):
        # One that takes any value (django-celery-beat's task list) is a text field.
        return "choice" if not form_field.valid_value(TEXT["NUL"]) else "text"
    kinds = [
        (forms.SplitDateTimeField, "datetime"),
        (forms.DateField, "date"),
        (forms.IntegerField, "number"),  # DecimalField and FloatField included
        (forms.JSONField, "json"),
        (forms.FileField, "file"),
        (forms.CharField, "text"),
    ]
    return next(kind for cls, kind in kinds if isinstance(form_field, cls))


# --- The forms ----------------------------------------------------------------------------


class World:
    """The rows the forms need, made when first asked for: one of each model a change form
    edits (with other keys than the valid POSTs, which add rows), and what the POSTs name."""

    @cached_property
    def providerinvoice(self):
        return provider_invoice_save(
            invoice=ProviderInvoice(
                provider="supabase",
                invoice_number="SUPA-2026-09",
                invoice_date=date(2026, 10, 1),
                period_start=date(2026, 9, 1),
                period_end=date(2026, 9, 30),
                amount=Decimal("25.00"),
                currency="USD",
            )
        )

    @cached_property
    def exchangerate(self):
        return ExchangeRate.objects.create(
            day=date(2026, 9, 1), currency="EUR", rate=Decimal("1.07")
        )

    @cached_property
    def modelprice(self):
        return ModelPrice.objects.create(
            provider="acme",
            model="acme-1",
            effective_from=date(2026, 9, 1),
            input_mtok=Decimal("1"),
            output_mtok=Decimal("4"),
        )

    @cached_property
    def user(self):
        return User.objects.create_user("someone", "someone@example.com", "pw")

    @cached_property
    def intervalschedule(self):
        return IntervalSchedule.objects.create(every=6, period="hours")

    @cached_property
    def periodictask(self):
        return PeriodicTask.objects.create(
            name="weekly", task="collectors.tasks.sync_all", interval=self.intervalschedule
        )

    @cached_property
    def crontabschedule(self):
        return CrontabSchedule.objects.create(minute="30", hour="4")

    @cached_property
    def solarschedule(self):
        return SolarSchedule.objects.create(event="sunset", latitude=48.85, longitude=2.35)

    @cached_property
    def clockedschedule(self):
        return ClockedSchedule.objects.create(clocked_time=datetime(2026, 9, 1, tzinfo=UTC))

    @cached_property
    def group(self):
        return Group.objects.create(name="Readers")

    @cached_property
    def budget(self):
        return Budget.objects.create(
            name="LLM", scope="category:llm", amount=Decimal("1000"), currency="USD",
            effective_from=date(2026, 9, 1),
        )  # fmt: skip

    @cached_property
    def channel(self):
        return Channel.objects.create(
            name="slack", kind="webhook", webhook_url="https://hooks.example.com/T1/B1/sweep"
        )

    @cached_property
    def customer(self):
        customer = Customer.objects.create(
            name="Globex", email="ap@globex.example", billing_address="2 Main St", country="US",
            currency="USD",
        )  # fmt: skip
        CustomerUser.objects.create(customer=customer, user_id="u-globex")
        return customer

    @cached_property
    def plan(self):
        return Plan.objects.create(name="Starter", currency="EUR", monthly_fee=Decimal(10))

    @cached_property
    def slauptime(self):
        return SlaUptime.objects.create(
            month=date(2026, 9, 1), uptime=Decimal("99.2"), incident_reference="INC-9"
        )

    @cached_property
    def taxrate(self):
        return TaxRate.objects.create(country="DE", name="MwSt 19 %", rate=Decimal(19))

    @cached_property
    def scheduledreport(self):
        return ScheduledReport.objects.create(
            name="Monthly", frequency="monthly", recipients="cfo@example.com"
        )

    @cached_property
    def alertrule(self):
        return AlertRule.objects.get(kind="cost_spike")

    @cached_property
    def superuser(self):
        return User.objects.create_superuser("root", "root@example.com", "pw")


def _superuser_request():
    """A request the admin builds its forms for, without a database."""
    request = RequestFactory().get("/")
    request.user = SimpleNamespace(
        is_active=True, is_staff=True, is_superuser=True, has_perm=lambda *a, **k: True
    )
    return request


@dataclass(frozen=True)
class AdminForm:
    model: type
    valid: Callable[[World], dict]  # a POST the form accepts
    change: bool = False  # the change form of the World's row, not the add form
    superuser: bool = False  # Finance may not post it
    kinds: dict = field(default_factory=dict)  # where the field's class does not tell
    # Where the form reports a refusal of the field when not on the field itself.
    error_on: dict = field(default_factory=dict)

    @property
    def ours(self) -> bool:
        return self.model._meta.app_label in OUR_APPS

    def labels(self, kind: str) -> list[str]:
        if self.change:
            return CHANGE_SAMPLE[kind] if self.ours or not self._shares_add_form() else []
        return list(VALUES[kind] if self.ours else THIRD_PARTY_SAMPLE[kind])

    def _shares_add_form(self) -> bool:
        """A third-party change form of the same class as its add form is swept there (auth's
        user has two classes: both are swept)."""
        request = _superuser_request()
        add, change = self.form_class(request), self.form_class(request, self.model())
        # Each is modelform_factory's subclass of get_form's subclass of the admin's form.
        return add.__mro__[2] is change.__mro__[2]

    @property
    def id(self) -> str:
        return f"{self.model._meta.model_name}-{'change' if self.change else 'add'}"

    def url(self, world: World) -> str:
        opts = self.model._meta
        if self.change:
            pk = getattr(world, opts.model_name).pk
            return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[pk])
        return reverse(f"admin:{opts.app_label}_{opts.model_name}_add")

    def form_class(self, request, obj=None):
        return admin.site._registry[self.model].get_form(request, obj, change=self.change)

    def fields(self) -> dict[str, str]:
        """The form's fields and their kinds, as the admin builds the form."""
        obj = self.model() if self.change else None
        bound = self.form_class(_superuser_request(), obj)(instance=obj)
        kinds = {name: field_kind(f) for name, f in bound.fields.items()}
        return {name: self.kinds.get(name, kind) for name, kind in kinds.items() if kind}


SCHEDULE_INLINE = {"periodictask_set-TOTAL_FORMS": "0", "periodictask_set-INITIAL_FORMS": "0"}


def invoice(world):
    return {
        "provider": "supabase",
        "kind": "invoice",
        "invoice_number": "SUPA-2026-10",
        "invoice_date": "2026-11-01",
        "period_start": "2026-10-01",
        "period_end": "2026-10-31",
        "amount": "25.00",
        "currency": "USD",
        "notes": "",
    }


def exchange_rate(world):
    return {"day": "2026-10-01", "currency": "EUR", "rate": "1.08", "source": "manual"}


def budget(world):
    return {
        "name": "Infrastructure",
        "scope": "category:infrastructure",
        "amount": "500.00",
        "currency": "USD",
        "thresholds": "50,80,100",
        "warn_on_forecast": "on",
        "effective_from": "2026-10-01",
        "effective_until": "",
    }


def channel(world):
    return {
        "name": "ops",
        "kind": "webhook",
        "enabled": "on",
        "addresses": "",
        "webhook_url": "https://hooks.example.com/services/T0/B0/new",
    }


def customer(world):
    return {
        "name": "Acme SAS", "email": "billing@acme.example", "billing_address": "1 rue X, Paris",
        "country": "FR", "currency": "EUR", "payment_terms_days": "30",
        "vat_number": "FR40303265045", "tax_override": "", "stripe_customer_id": "cus_Acme42",
        "users-TOTAL_FORMS": "1", "users-INITIAL_FORMS": "0", "users-0-user_id": "u-acme",
        "plan": "", "discounts-TOTAL_FORMS": "1", "discounts-INITIAL_FORMS": "0",
        "discounts-0-description": "Launch", "discounts-0-kind": "percent",
        "discounts-0-value": "10", "discounts-0-duration": "months", "discounts-0-months": "3",
        "discounts-0-starts_on": "2026-11-01",
    }  # fmt: skip


def customer_change(world):
    user = world.customer.users.get()
    return {
        **customer(world), "users-TOTAL_FORMS": "1", "users-INITIAL_FORMS": "1",
        "users-0-id": str(user.pk), "users-0-customer": str(world.customer.pk),
        "users-0-user_id": "u-globex",
    }  # fmt: skip


def plan(world):
    return {
        "name": "Team", "currency": "EUR", "monthly_fee": "99", "minimum_commitment": "500",
        "sla_target": "99.9", "sla_credit_cap": "30",
        "charges-TOTAL_FORMS": "2", "charges-INITIAL_FORMS": "0",
        "charges-0-position": "0", "charges-0-metric": "input_tokens",
        "charges-0-charge_model": "per_unit", "charges-0-unit": "1m",
        "charges-0-unit_price": "2.5",
        "charges-1-position": "1", "charges-1-metric": "bandwidth_gb",
        "charges-1-charge_model": "graduated", "charges-1-unit": "gb",
        "charges-1-tiers": "100 0.09\n* 0.05",
        "sla_tiers-TOTAL_FORMS": "1", "sla_tiers-INITIAL_FORMS": "0",
        "sla_tiers-0-below": "99.9", "sla_tiers-0-credit": "10",
    }  # fmt: skip


def sla_uptime(world):
    return {"month": "2026-10-15", "customer": "", "uptime": "99.5",
            "incident_reference": "INC-12", "notes": "Database failover"}  # fmt: skip


def tax_rate(world):
    return {"country": "BE", "name": "TVA 21 %", "rate": "21"}


def scheduled_report(world):
    return {
        "name": "Weekly costs",
        "frequency": "weekly",
        "recipients": "ops@example.com, cfo@example.com",
        "enabled": "on",
        "sends-TOTAL_FORMS": "0",
        "sends-INITIAL_FORMS": "0",
    }


def alert_rule(world):
    return {"enabled": "on", "factor": "3.5", "minimum_amount": "12", "baseline_days": "30"}


def model_price(world):
    return {
        "provider": "acme",
        "model": "acme-1",
        "effective_from": "2026-10-01",
        "input_mtok": "1",
        "output_mtok": "4",
        "tiers": '{"input": [{"start": 200000, "price": "2"}]}',
        "notes": "",
    }


def user_change(world):
    return {
        "username": "someone",
        "first_name": "Some",
        "last_name": "One",
        "email": "someone@example.com",
        "is_active": "on",
        "last_login_0": "2026-10-01",
        "last_login_1": "09:00:00",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "09:00:00",
    }


def periodic_task(world):
    return {
        "name": "nightly sync",
        "task": "collectors.tasks.sync_all",
        "enabled": "on",
        "interval": str(world.intervalschedule.pk),
        "args": "[]",
        "kwargs": "{}",
        "headers": "{}",
    }


FORMS = [
    AdminForm(Budget, budget),
    AdminForm(Budget, budget, change=True),
    AdminForm(Channel, channel, superuser=True),
    AdminForm(Channel, channel, change=True, superuser=True),
    AdminForm(AlertRule, alert_rule, change=True, superuser=True),
    AdminForm(Customer, customer),
    AdminForm(Customer, customer_change, change=True),
    AdminForm(Plan, plan),
    AdminForm(Plan, plan, change=True),
    AdminForm(SlaUptime, sla_uptime),
    AdminForm(SlaUptime, sla_uptime, change=True),
    AdminForm(TaxRate, tax_rate),
    AdminForm(TaxRate, tax_rate, change=True),
    AdminForm(ScheduledReport, scheduled_report),
    AdminForm(ScheduledReport, scheduled_report, change=True),
    AdminForm(ProviderInvoice, invoice),
    AdminForm(ProviderInvoice, invoice, change=True),
    AdminForm(ExchangeRate, exchange_rate),
    AdminForm(ExchangeRate, exchange_rate, change=True),
    AdminForm(ModelPrice, model_price),
    AdminForm(ModelPrice, model_price, change=True),
    AdminForm(IngestKey, lambda world: {"name": "backend"}, superuser=True),
    AdminForm(
        User,
        lambda world: {
            "username": "newbie",
            "usable_password": "true",
            "password1": "A-long-pass-phrase-42",
            "password2": "A-long-pass-phrase-42",
        },
        superuser=True,
        error_on={"password1": "password2"},  # "The two password fields didn't match."
    ),
    AdminForm(User, user_change, change=True, superuser=True),
    AdminForm(Group, lambda world: {"name": "Auditors"}, superuser=True),
    AdminForm(Group, lambda world: {"name": "Auditors"}, change=True, superuser=True),
    *(
        AdminForm(
            PeriodicTask,
            periodic_task,
            change=change,
            superuser=True,
            kinds={"args": "json", "kwargs": "json", "headers": "json"},
            error_on={"regtask": "task"},  # the task chosen from the list is the task
        )
        for change in (False, True)
    ),
    *(
        AdminForm(
            model,
            lambda world, valid=valid: {**valid, **SCHEDULE_INLINE},
            change=change,
            superuser=True,
        )
        for model, valid in [
            (IntervalSchedule, {"every": "1", "period": "days"}),
            (
                CrontabSchedule,
                {
                    "minute": "0",
                    "hour": "3",
                    "day_of_month": "*",
                    "month_of_year": "*",
                    "day_of_week": "*",
                    "timezone": "UTC",
                },
            ),
            (SolarSchedule, {"event": "sunrise", "latitude": "52.52", "longitude": "13.405"}),
            (ClockedSchedule, {"clocked_time_0": "2026-10-01", "clocked_time_1": "03:00:00"}),
        ]
        for change in (False, True)
    ),
]
FORMS_BY_ID = {form.id: form for form in FORMS}


def _each(model: str, fields: str, labels: str) -> list[tuple[str, str, str]]:
    """(form id, field, value label) of the model's add and change forms."""
    return [
        (f"{model}-{form}", name, label)
        for form in ("add", "change")
        for name in fields.split()
        for label in labels.split("|")
    ]


# What a form stores rather than refuses, and why that is right.
ACCEPTED = {
    **dict.fromkeys(_each("solarschedule", "latitude longitude", "negative"), "south or west"),
    **dict.fromkeys(
        _each("providerinvoice", "attachment", "NUL in name"),
        "Django's upload handling drops the NUL from a file's name (stored as invoice.pdf); "
        "the name is not part of the invoice",
    ),
    **dict.fromkeys(
        _each("user", "last_login date_joined", "0001-01-01|9999-12-31"),
        "auth's record of when: stored as entered and only displayed",
    ),
    **dict.fromkeys(
        _each("clockedschedule", "clocked_time", "0001-01-01|9999-12-31"),
        "beat only compares it with the time now (in UTC, CELERY_TIMEZONE)",
    ),
    **dict.fromkeys(_each("periodictask", "description", "100 kB"), "free text, stored exactly"),
    **dict.fromkeys(
        _each("periodictask", "kwargs", "NUL escape|surrogate escape"),
        "valid JSON, stored as typed (ASCII escapes): the task receives those strings",
    ),
}


def sweep():
    """One test per form and field, posting each of its values in turn."""
    for form in FORMS:
        for name, kind in form.fields().items():
            if labels := tuple(form.labels(kind)):
                yield pytest.param(form.id, name, kind, labels, id=f"{form.id}-{name}")


# --- The database state and the requests ----------------------------------------------------


@pytest.fixture
def world(db):
    return World()


@cache
def _tables() -> tuple[str, ...]:
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
    return tuple(t for t in tables if t != "django_session")


def database_state() -> dict[str, str]:
    """A digest of every row of every table, in one query: equal before and after means that
    nothing was inserted, updated or deleted anywhere."""
    digests = ", ".join(
        f"(SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM {name} t)"
        for name in map(connection.ops.quote_name, _tables())
    )
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {digests}")
        return dict(zip(_tables(), cursor.fetchone(), strict=True))


def changed_tables(before: dict) -> list[str]:
    after = database_state()
    return [name for name in before if before[name] != after[name]]


def hostile_post(form: AdminForm, world: World, name: str, kind: str, value) -> dict:
    """The arguments of client.post() for the form's valid data with `value` in field `name`,
    sent as a browser sends them."""
    data = form.valid(world)
    data.pop(name, None)
    url = form.url(world)
    if kind == "file":
        upload = SimpleUploadedFile(value, PDF, content_type="application/pdf")
        return {"path": url, "data": {**data, name: upload}}
    if kind == "datetime":
        data[f"{name}_0"], data[f"{name}_1"] = value
        value = None
    body = urlencode(data)
    if isinstance(value, PercentEncoded):
        body += f"&{name}={value}"
    elif value is not None:
        body += f"&{name}={quote(value, safe='')}"
    return {"path": url, "data": body, "content_type": "application/x-www-form-urlencoded"}


def poster(form: AdminForm, world: World, request) -> User:
    """Who posts the form: Finance where it may, else a superuser (made only when needed)."""
    return world.superuser if form.superuser else request.getfixturevalue("finance_user")


def form_errors(response) -> dict[str, list[str]]:
    form = response.context["adminform"].form
    return {name: [str(message) for message in messages] for name, messages in form.errors.items()}


def assert_stored_exactly(form: AdminForm, world: World, name: str, kind: str, value) -> None:
    row = (
        getattr(world, form.model._meta.model_name)
        if form.change
        else form.model.objects.latest("pk")
    )
    row.refresh_from_db()
    stored = getattr(row, name)
    expected = {
        "number": lambda: Decimal(value),
        "datetime": lambda: datetime.fromisoformat(f"{value[0]}T{value[1]}").replace(tzinfo=UTC),
        "file": lambda: stored.name.rsplit("/", 1)[0] + "/" + value.replace("\x00", ""),
    }.get(kind, lambda: value)()
    assert (stored.name if kind == "file" else stored) == expected


# --- The sweep ------------------------------------------------------------------------------


def test_every_admin_form_is_swept(rf):
    """Every add or change form the admin serves (to a superuser, who may use them all) is in
    FORMS; the read-only admins have none."""
    request = rf.get("/")
    request.user = User(is_active=True, is_staff=True, is_superuser=True)
    served = set()
    for model, model_admin in admin.site._registry.items():
        name = model._meta.model_name
        if model_admin.has_add_permission(request):
            served.add(f"{name}-add")
        if model_admin.has_change_permission(request):
            served.add(f"{name}-change")
    assert served - set(FORMS_BY_ID) == set(), "add these to FORMS, with a valid POST"
    assert set(FORMS_BY_ID) - served == set()


@pytest.mark.parametrize("form_id", list(FORMS_BY_ID))
def test_only_who_may_post_the_form_stores_it(
    request, client, viewer_user, finance_user, world, form_id
):
    """A Viewer may post no form, Finance none of the superuser's: 403 and nothing written.
    Who may post it, posting the valid data, stores it: so a refusal in the sweep is the
    hostile value's doing."""
    form = FORMS_BY_ID[form_id]
    post = hostile_post(form, world, "", "text", None)
    for user in [viewer_user, finance_user] if form.superuser else [viewer_user]:
        client.force_login(user)
        before = database_state()

        response = client.post(**post)

        assert response.status_code == 403, user
        assert changed_tables(before) == []

    client.force_login(poster(form, world, request))
    before = database_state()

    response = client.post(**post)

    created_key_page = form.model is IngestKey and response.status_code == 200
    assert response.status_code == 302 or created_key_page, form_errors(response)
    assert form.model._meta.db_table in changed_tables(before)


def outcome(response, before: dict, form: AdminForm, name: str) -> str:
    """What became of a hostile POST, in words: "refused" when the promise holds."""
    if response.status_code >= 500:
        return f"answered {response.status_code}: {response.exc_info[1]!r}"[:300]
    changed = changed_tables(before)
    if response.status_code != 200 or "adminform" not in (response.context or {}):
        return f"answered {response.status_code}, changed {changed}"
    errors = form_errors(response)
    if not (errors.get(name) or errors.get(form.error_on.get(name))):
        return f"refused without an error on {name}: {errors}"
    return f"refused, but changed {changed}" if changed else "refused"


@pytest.mark.parametrize(("form_id", "name", "kind", "labels"), list(sweep()))
def test_hostile_values_are_refused_on_their_field(request, world, form_id, name, kind, labels):
    form = FORMS_BY_ID[form_id]
    client = Client(raise_request_exception=False)
    client.force_login(poster(form, world, request))
    hostile_post(form, world, "", "text", None)  # makes the rows it needs before the snapshot
    before = database_state()
    wrong = []
    for label in labels:
        value = VALUES[kind][label]
        post = hostile_post(form, world, name, kind, value)
        # Each value on the same database: what one stores is rolled back before the next.
        with transaction.atomic():
            response = client.post(**post)
            if (form_id, name, label) in ACCEPTED:
                assert response.status_code == 302, f"{label}: {form_errors(response)}"
                assert_stored_exactly(form, world, name, kind, value)
            elif (result := outcome(response, before, form, name)) != "refused":
                wrong.append(f"{label}: {result}")
            transaction.set_rollback(True)
    assert not wrong, "\n".join(wrong)


# --- What cannot come over HTTP: a lone surrogate as a str ----------------------------------

OUR_TEXT_FIELDS = [
    (form.id, name)
    for form in FORMS
    if form.ours
    for name, kind in form.fields().items()
    if kind in ("text", "choice", "json")
]


@pytest.mark.parametrize(
    ("form_id", "name"), OUR_TEXT_FIELDS, ids=[f"{f}-{n}" for f, n in OUR_TEXT_FIELDS]
)
def test_a_lone_surrogate_str_is_refused_by_the_admin_form(rf, world, form_id, name):
    """Django decodes a request's bytes with errors="replace", so no request carries a lone
    surrogate, and the test client cannot send one: this is the admin's own form class, bound
    to one, as code that builds the form (or calls full_clean) would meet it."""
    form = FORMS_BY_ID[form_id]
    request = rf.post("/")
    request.user = world.superuser
    obj = getattr(world, form.model._meta.model_name) if form.change else None
    data = {**form.valid(world), name: "ab\ud800cd"}

    bound = form.form_class(request, obj)(data=data, files={}, instance=obj)

    assert not bound.is_valid()
    assert name in bound.errors


# --- The bounds and the price tiers -----------------------------------------------------------

INVOICE_ADD = reverse("admin:billing_providerinvoice_add")


@pytest.mark.parametrize(
    ("start", "end", "error"),
    [
        pytest.param("2000-01-01", "2000-01-31", None, id="first day kept"),
        pytest.param("2995-01-01", "2999-12-31", None, id="five years up to the last day"),
        pytest.param("2024-01-01", "2028-12-31", None, id="five years, two leap days"),
        pytest.param("1999-12-01", "1999-12-31", "period_start", id="before the first day"),
        pytest.param("2999-12-01", "3000-01-01", "period_end", id="after the last day"),
        pytest.param("2024-01-01", "2029-01-01", "period_end", id="five years and a day"),
        pytest.param("2000-01-01", "2999-12-31", "period_end", id="a thousand years"),
    ],
)
def test_invoice_period_bounds(finance_client, start, end, error):
    data = {**invoice(None), "period_start": start, "period_end": end, "invoice_date": start}
    response = finance_client.post(INVOICE_ADD, data)
    if error is None:
        assert response.status_code == 302, form_errors(response)
        entry = CostEntry.objects.get(source=Source.MANUAL)
        assert entry.charge_period_end == date.fromisoformat(end) + timedelta(days=1)
    else:
        assert form_errors(response).get(error)
        assert not ProviderInvoice.objects.exists()


LARGEST = [
    ("providerinvoice-add", "amount", "99999999999999.99"),  # DECIMAL(18, 4), in USD cents
    ("exchangerate-add", "rate", "99999999999999.9999999999"),  # DECIMAL(24, 10)
    ("modelprice-add", "per_request", "9999999999.99999999"),  # DECIMAL(18, 8)
]


@pytest.mark.parametrize(("form_id", "name", "value"), LARGEST, ids=[f for f, *_ in LARGEST])
def test_the_largest_accepted_number_is_stored_exactly(finance_client, world, form_id, name, value):
    form = FORMS_BY_ID[form_id]
    response = finance_client.post(form.url(world), {**form.valid(world), name: value})

    assert response.status_code == 302, form_errors(response)
    assert getattr(form.model.objects.latest("pk"), name) == Decimal(value)
    if form.model is ProviderInvoice:  # and its ledger row too
        assert CostEntry.objects.get(source=Source.MANUAL).billed_cost == Decimal(value)


def test_the_longest_period_is_five_calendar_years():
    assert MAX_INVOICE_DAYS == (date(2029, 1, 1) - date(2024, 1, 1)).days


def test_the_service_refuses_a_period_ending_on_the_last_calendar_day():
    """The path of every other writer (demo data, a shell): a ValidationError, not the
    OverflowError of the ledger row ending the day after 9999-12-31."""
    invoice_row = ProviderInvoice(
        provider="supabase",
        invoice_number="X-1",
        invoice_date=date(2026, 11, 1),
        period_start=date(2026, 10, 1),
        period_end=date(9999, 12, 31),
        amount=Decimal("1.00"),
    )
    with pytest.raises(ValidationError) as refused:
        provider_invoice_save(invoice=invoice_row)
    assert "period_end" in refused.value.message_dict
    assert not CostEntry.objects.exists()


@pytest.mark.parametrize(
    ("length", "refused"), [(MAX_NOTES_LENGTH, False), (MAX_NOTES_LENGTH + 1, True)]
)
def test_notes_length(length, refused):
    price = ModelPrice(
        provider="acme", model="acme-1", effective_from=date(2026, 10, 1), input_mtok=1
    )
    price.notes = "n" * length
    if refused:
        with pytest.raises(ValidationError, match="at most 10,000 characters"):
            price.full_clean()
    else:
        price.full_clean()


PRICE_ADD = reverse("admin:usage_modelprice_add")
BAD_TIERS = {
    "a list": '[{"start": 1, "price": "2"}]',
    "unknown kind": '{"images": [{"start": 1, "price": "2"}]}',
    "no base price": '{"cache_read": [{"start": 1, "price": "2"}]}',
    "steps not a list": '{"input": {"start": 1, "price": "2"}}',
    "start a float": '{"input": [{"start": 1.5, "price": "2"}]}',
    "start a boolean": '{"input": [{"start": true, "price": "2"}]}',
    "starts not increasing": '{"input": [{"start": 9, "price": "2"}, {"start": 9, "price": "3"}]}',
    "start past any context": '{"input": [{"start": 1000000001, "price": "2"}]}',
    "price a number": '{"input": [{"start": 1, "price": 2}]}',
    "price 1e400": '{"input": [{"start": 1, "price": "1e400"}]}',
    "price 11 digits": '{"input": [{"start": 1, "price": "12345678901"}]}',
    "price 9 decimals": '{"input": [{"start": 1, "price": "0.123456789"}]}',
    "price NaN": '{"input": [{"start": 1, "price": "NaN"}]}',
    "price negative": '{"input": [{"start": 1, "price": "-1"}]}',
    "another key": '{"input": [{"start": 1, "price": "2", "note": [[[[[]]]]]}]}',
    "21 tiers": json.dumps({"input": [{"start": i, "price": "2"} for i in range(1, 22)]}),
}


@pytest.mark.parametrize("tiers", BAD_TIERS.values(), ids=BAD_TIERS)
def test_a_price_tier_the_pricing_code_could_not_use_is_refused(finance_client, tiers):
    response = finance_client.post(PRICE_ADD, {**model_price(None), "tiers": tiers})

    assert response.status_code == 200
    assert form_errors(response).get("tiers")
    assert not ModelPrice.objects.exists()
    # The model refuses them too, whoever saves the price.
    price = ModelPrice(provider="acme", model="acme-1", effective_from=date(2026, 10, 1))
    price.input_mtok = price.output_mtok = Decimal("1")
    price.tiers = json.loads(tiers)
    with pytest.raises(ValidationError) as refused:
        price.full_clean()
    assert "tiers" in refused.value.message_dict


def test_the_largest_accepted_price_still_prices_usage(finance_client):
    """At the ends of what is accepted, the pricing code computes a cost, exactly."""
    largest = "9999999999.99999999"
    tiers = json.dumps({"input": [{"start": 1_000_000_000, "price": largest}]})
    data = {**model_price(None), "input_mtok": largest, "tiers": tiers}
    response = finance_client.post(PRICE_ADD, data)
    assert response.status_code == 302, form_errors(response)

    book = price_book_load(pairs={("acme", "acme-1")}, until=date(2026, 10, 1))
    price = book.price_for("acme", "acme-1", date(2026, 10, 1))
    cost = usage_cost(usage=TokenUsage(input_tokens=1_000_000_001), price=price)
    assert cost == (Decimal(largest) * 1_000_000_001).scaleb(-6)

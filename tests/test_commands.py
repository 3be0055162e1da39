import os
import subprocess
import sys
from datetime import UTC, date, datetime
from io import StringIO
from pathlib import Path

import pytest
import time_machine
from django.contrib.auth.models import User
from django.core.management import call_command

from billing.models import ProviderInvoice
from costledger.models import CostEntry, MetricSample, RevenueSnapshot
from costledger.providers import PROVIDERS
from usage.models import LlmUsageEvent

ROOT = Path(__file__).resolve().parent.parent


def ledger_state():
    return (
        sorted(
            CostEntry.objects.values_list(
                "provider", "service", "charge_period_start", "source", "billed_cost"
            )
        ),
        sorted(MetricSample.objects.values_list("provider", "metric", "day", "value")),
        sorted(RevenueSnapshot.objects.values_list("day", "mrr")),
        sorted(ProviderInvoice.objects.values_list("invoice_number", "amount")),
        ProviderInvoice.history.count(),
    )


@pytest.mark.django_db
@time_machine.travel("2026-11-21 08:00:00+00:00", tick=False)
def test_seed_demo_fills_six_months_for_every_provider_and_twice_changes_nothing():
    call_command("seed_demo", stdout=StringIO())
    first = ledger_state()
    call_command("seed_demo", stdout=StringIO())
    assert ledger_state() == first

    # Every provider but Cohere, whose cost comes only from usage the demo does not send.
    assert set(CostEntry.objects.values_list("provider", flat=True)) == set(PROVIDERS) - {
        "other",
        "cohere",
    }
    days = CostEntry.objects.dates("charge_period_start", "day")
    assert (days.first().isoformat(), days.last().isoformat()) == ("2026-06-01", "2026-11-21")
    sources = {"api", "estimate", "manual", "usage"}
    assert set(CostEntry.objects.values_list("source", flat=True)) == sources
    # Supabase and Weaviate, for each month from June to October (November is not billed yet).
    assert ProviderInvoice.objects.filter(invoice_number__startswith="DEMO-").count() == 10
    assert all(  # the usage rows are the demo requests' sums (the requests carry the tag)
        tags.get("demo") or tags.get("provider_invoice_id")
        for tags in CostEntry.objects.exclude(source="usage").values_list("tags", flat=True)
    )
    assert RevenueSnapshot.objects.count() == 174


@pytest.mark.django_db
@time_machine.travel("2026-11-21 08:00:00+00:00", tick=False)
def test_seed_demo_writes_no_usage_later_than_now():
    call_command("seed_demo", stdout=StringIO())
    latest = LlmUsageEvent.objects.order_by("-timestamp").first().timestamp
    assert latest <= datetime(2026, 11, 21, 8, tzinfo=UTC)
    assert LlmUsageEvent.objects.filter(day=date(2026, 11, 21)).exists()


@pytest.mark.django_db
def test_seed_demo_on_a_later_day_rewrites_no_earlier_day():
    with time_machine.travel("2026-11-21 08:00:00+00:00", tick=False):
        call_command("seed_demo", stdout=StringIO())
    before = ledger_state()
    with time_machine.travel("2026-11-23 08:00:00+00:00", tick=False):
        call_command("seed_demo", stdout=StringIO())
    after = ledger_state()
    old_days = [row for row in after[0] if row[2].isoformat() <= "2026-11-21"]
    assert old_days == before[0]
    assert [r for r in after[2] if r[0].isoformat() <= "2026-11-21"] == before[2]


@pytest.mark.django_db
def test_create_admin_prints_a_generated_password_once():
    out = StringIO()
    call_command("create_admin", stdout=out)
    password = out.getvalue().split("password:")[1].split()[0]
    assert User.objects.get(username="admin").check_password(password)
    again = StringIO()
    call_command("create_admin", stdout=again)
    assert "already exists" in again.getvalue() and password not in again.getvalue()


def run_check(env_overrides):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_without_secret_key_refuses_to_start_saying_what_to_set():
    result = run_check({"ALLOWED_HOSTS": "ledger.example.com"})
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_production_without_allowed_hosts_refuses_to_start():
    result = run_check({"SECRET_KEY": "x" * 50})
    assert result.returncode != 0
    assert "ALLOWED_HOSTS is not set" in result.stderr


def test_debug_starts_without_production_settings():
    result = run_check({"DEBUG": "1"})
    assert result.returncode == 0, result.stderr


def test_an_unknown_reporting_currency_refuses_to_start():
    result = run_check({"DEBUG": "1", "REPORTING_CURRENCY": "DOLLARS"})
    assert result.returncode != 0
    assert "REPORTING_CURRENCY='DOLLARS' is not an ISO 4217 currency code" in result.stderr


@pytest.mark.django_db
@time_machine.travel("2026-11-21 08:00:00+00:00", tick=False)
def test_admin_pages_say_when_the_ledger_holds_demo_data(admin_client):
    assert "demo data" not in admin_client.get("/admin/").content.decode()
    call_command("seed_demo", stdout=StringIO())
    assert "This ledger contains demo data" in admin_client.get("/admin/").content.decode()


@pytest.mark.django_db
def test_models_and_migrations_agree():
    call_command("makemigrations", "--check", "--dry-run", stdout=StringIO())

"""sync_metrics, setup_schedules, the sync-all API and the admin's Sync now and health page."""

import json
from datetime import date, timedelta
from io import StringIO

import pytest
import time_machine
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from collectors.engine import lock_acquire
from collectors.management.commands.setup_schedules import DAILY_SYNC
from collectors.models import CollectorRun, RunStatus, SyncRun
from collectors.registry import COLLECTOR_NAMES
from costledger.celery import app as celery_app

pytestmark = pytest.mark.django_db
TOKEN = "sync-token-123"
COMMITTED = pytest.mark.django_db(transaction=True)


@pytest.fixture
def eager_celery():
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


def sync_metrics(*args) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("sync_metrics", *args, stdout=out)
    except SystemExit as exit_:
        return exit_.code, out.getvalue()
    return 0, out.getvalue()


@COMMITTED  # sync_metrics runs the collectors in threads, each on its own connection
def test_with_no_credentials_every_collector_is_skipped_with_its_reason_and_exit_0():
    code, out = sync_metrics("--json", "--date", "2026-11-20")
    assert code == 0
    body = json.loads(out)
    assert [c["collector"] for c in body["collectors"]] == COLLECTOR_NAMES
    assert {c["status"] for c in body["collectors"]} == {"skipped"}
    reasons = {c["collector"]: c["reason"] for c in body["collectors"]}
    assert (
        reasons["stripe"] == "STRIPE_SECRET_KEY is not set: add it to the environment "
        "(.env; see .env.example) and restart"
    )
    assert (
        reasons["twilio"]
        == "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are not set: add them to the environment "
        "(.env; see .env.example) and restart"
    )
    # The ECB needs no key, only its URL: an empty one turns it off.
    assert reasons["ecb"] == (
        "ECB_RATES_URL is not set: add it to the environment (.env; see .env.example) and restart"
    )
    assert body["window"] == {"start": "2026-11-20", "end": "2026-11-20"}


@COMMITTED  # sync_metrics runs the collectors in threads, each on its own connection
def test_one_line_per_collector_and_exit_1_when_one_failed(settings, fake_http):
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = "AC1", "secret-token"
    settings.TWILIO_API_URL = "https://twilio.test"
    fake_http.get(
        "https://twilio.test/2010-04-01/Accounts/AC1/Usage/Records/Daily.json", status=401
    )
    code, out = sync_metrics("--date", "2026-11-20", "--only", "twilio", "--only", "stripe")
    assert code == 1
    lines = out.strip().splitlines()
    assert len(lines) == 2
    assert (
        lines[0].startswith("stripe")
        and "skipped" in lines[0]
        and "STRIPE_SECRET_KEY is not set" in lines[0]
    )
    assert (
        lines[1].startswith("twilio")
        and "failed" in lines[1]
        and "credentials rejected by Twilio" in lines[1]
    )
    assert "secret-token" not in out


@COMMITTED  # sync_metrics runs the collectors in threads, each on its own connection
def test_a_backfill_makes_one_run_per_collector_and_day():
    code, out = sync_metrics(
        "--since", "2026-11-01", "--until", "2026-11-03", "--only", "openai", "--json"
    )
    body = json.loads(out)
    assert [c["day"] for c in body["collectors"]] == ["2026-11-01", "2026-11-02", "2026-11-03"]


@COMMITTED  # sync_metrics runs the collectors in threads, each on its own connection
@time_machine.travel("2026-11-21 10:00:00+00:00", tick=False)
def test_default_window_is_yesterday_and_today():
    body = json.loads(sync_metrics("--json", "--only", "openai")[1])
    assert [c["day"] for c in body["collectors"]] == ["2026-11-20", "2026-11-21"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--only", "stripey"], "unknown collector stripey; the collectors are digitalocean"),
        (["--date", "20-11-2026"], "'20-11-2026' is not a date; use YYYY-MM-DD"),
        (["--date", "2026-11-20", "--since", "2026-11-01"], "either --date or --since/--until"),
        (["--until", "2026-11-01"], "--until needs --since"),
        (["--since", "2026-11-05", "--until", "2026-11-01"], "is before --since"),
        (["--date", "9999-12-31"], "outside the days the ledger keeps"),
        (["--date", "0001-01-01"], "outside the days the ledger keeps"),
        (["--since", "1990-01-01", "--until", "2090-01-01"], "outside the days"),
        (["--since", "2024-01-01", "--until", "2026-01-01"], "at most 366 days per run"),
    ],
)
def test_bad_arguments_exit_non_zero_saying_what_to_do(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("sync_metrics", *args, stdout=StringIO())
    assert not SyncRun.objects.exists()


def test_setup_schedules_creates_the_daily_utc_schedule_once():
    call_command("setup_schedules", stdout=StringIO())
    call_command("setup_schedules", stdout=StringIO())
    # the sync, the pruning of raw usage events, the adding up of the months that ended and
    # the hourly alert checks, the daily scheduled reports, the monthly draft invoices
    assert PeriodicTask.objects.count() == 6
    alerts = PeriodicTask.objects.get(task="alerts.tasks.check_alerts_task")
    assert (alerts.crontab.hour, alerts.crontab.minute) == ("*", "5")
    billing = PeriodicTask.objects.get(task="billing.tasks.billing_run_task").crontab
    assert (billing.day_of_month, billing.hour, billing.minute) == ("1", "4", "0")
    task = PeriodicTask.objects.get(name=DAILY_SYNC)
    assert task.task == "collectors.tasks.sync_all_task"
    assert (task.crontab.hour, task.crontab.minute, str(task.crontab.timezone)) == (
        "2",
        "15",
        "UTC",
    )
    task.crontab = None
    task.interval_id = None
    # an admin's edit survives a re-run; --reset restores the default
    from django_celery_beat.models import CrontabSchedule

    edited = CrontabSchedule.objects.create(minute="0", hour="5", timezone="UTC")
    task.crontab = edited
    task.save()
    call_command("setup_schedules", stdout=StringIO())
    assert PeriodicTask.objects.get(name=DAILY_SYNC).crontab == edited
    call_command("setup_schedules", "--reset", stdout=StringIO())
    assert PeriodicTask.objects.get(name=DAILY_SYNC).crontab.hour == "2"


def post_sync_all(client, token=TOKEN):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post(reverse("api-sync-all"), headers=headers)


def test_sync_all_api_starts_a_run_202_then_409_while_it_runs(
    client, settings, django_capture_on_commit_callbacks, monkeypatch
):
    settings.SYNC_API_TOKEN = TOKEN
    sent = []
    monkeypatch.setattr("collectors.services.sync_all_task.delay", sent.append)
    with django_capture_on_commit_callbacks(execute=True):
        response = post_sync_all(client)
    assert response.status_code == 202
    run_id = response.json()["sync_run"]
    assert sent == [run_id]
    assert CollectorRun.objects.filter(sync_run_id=run_id).count() == 2 * len(COLLECTOR_NAMES)
    second = post_sync_all(client)
    assert second.status_code == 409
    assert f"sync run #{run_id}" in second.json()["error"]


def test_sync_all_api_runs_the_collectors_through_celery(
    client, settings, eager_celery, django_capture_on_commit_callbacks
):
    settings.SYNC_API_TOKEN = TOKEN
    with django_capture_on_commit_callbacks(execute=True):
        run_id = post_sync_all(client).json()["sync_run"]
    run = SyncRun.objects.get(pk=run_id)
    # Every collector skipped: the run did nothing, which is not "ok".
    assert run.status == "skipped" and run.finished_at
    assert set(run.collector_runs.values_list("status", flat=True)) == {"skipped"}
    assert post_sync_all(client).status_code == 202  # the lock is released when the run ends


@pytest.mark.parametrize("token", [None, "wrong"])
def test_sync_all_api_needs_the_token(client, settings, token):
    settings.SYNC_API_TOKEN = TOKEN
    assert post_sync_all(client, token).status_code == 401
    assert not SyncRun.objects.exists()


def test_sync_all_api_is_post_only(client, settings):
    settings.SYNC_API_TOKEN = TOKEN
    assert (
        client.get(
            reverse("api-sync-all"), headers={"Authorization": f"Bearer {TOKEN}"}
        ).status_code
        == 405
    )


def finance(client):
    user = User.objects.create_user("fin", password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name="Finance"))
    client.force_login(user)
    return user


def test_sync_now_button_starts_a_run_for_finance(
    client, eager_celery, django_capture_on_commit_callbacks
):
    finance(client)
    changelist = client.get(reverse("admin:collectors_syncrun_changelist")).content.decode()
    assert "Sync now" in changelist
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:collectors_syncrun_sync_now"))
    run = SyncRun.objects.get()
    assert response.status_code == 302 and str(run.pk) in response["Location"]
    assert (run.trigger, run.requested_by, run.status) == ("admin", "fin", "skipped")


def test_sync_now_is_refused_to_viewers_and_to_get(client):
    user = User.objects.create_user("v", password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name="Viewer"))
    client.force_login(user)
    assert (
        "Sync now"
        not in client.get(reverse("admin:collectors_syncrun_changelist")).content.decode()
    )
    assert client.post(reverse("admin:collectors_syncrun_sync_now")).status_code == 403
    assert not SyncRun.objects.exists()


def test_sync_now_while_a_sync_runs_says_so(client):
    finance(client)
    assert lock_acquire(name="sync-all", holder="sync run #77")
    response = client.post(reverse("admin:collectors_syncrun_sync_now"), follow=True)
    assert "a sync is already running (sync run #77)" in response.content.decode()


def test_health_page_flags_collectors_without_a_recent_success(client, settings):
    finance(client)
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = "AC1", "x"
    settings.STRIPE_SECRET_KEY = "sk_test_1"
    run = SyncRun.objects.create(
        trigger="command", window_start=date(2026, 11, 20), window_end=date(2026, 11, 21)
    )
    now = timezone.now()
    CollectorRun.objects.create(
        sync_run=run,
        collector="twilio",
        window_start=run.window_start,
        window_end=run.window_end,
        status=RunStatus.OK,
        finished_at=now - timedelta(hours=2),
    )
    CollectorRun.objects.create(
        sync_run=run,
        collector="stripe",
        window_start=run.window_start,
        window_end=run.window_end,
        status=RunStatus.OK,
        finished_at=now - timedelta(hours=27),
    )
    page = client.get(reverse("admin:collectors_health"))
    health = {h.name: h for h in page.context["health"]}
    assert not health["twilio"].stale and health["stripe"].stale
    assert not health["openai"].configured and not health["openai"].stale
    text = page.content.decode()
    assert "Stale" in text and "Fresh" in text and "OPENAI_ADMIN_KEY is not set" in text

"""Weekly and monthly summaries by email, through a real SMTP server: the period's KPIs against
the previous one, the top movers by provider and by user, the open alerts; the monthly one with
the month-end XLSX attached; each sent once per period, a failure retried."""

import email
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from io import BytesIO

import pytest
import time_machine
from django.core.management import call_command
from openpyxl import load_workbook

from alerts.models import Alert, ReportSend, ScheduledReport
from alerts.scheduled import due_period, reports_send
from costledger.models import Source
from costledger.services import cost_entries_upsert
from tests.factories import cost_entry
from usage.models import LlmUsageDaily

pytestmark = pytest.mark.django_db
MONDAY = datetime(2026, 11, 23, 6, tzinfo=UTC)  # the week before: Nov 16-22


def daily(provider: str, first: date, days: int, amount: str):
    cost_entries_upsert(
        entries=[
            cost_entry(provider=provider, day=first + timedelta(days=i), amount=amount,
                       source=Source.API)
            for i in range(days)
        ]
    )  # fmt: skip


def user_cost(user: str, day: date, cost: str):
    LlmUsageDaily.objects.create(day=day, user_id=user, provider="openai", model="gpt-4o",
                                 source="events", requests=1, cost=Decimal(cost))  # fmt: skip


def parsed(message: dict):
    return email.message_from_string(message["data"])


def body_of(mail) -> str:
    part = next(p for p in mail.walk() if p.get_content_type() == "text/plain")
    return part.get_payload(decode=True).decode().replace("\r\n", "\n")


def test_the_due_periods_are_the_last_full_week_and_month():
    assert due_period("weekly", date(2026, 11, 23))[0] == "2026-W47"  # Monday: Nov 16-22
    key, period = due_period("weekly", date(2026, 11, 25))
    assert (key, period.start, period.end) == ("2026-W47", date(2026, 11, 16), date(2026, 11, 22))
    assert (period.compare.start, period.compare.end) == (date(2026, 11, 9), date(2026, 11, 15))
    key, period = due_period("monthly", date(2026, 1, 1))
    assert (key, period.start, period.end) == ("2025-12", date(2025, 12, 1), date(2025, 12, 31))


def test_the_weekly_report_tells_kpis_movers_and_open_alerts_once(smtp_server):
    daily("digitalocean", date(2026, 11, 9), 7, "10.00")  # 70 the week before
    daily("digitalocean", date(2026, 11, 16), 7, "30.00")  # 210 last week: +140
    daily("twilio", date(2026, 11, 9), 14, "1.00")  # the same both weeks: not a mover
    user_cost("u-loop", date(2026, 11, 12), "2.00")
    user_cost("u-loop", date(2026, 11, 18), "50.00")
    Alert.objects.create(rule="sync_health", scope="collector:stripe", period="x",
                         title="Sync failing: Stripe", message="m",
                         fired_at=datetime(2026, 11, 22, tzinfo=UTC))  # fmt: skip
    ScheduledReport.objects.create(name="Weekly costs", frequency="weekly",
                                   recipients="cfo@example.com\nops@example.com")  # fmt: skip

    with time_machine.travel(MONDAY, tick=False):
        call_command("send_reports")
        call_command("send_reports")
    with time_machine.travel(MONDAY + timedelta(days=2), tick=False):
        assert reports_send() == []  # still the same week: nothing more

    assert len(smtp_server.messages) == 1
    mail = parsed(smtp_server.messages[0])
    assert mail["Subject"] == "[costledger] Weekly costs: 2026-11-16 to 2026-11-22"
    assert smtp_server.messages[0]["to"] == ["cfo@example.com", "ops@example.com"]
    text = body_of(mail)
    assert "2026-11-16 to 2026-11-22, compared with 2026-11-09 to 2026-11-15" in text
    assert "- Infrastructure costs: 210.00, before 70.00 (200.0%)" in text
    assert "- DigitalOcean: 210.00 USD, before 70.00 USD (+140.00 USD)" in text
    assert "Twilio" not in text.split("Top movers by user")[0].split("Top movers")[1]
    assert "- u-loop: 50.00 USD, before 2.00 USD (+48.00 USD)" in text
    assert "Open alerts (1)\n- 2026-11-22 Sync failing: Stripe" in text
    assert "http://127.0.0.1:8000/admin/business/?start=2026-11-16&end=2026-11-22" in text
    assert ReportSend.objects.get().period == "2026-W47"


def test_the_monthly_report_attaches_the_month_end_pack(smtp_server):
    daily("digitalocean", date(2026, 10, 1), 61, "4.00")
    ScheduledReport.objects.create(name="Month", frequency="monthly", recipients="cfo@example.com")

    with time_machine.travel(datetime(2026, 12, 1, 6, tzinfo=UTC), tick=False):
        call_command("send_reports")

    mail = parsed(smtp_server.messages[0])
    assert mail["Subject"] == "[costledger] Month: November 2026"
    attachment = next(p for p in mail.walk() if p.get_filename())
    assert attachment.get_filename() == "costledger-month-end-2026-11.xlsx"
    workbook = load_workbook(BytesIO(attachment.get_payload(decode=True)))
    assert len(workbook.sheetnames) > 3
    assert "- Infrastructure costs: 120.00, before 124.00" in body_of(mail)  # 30 x 4, 31 x 4


def test_a_failed_send_is_retried_and_a_disabled_report_is_not_sent(smtp_server):
    daily("digitalocean", date(2026, 11, 9), 14, "10.00")
    ScheduledReport.objects.create(name="Weekly", frequency="weekly", recipients="cfo@example.com")
    ScheduledReport.objects.create(name="Off", frequency="weekly", recipients="x@example.com",
                                   enabled=False)  # fmt: skip
    smtp_server.refuse = True

    with time_machine.travel(MONDAY, tick=False):
        assert reports_send() == [{"report": "Weekly", "period": "2026-W47", "status": "retry"}]
    send = ReportSend.objects.get()
    assert send.attempts == 1 and send.last_error.startswith("attempt 1: ")
    smtp_server.refuse = False
    with time_machine.travel(MONDAY + timedelta(minutes=2), tick=False):
        assert reports_send() == [{"report": "Weekly", "period": "2026-W47", "status": "sent"}]
    assert len(smtp_server.messages) == 1


def test_dry_run_says_what_would_be_sent_and_sends_nothing(smtp_server, capsys):
    ScheduledReport.objects.create(name="Weekly", frequency="weekly", recipients="cfo@example.com")
    with time_machine.travel(MONDAY, tick=False):
        call_command("send_reports", "--dry-run")
    assert "WOULD SEND: Weekly for 2026-W47" in capsys.readouterr().out
    assert not ReportSend.objects.exists() and smtp_server.messages == []


def test_a_queued_send_keeps_its_period_when_the_frequency_changes_and_stops_when_disabled(
    smtp_server,
):
    daily("digitalocean", date(2026, 10, 1), 61, "4.00")
    report = ScheduledReport.objects.create(name="Month", frequency="monthly",
                                            recipients="cfo@example.com")  # fmt: skip
    smtp_server.refuse = True
    with time_machine.travel(datetime(2026, 12, 1, 6, tzinfo=UTC), tick=False):
        reports_send()
    report.frequency = "weekly"
    report.save()
    smtp_server.refuse = False
    with time_machine.travel(datetime(2026, 12, 1, 6, 2, tzinfo=UTC), tick=False):
        reports_send()  # November as queued, with its pack; and now the last week too
    subjects = sorted(parsed(m)["Subject"] for m in smtp_server.messages)
    assert subjects == ["[costledger] Month: 2026-11-23 to 2026-11-29",
                        "[costledger] Month: November 2026"]  # fmt: skip
    monthly = next(parsed(m) for m in smtp_server.messages if "November" in m["data"][:400])
    assert any(p.get_filename() == "costledger-month-end-2026-11.xlsx" for p in monthly.walk())

    report.enabled = False
    report.save()
    ReportSend.objects.update(status="pending", next_attempt_at=datetime(2026, 12, 1, tzinfo=UTC))
    with time_machine.travel(datetime(2026, 12, 8, 6, tzinfo=UTC), tick=False):
        assert reports_send() == []
    assert len(smtp_server.messages) == 2

"""Budgets against hand-computed months: thresholds fire once each, escalation fires again,
the forecast once a month, incomplete figures say so; notifications reach a real SMTP server
and a local webhook receiver, once per alert."""

import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection

from alerts.delivery import deliveries_send
from alerts.models import Alert, Budget, Channel, Delivery, DeliveryStatus, RuleKind
from alerts.services import alerts_check
from costledger.models import CostEntry, Source
from costledger.services import cost_entries_upsert
from tests.factories import cost_entry

NOV_20_NOON = datetime(2026, 11, 20, 12, tzinfo=UTC)


def llm_days(first: date, days: int, amount: str, *, provider="openai", service="gpt-4o"):
    cost_entries_upsert(
        entries=[
            cost_entry(provider=provider, day=first + timedelta(days=i), amount=amount,
                       source=Source.API, service=service)
            for i in range(days)
        ]
    )  # fmt: skip


def llm_budget(**fields) -> Budget:
    values = {
        "name": "LLM", "scope": "category:llm", "amount": Decimal("1000"), "currency": "USD",
        "effective_from": date(2026, 1, 1), "warn_on_forecast": False,
    }  # fmt: skip
    return Budget.objects.create(**{**values, **fields})


def fired(rule=RuleKind.BUDGET) -> list[str]:
    return sorted(Alert.objects.filter(rule=rule).values_list("threshold", flat=True))


@pytest.fixture
def quiet_rules(db):
    """Only budgets: the other rules are switched off (tested on their own)."""
    from alerts.models import AlertRule

    AlertRule.objects.update(enabled=False)


@time_machine.travel(NOV_20_NOON, tick=False)
def test_812_of_1000_on_the_20th_fires_50_and_80_once_each_across_repeated_checks(quiet_rules):
    llm_days(date(2026, 11, 1), 20, "40.60")  # 20 x 40.60 = 812.00, the 20th included
    llm_days(date(2026, 10, 25), 7, "99.00")  # October's days are not November's spend
    budget = llm_budget()

    first = alerts_check()
    again = [alerts_check() for _ in range(3)]  # a restart is just another check: state is stored

    assert fired() == ["50", "80"]
    assert [a.threshold for a in first.raised] == ["50", "80"]
    assert all(result.raised == [] for result in again)
    alert = Alert.objects.get(threshold="80")
    assert alert.figures["actual"] == "812.0000000000"
    assert alert.budget == budget
    assert "spent 812.00 USD of 1,000.00 USD (81.2%)" in alert.message
    assert "2026-11-01 to 2026-11-20" in alert.message
    assert alert.link == "/admin/business/?period=this_month"


@time_machine.travel(NOV_20_NOON, tick=False)
def test_escalation_to_100_percent_fires_once_more(quiet_rules):
    llm_days(date(2026, 11, 1), 20, "40.60")
    llm_budget()
    alerts_check()
    cost_entries_upsert(entries=[cost_entry(provider="anthropic", day=date(2026, 11, 20),
                                            amount="188.00", source=Source.API)])  # fmt: skip

    result = alerts_check()

    assert [a.threshold for a in result.raised] == ["100"]  # 1,000.00 exactly reaches it
    assert fired() == ["100", "50", "80"]


@time_machine.travel(NOV_20_NOON, tick=False)
def test_the_forecast_fires_once_a_month_when_the_projection_first_goes_over(quiet_rules):
    """Spent to yesterday 19 x 40.60 = 771.40; run rate 40.60 a day over Nov 13-19; 11 days
    left with today: 771.40 + 11 x 40.60 = 1,218.00 > 1,000."""
    llm_days(date(2026, 11, 1), 20, "40.60")
    llm_budget(warn_on_forecast=True, thresholds="90")

    alerts_check()
    alerts_check()

    alert = Alert.objects.get(rule=RuleKind.BUDGET_FORECAST)
    assert Alert.objects.count() == 1  # 81.2% is under the only threshold, 90
    assert (alert.threshold, alert.period) == ("forecast", "2026-11")
    assert Decimal(alert.figures["forecast"]) == Decimal("1218.00")
    assert "1,218.00 USD in 2026-11, over the budget of 1,000.00 USD" in alert.message


@time_machine.travel(NOV_20_NOON, tick=False)
def test_a_projection_under_the_budget_and_a_budget_not_in_force_say_nothing(quiet_rules):
    llm_days(date(2026, 11, 1), 20, "10.00")  # 200 spent, 300 projected
    llm_budget(warn_on_forecast=True)
    llm_budget(name="December on", amount=Decimal("1"), effective_from=date(2026, 12, 1))
    llm_budget(name="Until October", amount=Decimal("1"), effective_until=date(2026, 10, 1))

    assert alerts_check().findings == []


@time_machine.travel(NOV_20_NOON, tick=False)
def test_a_missing_rate_or_unpriced_usage_makes_the_alert_say_it_is_incomplete(quiet_rules):
    from usage.models import LlmUsageDaily

    llm_days(date(2026, 11, 1), 20, "40.60")
    cost_entries_upsert(entries=[cost_entry(provider="openai", day=date(2026, 11, 3),
                                            amount="70.00", source=Source.API, currency="EUR",
                                            service="gpt-4o EUR")])  # fmt: skip
    LlmUsageDaily.objects.create(day=date(2026, 11, 4), user_id="u1", provider="openai",
                                 model="mystery", source="events", requests=7,
                                 unpriced_requests=7)  # fmt: skip
    llm_budget()

    alerts_check()

    alert = Alert.objects.get(threshold="80")
    assert alert.incomplete
    assert "costs in EUR are left out: no exchange rate to USD" in alert.message
    assert "7 LLM requests have no price" in alert.message
    assert "the real figure is higher" in alert.message


@time_machine.travel(NOV_20_NOON, tick=False)
def test_a_provider_budget_in_another_currency_is_converted_at_the_stored_rate(quiet_rules):
    from costledger.services import exchange_rate_set

    exchange_rate_set(day=date(2026, 11, 1), currency="EUR", rate=Decimal("1.25"))
    llm_days(date(2026, 11, 1), 20, "50.00")  # 1,000 USD = 800 EUR
    llm_days(date(2026, 11, 1), 20, "50.00", provider="anthropic")  # another provider
    Budget.objects.create(name="OpenAI", scope="provider:openai", amount=Decimal("1000"),
                          currency="EUR", effective_from=date(2026, 11, 1),
                          warn_on_forecast=False)  # fmt: skip

    alerts_check()

    assert fired() == ["50", "80"]
    alert = Alert.objects.get(threshold="80")
    assert Decimal(alert.figures["actual"]) == Decimal("800")
    assert "spent 800.00 EUR of 1,000.00 EUR (80.0%)" in alert.message
    assert alert.link == "/admin/costs-by-provider/?period=this_month"


@time_machine.travel(NOV_20_NOON, tick=False)
def test_dry_run_raises_and_sends_nothing(quiet_rules, capsys):
    llm_days(date(2026, 11, 1), 20, "40.60")
    llm_budget()
    Channel.objects.create(name="ops", kind="email", addresses="ops@example.com")

    call_command("check_alerts", "--dry-run")

    assert "WOULD FIRE: Budget LLM: 80% reached in 2026-11" in capsys.readouterr().out
    assert not Alert.objects.exists() and not Delivery.objects.exists()


@time_machine.travel(NOV_20_NOON, tick=False)
def test_notifications_reach_a_real_smtp_server_and_a_webhook_once_per_alert(
    quiet_rules, smtp_server, webhook_receiver
):
    llm_days(date(2026, 11, 1), 20, "40.60")
    llm_budget()
    Channel.objects.create(
        name="finance", kind="email", addresses="cfo@example.com, ops@example.com"
    )
    Channel.objects.create(name="slack", kind="webhook", webhook_url=webhook_receiver.url)

    call_command("check_alerts")
    call_command("check_alerts")

    assert len(smtp_server.messages) == 2  # 50% and 80%, each once
    mail = next(m for m in smtp_server.messages if "80% reached" in m["data"])
    assert mail["to"] == ["cfo@example.com", "ops@example.com"]
    assert "spent 812.00 USD of 1,000.00 USD (81.2%)" in mail["data"]
    assert "http://127.0.0.1:8000/admin/business/?period=this_month" in mail["data"]
    assert len(webhook_receiver.requests) == 2
    posted = next(
        r["json"] for r in webhook_receiver.requests if r["json"]["alert"]["threshold"] == "80"
    )
    assert posted["text"].startswith("[costledger] Budget LLM: 80% reached in 2026-11")
    assert posted["alert"]["figures"]["actual"] == "812.0000000000"
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SENT}


@time_machine.travel(NOV_20_NOON, tick=False)
def test_a_failing_channel_is_retried_and_recorded_and_never_blocks_the_other(
    quiet_rules, smtp_server, webhook_receiver
):
    llm_days(date(2026, 11, 1), 20, "40.60")
    llm_budget(thresholds="80")
    smtp_server.refuse = True
    webhook_receiver.statuses = [500]
    Channel.objects.create(name="finance", kind="email", addresses="cfo@example.com")
    hook = Channel.objects.create(name="slack", kind="webhook", webhook_url=webhook_receiver.url)
    Channel.objects.create(name="second hook", kind="webhook", webhook_url=webhook_receiver.url)

    call_command("check_alerts")

    by_channel = {d.channel.name: d for d in Delivery.objects.select_related("channel")}
    assert by_channel["finance"].status == DeliveryStatus.PENDING  # to retry
    assert (
        "Recipient" in by_channel["finance"].last_error or "550" in by_channel["finance"].last_error
    )
    assert by_channel["slack"].status == DeliveryStatus.PENDING
    assert by_channel["slack"].last_error == "attempt 1: 127.0.0.1 answered HTTP 500"
    assert by_channel["second hook"].status == DeliveryStatus.SENT
    assert "secret-token" not in "".join(d.last_error for d in by_channel.values())

    smtp_server.refuse = False
    with time_machine.travel(NOV_20_NOON + timedelta(minutes=2), tick=False):
        assert deliveries_send() == {"sent": 2, "retry": 0, "failed": 0}
    assert len(smtp_server.messages) == 1
    assert Delivery.objects.get(channel=hook).attempts == 2


@time_machine.travel(NOV_20_NOON, tick=False)
def test_a_webhook_that_hangs_times_out_and_fails_for_good_after_the_last_attempt(
    quiet_rules, webhook_receiver, monkeypatch
):
    from alerts import delivery

    monkeypatch.setattr(delivery, "WEBHOOK_TIMEOUT", 0.5)
    monkeypatch.setattr(delivery, "MAX_ATTEMPTS", 2)
    llm_days(date(2026, 11, 1), 20, "40.60")
    llm_budget(thresholds="80")
    webhook_receiver.statuses = ["hang", "hang"]
    Channel.objects.create(name="slack", kind="webhook", webhook_url=webhook_receiver.url)

    call_command("check_alerts")
    with time_machine.travel(NOV_20_NOON + timedelta(hours=1), tick=False):
        assert deliveries_send() == {"sent": 0, "retry": 0, "failed": 1}

    failed = Delivery.objects.get()
    assert (failed.status, failed.attempts) == (DeliveryStatus.FAILED, 2)
    assert failed.last_error == "attempt 2: no answer in time"


@pytest.mark.django_db(transaction=True)
def test_two_checks_at_once_raise_and_notify_once(webhook_receiver):
    from alerts.models import AlertRule

    AlertRule.objects.update(enabled=False)
    with time_machine.travel(NOV_20_NOON, tick=False):
        llm_days(date(2026, 11, 1), 20, "40.60")
        llm_budget(thresholds="80")
        Channel.objects.create(name="slack", kind="webhook", webhook_url=webhook_receiver.url)
        barrier = threading.Barrier(2)
        errors = []

        def check():
            try:
                barrier.wait()
                alerts_check()
                deliveries_send()
            except Exception as error:  # noqa: BLE001 (reported by the assertion below)
                errors.append(error)
            finally:
                connection.close()

        threads = [threading.Thread(target=check) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)

    assert errors == []
    assert Alert.objects.count() == 1
    assert len(webhook_receiver.requests) == 1
    CostEntry.objects.all().delete()


@time_machine.travel(datetime(2026, 12, 2, 9, tzinfo=UTC), tick=False)
def test_costs_of_the_month_just_ended_arriving_late_still_count_against_it(quiet_rules):
    """On Dec 2 the collectors bring Nov 30's bill: November crosses 100% then, and it is
    told for November (no forecast: the month is over)."""
    llm_days(date(2026, 11, 1), 29, "33.00")  # 957 by Nov 29
    llm_budget(warn_on_forecast=True, thresholds="100")
    alerts_check()
    assert not Alert.objects.filter(period="2026-11").exists()
    llm_days(date(2026, 11, 30), 1, "60.00")  # 1,017

    alerts_check()

    alert = Alert.objects.get(period="2026-11")
    assert (alert.rule, alert.threshold) == ("budget", "100")
    assert "from 2026-11-01 to 2026-11-30" in alert.message
    assert alert.link == "/admin/business/?period=last_month"


@time_machine.travel(NOV_20_NOON, tick=False)
def test_a_budget_without_a_rate_is_said_not_checked(quiet_rules, capsys):
    llm_days(date(2026, 11, 1), 20, "40.60")
    llm_budget(name="Yen", currency="JPY", amount=Decimal("100000"))

    call_command("check_alerts", "--json")

    import json

    out = json.loads(capsys.readouterr().out)
    assert out["skipped"] == [
        "Budget Yen: no exchange rate from JPY to USD: the budget cannot be compared"
    ]
    assert out["findings"] == []


@time_machine.travel(NOV_20_NOON, tick=False)
def test_json_output_is_json_alone_while_the_console_backend_prints_emails(quiet_rules, settings,
                                                                          capsys):  # fmt: skip
    import json

    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    llm_days(date(2026, 11, 1), 20, "40.60")
    llm_budget()
    Channel.objects.create(name="me", kind="email", addresses="me@example.com")

    call_command("check_alerts", "--json")

    captured = capsys.readouterr()
    assert [f["status"] for f in json.loads(captured.out)["findings"]] == ["fired", "fired"]
    assert "Subject: [costledger] Budget LLM" in captured.err


@time_machine.travel(NOV_20_NOON, tick=False)
def test_dry_run_tells_what_was_notified_before_from_what_would_fire(quiet_rules, capsys):
    llm_days(date(2026, 11, 1), 20, "40.60")
    llm_budget(thresholds="50")
    alerts_check()
    llm_budget(name="Second", thresholds="80")

    call_command("check_alerts", "--dry-run")

    out = capsys.readouterr().out
    assert "ALREADY NOTIFIED: Budget LLM: 50% reached in 2026-11" in out
    assert "WOULD FIRE: Budget Second: 80% reached in 2026-11" in out

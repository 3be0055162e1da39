"""The rules other than budgets, on hand-computed series: a provider's cost spike (median + 4 x
MAD, and the minimum), a user's spike (5 x their median), a failing collector and its
recovery, unpriced usage once per model; each switched off in the admin says nothing."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.management import call_command

from alerts.models import Alert, AlertRule, AlertState, Channel, Delivery, RuleKind
from alerts.rules import spike_over
from alerts.services import alerts_check
from collectors.models import CollectorRun, RunStatus, SyncRun, Trigger
from costledger.models import Source
from costledger.services import cost_entries_upsert
from tests.factories import cost_entry
from usage.models import LlmUsageDaily

NOV_20_NOON = datetime(2026, 11, 20, 12, tzinfo=UTC)
TODAY = NOV_20_NOON.date()
YESTERDAY = TODAY - timedelta(days=1)

pytestmark = pytest.mark.django_db


def only(*kinds):
    AlertRule.objects.exclude(kind__in=kinds).update(enabled=False)


def series(provider: str, amounts: dict[date, str]):
    cost_entries_upsert(
        entries=[
            cost_entry(provider=provider, day=day, amount=amount, source=Source.API)
            for day, amount in amounts.items()
        ]
    )


def baseline(first_amount="10.00", second_amount="12.00") -> dict[date, str]:
    """The 28 days before yesterday alternate 10.00 and 12.00: median 11, MAD 1."""
    return {
        YESTERDAY - timedelta(days=n): (first_amount if n % 2 else second_amount)
        for n in range(1, 29)
    }


def test_spike_over_is_median_plus_factor_times_mad():
    values = [Decimal(v) for v in ("10", "12", "10", "12", "11", "40")]
    # median 11.5; deviations 1.5 .5 1.5 .5 .5 28.5 -> MAD 1.0
    assert spike_over(values, factor=Decimal(4)) == Decimal("15.5")


@time_machine.travel(NOV_20_NOON, tick=False)
def test_a_day_above_median_plus_4_mad_and_the_minimum_is_a_spike_once():
    only(RuleKind.COST_SPIKE)
    series("digitalocean", {**baseline(), YESTERDAY: "15.01", TODAY: "2.00"})  # limit 11 + 4 = 15
    series("twilio", {**baseline(), YESTERDAY: "14.99"})  # under the limit

    alerts_check()
    alerts_check()

    alert = Alert.objects.get()
    assert (alert.rule, alert.scope, alert.period) == ("cost_spike", "provider:digitalocean",
                                                       "2026-11-19")  # fmt: skip
    assert Decimal(alert.figures["limit"]) == Decimal("15")
    assert "DigitalOcean cost 15.01 USD on 2026-11-19, above 15.00 USD" in alert.message
    assert (
        alert.link
        == "/admin/costs-by-provider/cell/?provider=digitalocean&start=2026-11-19&end=2026-11-19"
    )


@time_machine.travel(NOV_20_NOON, tick=False)
def test_a_spike_under_the_minimum_amount_says_nothing_until_the_minimum_is_lowered():
    only(RuleKind.COST_SPIKE)
    series("twilio", {**baseline("1.00", "1.20"), YESTERDAY: "9.00"})  # far above, under 10

    assert alerts_check().findings == []
    AlertRule.objects.filter(kind=RuleKind.COST_SPIKE).update(minimum_amount=Decimal("5"))
    assert [f.scope for f in alerts_check().findings] == ["provider:twilio"]


@time_machine.travel(NOV_20_NOON, tick=False)
def test_a_user_day_over_5_times_their_median_and_the_minimum_is_a_spike():
    only(RuleKind.USER_SPIKE)

    def day(user, on, cost):
        LlmUsageDaily.objects.create(day=on, user_id=user, provider="openai", model="gpt-4o",
                                     source="events", requests=1, cost=Decimal(cost))  # fmt: skip

    for n in range(1, 29):
        day("steady", YESTERDAY - timedelta(days=n), "2.00")
        day("looping", YESTERDAY - timedelta(days=n), "1.00")
    day("steady", YESTERDAY, "9.99")  # under 5 x 2.00
    day("looping", YESTERDAY, "5.01")  # over 5 x 1.00 and over the minimum 5
    day("newcomer", TODAY, "4.99")  # no history, but under the minimum

    alerts_check()

    alert = Alert.objects.get()
    assert (alert.scope, alert.period) == ("user:looping", "2026-11-19")
    assert (
        "User looping cost 5.01 USD in LLM usage on 2026-11-19, over 5 x their median"
        in alert.message
    )
    assert alert.link == "/admin/user-usage/?user_id=looping&start=2026-11-19&end=2026-11-19"


def _run(collector: str, status: str, at: datetime, reason: str = ""):
    run = SyncRun.objects.create(trigger=Trigger.API, status=status, window_start=at.date(),
                                 window_end=at.date() + timedelta(days=1))  # fmt: skip
    CollectorRun.objects.create(sync_run=run, collector=collector, window_start=at.date(),
                                window_end=at.date() + timedelta(days=1), status=status,
                                reason=reason, finished_at=at)  # fmt: skip


def test_a_failing_collector_alerts_once_and_its_recovery_resolves_once(settings, webhook_receiver):
    only(RuleKind.SYNC_HEALTH)
    settings.DO_API_TOKEN = "do-token"
    Channel.objects.create(name="slack", kind="webhook", webhook_url=webhook_receiver.url)
    with time_machine.travel(NOV_20_NOON, tick=False):
        _run("digitalocean", RunStatus.OK, NOV_20_NOON - timedelta(hours=30))
        _run("digitalocean", RunStatus.FAILED, NOV_20_NOON - timedelta(hours=1),
             reason="DigitalOcean answered 401: check DO_API_TOKEN\ntraceback...")  # fmt: skip
        call_command("check_alerts")
        call_command("check_alerts")
    alert = Alert.objects.get()
    assert (alert.rule, alert.scope, alert.state) == ("sync_health", "collector:digitalocean",
                                                      AlertState.OPEN)  # fmt: skip
    assert "its last run failed (DigitalOcean answered 401: check DO_API_TOKEN)" in alert.message

    later = NOV_20_NOON + timedelta(hours=2)
    with time_machine.travel(later, tick=False):
        _run("digitalocean", RunStatus.OK, later - timedelta(minutes=5))
        call_command("check_alerts")
        call_command("check_alerts")

    alert.refresh_from_db()
    assert alert.state == AlertState.RESOLVED
    assert list(Delivery.objects.order_by("pk").values_list("event", "status")) == [
        ("fired", "sent"),
        ("resolved", "sent"),
    ]
    texts = [r["json"]["text"] for r in webhook_receiver.requests]
    assert texts[0].startswith("[costledger] Sync failing: DigitalOcean")
    assert texts[1].startswith("[costledger] Resolved: Sync failing: DigitalOcean")
    assert len(texts) == 2


def test_a_collector_without_a_success_for_26_hours_is_stale(settings):
    only(RuleKind.SYNC_HEALTH)
    settings.DO_API_TOKEN = "do-token"
    with time_machine.travel(NOV_20_NOON, tick=False):
        _run("digitalocean", RunStatus.OK, NOV_20_NOON - timedelta(hours=27))
        alerts_check()
    assert "no success for 26 hours" in Alert.objects.get().message


def test_a_collector_never_set_up_is_not_an_alert():
    only(RuleKind.SYNC_HEALTH)
    assert alerts_check().findings == []


@time_machine.travel(NOV_20_NOON, tick=False)
def test_unpriced_usage_alerts_once_per_model():
    only(RuleKind.UNPRICED_USAGE)
    for offset in (1, 2):
        LlmUsageDaily.objects.create(day=TODAY - timedelta(days=offset), user_id="u1",
                                     provider="acme", model="mystery-1", source="events",
                                     requests=3, unpriced_requests=3)  # fmt: skip
    alerts_check()
    LlmUsageDaily.objects.create(day=TODAY, user_id="u1", provider="acme", model="mystery-1",
                                 source="events", requests=4, unpriced_requests=4)  # fmt: skip
    alerts_check()

    alert = Alert.objects.get()
    assert (alert.scope, alert.period) == ("model:acme/mystery-1", "")
    assert alert.message.startswith("6 requests to acme/mystery-1 (from 2026-11-18 to 2026-11-19)")


@time_machine.travel(NOV_20_NOON, tick=False)
def test_a_rule_switched_off_says_nothing():
    AlertRule.objects.update(enabled=False)
    series("digitalocean", {**baseline(), YESTERDAY: "500.00"})
    LlmUsageDaily.objects.create(day=TODAY, user_id="u1", provider="acme", model="mystery-1",
                                 source="events", requests=3, unpriced_requests=3)  # fmt: skip
    assert alerts_check().findings == []


def test_a_finished_sync_run_asks_for_a_check(
    django_capture_on_commit_callbacks, settings, monkeypatch
):
    """The engine's signal, once the run's writes are committed, queues the check task (run
    here in place of a worker): a collector that failed is told at once, not at the next
    hourly check."""
    from alerts.tasks import check_alerts_task
    from collectors.engine import sync_run_finish_if_done

    monkeypatch.setattr(check_alerts_task, "delay", check_alerts_task.run)

    only(RuleKind.SYNC_HEALTH)
    settings.DO_API_TOKEN = "do-token"
    with time_machine.travel(NOV_20_NOON, tick=False):
        _run("digitalocean", RunStatus.FAILED, NOV_20_NOON, reason="boom")
        run_id = CollectorRun.objects.get().sync_run_id
        assert not Alert.objects.exists()
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            assert sync_run_finish_if_done(sync_run_id=run_id) is True
        with django_capture_on_commit_callbacks(execute=True) as again:
            assert sync_run_finish_if_done(sync_run_id=run_id) is False  # closed: no signal
    assert (len(callbacks), len(again)) == (1, 0)
    assert Alert.objects.get().scope == "collector:digitalocean"


@time_machine.travel(NOV_20_NOON, tick=False)
def test_a_user_id_of_200_characters_is_raised_and_a_failing_rule_stops_no_other(monkeypatch):
    """A user id at the column's limit, URL-encoded in the alert's link, is stored; a rule that
    fails is reported and the others still raise."""
    from alerts import rules

    only(RuleKind.USER_SPIKE, RuleKind.UNPRICED_USAGE)
    long_id = "ж" * 200
    LlmUsageDaily.objects.create(day=TODAY, user_id=long_id, provider="openai", model="gpt-4o",
                                 source="events", requests=1, cost=Decimal("50"))  # fmt: skip
    result = alerts_check()
    assert Alert.objects.get().scope == f"user:{long_id}"
    assert result.skipped == []

    monkeypatch.setattr(rules, "user_spikes", lambda **kw: 1 / 0)
    LlmUsageDaily.objects.create(day=TODAY, user_id="u1", provider="acme", model="mystery-1",
                                 source="events", requests=3, unpriced_requests=3)  # fmt: skip
    result = alerts_check()
    assert result.skipped == ["User's LLM cost spike: the rule failed (ZeroDivisionError)"]
    assert [a.scope for a in result.raised] == ["model:acme/mystery-1"]


def test_a_webhook_text_cannot_mention_or_link(webhook_receiver):
    from alerts.delivery import channel_send

    channel = Channel.objects.create(name="slack", kind="webhook", webhook_url=webhook_receiver.url)
    alert = Alert(rule="user_spike", scope="user:<!channel>", title="User <!channel> & co",
                  message="m <https://evil.example|click>", fired_at=NOV_20_NOON)  # fmt: skip
    channel_send(channel, alert, event="fired")
    text = webhook_receiver.requests[0]["json"]["text"]
    assert "<" not in text and "&lt;!channel&gt; &amp; co" in text

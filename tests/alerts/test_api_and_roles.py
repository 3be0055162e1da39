"""GET /api/v1/alerts, and who may do what: Finance edits budgets and acknowledges alerts,
Viewer looks, channels (their webhook URLs are secrets) are for superusers and never shown
whole again."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.urls import reverse

from alerts.models import Alert, Budget, Channel, Delivery

pytestmark = pytest.mark.django_db
URL = "/api/v1/alerts"
SECRET_URL = "https://hooks.slack.example/services/T000/B000/xoxb-very-secret-path"


def alert(n: int, day: int, **fields) -> Alert:
    return Alert.objects.create(
        **{"rule": "cost_spike", "scope": f"provider:p{n}", "threshold": "",
           "period": f"2026-11-{day:02}", "title": f"Spike {n}", "message": "m",
           "link": "/admin/costs-by-provider/", "fired_at": datetime(2026, 11, day, 3, tzinfo=UTC),
           **fields}
    )  # fmt: skip


def test_the_api_lists_alerts_since_a_day_oldest_first_with_their_deliveries(client, viewer_user):
    client.force_login(viewer_user)
    channel = Channel.objects.create(name="ops", kind="webhook", webhook_url=SECRET_URL)
    alert(1, 10)
    second = alert(2, 12, state="resolved", resolved_at=datetime(2026, 11, 13, tzinfo=UTC))
    Delivery.objects.create(alert=second, channel=channel, event="fired", status="sent",
                            attempts=1, next_attempt_at=second.fired_at)  # fmt: skip
    alert(3, 14)

    body = client.get(URL, {"since": "2026-11-11"}).json()

    assert [item["title"] for item in body["items"]] == ["Spike 2", "Spike 3"]
    assert body["items"][0]["deliveries"] == [
        {"channel": "ops", "kind": "webhook", "event": "fired", "status": "sent", "attempts": 1,
         "last_error": "", "sent_at": None}
    ]  # fmt: skip
    assert body["items"][0]["link"] == "http://127.0.0.1:8000/admin/costs-by-provider/"
    assert SECRET_URL not in str(body)
    assert client.get(URL, {"since": "2026-11-12T03:00:01Z"}).json()["count"] == 1
    assert client.get(URL, {"state": "resolved"}).json()["count"] == 1
    assert client.get(URL, {"limit": "1"}).json()["count"] == 1


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"since": "yesterday"}, "since"),
        ({"since": "0001-01-01"}, "since"),
        ({"since": "2026-11-01\x00"}, "since"),
        ({"state": "closed"}, "state"),
        ({"limit": "0"}, "limit"),
        ({"limit": "99999999999999999999"}, "limit"),
    ],
)
def test_bad_parameters_get_400_naming_the_field(client, viewer_user, query, field):
    client.force_login(viewer_user)
    response = client.get(URL, query)
    assert response.status_code == 400
    assert list(response.json()["errors"]) == [field]


def test_the_sync_token_reads_the_api_and_nobody_else_does(client, settings):
    settings.SYNC_API_TOKEN = "token-123"
    alert(1, 10)
    assert client.get(URL, headers={"Authorization": "Bearer token-123"}).json()["count"] == 1
    assert client.get(URL).status_code in (401, 403)
    assert client.get(URL, headers={"Authorization": "Bearer wrong"}).status_code in (401, 403)


def test_viewer_looks_at_budgets_and_alerts_and_changes_nothing(client, viewer_user):
    client.force_login(viewer_user)
    budget = Budget.objects.create(name="LLM", scope="category:llm", amount=Decimal("1000"),
                                   currency="USD", effective_from=date(2026, 1, 1))  # fmt: skip
    target = alert(1, 10)
    assert client.get(reverse("admin:alerts_budget_changelist")).status_code == 200
    assert client.get(reverse("admin:alerts_alert_changelist")).status_code == 200
    assert client.get(reverse("admin:alerts_budget_add")).status_code == 403
    assert client.get(reverse("admin:alerts_channel_changelist")).status_code == 403
    client.post(reverse("admin:alerts_budget_change", args=[budget.pk]), {"name": "x"})
    client.post(reverse("admin:alerts_alert_changelist"),
                {"action": "acknowledge", "_selected_action": [target.pk]})  # fmt: skip
    budget.refresh_from_db()
    target.refresh_from_db()
    assert budget.name == "LLM" and target.acknowledged_at is None


def test_finance_adds_a_budget_and_acknowledges_an_alert_but_not_channels(client, finance_user):
    client.force_login(finance_user)
    response = client.post(
        reverse("admin:alerts_budget_add"),
        {"name": "Infra", "scope": "category:infrastructure", "amount": "500.00",
         "currency": "usd", "thresholds": " 80, 50,100", "warn_on_forecast": "on",
         "effective_from": "2026-11-01"},
    )  # fmt: skip
    assert response.status_code == 302
    budget = Budget.objects.get()
    assert (budget.currency, budget.threshold_list) == ("USD", [50, 80, 100])
    target = alert(1, 10)
    client.post(reverse("admin:alerts_alert_changelist"),
                {"action": "acknowledge", "_selected_action": [target.pk]})  # fmt: skip
    target.refresh_from_db()
    assert target.acknowledged_by == finance_user and target.acknowledged_at is not None
    assert client.get(reverse("admin:alerts_channel_add")).status_code == 403


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({"thresholds": "50,eighty"}, {"thresholds"}),
        ({"thresholds": "0"}, {"thresholds"}),
        ({"effective_from": "2026-11-15"}, {"effective_from"}),
        ({"effective_until": "2026-10-01"}, {"effective_until"}),
        ({"amount": "0"}, {"amount"}),
        ({"scope": "provider:nobody"}, {"scope"}),
        ({"currency": "XYZ"}, {"currency"}),
    ],
)
def test_a_bad_budget_gets_field_errors_and_stores_nothing(admin_client, fields, errors):
    data = {"name": "Infra", "scope": "total", "amount": "500", "currency": "USD",
            "thresholds": "50,80,100", "effective_from": "2026-11-01", **fields}  # fmt: skip
    response = admin_client.post(reverse("admin:alerts_budget_add"), data)
    assert response.status_code == 200
    assert set(response.context["adminform"].form.errors) == errors
    assert not Budget.objects.exists()


def test_a_webhook_url_is_masked_once_saved_and_kept_when_left_empty(admin_client):
    admin_client.post(reverse("admin:alerts_channel_add"),
                      {"name": "slack", "kind": "webhook", "enabled": "on",
                       "webhook_url": SECRET_URL})  # fmt: skip
    channel = Channel.objects.get()
    change = reverse("admin:alerts_channel_change", args=[channel.pk])

    for page in (reverse("admin:alerts_channel_changelist"), change):
        html = admin_client.get(page).content.decode()
        assert "xoxb-very-secret-path" not in html
        assert "https://hooks.slack.example/" in html
    admin_client.post(change, {"name": "slack ops", "kind": "webhook", "enabled": "on",
                               "webhook_url": ""})  # fmt: skip
    channel.refresh_from_db()
    assert (channel.name, channel.webhook_url) == ("slack ops", SECRET_URL)


def test_an_email_channel_needs_real_addresses(admin_client):
    response = admin_client.post(
        reverse("admin:alerts_channel_add"),
        {"name": "x", "kind": "email", "addresses": "cfo@, ops"},
    )
    assert "addresses" in response.context["adminform"].form.errors
    assert not Channel.objects.exists()


def test_send_a_test_message_through_each_selected_channel(admin_client, webhook_receiver,
                                                           smtp_server):  # fmt: skip
    hook = Channel.objects.create(name="slack", kind="webhook", webhook_url=webhook_receiver.url)
    mail = Channel.objects.create(name="cfo", kind="email", addresses="cfo@example.com")
    smtp_server.refuse = True

    response = admin_client.post(
        reverse("admin:alerts_channel_changelist"),
        {"action": "send_test", "_selected_action": [hook.pk, mail.pk]},
        follow=True,
    )

    shown = [str(m) for m in response.context["messages"]]
    assert "slack (Webhook (Slack-compatible)): test message sent." in shown
    assert any(m.startswith("cfo (Email): failed, ") for m in shown)
    assert webhook_receiver.requests[0]["json"]["text"].startswith("[costledger] Test message")
    assert "secret-token" not in " ".join(shown)
    assert not Alert.objects.exists() and not Delivery.objects.exists()


def test_failed_notifications_can_be_queued_again(client, finance_user):
    client.force_login(finance_user)
    channel = Channel.objects.create(name="ops", kind="email", addresses="ops@example.com")
    target = alert(1, 10)
    failed = Delivery.objects.create(alert=target, channel=channel, event="fired",
                                     status="failed", attempts=5, last_error="attempt 5: x",
                                     next_attempt_at=target.fired_at)  # fmt: skip

    client.post(reverse("admin:alerts_alert_changelist"),
                {"action": "retry_failed", "_selected_action": [target.pk]})  # fmt: skip

    failed.refresh_from_db()
    # a full set of attempts again; the last error stays until the next attempt
    assert (failed.status, failed.attempts, failed.last_error) == ("pending", 0, "attempt 5: x")


@pytest.mark.parametrize(
    ("model", "fields", "field"),
    [
        ("channel", {"name": "x", "kind": "webhook", "webhook_url": "https://a.example.com:99999/x"},
         "webhook_url"),
        ("channel", {"name": "x", "kind": "email",
                     "addresses": ",".join(f"a{n}@example.com" for n in range(51))}, "addresses"),
        ("budget", {"name": "Yen", "scope": "total", "amount": "100.5", "currency": "JPY",
                    "thresholds": "50", "effective_from": "2026-11-01"}, "amount"),
    ],
)  # fmt: skip
def test_what_could_never_be_sent_or_compared_is_refused(admin_client, model, fields, field):
    response = admin_client.post(reverse(f"admin:alerts_{model}_add"), fields)
    assert field in response.context["adminform"].form.errors
    assert not Channel.objects.exists() and not Budget.objects.exists()

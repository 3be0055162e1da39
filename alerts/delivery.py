"""Sending the queued notifications: each delivery on its own, so a channel that fails (SMTP
refused, a webhook answering 500 or hanging) never keeps the others from being sent. A failed
attempt is recorded and retried later (backoff), up to MAX_ATTEMPTS; then the delivery is marked
failed, and stays in the alert's history.

Concurrent senders claim a delivery with a conditional UPDATE on its next attempt time (no lock
held while sending): the one whose update changed the row sends it."""

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.mail import EmailMessage
from django.utils import timezone

from alerts.models import (
    Alert,
    Channel,
    ChannelKind,
    Delivery,
    DeliveryEvent,
    DeliveryStatus,
    ReportSend,
)

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
RETRY_AFTER = [timedelta(minutes=m) for m in (1, 5, 30, 120)]  # after attempts 1, 2, 3, 4
CLAIM_FOR = timedelta(minutes=5)  # a sender that died mid-send frees its delivery after this
WEBHOOK_TIMEOUT = 10  # seconds


class DeliveryError(Exception):
    """A channel refused or did not answer; the message names no secret."""


def deliveries_send(*, now: datetime | None = None) -> dict[str, int]:
    """Send every delivery due now; counts of sent, retried later and failed for good."""
    now = now or timezone.now()
    counts = {"sent": 0, "retry": 0, "failed": 0}
    due = (
        Delivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
        .select_related("alert", "channel")
        .order_by("next_attempt_at", "pk")
    )
    for delivery in due:
        if claimed(delivery):  # else another sender has it
            counts[attempt_recorded(delivery, lambda d=delivery: _delivered(d))] += 1
    return counts


def claimed(row: Delivery | ReportSend) -> bool:
    """Take a pending delivery or report send for this sender: a conditional UPDATE of its
    next attempt time, from the moment of the claim (not the loop's start: earlier sends may
    have waited on slow channels), so the claim holds CLAIM_FOR from now on."""
    return (
        type(row)
        .objects.filter(
            pk=row.pk, status=DeliveryStatus.PENDING, next_attempt_at=row.next_attempt_at
        )
        .update(next_attempt_at=timezone.now() + CLAIM_FOR)
        == 1
    )


def attempt_recorded(row: Delivery | ReportSend, send: Callable[[], None]) -> str:
    """Run `send` for a claimed delivery or report send and record the attempt: "sent", or the
    failure (no secret in it) retried after RETRY_AFTER ("retry"), then given up at
    MAX_ATTEMPTS ("failed"). Never raises: one failure keeps nothing else from going."""
    attempts = row.attempts + 1
    rows = type(row).objects.filter(pk=row.pk)
    try:
        send()
    except Exception as error:  # noqa: BLE001 (any failure is recorded, never raised)
        reason = str(error) if isinstance(error, DeliveryError) else _described(error)
        logger.warning("%s failed: %s", row, reason)
        done = attempts >= MAX_ATTEMPTS
        rows.update(
            attempts=attempts,
            last_error=f"attempt {attempts}: {reason}"[:2000],
            status=DeliveryStatus.FAILED if done else DeliveryStatus.PENDING,
            next_attempt_at=timezone.now() + RETRY_AFTER[min(attempts, len(RETRY_AFTER)) - 1],
        )
        return "failed" if done else "retry"
    rows.update(attempts=attempts, status=DeliveryStatus.SENT, sent_at=timezone.now())
    return "sent"


def _delivered(delivery: Delivery) -> None:
    if not delivery.channel.enabled:
        raise DeliveryError("the channel is switched off")
    channel_send(delivery.channel, delivery.alert, event=delivery.event)


def _described(error: Exception) -> str:
    """What went wrong without the URL (a webhook's path is its secret) or a password."""
    if isinstance(error, requests.Timeout):
        return "no answer in time"
    if isinstance(error, requests.RequestException):
        return f"could not connect ({type(error).__name__})"
    return f"{type(error).__name__}: {error}"[:500]


def slack_escaped(text: str) -> str:
    """Slack reads <...> as links and mentions (<!channel>): a user id or a model name from
    the telemetry must not become one. Its documented escapes, & first."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _absolute(link: str) -> str:
    return f"{settings.SITE_URL.rstrip('/')}{link}" if link else ""


def notification_text(alert: Alert, *, event: str) -> tuple[str, str]:
    """The subject and body people read: what, how much, against what, for which period, and
    the page that explains it."""
    link = _absolute(alert.link)
    if event == DeliveryEvent.RESOLVED:
        subject = f"[costledger] Resolved: {alert.title}"
        body = (
            f"Resolved at {alert.resolved_at:%Y-%m-%d %H:%M} UTC: {alert.title}.\n\n{alert.message}"
        )
    else:
        subject = f"[costledger] {alert.title}"
        body = alert.message
    if link:
        body += f"\n\nSee: {link}"
    return subject, body


def channel_send(channel: Channel, alert: Alert, *, event: str) -> None:
    subject, body = notification_text(alert, event=event)
    if channel.kind == ChannelKind.EMAIL:
        from alerts.models import addresses_parse

        EmailMessage(subject=subject, body=body, to=addresses_parse(channel.addresses)).send()
        return
    payload = {
        "text": slack_escaped(f"{subject}\n{body}"),
        "alert": {
            "id": alert.pk,
            "event": event,
            "rule": alert.rule,
            "scope": alert.scope,
            "threshold": alert.threshold,
            "period": alert.period,
            "title": alert.title,
            "figures": alert.figures,
            "incomplete": alert.incomplete,
            "fired_at": alert.fired_at.isoformat(),
            "link": _absolute(alert.link),
        },
    }
    # No redirects: the URL entered is where alerts go, and nowhere it points on to.
    response = requests.post(
        channel.webhook_url, json=payload, timeout=WEBHOOK_TIMEOUT, allow_redirects=False
    )
    if not 200 <= response.status_code < 300:
        host = urlsplit(channel.webhook_url).hostname
        raise DeliveryError(f"{host} answered HTTP {response.status_code}")


def deliveries_retry(*, alert_ids: list[int]) -> int:
    """Put the failed deliveries of these alerts back in the queue, due now, with a full set
    of attempts (the last error stays until the next attempt)."""
    return Delivery.objects.filter(alert_id__in=alert_ids, status=DeliveryStatus.FAILED).update(
        status=DeliveryStatus.PENDING, next_attempt_at=timezone.now(), attempts=0
    )


def channel_test(channel: Channel) -> str | None:
    """Send a test message through `channel` now; None when it went, else what went wrong
    (no secret in it)."""
    test = Alert(
        rule="test", scope="test", title=f"Test message to {channel.name}",
        message="This is a test from costledger: this channel receives alerts.",
        fired_at=timezone.now(),
    )  # fmt: skip
    try:
        channel_send(channel, test, event=DeliveryEvent.FIRED)
    except Exception as error:  # noqa: BLE001 (told to the admin, never raised)
        return str(error) if isinstance(error, DeliveryError) else _described(error)
    return None

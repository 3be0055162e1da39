"""The alerts as JSON, for outside scripts and on-call tools: staff session or the sync token."""

from django.conf import settings
from django.http import JsonResponse
from django.views.decorators.http import require_GET

from alerts.models import Alert, AlertState
from costledger.api_auth import api_auth
from costledger.query_params import QueryParams

MAX_LIMIT = 1000


@require_GET
@api_auth("alerts.view_alert")
def alerts_list(request):
    """Alerts fired at or after `since` (a day or an ISO date and time; by default all), oldest
    first, at most `limit` (100); `state=open|resolved`."""
    params = QueryParams(request.GET)
    since = params.instant("since")
    state = params.choice("state", AlertState.values)
    limit = params.whole_number("limit", default=100, low=1, high=MAX_LIMIT)
    if params.errors:
        return params.bad_request()
    alerts = Alert.objects.select_related("acknowledged_by").prefetch_related("deliveries__channel")
    if since:
        alerts = alerts.filter(fired_at__gte=since)
    if state:
        alerts = alerts.filter(state=state)
    items = [_item(alert) for alert in alerts.order_by("fired_at", "pk")[:limit]]
    return JsonResponse({"items": items, "count": len(items)})


def _item(alert: Alert) -> dict:
    site = settings.SITE_URL.rstrip("/")
    return {
        "id": alert.pk,
        "rule": alert.rule,
        "scope": alert.scope,
        "threshold": alert.threshold,
        "period": alert.period,
        "state": alert.state,
        "title": alert.title,
        "message": alert.message,
        "link": f"{site}{alert.link}" if alert.link else None,
        "figures": alert.figures,
        "incomplete": alert.incomplete,
        "fired_at": alert.fired_at.isoformat(),
        "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
        "acknowledged_at": alert.acknowledged_at.isoformat() if alert.acknowledged_at else None,
        "acknowledged_by": alert.acknowledged_by.get_username() if alert.acknowledged_by else None,
        "deliveries": [
            {
                "channel": d.channel.name,
                "kind": d.channel.kind,
                "event": d.event,
                "status": d.status,
                "attempts": d.attempts,
                "last_error": d.last_error,
                "sent_at": d.sent_at.isoformat() if d.sent_at else None,
            }
            for d in alert.deliveries.all()
        ],
    }

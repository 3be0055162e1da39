from django.http import JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from collectors.engine import SyncAlreadyRunning
from collectors.models import Trigger
from collectors.services import sync_all_start
from costledger.api_auth import bearer_token_valid, unauthorized


@csrf_exempt  # token-authenticated, never cookie-authenticated: CSRF does not apply
@require_POST
def sync_all(request):
    """Start a sync of every collector for outside crons. 202 with the run id, 409 while one
    is already running, 401 without the sync token."""
    if not bearer_token_valid(request):
        return unauthorized("Send `Authorization: Bearer <SYNC_API_TOKEN>` to start a sync.")
    try:
        run = sync_all_start(trigger=Trigger.API, requested_by="api")
    except SyncAlreadyRunning as running:
        return JsonResponse({"error": str(running)}, status=409)
    return JsonResponse(
        {
            "sync_run": run.pk,
            "status": run.status,
            "admin_url": reverse("admin:collectors_syncrun_change", args=[run.pk]),
        },
        status=202,
    )

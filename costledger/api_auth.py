"""Who may call the JSON API: a staff session holding a permission, or a client sending
`Authorization: Bearer $SYNC_API_TOKEN`. Every app's endpoints use it."""

import hmac
from functools import wraps

from django.conf import settings
from django.http import JsonResponse


def _bearer_token(request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def bearer_token_valid(request) -> bool:
    """True when the request carries `Authorization: Bearer $SYNC_API_TOKEN` (set and equal)."""
    token, expected = _bearer_token(request), settings.SYNC_API_TOKEN
    return bool(token and expected) and hmac.compare_digest(token.encode(), expected.encode())


def unauthorized(message: str) -> JsonResponse:
    response = JsonResponse({"error": message}, status=401)
    response["WWW-Authenticate"] = 'Bearer realm="costledger"'
    return response


def api_auth(permission: str):
    """Let in `Authorization: Bearer $SYNC_API_TOKEN` and staff sessions holding `permission`
    (the same one the matching admin page asks); 401/403 otherwise."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if _bearer_token(request) is not None:
                if bearer_token_valid(request):
                    return view(request, *args, **kwargs)
                return unauthorized("The bearer token is not valid.")
            user = request.user
            if not user.is_authenticated:
                return unauthorized(
                    "Authentication required: send `Authorization: Bearer <SYNC_API_TOKEN>` "
                    "or log in to the admin."
                )
            if user.is_active and user.is_staff and user.has_perm(permission):
                return view(request, *args, **kwargs)
            return JsonResponse(
                {"error": f"Staff access with the {permission} permission is required."},
                status=403,
            )

        return wrapper

    return decorator

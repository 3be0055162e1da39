"""Paths and query strings the database cannot store are refused before any view reads them."""

from django.http import HttpResponseBadRequest, JsonResponse

from costledger.validators import UNSTORABLE

# Either character UNSTORABLE finds, reaching a filter, makes the query raise. Django decodes
# percent-encoded bytes that are not UTF-8 (%ED%A0%80, a surrogate's bytes) to U+FFFD, so over
# HTTP only NUL gets through; the parsers of costledger.query_params also see values handed to
# them in code.
UNSTORABLE_MESSAGE = "contains a NUL character (%00), which no parameter may hold."


def unstorable_parameter(params) -> str | None:
    """The name of the first parameter whose name or values hold an unstorable character."""
    for name, values in params.lists():
        if UNSTORABLE.search(name) or any(UNSTORABLE.search(value) for value in values):
            return name
    return None


class UnstorableQueryMiddleware:
    """400 for a path or a query string holding NUL, on every page and endpoint: otherwise each
    view, filter and admin list would have to guard against it or answer 500 (an admin object
    id is read from the path: /admin/usage/usageuser/%00/change/)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        api = request.path_info.startswith("/api/")
        if UNSTORABLE.search(request.path_info):
            message = "The address contains a NUL character (%00), which no address may hold."
            if api:
                return JsonResponse({"errors": {"path": message}}, status=400)
            return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")
        name = unstorable_parameter(request.GET)
        if name is None:
            return self.get_response(request)
        if api:
            return JsonResponse({"errors": {name: UNSTORABLE_MESSAGE}}, status=400)
        return HttpResponseBadRequest(
            f"The parameter {name[:100]!r} {UNSTORABLE_MESSAGE}",
            content_type="text/plain; charset=utf-8",
        )

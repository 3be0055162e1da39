"""The Providers page: every collector, whether it is configured, the variables it reads, its
last success and last run, and a Test connection button (collectors/connection.py)."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views import View

from collectors.connection import CONNECTION_TEST_TIMEOUT, collector_connection_test
from collectors.registry import COLLECTOR_NAMES
from collectors.selectors import providers_overview

# Who may look (the run log's readers, the Viewer group among them) and who may test: the
# same right as Sync now, since a test spends a request of the provider's rate limits.
VIEW_PERMISSION = "collectors.view_syncrun"
TEST_PERMISSION = "collectors.run_sync"


class ProvidersPage(View):
    site = None

    def get(self, request):
        if not request.user.has_perm(VIEW_PERMISSION):
            raise PermissionDenied
        context = {
            **self.site.each_context(request),
            "title": "Providers",
            "providers": providers_overview(),
            "can_test": request.user.has_perm(TEST_PERMISSION),
            "test_timeout": CONNECTION_TEST_TIMEOUT,
        }
        return TemplateResponse(request, "admin/collectors/providers.html", context)

    def post(self, request):
        """Test one collector's connection; the answer comes back as a message on the page."""
        if not request.user.has_perm(TEST_PERMISSION):
            raise PermissionDenied
        name = request.POST.get("collector", "")
        if name not in COLLECTOR_NAMES:  # never echoed: it may hold anything, NUL included
            messages.error(request, "Test connection needs one of the collectors listed below.")
            return redirect("admin:collectors_providers")
        result = collector_connection_test(name=name)
        (messages.success if result.ok else messages.error)(request, result.message)
        return redirect("admin:collectors_providers")

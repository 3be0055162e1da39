"""The project's URLs: the admin and each app's own (included by name: the core imports no app)."""

from django.contrib import admin
from django.http import HttpResponsePermanentRedirect
from django.urls import include, path, re_path
from django.views.generic import RedirectView

# The LLM usage models moved from the ledger core and the collectors to the usage app: their
# old admin addresses (bookmarks, links kept in notes) lead to the same page under /admin/usage/.
MOVED_TO_USAGE = {
    "costledger": "llmusagedaily|llmusageevent|modelprice|usageuser|llmusagetagdaily|"
    "llmusagemodeldaily|llmusageuserdaily|llmusageusermonth|llmusageuserlatest|"
    "llmusagetaglatest|llmusagetagkeydaily|llmusagetaglatestcount",
    "collectors": "ingestkey",
}


def moved_to_usage(request, app_label, model):
    full_path = request.get_full_path()
    old = f"/admin/{app_label}/{model}/"
    return HttpResponsePermanentRedirect(full_path.replace(old, f"/admin/usage/{model}/", 1))


urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    *(
        re_path(rf"^admin/(?P<app_label>{app})/(?P<model>{models})/", moved_to_usage)
        for app, models in MOVED_TO_USAGE.items()
    ),
    path("admin/", admin.site.urls),
    path("", include("reports.urls")),
    path("", include("usage.urls")),
    path("", include("collectors.urls")),
    path("", include("alerts.urls")),
    path("", include("billing.urls")),
]

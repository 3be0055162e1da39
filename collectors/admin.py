from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST
from django_celery_beat.admin import PeriodicTaskAdmin, PeriodicTaskForm
from django_celery_beat.models import PeriodicTask

from collectors.engine import SyncAlreadyRunning
from collectors.models import FINISHED, CollectorRun, RunStatus, SyncRun, Trigger
from collectors.pages import ProvidersPage
from collectors.selectors import (
    SYNC_RUN_STATES,
    collector_health,
    collectors_configured,
    sync_run_state,
    sync_runs_counted,
)
from collectors.services import sync_all_start
from costledger.validators import json_text_load, validate_ledger_day, validate_text

STATUS_COLOURS = {
    RunStatus.OK: "#2e7d32",
    RunStatus.SKIPPED: "#9e6a00",
    RunStatus.FAILED: "#b71c1c",
    RunStatus.RUNNING: "#1565c0",
    RunStatus.PENDING: "#757575",
    "partly_failed": "#c43e00",
}


def status_badge(status: str):
    return format_html(
        '<strong style="color: {}">{}</strong>',
        STATUS_COLOURS.get(status, "inherit"),
        RunStatus(status).label,
    )


class CollectorRunInline(admin.TabularInline):
    model = CollectorRun
    extra = 0
    can_delete = False
    fields = (
        "collector",
        "window_start",
        "status_display",
        "reason",
        "rows_written",
        "duration_ms",
        "figures",
        "attempts",
    )
    readonly_fields = fields
    ordering = ("window_start", "collector")

    @admin.display(description="Status")
    def status_display(self, obj):
        return status_badge(obj.status)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


admin.site.register_report(
    position=50,
    title="Collector health",
    url_name="collectors_health",
    text="Last successful sync of each collector; stale ones flagged",
)
admin.site.register_page("providers/", ProvidersPage, "collectors_providers")
admin.site.register_report(
    position=55,
    title="Providers",
    url_name="collectors_providers",
    text="Every collector: configured or not, the variables it reads, last success; "
    "test a connection",
)


def sync_run_badge(run: SyncRun):
    """The run's state (OK, partly failed, failed, skipped: nothing ran...) from its counts."""
    state = sync_run_state(status=run.status, ok=run.ok, failed=run.failed)
    return format_html(
        '<strong style="color: {}">{}</strong>',
        STATUS_COLOURS.get(state, "inherit"),
        SYNC_RUN_STATES[state],
    )


@admin.register(SyncRun)
class SyncRunAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "started_at",
        "trigger",
        "status_display",
        "window",
        "ok",
        "skipped",
        "failed",
        "finished_at",
    )
    list_filter = ("status", "trigger")
    inlines = [CollectorRunInline]
    # The state from the counts in place of the stored status (which says only whether
    # anything failed): listed as fields, or the view page would show both.
    fields = readonly_fields = (
        "status_display",
        "trigger",
        "window_start",
        "window_end",
        "started_at",
        "finished_at",
        "requested_by",
    )
    list_per_page = 50
    show_full_result_count = False
    change_list_template = "admin/collectors/syncrun/change_list.html"

    def get_queryset(self, request):
        return sync_runs_counted(super().get_queryset(request))

    @admin.display(description="Status", ordering="status")
    def status_display(self, obj):
        return sync_run_badge(obj)

    @admin.display(description="Window")
    def window(self, obj):
        return (
            str(obj.window_start)
            if (obj.window_end - obj.window_start).days == 1
            else f"{obj.window_start} … {obj.window_end}"
        )

    @admin.display(description="OK", ordering="ok")
    def ok(self, obj):
        return obj.ok

    @admin.display(description="Skipped", ordering="skipped")
    def skipped(self, obj):
        return obj.skipped

    @admin.display(description="Failed", ordering="failed")
    def failed(self, obj):
        return obj.failed

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_urls(self):
        return [
            path(
                "sync-now/",
                self.admin_site.admin_view(self.sync_now_view),
                name="collectors_syncrun_sync_now",
            ),
            path("health/", self.admin_site.admin_view(self.health_view), name="collectors_health"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_sync": request.user.has_perm("collectors.run_sync"),
        }
        return super().changelist_view(request, extra_context)

    def sync_now_view(self, request):
        if not request.user.has_perm("collectors.run_sync"):
            raise PermissionDenied
        return _sync_now(request)

    def health_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "title": "Collector health",
            "health": collector_health(),
            "stale_hours": settings.COLLECTOR_STALE_HOURS,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/collectors/health.html", context)


@require_POST
def _sync_now(request):
    configured = collectors_configured()
    try:
        run = sync_all_start(trigger=Trigger.ADMIN, requested_by=request.user.get_username())
    except SyncAlreadyRunning as running:
        messages.warning(request, f"Not started: {running}.")
        return redirect("admin:collectors_syncrun_changelist")
    messages.add_message(request, *_sync_now_message(run, configured=bool(configured)))
    return redirect(reverse("admin:collectors_syncrun_change", args=[run.pk]))


# The message level of a finished run's state.
STATE_LEVELS = {
    "ok": messages.SUCCESS,
    "partly_failed": messages.WARNING,
    "failed": messages.ERROR,
    "skipped": messages.WARNING,
}


def _sync_now_message(run: SyncRun, *, configured: bool):
    """(level, message) for the run Sync now started, and plainly so when nothing is
    configured (never "OK" then: every collector was skipped)."""
    level, outcome = _run_outcome(run)
    if configured:
        return level, outcome
    return messages.WARNING, format_html(
        "Nothing is configured yet: set the variables of a collector in the environment (.env; "
        'see .env.example) and restart — the <a href="{}">Providers page</a> lists each '
        "collector's variables. {}",
        reverse("admin:collectors_providers"),
        outcome,
    )


def _run_outcome(run: SyncRun) -> tuple[int, str]:
    """The run's real state: still running (a Celery worker has it), or how it ended (with
    Celery eager, the quick start, it ran to the end inside the request)."""
    if run.status not in FINISHED:
        return messages.INFO, (
            f"Sync run #{run.pk} started and runs in the background: refresh this page to "
            "follow it."
        )
    counted = sync_runs_counted(SyncRun.objects.filter(pk=run.pk)).get()
    state = sync_run_state(status=counted.status, ok=counted.ok, failed=counted.failed)
    return STATE_LEVELS[state], (
        f"Sync run #{run.pk} finished ({SYNC_RUN_STATES[state].lower()}): {counted.ok} "
        f"succeeded, {counted.failed} failed, {counted.skipped} skipped (one run per collector "
        "and day)."
    )


# What beat reads from a task's JSON: the task's args and kwargs, and headers it adds its own to.
BEAT_JSON = {
    "args": (list, "a list, e.g. [] or [1, 2]"),
    "kwargs": (dict, 'an object, e.g. {} or {"day": "2026-10-01"}'),
    "headers": (dict, 'an object, e.g. {} or {"origin": "admin"}'),
}


class BeatTaskForm(PeriodicTaskForm):
    """django-celery-beat's form for the schedules that run the collectors, refusing what would
    answer 500 here or stop beat later."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Declared by the form, so not checked by our admin site with the model's text fields.
        for name in ("regtask", "task"):
            self.fields[name].validators.append(validate_text)

    def clean(self):
        # PeriodicTaskForm.clean reads cleaned_data["task"], absent once the field refused it.
        if "task" not in self.cleaned_data:
            return self.cleaned_data
        return super().clean()

    def _clean_json(self, field):
        # Beat reads these with json.loads, which it guards against ValueError only.
        self._json(field)
        return self.cleaned_data[field]

    def clean_headers(self):
        # Unlike args and kwargs, read by our task only, headers go to the broker as they are
        # and to whatever shows messages: their text may hold no NUL or lone surrogate.
        for text in _json_strings(self._json("headers")):
            validate_text(text)
        return self.cleaned_data["headers"]

    def _json(self, field):
        value = json_text_load(self.cleaned_data[field])
        shape, example = BEAT_JSON[field]
        if not isinstance(value, shape):
            raise ValidationError(f"Enter {example}.")
        return value

    def clean_start_time(self):
        # With a crontab, beat adds the next run to the start time: OverflowError near 9999.
        return self._ledger_time("start_time")

    def clean_expires(self):
        return self._ledger_time("expires")

    def _ledger_time(self, field):
        # A year outside the ledger's is a typing mistake here as in any day entered.
        if (value := self.cleaned_data[field]) is not None:
            validate_ledger_day(value.date())
        return value


def _json_strings(value):
    """Every key and string in a JSON value."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _json_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _json_strings(item)
    elif isinstance(value, str):
        yield value


admin.site.unregister(PeriodicTask)


@admin.register(PeriodicTask)
class BeatTaskAdmin(PeriodicTaskAdmin):
    form = BeatTaskForm

"""The run log of the sync engine: a SyncRun per sync, a CollectorRun per collector and day
window, and one lock row per collector so two syncs of the same collector never overlap."""

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models


class Trigger(models.TextChoices):
    COMMAND = "command", "manage.py sync_metrics"
    SCHEDULE = "schedule", "Celery beat"
    API = "api", "API"
    ADMIN = "admin", "Admin"


class RunStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    OK = "ok", "OK"
    SKIPPED = "skipped", "Skipped"
    FAILED = "failed", "Failed"


FINISHED = (RunStatus.OK, RunStatus.SKIPPED, RunStatus.FAILED)


class SyncRun(models.Model):
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.RUNNING)
    window_start = models.DateField()
    window_end = models.DateField(help_text="Exclusive.")
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    requested_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["status"])]
        permissions = [("run_sync", "Can start a sync of every collector")]

    def __str__(self):
        # Not the status: a title or message built from an object read before the run ended
        # would say "Running" for a finished run. The admin shows the state from the counts.
        return f"Sync run #{self.pk}"


class CollectorRun(models.Model):
    sync_run = models.ForeignKey(SyncRun, on_delete=models.CASCADE, related_name="collector_runs")
    collector = models.CharField(max_length=32)
    window_start = models.DateField()
    window_end = models.DateField(help_text="Exclusive.")
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.PENDING)
    reason = models.TextField(blank=True, help_text="Why it was skipped or failed.")
    rows_written = models.PositiveIntegerField(default=0)
    figures = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    notes = models.JSONField(default=list, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["sync_run", "window_start", "collector"]
        constraints = [
            models.UniqueConstraint(
                fields=["sync_run", "collector", "window_start"], name="collector_run_unique"
            )
        ]
        indexes = [models.Index(fields=["collector", "status", "-finished_at"])]

    def __str__(self):
        return f"{self.collector} {self.window_start}: {self.status}"


class SyncLock(models.Model):
    """One row per collector (and one for a whole sync-all), held by whoever is working.

    Taken with a conditional UPDATE rather than a database lock, so no transaction stays open
    while a provider is slow; it expires on its own if a worker dies holding it.
    """

    name = models.CharField(max_length=32, primary_key=True)
    holder = models.CharField(max_length=64, blank=True)
    locked_until = models.DateTimeField(null=True)

    def __str__(self):
        return f"{self.name} held by {self.holder or 'nobody'}"

"""Jobs: the loop's units of work (make a design, check one, verify one at a rung), persisted so the
loop survives restarts. A running job's worker writes a heartbeat; a job whose heartbeat stops is
re-queued (its worker died) or, after too many attempts, failed with the reason."""

from __future__ import annotations

from django.db import models


class Job(models.Model):
    class Kind(models.TextChoices):
        DESIGN = "design", "design"
        CHECK = "check", "check"
        VERIFY = "verify", "verify"

    class Status(models.TextChoices):
        QUEUED = "queued", "queued"
        RUNNING = "running", "running"
        DONE = "done", "done"
        FAILED = "failed", "failed"
        CANCELLED = "cancelled", "cancelled"

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    run = models.ForeignKey("EvolutionRun", null=True, blank=True, on_delete=models.CASCADE, related_name="jobs")
    kind = models.CharField(max_length=8, choices=Kind.choices, db_index=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True)
    params = models.JSONField(default=dict, blank=True, help_text="mode and parents of a design job, …")
    design = models.ForeignKey("Design", null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs")
    verification = models.ForeignKey("Verification", null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="jobs")
    attempts = models.PositiveSmallIntegerField(default=0)
    worker = models.CharField(max_length=200, blank=True, help_text="host:pid of the worker running it")
    progress = models.JSONField(default=dict, blank=True, help_text="the latest progress report")
    error = models.TextField(blank=True)
    failure_category = models.CharField(max_length=32, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["run", "kind", "status"])]

    def __str__(self) -> str:
        return f"{self.kind} job {self.id} ({self.status})"

"""The search's budget and steering queue. The run loop (a Celery worker) reads these; the web app
only writes requests and shows what is left."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from verifier.core.train.ladder import DEFAULT_SEED


class EvolutionRun(models.Model):
    name = models.CharField(max_length=100, unique=True)
    is_active = models.BooleanField(default=True)
    budgets = models.JSONField(default=dict, help_text="verifications allowed per rung, e.g. {\"14M\": 1000}")
    state = models.CharField(max_length=10, default="running", db_index=True,
                             help_text="running, paused (no new jobs) or stopped (running jobs interrupted)")
    settings = models.JSONField(default=dict, blank=True,
                                help_text="evolution.core.loop_settings.LoopSettings: workers, mix, selection")
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-is_active", "-created_at", "-id"]

    def __str__(self) -> str:
        return self.name


class VerificationQuerySet(models.QuerySet):
    def real(self) -> VerificationQuerySet:
        """Without the made-up verifications of demo designs (see `DesignQuerySet.real`)."""
        from evolution.models.design import DEMO_ORIGIN

        return self.exclude(design__origin_kind=DEMO_ORIGIN)


class Verification(models.Model):
    """Training and evaluating one design at one rung with one training seed; unique per (design, rung,
    seed), which is what makes a promotion idempotent. A second seed at the same rung is a
    re-verification of a close call (`evolution.core.selection`)."""

    class Status(models.TextChoices):
        QUEUED = "queued", "queued"
        RUNNING = "running", "running"
        DONE = "done", "done"
        FAILED = "failed", "failed"

    design = models.ForeignKey("Design", on_delete=models.CASCADE, related_name="verifications")
    rung = models.CharField(max_length=16, db_index=True)
    rung_index = models.PositiveSmallIntegerField(default=0, help_text="position of the rung in the ladder")
    seed = models.PositiveIntegerField(default=DEFAULT_SEED, help_text="training seed (`verify --seed`)")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED, db_index=True)
    run = models.ForeignKey(EvolutionRun, null=True, blank=True, on_delete=models.SET_NULL,
                            related_name="verifications")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    report = models.JSONField(null=True, blank=True, help_text="VerificationReport.to_dict()")
    fitness = models.FloatField(null=True, blank=True, db_index=True,
                                help_text="the rung's fitness, recomputed from the raw results (its own unit)")
    fitness_stderr = models.FloatField(null=True, blank=True, help_text="standard error of `fitness`")
    fitness_metric = models.CharField(max_length=16, blank=True, help_text="accuracy, likelihood, bpb or screen")
    metrics = models.JSONField(default=dict, blank=True,
                               help_text="final loss, per-task scores, params; `fitness`: RungFitness.to_dict()")
    gpu_seconds = models.FloatField(default=0.0)
    cpu_seconds = models.FloatField(default=0.0, help_text="CPU time of the verify job and its child processes")
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = VerificationQuerySet.as_manager()

    class Meta:
        ordering = ["design_id", "rung_index"]
        constraints = [models.UniqueConstraint(fields=["design", "rung", "seed"], name="one_verification_per_rung_seed")]

    def __str__(self) -> str:
        seed = "" if self.seed == DEFAULT_SEED else f" seed {self.seed}"
        return f"{self.design_id}@{self.rung}{seed} ({self.status})"


class DesignRequest(models.Model):
    """"Use as a parent": a researcher asks the run loop for a design bred from these parents."""

    class Status(models.TextChoices):
        QUEUED = "queued", "queued"
        TAKEN = "taken", "taken by the run loop"
        DONE = "done", "done"
        FAILED = "failed", "failed"
        CANCELLED = "cancelled", "cancelled"

    run = models.ForeignKey(EvolutionRun, null=True, blank=True, on_delete=models.SET_NULL,
                            related_name="requests")
    mode = models.CharField(max_length=16, default="mutation")
    parents = models.ManyToManyField("Design", related_name="requests")
    note = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    result = models.ForeignKey("Design", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    error = models.TextField(blank=True, help_text="why a failed request failed")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.mode} request {self.id} ({self.status})"

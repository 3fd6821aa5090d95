"""Checker runs and uploads. An upload that fails the checker never becomes a design, but it is
kept, with its report, so that its author can read why."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class CheckRun(models.Model):
    design = models.ForeignKey("Design", null=True, blank=True, on_delete=models.CASCADE,
                               related_name="check_runs")
    tree_hash = models.CharField(max_length=64, blank=True, db_index=True)
    passed = models.BooleanField()
    report = models.JSONField(default=dict, help_text="CheckReport.to_dict()")
    sandbox = models.CharField(max_length=100, blank=True, help_text="how the code was isolated")
    cpu_seconds = models.FloatField(default=0.0, help_text="CPU time of the check (0: run inside a design job)")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"check {self.id} ({'passed' if self.passed else 'failed'})"


class Upload(models.Model):
    class Status(models.TextChoices):
        CHECKING = "checking", "checking"
        ACCEPTED = "accepted", "accepted"
        REJECTED = "rejected", "rejected by the checker"
        UNREADABLE = "unreadable", "could not be read"
        DUPLICATE = "duplicate", "duplicate of an existing design"  # the same tree, or the same behaviour
        FAILED = "failed", "the check could not run"

    class SourceKind(models.TextChoices):
        JSON = "json", "design JSON"
        GAB = "gab", "single-file GAB"
        ZIP = "zip", "unit folder (zip)"

    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="uploads")
    filename = models.CharField(max_length=255, blank=True)
    source_kind = models.CharField(max_length=8, choices=SourceKind.choices)
    name = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices)
    error = models.TextField(blank=True)
    # The text as sent (not for zip archives), so an upload that could not be read can be shown with
    # its error located and sent again after an edit; `error_line` is where the reader stopped.
    source = models.TextField(blank=True)
    error_line = models.PositiveIntegerField(null=True, blank=True)
    tree = models.JSONField(null=True, blank=True)
    check_run = models.OneToOneField(CheckRun, null=True, blank=True, on_delete=models.SET_NULL)
    design = models.ForeignKey("Design", null=True, blank=True, on_delete=models.SET_NULL, related_name="uploads")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name or self.filename} ({self.status})"

"""Annotations and decisions: who said what about a design, and when. Rows are only ever added,
so the tables are the audit log."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Annotation(models.Model):
    design = models.ForeignKey("Design", on_delete=models.CASCADE, related_name="annotations")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    text = models.TextField()
    unit_name = models.CharField(max_length=200, blank=True, help_text="the unit it is about, if any")
    line = models.PositiveIntegerField(null=True, blank=True, help_text="line in the unit's code")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"annotation {self.id} on {self.design_id}"


class Decision(models.Model):
    class Kind(models.TextChoices):
        APPROVE = "approve", "approved"
        VETO = "veto", "vetoed"
        PROMOTE = "promote", "promoted"
        SEED = "seed", "made a seed"
        PARENT = "parent", "used as a parent"

    design = models.ForeignKey("Design", on_delete=models.CASCADE, related_name="decisions")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    kind = models.CharField(max_length=16, choices=Kind.choices, db_index=True)
    reason = models.TextField(blank=True)
    rung = models.CharField(max_length=16, blank=True)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.design_id}"

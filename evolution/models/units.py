"""Units are stored once by content hash and linked to every design that uses them, so "which
designs use this unit" is one query and a unit shared by a thousand designs costs one row of code."""

from __future__ import annotations

from django.db import models


class Unit(models.Model):
    content_hash = models.CharField(max_length=64, unique=True, help_text="GAUNode.content_hash()")
    name = models.CharField(max_length=200, db_index=True)
    code = models.TextField()
    spec = models.TextField(blank=True)
    args = models.JSONField(default=dict, blank=True)
    children = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.content_hash[:10]})"

    @property
    def short_hash(self) -> str:
        return self.content_hash[:10]


class DesignUnit(models.Model):
    """A unit as used in one design: under which name, whether it is the root, in which order."""

    design = models.ForeignKey("Design", on_delete=models.CASCADE, related_name="unit_links")
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="design_links")
    name = models.CharField(max_length=200, db_index=True)
    is_root = models.BooleanField(default=False)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["design_id", "position"]
        constraints = [models.UniqueConstraint(fields=["design", "name"], name="unique_unit_name_in_design")]

    def __str__(self) -> str:
        return f"{self.design_id}:{self.name}"

"""A design is one node of the evolution tree: what it is (GAU tree, code), where it came from
(parents, origin), how it got there (proposal, reviews, implementation trace, cost) and how good it
is (status, fitness, confidence).

Reports that arrive as JSON (review rounds, the implementation trace) are stored as JSON: they are
shown as written and never queried by field.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse

DEMO_ORIGIN = "demo"


class DesignQuerySet(models.QuerySet):
    def real(self) -> DesignQuerySet:
        """Designs the search made or people brought, without `demo_history`'s made-up ones: what
        analytics (leaderboard, charts, reports, selection) count."""
        return self.exclude(origin_kind=DEMO_ORIGIN)


class Design(models.Model):
    class Status(models.TextChoices):
        PROPOSED = "proposed", "proposed"
        IMPLEMENTING = "implementing", "implementing"
        INVALID = "invalid", "invalid"
        UNCHECKED = "unchecked", "not checked"  # no checker ran (ablation, none installed): `failure` says why
        CHECKED = "checked", "checked"
        VERIFYING = "verifying", "verifying"
        VERIFIED = "verified", "verified"
        FAILED = "failed", "failed"

    class Verdict(models.TextChoices):
        """The latest researcher decision, kept on the row so lists can filter on it."""

        NONE = "", "none"
        APPROVED = "approved", "approved"
        VETOED = "vetoed", "vetoed"

    class OriginKind(models.TextChoices):
        SEED = "seed", "seed"
        LLM = "llm", "LLM designer"
        GP = "gp", "GP operator"
        UPLOAD = "upload", "uploaded"
        DEMO = DEMO_ORIGIN, "demo (made up)"

    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=220, unique=True)
    generation = models.PositiveIntegerField(default=0, db_index=True)
    parents = models.ManyToManyField(
        "self", through="DesignParent", through_fields=("child", "parent"), symmetrical=False,
        related_name="children", blank=True,
    )
    units = models.ManyToManyField("Unit", through="DesignUnit", related_name="designs", blank=True)

    origin_kind = models.CharField(max_length=16, choices=OriginKind.choices, db_index=True)
    origin = models.JSONField(default=dict, blank=True, help_text="models per role, operator, uploader…")
    mode = models.CharField(max_length=16, blank=True, help_text="mutation, crossover, scratch or seed")
    summary = models.TextField(blank=True)

    tree = models.JSONField(null=True, blank=True, help_text="GAUTree.to_dict()")
    tree_hash = models.CharField(max_length=64, blank=True, db_index=True)
    root_unit = models.CharField(max_length=200, blank=True)
    outline = models.TextField(blank=True)
    composed_code = models.TextField(blank=True)
    # What the design computes (verifier/core/checker/fingerprint.py), set when its check passed; a design
    # that behaves like one already in the population is invalid and points at it (evolution/services/clones.py).
    fingerprint = models.CharField(max_length=80, blank=True, db_index=True)
    clone_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="clones",
                                 help_text="the design this one behaves exactly like (a functional clone)")

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PROPOSED, db_index=True)
    verdict = models.CharField(max_length=16, choices=Verdict.choices, default="", blank=True, db_index=True)
    verdict_reason = models.TextField(blank=True)
    is_seed = models.BooleanField(default=False, db_index=True, help_text="member of the seed population")

    proposal = models.JSONField(null=True, blank=True)
    review_rounds = models.JSONField(default=list, blank=True)
    trace = models.JSONField(default=list, blank=True)
    failure = models.TextField(blank=True)
    references = models.JSONField(default=list, blank=True)
    designer_metrics = models.JSONField(default=dict, blank=True)

    fitness = models.FloatField(null=True, blank=True, db_index=True,
                                help_text="F: mean of the rung z-scores (verifier.core.train.fitness)")
    fitness_std = models.FloatField(null=True, blank=True, help_text="standard error of F")
    confidence = models.PositiveIntegerField(default=0, help_text="number of rungs verified")

    tokens_in = models.PositiveBigIntegerField(default=0)
    tokens_out = models.PositiveBigIntegerField(default=0)
    cost_dollars = models.FloatField(default=0.0)
    designer_seconds = models.FloatField(default=0.0)
    gpu_seconds = models.FloatField(default=0.0)
    cpu_seconds = models.FloatField(default=0.0, help_text="CPU time of the design job (its checks, GP operators)")

    run = models.ForeignKey("EvolutionRun", null=True, blank=True, on_delete=models.SET_NULL,
                            related_name="designs")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="designs")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = DesignQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        permissions = [
            ("annotate_design", "Can annotate designs"),
            ("decide_design", "Can approve or veto designs"),
            ("promote_design", "Can promote designs to the next rung"),
            ("seed_design", "Can seed designs (upload, mark as seed, use as parent)"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("evolution:design", args=[self.slug])

    @property
    def is_demo(self) -> bool:
        return self.origin_kind == DEMO_ORIGIN

    @property
    def is_vetoed(self) -> bool:
        return self.verdict == self.Verdict.VETOED


class DesignParent(models.Model):
    """Ordered parent links: one for a mutation, several for a crossover (position 0 first)."""

    child = models.ForeignKey(Design, on_delete=models.CASCADE, related_name="parent_links")
    parent = models.ForeignKey(Design, on_delete=models.CASCADE, related_name="child_links")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["child_id", "position"]
        constraints = [models.UniqueConstraint(fields=["child", "parent"], name="unique_design_parent")]

    def __str__(self) -> str:
        return f"{self.parent_id} -> {self.child_id}"

"""Papers, the citation links between them, and ingestion jobs.

The vector store (knowledge.core) holds the chunks and is what search reads; these tables mirror its
paper catalog so that pages can list, join and link papers (and the admin can edit them).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse


class Paper(models.Model):
    class Source(models.TextChoices):
        LIBRARY = "library", "reference library"
        UPLOAD = "upload", "upload"
        FILE = "file", "file"

    paper_id = models.CharField(max_length=120, unique=True, help_text="Library acronym or a slug.")
    title = models.TextField()
    authors = models.JSONField(default=list, blank=True)
    year = models.PositiveSmallIntegerField(null=True, blank=True)
    venue = models.CharField(max_length=300, blank=True)
    url = models.CharField(max_length=500, blank=True)
    arxiv_id = models.CharField(max_length=40, blank=True)
    s2id = models.CharField("Semantic Scholar id", max_length=64, blank=True)
    abstract = models.TextField(blank=True)
    tldr = models.TextField(blank=True)
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.FILE)
    citation_count = models.PositiveIntegerField(null=True, blank=True)
    builds_on = models.ManyToManyField(
        "self", through="Citation", symmetrical=False, related_name="built_upon_by", blank=True
    )
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["paper_id"]
        indexes = [models.Index(fields=["year"]), models.Index(fields=["source"])]

    def __str__(self) -> str:
        return f"{self.paper_id}: {self.title}"

    def get_absolute_url(self) -> str:
        return reverse("knowledge:paper", args=[self.paper_id])

    @property
    def authors_short(self) -> str:
        from .core.records import format_authors

        return format_authors(self.authors or [])

    @property
    def citation(self) -> str:
        from .core.records import citation_string

        return citation_string(self.title, self.authors or [], self.year, self.venue, self.arxiv_id, self.s2id)


class Citation(models.Model):
    """`citing` builds on `cited` (the library's seed_ids, or links added with an upload)."""

    citing = models.ForeignKey(Paper, on_delete=models.CASCADE, related_name="outgoing_citations")
    cited = models.ForeignKey(Paper, on_delete=models.CASCADE, related_name="incoming_citations")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["citing", "cited"], name="knowledge_unique_citation")]

    def __str__(self) -> str:
        return f"{self.citing.paper_id} -> {self.cited.paper_id}"


class IngestJob(models.Model):
    """One ingestion (an upload, a path, or the library), with its progress for the job page."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    class Kind(models.TextChoices):
        UPLOAD = "upload"
        PATH = "path"
        LIBRARY = "library"

    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.UPLOAD)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    filename = models.CharField(max_length=300, blank=True)
    file = models.FileField(upload_to="knowledge/uploads/%Y/%m/", blank=True)
    path = models.CharField(max_length=1000, blank=True)
    meta = models.JSONField(default=dict, blank=True)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    message = models.CharField(max_length=300, blank=True)
    report = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    paper = models.ForeignKey(Paper, null=True, blank=True, on_delete=models.SET_NULL, related_name="ingest_jobs")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"ingest #{self.pk} {self.filename or self.path} ({self.status})"

    def get_absolute_url(self) -> str:
        return reverse("knowledge:job", args=[self.pk])

    @property
    def finished(self) -> bool:
        return self.status in {self.Status.DONE, self.Status.FAILED}

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        return int(100 * self.progress_done / self.progress_total) if self.progress_total else 0

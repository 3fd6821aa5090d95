"""Writes: ingestion into the store, and the paper tables that mirror its catalog.

Ingestion can take minutes (a long PDF, the whole library), so uploads run as an IngestJob whose
progress the job page polls. Jobs run in a background thread of the web process (the embedded default
has no worker for this yet); `run_ingest_job` is the single entry point a Celery task can call instead.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import close_old_connections, transaction
from django.utils import timezone

from .core.documents import SUPPORTED_SUFFIXES, UnsupportedFile
from .core.ingest import IngestReport, ProgressFn
from .core.records import PaperRecord
from .engine import knowledge_base
from .models import Citation, IngestJob, Paper

log = logging.getLogger(__name__)

#: Fields of an upload's form that describe the paper (the rest of the job's meta is ignored).
PAPER_FIELDS = ("paper_id", "title", "authors", "year", "venue", "url", "arxiv_id", "s2id", "abstract")


def sync_papers(paper_ids: Iterable[str], added_by: Any = None) -> list[Paper]:
    """Copy catalog entries into Paper rows, then their citation links (to papers that exist)."""
    kb = knowledge_base()
    records = [r for r in (kb.paper(pid) for pid in dict.fromkeys(paper_ids)) if r is not None]
    papers = [_upsert_paper(record, added_by) for record in records]
    with transaction.atomic():
        by_id = {p.paper_id: p for p in Paper.objects.filter(paper_id__in={c for r in records for c in r.cites})}
        for record, paper in zip(records, papers, strict=True):
            wanted = {by_id[c].pk for c in record.cites if c in by_id and c != record.paper_id}
            Citation.objects.filter(citing=paper).exclude(cited_id__in=wanted).delete()
            existing = set(Citation.objects.filter(citing=paper).values_list("cited_id", flat=True))
            Citation.objects.bulk_create([Citation(citing=paper, cited_id=pk) for pk in wanted - existing])
        # Papers imported earlier may cite these new ones: link them now.
        new_ids = [r.paper_id for r in records]
        for citing_record in kb.papers():
            if any(pid in citing_record.cites for pid in new_ids) and citing_record.paper_id not in new_ids:
                citing = Paper.objects.filter(paper_id=citing_record.paper_id).first()
                if citing is None:
                    continue
                for paper in papers:
                    if paper.paper_id in citing_record.cites:
                        Citation.objects.get_or_create(citing=citing, cited=paper)
    return papers


def _upsert_paper(record: PaperRecord, added_by: Any) -> Paper:
    values = {
        "title": record.title,
        "authors": list(record.authors),
        "year": record.year,
        "venue": record.venue[:300],
        "url": record.url[:500],
        "arxiv_id": record.arxiv_id[:40],
        "s2id": record.s2id[:64],
        "abstract": record.abstract,
        "tldr": record.tldr,
        "source": record.source if record.source in Paper.Source.values else Paper.Source.FILE,
        "citation_count": record.citation_count,
    }
    paper, created = Paper.objects.update_or_create(paper_id=record.paper_id, defaults=values)
    if created and added_by is not None and getattr(added_by, "is_authenticated", False):
        paper.added_by = added_by
        paper.save(update_fields=["added_by"])
    return paper


def import_library(
    root: str | Path,
    paper_ids: Iterable[str] | None = None,
    include_fulltext: bool = True,
    progress: ProgressFn | None = None,
) -> IngestReport:
    """Import the reference library into the store and mirror its papers and citation links."""
    report = knowledge_base().import_library(root, paper_ids, include_fulltext, progress)
    sync_papers(report.paper_ids)
    return report


def ingest_path(
    path: str | Path,
    meta: dict[str, Any] | None = None,
    source: str = "file",
    progress: ProgressFn | None = None,
    added_by: Any = None,
) -> IngestReport:
    report = knowledge_base().ingest_path(path, meta, source, progress)
    sync_papers(report.paper_ids, added_by)
    return report


def create_upload_job(upload: UploadedFile, meta: dict[str, Any], user: Any) -> IngestJob:
    """Store the uploaded file and queue its ingestion; the caller starts it with `start_ingest_job`."""
    name = Path(upload.name or "upload").name
    if Path(name).suffix.lower() not in SUPPORTED_SUFFIXES:
        raise UnsupportedFile(f"{name}: supported files are {', '.join(sorted(SUPPORTED_SUFFIXES))}")
    clean_meta = {k: meta[k] for k in PAPER_FIELDS if meta.get(k) not in (None, "")}
    job = IngestJob(kind=IngestJob.Kind.UPLOAD, filename=name, meta=clean_meta,
                    created_by=user if getattr(user, "is_authenticated", False) else None)
    job.file.save(name, upload, save=False)
    job.save()
    return job


def start_ingest_job(job: IngestJob) -> None:
    """Run the job now when settings ask (GENESYS_KNOWLEDGE_INGEST_INLINE, tests and scripts); else in a
    background thread started once the job row is committed (the thread reads it from the database)."""
    if getattr(settings, "GENESYS_KNOWLEDGE_INGEST_INLINE", False):
        run_ingest_job(job.pk)
        return

    def launch() -> None:
        threading.Thread(target=_run_in_thread, args=(job.pk,), name=f"ingest-{job.pk}", daemon=True).start()

    transaction.on_commit(launch)


def _run_in_thread(job_id: int) -> None:
    try:
        run_ingest_job(job_id)
    finally:
        close_old_connections()


def _job_progress(job_id: int, every_s: float = 1.0) -> Callable[[int, int, str], None]:
    last = [0.0]

    def progress(done: int, total: int, message: str) -> None:
        now = time.monotonic()
        if done in (0, total) or now - last[0] >= every_s:
            last[0] = now
            IngestJob.objects.filter(pk=job_id).update(progress_done=done, progress_total=total, message=message[:300])

    return progress


def run_ingest_job(job_id: int) -> IngestJob:
    """Ingest the job's file (or path); record the outcome on the job. Never raises for a bad file."""
    job = IngestJob.objects.get(pk=job_id)
    job.status, job.started_at = IngestJob.Status.RUNNING, timezone.now()
    job.save(update_fields=["status", "started_at"])
    try:
        meta = dict(job.meta)
        progress = _job_progress(job.pk)
        if job.kind == IngestJob.Kind.LIBRARY:
            report = import_library(job.path, progress=progress)
        else:
            path = job.file.path if job.file else job.path
            source = "upload" if job.kind == IngestJob.Kind.UPLOAD else "file"
            report = _ingest_named(path, job.filename, meta, source, progress, job.created_by)
        job.report = {k: v for k, v in asdict(report).items() if k != "seconds"} | {"seconds": round(report.seconds, 2)}
        job.paper = Paper.objects.filter(paper_id__in=report.paper_ids).first()
        job.status = IngestJob.Status.DONE
        job.progress_done = job.progress_total = max(job.progress_total, report.chunks_added)
    except Exception as error:  # a bad PDF must fail its job, not the worker
        log.exception("ingest job %s failed", job_id)
        job.status, job.error = IngestJob.Status.FAILED, f"{type(error).__name__}: {error}"
    job.finished_at = timezone.now()
    job.save()
    return job


def _ingest_named(
    path: str, display_name: str, meta: dict[str, Any], source: str, progress: ProgressFn, user: Any
) -> IngestReport:
    """Ingest a stored upload under its original name (the storage path may carry a random suffix)."""
    from .core.documents import read_document
    from .core.ingest import Ingestor

    kb = knowledge_base()
    document = read_document(path, meta, source, display_name=display_name or None)
    report = Ingestor(kb.store).ingest([document], progress)
    sync_papers(report.paper_ids, user)
    return report


def delete_paper(paper_id: str) -> None:
    knowledge_base().delete_paper(paper_id)
    Paper.objects.filter(paper_id=paper_id).delete()

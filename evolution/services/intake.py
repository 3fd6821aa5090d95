"""Seed a design by upload: read it in the request, check it in a worker, and only then let it into
the tree.

`submit_design` (the page and the API) reads the upload, refuses what cannot be read or is already in
the tree, and queues a `check` job: the upload is CHECKING until a worker's `check_upload` runs the
checker in its sandbox, stores the verdict and records `upload.checked` (broadcast to the pages). A
rejected upload is kept with its checker report so that its author can read the findings; it never
becomes a node of the tree. An upload identical to a design in the tree, or one that behaves exactly
like a design in the population (a functional clone: `evolution.services.clones`), is a DUPLICATE
that names that design.
"""

from __future__ import annotations

from django.db import transaction

from evolution.core import reports
from evolution.core.clip import clip
from evolution.core.intake import MAX_UPLOAD_BYTES, IntakeError, read_design, source_text
from evolution.models import Design, Job, Upload
from evolution.services import jobs
from evolution.services.checks import CheckerUnavailable, checker_available, run_checker, store_check
from evolution.services.clones import clone_message, find_twin, report_fingerprint
from evolution.services.designs import create_design
from evolution.services.events import record_event
from evolution.services.runs import ensure_active_run
from genesys_site.permissions import SEED, require
from verifier.core.gau.tree import GAUTree

NAME_MAX = 200  # Design.name and Upload.name


def submit_design(user, *, filename: str = "", data: bytes | None = None, text: str = "", name: str = "") -> Upload:
    """Read an uploaded design and queue its check; the Upload is CHECKING (or says why not).

    Raises `CheckerUnavailable` before writing anything when the checker is not installed.
    """
    require(user, SEED)
    filename = filename[:255]
    if not checker_available():
        raise CheckerUnavailable("the design checker is not installed on this server")
    raw = data if data is not None else text.encode()
    source = filename or ("pasted.json" if text.lstrip().startswith("{") else "pasted.py")
    text_sent = source_text(source, raw)
    try:
        tree, kind = read_design(source, raw)
    except IntakeError as exc:
        return Upload.objects.create(
            author=user, filename=filename, source_kind=_kind_guess(source), name=name[:NAME_MAX],
            status=Upload.Status.UNREADABLE, error=str(exc), source=text_sent, error_line=exc.line,
        )
    if name.strip():
        tree.name = name.strip()
    if len(tree.name) > NAME_MAX:
        return Upload.objects.create(
            author=user, filename=filename, source_kind=kind, name=tree.name[:NAME_MAX],
            status=Upload.Status.UNREADABLE, error=f"the design's name is longer than {NAME_MAX} characters",
            source=text_sent,
        )
    twin = _twin(tree)
    if twin is not None:
        return _duplicate(user, filename, kind, tree, twin)
    with transaction.atomic():
        upload = Upload.objects.create(author=user, filename=filename, source_kind=kind, name=tree.name,
                                       status=Upload.Status.CHECKING, tree=tree.to_dict(), source=text_sent)
        record_event("upload.checking", {"upload": upload.id, "name": tree.name}, actor=user)
        jobs.create_job(ensure_active_run(), Job.Kind.CHECK, params={"upload": upload.id})
    return upload


def check_upload(upload_id: int) -> Upload:
    """The worker's half: check a CHECKING upload in the sandbox and store the verdict, once.

    A second delivery of the same job finds the upload decided and changes nothing. When the checker
    cannot run here, the upload fails with the reason (nothing unchecked enters the tree).
    """
    upload = Upload.objects.select_related("author").get(id=upload_id)
    if upload.status != Upload.Status.CHECKING:
        return upload
    tree = GAUTree.from_dict(upload.tree)
    try:
        report = run_checker(tree)  # sandboxed subprocess; slow, so outside any transaction
    except CheckerUnavailable as exc:
        return _decide(upload, Upload.Status.FAILED, f"the check could not run: {exc}")
    with transaction.atomic():
        upload = Upload.objects.select_for_update().get(id=upload_id)
        if upload.status != Upload.Status.CHECKING:
            return upload
        tree_hash = tree.content_hash()
        check = store_check(report, user=upload.author, tree_hash=tree_hash)
        upload.check_run = check
        if not check.passed:
            return _decide(upload, Upload.Status.REJECTED, rejection_reason(report))
        twin = _twin(tree)  # another upload of the same design may have been accepted meanwhile
        if twin is not None:
            upload.design = twin
            return _decide(upload, Upload.Status.DUPLICATE, f"identical to the design {twin.name!r} already in the tree")
        fingerprint = report_fingerprint(report)
        clone_of = find_twin(fingerprint)  # different code, same behaviour: the researcher is told which
        if clone_of is not None:
            upload.design = clone_of
            return _decide(upload, Upload.Status.DUPLICATE, clone_message(clone_of))
        design = create_design(
            tree=tree, name=tree.name, origin_kind=Design.OriginKind.UPLOAD,
            origin={"kind": "upload", "uploader": upload.author.get_username(), "filename": upload.filename,
                    "format": upload.source_kind},
            mode="seed", status=Design.Status.CHECKED, user=upload.author, is_seed=True,
            summary=str(tree.metadata.get("description", ""))[:2000], fingerprint=fingerprint,
        )
        check.design = design
        check.save(update_fields=["design"])
        upload.design = design
        return _decide(upload, Upload.Status.ACCEPTED, "")


def fail_check(upload_id: int, reason: str) -> None:
    """A check job that could not finish (crashed, or its worker kept dying): the upload says why."""
    with transaction.atomic():
        upload = Upload.objects.select_for_update().filter(id=upload_id, status=Upload.Status.CHECKING).first()
        if upload is not None:
            _decide(upload, Upload.Status.FAILED, f"the check could not finish: {reason}"[:4000])


def _decide(upload: Upload, status: str, error: str) -> Upload:
    with transaction.atomic():
        upload.status, upload.error = status, error
        upload.save(update_fields=["status", "error", "check_run", "design"])
        record_event("upload.checked", {"upload": upload.id, "name": upload.name, "status": status,
                                        "passed": status == Upload.Status.ACCEPTED, "error": error[:500],
                                        "reason": clip(error, 500)},
                     design=upload.design if status == Upload.Status.ACCEPTED else None, actor=upload.author)
    return upload


def rejection_reason(report: dict | None) -> str:
    """Why the checker said no, in one sentence: its error findings (the first three), where they are."""
    errors = [f for f in reports.findings(report) if f["severity"] == "error"]
    if not errors:
        return "the checker did not pass the design"
    shown = []
    for f in errors[:3]:
        where = f" ({f['unit']}{', line ' + str(f['line']) if f.get('line') else ''})" if f.get("unit") else ""
        shown.append(f"{f['message']}{where}")
    more = f"; and {len(errors) - 3} more" if len(errors) > 3 else ""
    return f"the checker found {len(errors)} error{'s' if len(errors) != 1 else ''}: " + "; ".join(shown) + more


def _twin(tree: GAUTree) -> Design | None:
    return Design.objects.filter(tree_hash=tree.content_hash()).order_by("id").first()


def _duplicate(user, filename: str, kind: str, tree: GAUTree, twin: Design) -> Upload:
    return Upload.objects.create(
        author=user, filename=filename, source_kind=kind, name=tree.name, status=Upload.Status.DUPLICATE,
        error=f"identical to the design {twin.name!r} already in the tree", tree=tree.to_dict(), design=twin,
    )


def _kind_guess(filename: str) -> str:
    lower = filename.lower()
    return Upload.SourceKind.ZIP if lower.endswith(".zip") else (
        Upload.SourceKind.JSON if lower.endswith(".json") else Upload.SourceKind.GAB
    )


__all__ = ["MAX_UPLOAD_BYTES", "check_upload", "fail_check", "submit_design"]

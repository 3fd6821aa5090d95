"""Seed a design by upload: read it, check it in the sandbox, and only then let it into the tree.

A rejected upload is kept (with its checker report) so that its author can read the findings;
it never becomes a node of the tree.
"""

from __future__ import annotations

from django.db import transaction

from evolution.core.intake import IntakeError, read_design
from evolution.models import Design, Upload
from evolution.services.checks import run_checker, store_check
from evolution.services.designs import create_design
from evolution.services.events import record_event
from genesys_site.permissions import SEED, require


def submit_design(user, *, filename: str = "", data: bytes | None = None, text: str = "", name: str = "") -> Upload:
    """Read, check and (when it passes) store an uploaded design as a generation-0 seed.

    Raises `CheckerUnavailable` before writing anything when the checker is not installed.
    """
    require(user, SEED)
    raw = data if data is not None else text.encode()
    source = filename or ("pasted.json" if text.lstrip().startswith("{") else "pasted.py")
    try:
        tree, kind = read_design(source, raw)
    except IntakeError as exc:
        return Upload.objects.create(
            author=user, filename=filename, source_kind=_kind_guess(source), name=name,
            status=Upload.Status.UNREADABLE, error=str(exc),
        )
    if name.strip():
        tree.name = name.strip()
    tree_hash = tree.content_hash()
    twin = Design.objects.filter(tree_hash=tree_hash).order_by("id").first()
    if twin is not None:
        return Upload.objects.create(
            author=user, filename=filename, source_kind=kind, name=tree.name, status=Upload.Status.DUPLICATE,
            error=f"identical to the design {twin.name!r} already in the tree", tree=tree.to_dict(), design=twin,
        )

    report = run_checker(tree)  # sandboxed subprocess; slow, so outside any transaction
    with transaction.atomic():
        check = store_check(report, user=user, tree_hash=tree_hash)
        if not check.passed:
            upload = Upload.objects.create(
                author=user, filename=filename, source_kind=kind, name=tree.name,
                status=Upload.Status.REJECTED, error="the checker found errors", tree=tree.to_dict(),
                check_run=check,
            )
            record_event("upload.rejected", {"upload": upload.id, "name": tree.name}, actor=user)
            return upload
        design = create_design(
            tree=tree, name=tree.name, origin_kind=Design.OriginKind.UPLOAD,
            origin={"kind": "upload", "uploader": user.get_username(), "filename": filename, "format": kind},
            mode="seed", status=Design.Status.CHECKED, user=user, is_seed=True,
            summary=str(tree.metadata.get("description", ""))[:2000],
        )
        check.design = design
        check.save(update_fields=["design"])
        return Upload.objects.create(
            author=user, filename=filename, source_kind=kind, name=design.name, status=Upload.Status.ACCEPTED,
            tree=tree.to_dict(), check_run=check, design=design,
        )


def _kind_guess(filename: str) -> str:
    lower = filename.lower()
    return Upload.SourceKind.ZIP if lower.endswith(".zip") else (
        Upload.SourceKind.JSON if lower.endswith(".json") else Upload.SourceKind.GAB
    )

"""Annotate a design, optionally pinned to one of its units and a line of that unit's code."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from evolution.models import Annotation, Design
from evolution.services.events import record_event
from genesys_site.permissions import ANNOTATE, require

MAX_TEXT = 10_000


def annotate(design: Design, user, text: str, unit_name: str = "", line: int | None = None) -> Annotation:
    require(user, ANNOTATE)
    text = (text or "").strip()
    if not text:
        raise ValidationError({"text": "an annotation needs some text"})
    if len(text) > MAX_TEXT:
        raise ValidationError({"text": f"keep annotations under {MAX_TEXT} characters"})
    unit_name = (unit_name or "").strip()
    if line is not None and not unit_name:
        raise ValidationError({"line": "a line number needs a unit"})
    if unit_name:
        link = design.unit_links.select_related("unit").filter(name=unit_name).first()
        if link is None:
            raise ValidationError({"unit_name": f"{design.name} has no unit {unit_name!r}"})
        if line is not None and not 1 <= line <= len(link.unit.code.splitlines()):
            raise ValidationError({"line": f"{unit_name} has {len(link.unit.code.splitlines())} lines"})
    with transaction.atomic():
        note = Annotation.objects.create(design=design, author=user, text=text, unit_name=unit_name, line=line)
        record_event("annotation.created", {
            "annotation": note.id, "text": text[:280], "unit": unit_name, "line": line,
        }, design=design, actor=user)
    return note

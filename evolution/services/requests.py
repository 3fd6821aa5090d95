"""The end of a researcher's design request ("Use as a parent…"): it made a design, or it failed and
says why. Each end is an event on the first parent, so the page where it was asked for updates."""

from __future__ import annotations

from django.db import transaction

from evolution.models import Design, DesignRequest
from evolution.services.events import record_event


def _announce(request: DesignRequest, kind: str, payload: dict) -> None:
    parent = request.parents.order_by("id").first()
    record_event(kind, {"request": request.id, "mode": request.mode, **payload}, design=parent)


def finish_request(request_id: int, design: Design) -> None:
    with transaction.atomic():
        request = DesignRequest.objects.select_for_update().filter(id=request_id).first()
        if request is None:
            return
        request.status, request.result, request.error = DesignRequest.Status.DONE, design, ""
        request.save(update_fields=["status", "result", "error"])
        _announce(request, "request.done", {"result": {"id": design.id, "name": design.name, "slug": design.slug,
                                                       "status": design.status}})


def fail_request(request_id: int, message: str) -> None:
    with transaction.atomic():
        request = DesignRequest.objects.select_for_update().filter(id=request_id).first()
        if request is None or request.status == DesignRequest.Status.DONE:
            return
        request.status, request.error = DesignRequest.Status.FAILED, message[:4000]
        request.save(update_fields=["status", "error"])
        _announce(request, "request.failed", {"error": message[:500]})

"""Researchers' design requests ("Use as a parent…") and where each stands: queued, designing, made
design X, or failed and why — shown where the request was made (the design page) and on the dashboard."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from evolution.models import Design, DesignRequest, EvolutionRun, Job

RECENT = 8


def _job_of(request: DesignRequest) -> Job | None:
    return Job.objects.filter(kind=Job.Kind.DESIGN, params__request=request.id).order_by("-id").first()


def request_state(request: DesignRequest, run_state: str = "") -> dict[str, Any]:
    """state: queued | designing | done | failed | cancelled, and a line for people."""
    job = _job_of(request) if request.status == DesignRequest.Status.TAKEN else None
    result = request.result
    if request.status == DesignRequest.Status.DONE:
        text = f"made {result.name} ({result.status})" if result else "made a design (since deleted)"
        return {"state": "done", "text": text, "result": result, "job": job}
    if request.status == DesignRequest.Status.FAILED:
        return {"state": "failed", "text": f"failed: {request.error or 'no reason recorded'}", "job": job}
    if request.status == DesignRequest.Status.CANCELLED:
        return {"state": "cancelled", "text": "cancelled", "job": job}
    if job is not None and job.status == Job.Status.RUNNING:
        progress = job.progress or {}
        doing = progress.get("phase") or progress.get("message") or "designing"
        return {"state": "designing", "text": f"designing (job #{job.id}): {doing}", "job": job}
    if job is not None:
        return {"state": "queued", "text": f"queued for a design worker (job #{job.id}); its own slot, "
                                           "not held back by the verification backlog", "job": job}
    if run_state == "stopped":
        return {"state": "queued", "text": "queued: the run is stopped; it starts when the run runs or pauses",
                "job": None}
    return {"state": "queued", "text": "queued: the conductor gives it a design job at its next step", "job": None}


def request_rows(requests: QuerySet[DesignRequest] | list[DesignRequest]) -> list[dict[str, Any]]:
    rows = []
    for request in requests:
        parents = list(request.parents.order_by("id"))
        rows.append({"request": request, "parents": parents,
                     **request_state(request, request.run.state if request.run else "")})
    return rows


def _with_relations(qs: QuerySet[DesignRequest]) -> QuerySet[DesignRequest]:
    return qs.select_related("run", "result", "requested_by").order_by("-id")


def requests_of(design: Design) -> list[dict[str, Any]]:
    """The requests that use `design` as a parent, newest first."""
    return request_rows(_with_relations(design.requests.all())[:RECENT])


def recent_requests(run: EvolutionRun | None) -> list[dict[str, Any]]:
    qs = DesignRequest.objects.all() if run is None else DesignRequest.objects.filter(run=run)
    return request_rows(_with_relations(qs)[:RECENT])

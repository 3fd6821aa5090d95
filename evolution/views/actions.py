"""Researcher actions on a design: approve, veto, annotate, promote, make a seed, use as a parent.

POST only, CSRF-checked, and each checks its right on the server (here and again in the service).
An htmx request gets the updated panel back; a plain form post is redirected to the design page.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from evolution.forms import AnnotationForm, ParentForm, PromoteForm, ReasonForm, VetoForm
from evolution.selectors.design_page import design_page
from evolution.selectors.designs import find_design, get_design
from evolution.services import annotations as annotation_service
from evolution.services import decisions, verifications
from evolution.views.common import page
from genesys_site.permissions import ANNOTATE, DECIDE, PROMOTE, SEED, action_required


def _errors(exc: ValidationError) -> str:
    if hasattr(exc, "message_dict"):
        return "; ".join(m for msgs in exc.message_dict.values() for m in msgs)
    return "; ".join(exc.messages)


def _form_errors(form) -> str:
    return "; ".join(str(e) for errs in form.errors.values() for e in errs)


def _respond(request, design, panel: str, error: str = "", ok: str = ""):
    """The updated panel for htmx; otherwise a redirect with a message (post/redirect/get)."""
    if request.htmx:
        ctx = design_page(get_design(design.slug))
        # On an error the form comes back as it was sent, so nothing typed is lost.
        ctx.update({"panel_error": error, "panel_ok": ok, "posted": request.POST if error else {}})
        return page(request, f"evolution/partials/{panel}.html", ctx)  # 200: htmx swaps only 2xx
    if error:
        messages.error(request, error)
    elif ok:
        messages.success(request, ok)
    return redirect(design.get_absolute_url() + f"#{panel}")


@require_POST
@action_required(DECIDE)
def approve(request, slug: str):
    design = get_design(slug)
    form = ReasonForm(request.POST)
    form.is_valid()
    decisions.approve(design, request.user, form.cleaned_data.get("reason", ""))
    return _respond(request, design, "decisions", ok=f"{design.name} approved")


@require_POST
@action_required(DECIDE)
def veto(request, slug: str):
    design = get_design(slug)
    form = VetoForm(request.POST)
    if not form.is_valid():
        return _respond(request, design, "decisions", error=_form_errors(form))
    decisions.veto(design, request.user, form.cleaned_data["reason"])
    return _respond(request, design, "decisions", ok=f"{design.name} vetoed")


@require_POST
@action_required(SEED)
def make_seed(request, slug: str):
    design = get_design(slug)
    form = ReasonForm(request.POST)
    form.is_valid()
    try:
        decisions.make_seed(design, request.user, form.cleaned_data.get("reason", ""))
    except ValidationError as exc:
        return _respond(request, design, "decisions", error=_errors(exc))
    return _respond(request, design, "decisions", ok=f"{design.name} is now a seed")


@require_POST
@action_required(SEED)
def use_as_parent(request, slug: str):
    design = get_design(slug)
    form = ParentForm(request.POST)
    if not form.is_valid():
        return _respond(request, design, "decisions", error=_form_errors(form))
    others = []
    name = form.cleaned_data["co_parent"].strip()
    if name:
        other = find_design(name)
        if other is None:
            return _respond(request, design, "decisions", error=f"no design named {name!r}")
        others.append(other)
    try:
        req = decisions.use_as_parent(design, request.user, others, form.cleaned_data["note"])
    except ValidationError as exc:
        return _respond(request, design, "decisions", error=_errors(exc))
    return _respond(request, design, "decisions", ok=f"queued a {req.mode} request (#{req.id}): it runs in a design "
                    "slot of its own, whatever the backlog; its state is shown below")


@require_POST
@action_required(PROMOTE)
def promote(request, slug: str):
    design = get_design(slug)
    form = PromoteForm(request.POST)
    form.is_valid()
    try:
        verification, created = verifications.promote(design, request.user, form.cleaned_data.get("rung") or None)
    except ValidationError as exc:
        return _respond(request, design, "decisions", error=_errors(exc))
    note = "queued" if created else f"already {verification.status}"
    return _respond(request, design, "decisions", ok=f"verification at {verification.rung} {note}")


@require_POST
@action_required(ANNOTATE)
def annotate(request, slug: str):
    design = get_design(slug)
    form = AnnotationForm(request.POST)
    if not form.is_valid():
        return _respond(request, design, "annotations", error=_form_errors(form))
    try:
        annotation_service.annotate(design, request.user, form.cleaned_data["text"],
                             form.cleaned_data.get("unit_name") or "", form.cleaned_data.get("line"))
    except ValidationError as exc:
        return _respond(request, design, "annotations", error=_errors(exc))
    return _respond(request, design, "annotations", ok="annotation added")

"""Create designs: the one path by which a node enters the evolution tree, whether it comes from a
designer, a seed or an upload. It stores everything the design page shows and records the event."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.text import slugify

from designer.core.result import DesignerResult
from evolution.models import Design, DesignParent
from evolution.services.checks import store_check
from evolution.services.clones import judge
from evolution.services.events import record_event
from evolution.services.units import link_units
from verifier.core.gau.composer import compose, tree_outline
from verifier.core.gau.roles import store_roles
from verifier.core.gau.tree import GAUTree, TreeError


def _free(field: str, base: str) -> str:
    """`base`, or `base-2`, `base-3`… whichever is not taken yet."""
    taken = set(Design.objects.filter(**{f"{field}__startswith": base}).values_list(field, flat=True))
    if base not in taken:
        return base
    i = 2
    while f"{base}-{i}" in taken:
        i += 1
    return f"{base}-{i}"


def _renamed(text: str, requested: str, chosen: str) -> str:
    """A summary that is just the requested name (a GP designer's title) names the design as stored:
    "gpt~RWKV6Attention" became "gpt~RWKV6Attention-2" when the first name was taken."""
    return chosen if requested != chosen and text.strip() == requested else text


def _retitled(fields: dict[str, Any], requested: str, chosen: str) -> dict[str, Any]:
    """The same for a proposal whose title is the requested name."""
    proposal = fields.get("proposal")
    if isinstance(proposal, dict) and requested != chosen and str(proposal.get("title", "")).strip() == requested:
        return {**fields, "proposal": {**proposal, "title": chosen}}
    return fields


def _named_tree(tree: GAUTree | None, chosen: str) -> dict | None:
    """The stored tree carries the design's stored name (the name is not part of the content hash)."""
    if tree is None:
        return None
    data = tree.to_dict()
    data["name"] = chosen
    return data


def _resolve_parents(parents: Sequence[Design | str | int]) -> list[Design]:
    out: list[Design] = []
    for p in parents:
        if isinstance(p, Design):
            design = p
        elif isinstance(p, int):
            design = Design.objects.get(pk=p)
        else:
            design = (
                Design.objects.filter(name=p).first()
                or Design.objects.filter(slug=p).first()
                or Design.objects.filter(tree_hash=p).order_by("id").first()
            )
            if design is None:
                raise Design.DoesNotExist(f"no parent design named {p!r}")
        if design not in out:
            out.append(design)
    return out


def create_design(
    *,
    tree: GAUTree | None,
    name: str,
    origin_kind: str,
    origin: dict[str, Any] | None = None,
    mode: str = "",
    parents: Sequence[Design | str | int] = (),
    status: str = Design.Status.CHECKED,
    user=None,
    summary: str = "",
    is_seed: bool = False,
    check_report: dict[str, Any] | None = None,
    **fields: Any,
) -> Design:
    """Store a design with its units, parents and check report, then record `design.created`.

    A design stored as checked whose report makes it a functional clone of a design in the population
    is stored invalid instead, pointing at its twin (`evolution.services.clones`).
    `fields` are further `Design` columns (proposal, review_rounds, trace, cost fields, fingerprint…).
    """
    parent_rows = _resolve_parents(parents)
    composed, outline, tree_hash, failure = "", "", "", fields.pop("failure", "")
    if tree is not None:
        if "roles" not in tree.metadata:  # every stored design knows its units' roles (GP, LLM, upload, seed)
            tree = store_roles(tree.copy())
        tree_hash = tree.content_hash()
        outline = tree_outline(tree)
        try:
            composed = compose(tree)
        except (TreeError, SyntaxError) as exc:
            failure = failure or f"does not compose: {exc}"
            status = Design.Status.INVALID
    if status == Design.Status.CHECKED and check_report is not None:
        verdict = judge(check_report)  # a functional clone of a design in the population stays out
        check_report = verdict.report
        fields.setdefault("fingerprint", verdict.fingerprint)
        if verdict.twin is not None:
            status, is_seed, failure = Design.Status.INVALID, False, verdict.failure
            fields["clone_of"] = verdict.twin
    generation = max((p.generation for p in parent_rows), default=-1) + 1
    user = user if getattr(user, "is_authenticated", False) else None
    base = (name or (tree.name if tree else "") or "design").strip()[:190]

    for _attempt in range(5):
        name_taken = _free("name", base)
        try:
            with transaction.atomic():
                design = Design.objects.create(
                    name=name_taken,
                    slug=_free("slug", slugify(base)[:200] or "design"),
                    generation=generation,
                    origin_kind=origin_kind,
                    origin=origin or {},
                    mode=mode,
                    summary=_renamed(summary, base, name_taken),
                    tree=_named_tree(tree, name_taken),
                    tree_hash=tree_hash,
                    root_unit=tree.root if tree else "",
                    outline=outline,
                    composed_code=composed,
                    status=status,
                    is_seed=is_seed,
                    failure=failure,
                    created_by=user,
                    **_retitled(fields, base, name_taken),
                )
                break
        except IntegrityError:
            continue  # a concurrent create took the name; pick the next free one
    else:
        raise IntegrityError(f"could not find a free name for design {base!r}")

    with transaction.atomic():
        DesignParent.objects.bulk_create(
            [DesignParent(child=design, parent=p, position=i) for i, p in enumerate(parent_rows)]
        )
        if tree is not None:
            link_units(design, tree)
        if check_report is not None:
            store_check(check_report, design=design, user=user)
        record_event("design.created", {
            "id": design.id, "name": design.name, "slug": design.slug, "generation": design.generation,
            "status": design.status, "origin_kind": design.origin_kind, "fitness": design.fitness,
            "confidence": design.confidence, "parents": [p.id for p in parent_rows],
        }, design=design, actor=user)
    return design


def create_design_from_result(result: DesignerResult, parents: Sequence[Design | str | int], user=None) -> Design:
    """Store what a designer handed back: proposal, review rounds, trace, check report, cost, origin.

    A failed run is stored too (status invalid, no tree when none was produced): its cost was spent
    and its reviews and trace say why it failed.
    """
    origin = dict(result.origin or {})
    origin.setdefault("mode", result.mode)
    if result.prompt_version:
        origin.setdefault("prompt_version", result.prompt_version)
    origin_kind = {"gp": Design.OriginKind.GP, "demo": Design.OriginKind.DEMO}.get(origin.get("kind"), Design.OriginKind.LLM)
    report = result.check_report
    # Checked only when a check ran and passed: a missing report or a missing verdict is not a pass.
    passed = isinstance(report, dict) and report.get("passed") is True
    ok = result.status == "implemented" and result.tree is not None and passed
    if ok:
        status = Design.Status.CHECKED
    elif result.tree is not None and (result.status == "unchecked" or (result.status == "implemented" and not report)):
        status = Design.Status.UNCHECKED
    else:
        status = Design.Status.INVALID
    failure = result.failure or ""
    if status == Design.Status.UNCHECKED and not failure:
        failure = "not checked: the designer handed back no check report"
    proposal = result.proposal or {}
    summary = str(proposal.get("title") or proposal.get("motivation") or "")[:500]
    cost = result.cost
    return create_design(
        tree=result.tree,
        name=result.name or (result.tree.name if result.tree else f"{result.mode}-design"),
        origin_kind=origin_kind,
        origin=origin,
        mode=result.mode,
        parents=parents or result.parents,
        status=status,
        user=user,
        summary=summary,
        check_report=report,
        proposal=result.proposal,
        review_rounds=list(result.review_rounds),
        trace=list(result.trace),
        failure=failure,
        references=list(result.references),
        designer_metrics=dict(result.metrics),
        tokens_in=cost.tokens_in,
        tokens_out=cost.tokens_out,
        cost_dollars=cost.dollars,
        designer_seconds=cost.seconds,
    )


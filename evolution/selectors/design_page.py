"""Everything the design page shows, gathered in a fixed number of queries."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from evolution.core import reports
from evolution.core.diagram import unit_diagram
from evolution.core.highlight import highlight_lines
from evolution.core.ladder import RungInfo, chance_accuracy, is_ladder_rung, ladder
from evolution.models import Design, DesignUnit, EvolutionRun, Verification
from evolution.selectors.capabilities import GPT_SEED, capability_profiles
from evolution.selectors.designs import annotations_of, children_of, decisions_of, parents_of
from evolution.selectors.fitness import design_fitness
from evolution.selectors.requests import requests_of
from evolution.selectors.runs import PromotionInfo, promotion_info
from verifier.core.gau.tree import GAUTree, TreeError
from verifier.core.train.fitness import Z_95

PROPOSAL_ORDER = ("title", "motivation", "problem", "idea", "units", "pseudocode", "analysis", "effect",
                  "expected_effect", "references")


@dataclass
class UnitView:
    name: str
    is_root: bool
    unit_id: int
    content_hash: str
    spec: str
    args: dict
    children: list[str]
    rows_html: SafeString  # the highlighted code as table rows, with pinned annotations
    annotations: list  # annotations on the unit without a line
    n_designs: int = 0


@dataclass
class VerificationView:
    row: Verification
    rung: RungInfo | None
    curves: dict[str, dict[str, list[float]]]
    scores: dict[str, float]
    final_loss: float | None
    tasks: list[dict[str, Any]] = field(default_factory=list)  # per task: value, stderr, samples, chance
    details: dict[str, Any] = field(default_factory=dict)  # shape, tokens, device, throughput, wall time

    @property
    def half_width(self) -> float | None:
        """Half the 95% interval of the rung fitness."""
        stderr = self.row.fitness_stderr
        return Z_95 * stderr if stderr is not None else None

    @property
    def off_ladder(self) -> bool:
        """A smoke run (`test`) or a screen of an earlier definition: shown, not counted in F."""
        return not is_ladder_rung(self.row.rung)

    @property
    def on_cpu(self) -> bool:
        device = self.details.get("device") or (self.rung.device if self.rung else "")
        return str(device).lower().startswith("cpu")


def _tree(design: Design) -> GAUTree | None:
    try:
        return GAUTree.from_dict(design.tree) if design.tree else None
    except TreeError:
        return None


def proposal_sections(proposal: dict | None) -> list[tuple[str, Any]]:
    if not isinstance(proposal, dict):
        return []
    keys = [k for k in PROPOSAL_ORDER if k in proposal] + sorted(k for k in proposal if k not in PROPOSAL_ORDER)
    return [(k.replace("_", " "), proposal[k]) for k in keys if proposal[k] not in (None, "", [], {})]


@lru_cache(maxsize=2048)
def _code_rows(prefix: str, code: str) -> tuple[str, ...]:
    """One `<tr>` per line: number (a link that pins the annotation form) and highlighted code.

    Built here rather than in the template: a design has hundreds of lines, and the template
    engine's per-line cost dominated the page's server time."""
    return tuple(
        f'<tr id="{prefix}-L{n}"><td class="ln"><a href="#{prefix}-L{n}" data-unit="{prefix[2:]}" data-line="{n}" '
        f'title="annotate this line">{n}</a></td><td>{html}</td></tr>'
        for n, html in enumerate(highlight_lines(code), start=1)
    )


def code_rows_html(unit_name: str, code: str, notes: dict[int, list] | None = None) -> SafeString:
    prefix = f"u-{escape(unit_name)}"
    rows = _code_rows(prefix, code)
    if not notes:
        return mark_safe("".join(rows))  # noqa: S308 - highlight_lines escapes the code
    out: list[str] = []
    for n, row in enumerate(rows, start=1):
        if n in notes:
            row = row.replace(f'<tr id="{prefix}-L{n}">', f'<tr id="{prefix}-L{n}" class="pinned">', 1)
        out.append(row)
        for note in notes.get(n, []):
            author = escape(note.author.username if note.author else "(deleted user)")
            out.append(f'<tr class="note"><td class="ln"></td><td class="text">{escape(note.text)} '
                       f'<span class="muted">— {author}, {note.created_at:%Y-%m-%d %H:%M}</span></td></tr>')
    return mark_safe("".join(out))  # noqa: S308 - every piece is escaped above


@lru_cache(maxsize=256)
def composed_rows_html(code: str) -> SafeString:
    return mark_safe("".join(  # noqa: S308 - highlight_lines escapes the code
        f'<tr><td class="ln">{n}</td><td>{html}</td></tr>' for n, html in enumerate(highlight_lines(code), start=1)
    ))


def unit_views(design: Design, annotations: list) -> list[UnitView]:
    by_unit: dict[str, dict[int | None, list]] = defaultdict(lambda: defaultdict(list))
    for note in annotations:
        if note.unit_name:
            by_unit[note.unit_name][note.line].append(note)
    links = DesignUnit.objects.filter(design=design).select_related("unit").order_by("position")
    views = []
    for link in links:
        unit = link.unit
        notes = by_unit.get(link.name, {})
        pinned = {line: items for line, items in notes.items() if line is not None}
        views.append(UnitView(
            name=link.name, is_root=link.is_root, unit_id=unit.id, content_hash=unit.content_hash, spec=unit.spec,
            args=unit.args, children=unit.children, rows_html=code_rows_html(link.name, unit.code, pinned),
            annotations=notes.get(None, []),
        ))
    return views


def verification_views(design: Design) -> list[VerificationView]:
    rungs = {r.name: r for r in ladder()}
    out = []
    for v in design.verifications.select_related("requested_by").order_by("rung_index"):
        out.append(VerificationView(
            row=v, rung=rungs.get(v.rung), curves=reports.loss_curves(v.report), scores=reports.task_scores(v.report),
            final_loss=reports.final_loss(v.report), tasks=reports.task_rows(v.report, chance_accuracy), details=reports.run_details(v.report),
        ))
    return out


def task_table(verifications: list[VerificationView]) -> dict[str, Any]:
    """Tasks down, rungs across: each cell the score with its standard error and sample count, each
    row the task's chance accuracy, so a score can be read against chance and against its noise."""
    shown = [v for v in verifications if v.tasks]
    tasks: dict[str, float | None] = {}
    for v in shown:
        for t in v.tasks:
            tasks.setdefault(t["task"], t["chance"])
    rows = []
    for task, chance in tasks.items():
        cells = [next((t for t in v.tasks if t["task"] == task), None) for v in shown]
        rows.append({"task": task, "chance": chance, "cells": cells})
    return {"rungs": [v.row.rung for v in shown], "rows": rows}


def parent_curves(design: Design, parents: list[Design], rungs: list[str]) -> list[dict[str, Any]]:
    """The parents' training curves at the rungs this design was trained at, drawn under its own."""
    if not parents or not rungs:
        return []
    rows = (Verification.objects.filter(design__in=parents, rung__in=rungs, status=Verification.Status.DONE)
            .select_related("design").only("rung", "report", "design__name").order_by("design_id", "rung_index"))
    out = []
    for v in rows:
        curves = reports.loss_curves(v.report)
        if "train" in curves:
            out.append({"rung": v.rung, "name": v.design.name, "train": curves["train"]})
    return out


def chart_data(verifications: list[VerificationView], check_series: list | None = None,
               parents: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Compact JSON for the page's Plotly charts: loss curves (with the parents' at the same rungs),
    per-task scores by rung with their standard errors and chance accuracy, and the checker's short
    training run."""
    return {
        "curves": [{"rung": v.row.rung, "curves": v.curves, "status": v.row.status,
                    "failure": (v.row.error or "")[:160]} for v in verifications if v.curves],
        "parent_curves": parents or [],
        "scores": [{"rung": v.row.rung, "scores": v.scores,
                    "stderr": {t["task"]: t["stderr"] for t in v.tasks if t["stderr"] is not None},
                    "chance": {t["task"]: t["chance"] for t in v.tasks if t["chance"] is not None}}
                   for v in verifications if v.scores],
        "check_series": [{"name": name, "y": values} for name, values in check_series or []],
    }


def references(design: Design) -> list[dict[str, Any]]:
    """The papers a design's proposal drew on, each with its library page where the library has it."""
    try:
        from knowledge.models import Paper
        from knowledge.selectors import references_of
    except ImportError:  # the knowledge app is not installed
        return []
    refs = references_of(design)
    known = dict(Paper.objects.filter(paper_id__in=[r["paper_id"] for r in refs]).values_list("paper_id", "title"))
    return [{**r, "title": r.get("title") or known.get(r["paper_id"], ""), "known": r["paper_id"] in known}
            for r in refs]


def headline_params(verifications: list[VerificationView], figures: dict[str, list]) -> tuple[float | None, str]:
    """Non-embedding parameters for the page's header: the largest verified rung's; before any
    verification, only the checker's ratio to GPT (its probe model is not the trained size)."""
    for v in reversed(verifications):
        params = (v.row.metrics or {}).get("params")
        if v.row.status == Verification.Status.DONE and params:
            return float(params), f"at {v.row.rung}"
    ratio = dict(figures.get("scalars") or []).get("params_non_embedding_ratio")
    if isinstance(ratio, (int, float)) and not isinstance(ratio, bool):
        return None, f"×{ratio:.2f} of GPT's, by the checker"
    return None, ""


def bpb_vs_gpt(design: Design, verifications: list[VerificationView]) -> list[dict[str, Any]]:
    """Per verified rung: this design's validation bits per byte beside the GPT seed's at the same
    rung (with both shapes, so a reader sees whether the sizes match)."""
    mine = [v for v in verifications if v.details.get("val_bpb") is not None]
    if not mine:
        return []
    gpt = {v.rung: v for v in Verification.objects.filter(
        design__is_seed=True, design__name=GPT_SEED, rung__in=[v.row.rung for v in mine],
        status=Verification.Status.DONE).only("rung", "report", "design_id")}
    rows = []
    for v in mine:
        ref = gpt.get(v.row.rung)
        ref_details = reports.run_details(ref.report) if ref is not None and ref.design_id != design.id else {}
        ref_bpb = ref_details.get("val_bpb")
        rows.append({
            "rung": v.row.rung, "bpb": v.details["val_bpb"], "shape": (v.details.get("d_model"), v.details.get("n_block")),
            "gpt_bpb": ref_bpb, "gpt_shape": (ref_details.get("d_model"), ref_details.get("n_block")) if ref_details else None,
            "difference": v.details["val_bpb"] - ref_bpb if ref_bpb is not None else None,
            "is_gpt": ref is not None and ref.design_id == design.id,
        })
    return rows


def design_page(design: Design, run: EvolutionRun | None = None) -> dict[str, Any]:
    annotations = list(annotations_of(design))
    tree = _tree(design)
    units = unit_views(design, annotations)
    verifications = verification_views(design)
    checks = list(design.check_runs.select_related("created_by").order_by("-created_at", "-id"))
    latest = checks[0] if checks else None
    promotion: PromotionInfo = promotion_info(design, run)
    figures = reports.figures(latest.report) if latest else {"scalars": [], "series": []}
    parents = parents_of(design)
    params, params_note = headline_params(verifications, figures)
    capabilities = capability_profiles(design, parents)
    charts = chart_data(verifications, figures["series"],
                        parent_curves(design, parents, [v.row.rung for v in verifications if v.curves]))
    charts["capabilities"] = capabilities["chart"]
    return {
        "design": design,
        "parents": parents,
        "children": children_of(design),
        "tree": tree,
        "diagram": unit_diagram(tree) if tree else None,
        "units": units,
        "unit_names": [u.name for u in units],
        "composed_line_count": design.composed_code.count("\n") + 1 if design.composed_code else 0,
        "proposal": proposal_sections(design.proposal),
        "review_rounds": design.review_rounds or [],
        "trace": design.trace or [],
        "checks": checks,
        "check": latest,
        "findings": reports.findings(latest.report) if latest else [],
        "stages": reports.stages(latest.report) if latest else [],
        "figures": figures,
        "verifications": verifications,
        "task_table": task_table(verifications),
        "fitness_made": design_fitness(design),
        "bpb_rows": bpb_vs_gpt(design, verifications),
        "charts": charts,
        "capabilities": capabilities,
        "references": references(design),
        "params": params,
        "params_note": params_note,
        "annotations": annotations,
        "general_annotations": [a for a in annotations if not a.unit_name],
        "decisions": list(decisions_of(design)),
        "design_requests": requests_of(design),
        "promotion": promotion,
        "cost": {
            "tokens_in": design.tokens_in, "tokens_out": design.tokens_out, "dollars": design.cost_dollars,
            "designer_seconds": design.designer_seconds, "gpu_seconds": design.gpu_seconds,
        },
    }

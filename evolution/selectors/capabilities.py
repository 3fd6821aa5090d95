"""A design's capability profile: its screen probe results beside its parents' and the GPT seed's.

Each probe's accuracy is shown as the share of the possible gain above chance,
(accuracy - chance) / (1 - chance): 0 is chance, 1 is perfect, so probes with different chance levels
(1/8 for the recalls, 1/32 for memorisation) read on one axis. The value and its stderr are
recomputed from the raw numbers (`rescore`, with this process's rung noise), never read from the
report's own "value" fields; the raw accuracy and chance stay beside them for the table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from evolution.models import Design, Verification
from verifier.core.screen.components import PROBE_PREFIX
from verifier.core.screen.run import rescore
from verifier.core.train.audit import ReportRejected, read_report
from verifier.core.train.fitness import SCREEN_RUNG
from verifier.core.train.ladder import EXTRA_RUNGS, SCREEN

GPT_SEED = "gpt"
# Every definition of the screen ran the same probes (the same ProbeConfig), so a design screened
# before the screen was redefined keeps its profile; the current screen's report is preferred.
PROBE_RUNGS = (SCREEN_RUNG, *(r.name for r in EXTRA_RUNGS.values()
                              if r.kind == "screen" and r.extra.get("probes") == SCREEN.extra.get("probes")))


@dataclass
class ProbeScore:
    probe: str  # without the "probe_" prefix
    accuracy: float
    chance: float
    value: float  # (accuracy - chance) / (1 - chance)
    stderr: float | None  # of `value`: the larger of sampling and seed-to-seed noise, over (1 - chance)
    n_targets: int | None


@dataclass
class Profile:
    design: Design
    role: str  # "this design", "parent", "GPT seed"
    verification: Verification | None
    probes: dict[str, ProbeScore] = field(default_factory=dict)

    @property
    def screened(self) -> bool:
        return bool(self.probes)


def probe_scores(report: Any) -> dict[str, ProbeScore]:
    """The probe scores of one screen report, recomputed from its raw numbers; {} when the report is
    not a readable one or has no probes."""
    try:
        parsed = read_report(report)
    except ReportRejected:
        return {}
    oriented, _, _ = rescore(dict(parsed.components))
    out = {}
    for name, comp in oriented.items():
        value = comp.get("value")
        if not name.startswith(PROBE_PREFIX) or value is None:
            continue
        n = comp.get("n_targets")
        out[name[len(PROBE_PREFIX):]] = ProbeScore(
            probe=name[len(PROBE_PREFIX):], accuracy=float(comp["accuracy"]), chance=float(comp["chance"]),
            value=float(value), stderr=comp.get("stderr"), n_targets=n if isinstance(n, int) else None)
    return out


def latest_screens(designs: list[Design]) -> dict[int, Verification]:
    """Each design's done screen verification with the probes to show (any seed): the latest at the
    current screen, else the latest at an earlier definition of it, by design id."""
    rows = (Verification.objects.filter(design__in=designs, rung__in=PROBE_RUNGS, status=Verification.Status.DONE)
            .only("id", "design_id", "rung", "seed", "report", "finished_at").order_by("design_id", "-finished_at", "-id"))
    latest: dict[int, Verification] = {}
    for v in sorted(rows, key=lambda v: v.rung != SCREEN_RUNG):  # stable: newest first within each
        latest.setdefault(v.design_id, v)
    return latest


def capability_profiles(design: Design, parents: list[Design]) -> dict[str, Any]:
    """The profiles of the design, its parents and the GPT seed (once each, in that order), the probe
    names in the order the reports list them, the table's rows (probes down, profiles across) and
    the chart's data."""
    gpt = Design.objects.filter(name=GPT_SEED, is_seed=True).first()
    gpt_id = gpt.id if gpt is not None else None
    members = [(design, "this design")]
    members += [(p, "parent (GPT seed)" if p.id == gpt_id else "parent") for p in parents]
    members += [(gpt, "GPT seed")] if gpt is not None else []
    unique: list[tuple[Design, str]] = []
    for member, role in members:
        if all(member.id != m.id for m, _ in unique):
            unique.append((member, role))
    screens = latest_screens([m for m, _ in unique])
    profiles = []
    for member, role in unique:
        v = screens.get(member.id)
        profiles.append(Profile(member, role, v, probe_scores(v.report) if v is not None else {}))
    probes: list[str] = []
    for p in profiles:
        probes.extend(name for name in p.probes if name not in probes)
    rows = [{"probe": name.replace("_", " "), "cells": [p.probes.get(name) for p in profiles]} for name in probes]
    return {"profiles": profiles, "probes": probes, "rows": rows, "screened": profiles[0].screened,
            "chart": chart(profiles, probes)}


def chart(profiles: list[Profile], probes: list[str]) -> list[dict[str, Any]]:
    """Compact JSON for the grouped bar chart: one series per screened profile."""
    labels = [name.replace("_", " ") for name in probes]
    return [{"name": p.design.name, "role": p.role, "probes": labels,
             "values": [p.probes[n].value if n in p.probes else None for n in probes],
             "stderr": [p.probes[n].stderr if n in p.probes else None for n in probes],
             "accuracy": [p.probes[n].accuracy if n in p.probes else None for n in probes],
             "chance": [p.probes[n].chance if n in p.probes else None for n in probes]}
            for p in profiles if p.screened]

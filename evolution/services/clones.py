"""Functional clones: a design that passes its check but behaves exactly like a design already in the
population does not enter it.

"Behaves exactly like" is the check report's behavioural fingerprint (verifier/core/checker/
fingerprint.py: the model's outputs at the checker's initialisation, with its parameter shapes). Two
trees with different code and names can have it in common, e.g. GPT's block with RetNet's retention
and MLP swapped in, which is RetNet. Verifying such a clone again spends budget on a known answer,
counts it as a new valid design and puts a duplicate point into the rank statistics.

The rule, wherever a design becomes checked (`create_design` for designer results and seeds,
`apply_check` for a check job, the upload intake): when another design with the same fingerprint is
in the population (checked, verifying or verified; not invalid or failed), the one that was there
first wins. The newcomer is stored invalid, with `clone_of` pointing at its twin and a `duplicate`
error finding in its stored report, so it is never verified and counts in the run's check error rate
under that category. A report without a fingerprint (an old one, a failed check) matches nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from evolution.models import Design
from verifier.core.checker.categories import DUPLICATE, ERROR

IN_POPULATION = (Design.Status.CHECKED, Design.Status.VERIFYING, Design.Status.VERIFIED)
FINGERPRINT_MAX = 80  # Design.fingerprint


def report_fingerprint(report: dict[str, Any] | None) -> str:
    """The fingerprint of a report that passed; "" for a failed, an old or an odd one."""
    if not isinstance(report, dict) or report.get("passed") is not True:
        return ""
    value = report.get("fingerprint")
    return value[:FINGERPRINT_MAX] if isinstance(value, str) else ""


def find_twin(fingerprint: str, *, exclude_id: int | None = None) -> Design | None:
    """The earliest design in the population with this fingerprint (none for an empty one)."""
    if not fingerprint:
        return None
    twins = Design.objects.filter(fingerprint=fingerprint, status__in=IN_POPULATION)
    if exclude_id is not None:
        twins = twins.exclude(id=exclude_id)
    return twins.order_by("id").first()


def clone_message(twin: Design) -> str:
    return (f"behaves exactly like design #{twin.id} {twin.name}: same outputs at the same initialisation "
            "(a functional clone, so it is not verified)")


def clone_report(report: dict[str, Any], twin: Design) -> dict[str, Any]:
    """The checker's report with the loop's verdict on top: not passed, a `duplicate` error first."""
    finding = {"category": DUPLICATE, "severity": ERROR, "unit": None, "line": None,
               "message": clone_message(twin), "stage": "clones", "detail": ""}
    return {**report, "passed": False, "category": DUPLICATE, "findings": [finding, *report.get("findings", [])],
            "clone_of": {"id": twin.id, "name": twin.name, "slug": twin.slug}}


@dataclass
class Verdict:
    """What a checker report means for a design that is about to become checked."""

    passed: bool  # passed the check and is no clone: it enters the population
    fingerprint: str
    twin: Design | None
    report: dict[str, Any]  # what to store: the checker's report, or `clone_report` for a clone

    @property
    def failure(self) -> str:
        return clone_message(self.twin) if self.twin is not None else ""


def judge(report: dict[str, Any], *, exclude_id: int | None = None) -> Verdict:
    """The clone rule applied to a checker report (`exclude_id`: the design being judged, if stored)."""
    fingerprint = report_fingerprint(report)
    twin = find_twin(fingerprint, exclude_id=exclude_id)
    if twin is not None:
        return Verdict(False, fingerprint, twin, clone_report(report, twin))
    return Verdict(report.get("passed") is True, fingerprint, None, report)

"""Read designs: the shared filters (pages and API use the same ones) and the design page's data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db.models import F, Prefetch, Q, QuerySet
from django.http import Http404

from evolution.models import Annotation, Decision, Design, DesignParent, Verification

# What lists and tables show: loading a design's tree, code and reports for a row of a table is
# most of the cost of a list of a thousand designs.
LIST_FIELDS = ("id", "name", "slug", "generation", "status", "verdict", "is_seed", "origin_kind", "fitness",
               "fitness_std", "confidence", "created_at", "mode")

# Unverified designs (no fitness) go last either way, on SQLite and PostgreSQL alike.
BEST_FIRST = F("fitness").desc(nulls_last=True)
ORDERINGS = {
    "fitness": (BEST_FIRST, "id"), "-fitness": (F("fitness").asc(nulls_last=True), "id"),
    "generation": ("generation", "id"), "-generation": ("-generation", "-id"), "name": ("name",),
    "newest": ("-id",), "oldest": ("id",),
}


@dataclass
class DesignFilters:
    """The filters a researcher can set on the tree, the lists and the API (all optional)."""

    q: str = ""
    status: list[str] = field(default_factory=list)
    origin: list[str] = field(default_factory=list)
    verdict: str = ""
    generation_min: int | None = None
    generation_max: int | None = None
    rung: str = ""
    seeds: bool = False
    min_fitness: float | None = None
    unit: str = ""

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> DesignFilters:
        def many(key: str) -> list[str]:
            values = params.getlist(key) if hasattr(params, "getlist") else params.get(key, [])
            if isinstance(values, str):
                values = [values]
            return [v for item in values for v in str(item).split(",") if v]

        def number(key: str, kind):
            try:
                value = kind(params.get(key)) if params.get(key) not in (None, "") else None
            except (TypeError, ValueError):
                return None
            return value if value is None or abs(value) <= 2**31 - 1 else None  # a column's range, not NaN

        return cls(
            q=str(params.get("q") or "").strip(),
            status=[s for s in many("status") if s in Design.Status.values],
            origin=[o for o in many("origin") if o in Design.OriginKind.values],
            verdict=str(params.get("verdict") or ""),
            generation_min=number("generation_min", int),
            generation_max=number("generation_max", int),
            rung=str(params.get("rung") or ""),
            seeds=str(params.get("seeds") or "").lower() in ("1", "true", "on", "yes"),
            min_fitness=number("min_fitness", float),
            unit=str(params.get("unit") or "").strip(),
        )

    @property
    def active(self) -> bool:
        return any([self.q, self.status, self.origin, self.verdict, self.generation_min is not None,
                    self.generation_max is not None, self.rung, self.seeds, self.min_fitness is not None,
                    self.unit])


def filter_designs(qs: QuerySet[Design], f: DesignFilters) -> QuerySet[Design]:
    if f.q:
        # One box searches names, units and statuses, as a researcher would type them.
        match = Q(name__icontains=f.q) | Q(unit_links__name__icontains=f.q) | Q(summary__icontains=f.q)
        if f.q.lower() in Design.Status.values:
            match |= Q(status=f.q.lower())
        qs = qs.filter(pk__in=Design.objects.filter(match).values("pk"))
    if f.unit:
        qs = qs.filter(pk__in=Design.objects.filter(
            Q(unit_links__name=f.unit) | Q(unit_links__unit__content_hash__startswith=f.unit)
        ).values("pk"))
    if f.status:
        qs = qs.filter(status__in=f.status)
    if f.origin:
        qs = qs.filter(origin_kind__in=f.origin)
    if f.verdict == "none":
        qs = qs.filter(verdict="")
    elif f.verdict in Design.Verdict.values and f.verdict:
        qs = qs.filter(verdict=f.verdict)
    elif f.verdict == "not_vetoed":
        qs = qs.exclude(verdict=Design.Verdict.VETOED)
    if f.generation_min is not None:
        qs = qs.filter(generation__gte=f.generation_min)
    if f.generation_max is not None:
        qs = qs.filter(generation__lte=f.generation_max)
    if f.rung:
        qs = qs.filter(pk__in=Verification.objects.filter(rung=f.rung, status=Verification.Status.DONE)
                       .values("design_id"))
    if f.seeds:
        qs = qs.filter(is_seed=True)
    if f.min_fitness is not None:
        qs = qs.filter(fitness__gte=f.min_fitness)
    return qs


def design_list(params: Mapping[str, Any] | None = None, ordering: str = "") -> QuerySet[Design]:
    qs = filter_designs(Design.objects.only(*LIST_FIELDS), DesignFilters.from_params(params or {}))
    return qs.order_by(*ORDERINGS.get(ordering, ("id",)))


def get_design(slug: str) -> Design:
    design = Design.objects.select_related("created_by", "run").filter(slug=slug).first()
    if design is None:
        raise Http404(f"no design {slug!r}")
    return design


def find_design(name: str) -> Design | None:
    """A design by name or slug (what a researcher types), or None."""
    return (Design.objects.filter(name=name).first() or Design.objects.filter(slug=name).first()
            or Design.objects.filter(name__iexact=name).order_by("id").first())


def parents_of(design: Design) -> list[Design]:
    return list(Design.objects.only(*LIST_FIELDS).filter(child_links__child=design).order_by("child_links__position"))


def children_of(design: Design) -> list[Design]:
    return list(Design.objects.only(*LIST_FIELDS).filter(parent_links__parent=design).order_by("id"))


def annotations_of(design: Design) -> QuerySet[Annotation]:
    return design.annotations.select_related("author").order_by("created_at", "id")


def decisions_of(design: Design) -> QuerySet[Decision]:
    return design.decisions.select_related("actor").order_by("-created_at", "-id")


def with_relations(qs: QuerySet[Design]) -> QuerySet[Design]:
    """What the API detail needs in a fixed number of queries."""
    return qs.prefetch_related(
        Prefetch("parent_links", queryset=DesignParent.objects.select_related("parent").order_by("position")),
        "unit_links__unit",
        "verifications",
    )

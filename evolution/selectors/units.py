"""The unit browser: every stored unit with the designs that use it and their fitness."""

from __future__ import annotations

from django.db.models import Count, Max, Q, QuerySet
from django.http import Http404

from evolution.models import Design, Unit
from evolution.selectors.designs import BEST_FIRST, LIST_FIELDS


def unit_list(q: str = "") -> QuerySet[Unit]:
    qs = Unit.objects.annotate(
        n_designs=Count("design_links__design", distinct=True),
        best_fitness=Max("design_links__design__fitness"),
    )
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(content_hash__startswith=q.lower()) | Q(spec__icontains=q))
    return qs.order_by("name", "-n_designs", "id")


def get_unit(content_hash: str) -> Unit:
    unit = Unit.objects.filter(content_hash__startswith=content_hash).order_by("id").first() \
        if len(content_hash) >= 8 else None
    if unit is None:
        raise Http404(f"no unit {content_hash!r}")
    return unit


def designs_using(unit: Unit) -> QuerySet[Design]:
    """The designs that use `unit` (one query), best first."""
    return Design.objects.only(*LIST_FIELDS).filter(unit_links__unit=unit).distinct().order_by(BEST_FIRST, "id")


def other_versions(unit: Unit) -> QuerySet[Unit]:
    return unit_list().filter(name=unit.name).exclude(pk=unit.pk)

"""Events in order, for polling clients and the live-update stream."""

from __future__ import annotations

from django.db.models import QuerySet

from evolution.models import Event


def events_after(after: int | None = None, kind: str = "", design_id: int | None = None) -> QuerySet[Event]:
    qs = Event.objects.select_related("actor", "design").order_by("id")
    if after is not None:
        qs = qs.filter(id__gt=after)
    if kind:
        qs = qs.filter(kind__startswith=kind)
    if design_id is not None:
        qs = qs.filter(design_id=design_id)
    return qs

"""Template helpers for live pages: where the event stream should start, and a design's running
verifications with their latest progress (so a page opened mid-run shows it before the next event)."""

from __future__ import annotations

from datetime import timedelta

from django import template
from django.utils import timezone

from evolution.models import Event
from evolution.selectors.dashboard import running_verifications as _running

register = template.Library()

# A page's data is read before its template renders; starting the stream a little before "now" makes
# sure an event written in between is replayed rather than missed (handlers are idempotent).
MARGIN_S = 2.0


@register.simple_tag
def live_cursor(margin_s: float = MARGIN_S) -> int:
    cutoff = timezone.now() - timedelta(seconds=margin_s)
    last = Event.objects.filter(created_at__lte=cutoff).order_by("-id").values_list("id", flat=True).first()
    return int(last or 0)


@register.simple_tag
def running_verifications(design) -> list[dict]:
    return _running(design.id) if design is not None else []


@register.filter
def eta(seconds) -> str:
    """Seconds left as 45 s, 12 min, 3 h 20 min."""
    if seconds in (None, ""):
        return "–"
    s = max(0, int(float(seconds)))
    if s < 90:
        return f"{s} s"
    if s < 3600:
        return f"{round(s / 60)} min"
    return f"{s // 3600} h {round((s % 3600) / 60)} min"


@register.filter
def rate(value) -> str:
    """Tokens per second as 1.2M/s, 850k/s."""
    if value in (None, ""):
        return "–"
    v = float(value)
    for unit, size in (("M", 1e6), ("k", 1e3)):
        if v >= size:
            return f"{v / size:.3g}{unit}/s"
    return f"{v:.0f}/s"


@register.filter
def ago(moment) -> str:
    """A timestamp as how long ago: 4 s, 12 min, 2.5 h."""
    if not moment:
        return "–"
    s = max(0.0, (timezone.now() - moment).total_seconds())
    if s < 90:
        return f"{s:.0f} s"
    if s < 5400:
        return f"{s / 60:.0f} min"
    return f"{s / 3600:.1f} h"


@register.filter
def per_hour(value) -> str:
    if value is None:
        return "–"
    v = float(value)
    return f"{v:.1f}" if v < 10 else f"{v:.0f}"


@register.filter
def percent(fraction) -> str:
    """0.4123 -> 41.2% (model FLOPs utilisation and the like)."""
    return "–" if fraction in (None, "") else f"{100 * float(fraction):.1f}%"

"""Template helpers: numbers as researchers read them, status badges, the Plotly script URL."""

from __future__ import annotations

import json
import math

from django import template
from django.urls import reverse
from django.utils.html import format_html

from genesys_site.permissions import role_of

register = template.Library()


@register.filter
def get_item(mapping, key):
    return mapping.get(key) if isinstance(mapping, dict) else None


@register.filter
def num(value, digits: int = 3):
    """A float with `digits` decimals, "–" for missing."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    try:
        return f"{float(value):.{int(digits)}f}"
    except (TypeError, ValueError):
        return str(value)


@register.filter
def signed(value, digits: int = 3):
    if value is None:
        return "–"
    value = round(float(value), int(digits))
    return f"{value:+.{int(digits)}f}" if value else f"{0:.{int(digits)}f}"


@register.filter
def count(value):
    """14200000 -> 14.2M; 3100 -> 3.1k."""
    if value is None or value == "":
        return "–"
    value = float(value)
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= size:
            return f"{value / size:.3g}{unit}"
    return f"{value:.0f}"


@register.filter
def figure(value, name: str = ""):
    """A checker figure with its unit, read off its name (bytes, seconds, parameters, FLOPs, ratios)."""
    from evolution.core.reports import format_figure

    return format_figure(str(name), value)


@register.simple_tag
def reference_rows(scalars):
    """The checker's figures against its GPT reference: label, design, reference, ratio."""
    from evolution.core.reports import reference_rows as rows

    return rows(list(scalars or []))


@register.filter
def bytes_size(value):
    """Bytes as 620 MiB, 1.2 GiB."""
    if value in (None, ""):
        return "–"
    from evolution.core.reports import format_figure

    return format_figure("x_bytes", value)


@register.filter
def duration(seconds):
    """GPU/wall seconds as 42 s, 7.5 min, 3.2 h."""
    if seconds in (None, ""):
        return "–"
    s = float(seconds)
    if s < 90:
        return f"{s:.0f} s"
    if s < 5400:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"


@register.filter
def dollars(value):
    return "–" if value in (None, "") else f"${float(value):,.2f}"


@register.filter
def pretty(value):
    """JSON-ish values (lists, dicts) as indented text; strings as they are."""
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


@register.filter
def is_text(value):
    return isinstance(value, str)


@register.simple_tag
def status_badge(status: str, verdict: str = ""):
    badge = format_html('<span class="badge status-{}">{}</span>', status, status)
    if verdict:
        badge += format_html(' <span class="badge verdict-{}">{}</span>', verdict, verdict)
    return badge


@register.simple_tag
def demo_badge(design) -> str:
    """A visible mark on every design that `demo_history` made up (origin "demo"); empty otherwise."""
    if getattr(design, "origin_kind", "") != "demo":
        return ""
    return format_html('<span class="badge demo" title="{}">demo</span>',
                       "made up by manage.py demo_history: not a real result; left out of the leaderboard and charts")


@register.simple_tag
def plotly_src():
    from evolution.views.assets import plotly_version

    return reverse("evolution:plotly", args=[plotly_version()])


@register.simple_tag
def site_is_private() -> bool:
    from django.conf import settings

    return bool(settings.GENESYS_PRIVATE)


@register.filter
def role(user):
    return role_of(user)


@register.filter(name="clip")
def clip_filter(text, limit=120):
    """`text` shortened to `limit` characters at a word boundary (never mid-word), with "…"."""
    from evolution.core.clip import clip

    return clip(text, int(limit))


@register.filter
def refusal(design, role: str):
    """Why `design` cannot become a `role` ("seed" or "parent"), or None: the services' own rule, so a
    page offers exactly the actions the services accept."""
    from evolution.services.eligibility import refusal as rule

    return rule(design, role)

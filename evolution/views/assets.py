"""plotly.min.js, served from the installed plotly package (no CDN, and no 4 MB file in the repo).

Read and gzipped once per process; the URL carries plotly's version, so browsers may cache it for a
year.
"""

from __future__ import annotations

import gzip
from functools import cache
from pathlib import Path

import plotly
from django.http import Http404, HttpResponse
from django.views.decorators.http import require_GET


@cache
def _plotly_bundle() -> tuple[bytes, bytes]:
    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    if not path.exists():
        raise Http404("plotly.min.js is not in the installed plotly package")
    raw = path.read_bytes()
    return raw, gzip.compress(raw, compresslevel=6)


def plotly_version() -> str:
    return plotly.__version__


@require_GET
def plotly_js(request, version: str = ""):
    raw, packed = _plotly_bundle()
    etag = f'"plotly-{plotly.__version__}"'
    if request.headers.get("If-None-Match") == etag:
        response = HttpResponse(status=304)
    elif "gzip" in request.headers.get("Accept-Encoding", ""):
        response = HttpResponse(packed, content_type="application/javascript")
        response["Content-Encoding"] = "gzip"
    else:
        response = HttpResponse(raw, content_type="application/javascript")
    response["ETag"] = etag
    response["Vary"] = "Accept-Encoding"
    response["Cache-Control"] = "public, max-age=31536000, immutable"
    return response

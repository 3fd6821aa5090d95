"""The site's 404 page: what was not found, in words, never the name of Django's exception.

Django's own handler shows the exception's message, and for an address no URL pattern matches that is
the class name ("Resolver404"). Here an unmatched address gets a plain sentence; a view's own
Http404("no design 'x'") keeps its message, since it says what was missing.
"""

from __future__ import annotations

from django.shortcuts import render
from django.urls import Resolver404


def not_found(request, exception=None):
    message = ""
    if exception is not None and not isinstance(exception, Resolver404):
        args = getattr(exception, "args", ())
        message = args[0].strip().rstrip(".") if args and isinstance(args[0], str) else ""
    return render(request, "404.html", {"message": message, "path": request.path}, status=404)

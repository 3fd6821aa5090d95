"""What every page of the app puts in its context: the user's role and rights."""

from __future__ import annotations

from django.shortcuts import render

from genesys_site.permissions import abilities, role_of


def page(request, template: str, context: dict | None = None, status: int = 200):
    ctx = {"can": abilities(request.user), "role": role_of(request.user)}
    ctx.update(context or {})
    return render(request, template, ctx, status=status)

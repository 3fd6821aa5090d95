"""Roles and the one place that decides who may do what.

Three roles, as Django groups: viewer (read), researcher (annotate, approve, veto, seed, promote) and
admin (everything, and the Django admin). Rights are Django permissions granted to the groups, so an
admin can also grant a single right to a single user. Views, API views and services all ask `can()`
or `require()`, so a refusal does not depend on which door a request came through.
"""

from __future__ import annotations

from functools import wraps

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from rest_framework import permissions as drf_permissions

VIEWER, RESEARCHER, ADMIN = "viewer", "researcher", "admin"
ROLES = (VIEWER, RESEARCHER, ADMIN)

# Actions a researcher may take, each one Django permission on the evolution app.
ANNOTATE = "evolution.annotate_design"
DECIDE = "evolution.decide_design"
PROMOTE = "evolution.promote_design"
SEED = "evolution.seed_design"
RESEARCH_ACTIONS = (ANNOTATE, DECIDE, PROMOTE, SEED)
# Reporting results back (verification workers and scripts with a token).
REPORT = "evolution.change_verification"

ROLE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    VIEWER: (),
    RESEARCHER: RESEARCH_ACTIONS + ("knowledge.add_paper",),  # researchers add papers to the library
    # Admins: every permission of the evolution app, the designer settings and the library.
    ADMIN: RESEARCH_ACTIONS + ("evolution.*", "designer.change_designersettings", "knowledge.add_paper"),
}


def can_view(user) -> bool:
    """Anyone may read a public site; a private site (GENESYS_PRIVATE) shows anonymous users only the login."""
    if user is not None and user.is_authenticated and user.is_active:
        return True
    return not settings.GENESYS_PRIVATE


def can(user, action: str) -> bool:
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    return user.has_perm(action)


def require(user, action: str) -> None:
    if not can(user, action):
        raise PermissionDenied(f"you lack the right to do this ({action.split('.')[-1].replace('_', ' ')})")


def role_of(user) -> str:
    """The highest role a user holds, for display ("anonymous" when logged out)."""
    if user is None or not user.is_authenticated:
        return "anonymous"
    if user.is_superuser:
        return ADMIN
    names = {g.name for g in user.groups.all()}
    for role in (ADMIN, RESEARCHER, VIEWER):
        if role in names:
            return role
    return VIEWER


def abilities(user) -> dict[str, bool]:
    """What the templates need to decide which buttons to show (the server checks again on POST)."""
    return {
        "annotate": can(user, ANNOTATE),
        "decide": can(user, DECIDE),
        "promote": can(user, PROMOTE),
        "seed": can(user, SEED),
    }


# ---- views ---------------------------------------------------------------------------------------

def viewer_required(view):
    """Read access: everyone on a public site, logged-in users on a private one."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not can_view(request.user):
            return redirect_to_login(request.get_full_path())
        return view(request, *args, **kwargs)

    return wrapped


def action_required(action: str):
    """An action: anonymous users are sent to the login, users without the right get a 403."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            require(request.user, action)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


# ---- API -----------------------------------------------------------------------------------------

class SiteReadPermission(drf_permissions.BasePermission):
    """Reads follow the site's privacy; writes need a logged-in (or token) user. Each write then
    checks its own right in the service it calls."""

    def has_permission(self, request, view) -> bool:
        if request.method in drf_permissions.SAFE_METHODS:
            return can_view(request.user)
        return bool(request.user and request.user.is_authenticated)

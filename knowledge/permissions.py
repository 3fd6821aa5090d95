"""Who may add papers: researchers and admins.

Roles are Django groups owned by the evolution app; its helper in genesys_site/permissions.py is used
when it exists. Until then: a logged-in user who is staff, superuser, or in the "researcher" or "admin"
group (or holds the knowledge.add_paper permission).
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission

UPLOAD_GROUPS = {"researcher", "admin"}


def _site_helper() -> Any:
    try:
        from genesys_site import permissions as site_permissions  # type: ignore[attr-defined]
    except ImportError:
        return None
    for name in ("is_researcher", "can_research"):
        helper = getattr(site_permissions, name, None)
        if callable(helper):
            return helper
    return None


def can_upload(user: Any) -> bool:
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if user.is_staff or user.is_superuser or user.has_perm("knowledge.add_paper"):
        return True
    helper = _site_helper()
    if helper is not None and helper(user):
        return True
    return user.groups.filter(name__in=UPLOAD_GROUPS).exists()


class CanIngest(BasePermission):
    """Reads for everyone the site lets in; writes (ingestion) for researchers and admins."""

    message = "Adding papers needs the researcher or admin role."

    def has_permission(self, request: Any, view: Any) -> bool:
        if request.method in SAFE_METHODS:
            return True
        return can_upload(request.user)

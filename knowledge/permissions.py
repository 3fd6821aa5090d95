"""Who may read the library and who may add papers, on top of the site's roles (genesys_site.permissions).

Reading follows the site's privacy (`can_view`). Adding papers is for researchers and admins, or anyone
granted `knowledge.add_paper` (e.g. by an admin in the Django admin).
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission

from genesys_site.permissions import ADMIN, RESEARCHER, can_view, role_of

UPLOAD_PERMISSION = "knowledge.add_paper"


def can_upload(user: Any) -> bool:
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.is_superuser or user.is_staff or user.has_perm(UPLOAD_PERMISSION):
        return True
    return role_of(user) in {RESEARCHER, ADMIN}


class CanRead(BasePermission):
    """Searching changes nothing, so even a POST search (JSON filters) only needs read access."""

    def has_permission(self, request: Any, view: Any) -> bool:
        return can_view(request.user)


class CanIngest(BasePermission):
    """Reads as the site allows; writes (ingestion) for researchers and admins."""

    message = "Adding papers needs the researcher or admin role."

    def has_permission(self, request: Any, view: Any) -> bool:
        if request.method in SAFE_METHODS:
            return can_view(request.user)
        return can_upload(request.user)

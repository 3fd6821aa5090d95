"""Create the role groups and accounts (used by `create_roles`, `ensure_demo_user` and tests)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import transaction

from genesys_site.permissions import ADMIN, ROLE_PERMISSIONS, ROLES


def _permissions(codes: tuple[str, ...]) -> list[Permission]:
    out: list[Permission] = []
    for code in codes:
        app, _, name = code.partition(".")
        query = Permission.objects.filter(content_type__app_label=app)
        out.extend(query if name == "*" else query.filter(codename=name))
    return out


def create_roles() -> dict[str, Group]:
    """Create (or bring up to date) the viewer, researcher and admin groups. Idempotent."""
    groups: dict[str, Group] = {}
    with transaction.atomic():
        for role in ROLES:
            group, _ = Group.objects.get_or_create(name=role)
            group.permissions.set(_permissions(ROLE_PERMISSIONS[role]))
            groups[role] = group
    return groups


def assign_role(user, role: str) -> None:
    """Make `role` the user's only role; admins also get the Django admin (is_staff)."""
    groups = create_roles()
    user.groups.remove(*groups.values())
    user.groups.add(groups[role])
    if role == ADMIN and not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])


def ensure_user(username: str, password: str, role: str, email: str = ""):
    """Create the account if missing (an existing one keeps its password) and give it `role`."""
    User = get_user_model()
    user, created = User.objects.get_or_create(username=username, defaults={"email": email})
    if created:
        user.set_password(password)
        user.save()
    assign_role(user, role)
    return user, created

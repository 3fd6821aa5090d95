"""Pytest fixtures shared by the web, API and browser tests (import them into a test module).

They build real rows through the real services: users with real roles, the real seeds, a small
synthetic history (see `evolution.demo`). Nothing is mocked.
"""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from evolution.demo import build_history
from evolution.models import Design
from evolution.services.roles import create_roles, ensure_user
from evolution.services.seeding import seed_designs

PASSWORD = "correct-horse-battery"


@pytest.fixture
def roles(db):
    return create_roles()


@pytest.fixture
def researcher(roles):
    return ensure_user("rita", PASSWORD, "researcher")[0]


@pytest.fixture
def viewer(roles):
    return ensure_user("victor", PASSWORD, "viewer")[0]


@pytest.fixture
def admin_user(roles):
    return ensure_user("ada", PASSWORD, "admin")[0]


@pytest.fixture
def seeds(db) -> list[Design]:
    return [o.design for o in seed_designs(check=False)]


@pytest.fixture
def history(seeds) -> list[Design]:
    """The seeds and 14 designed descendants (mutations and crossovers), some verified at 14M."""
    build_history(14, seed=3)
    return list(Design.objects.order_by("id"))


def client_for(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def api_client_for(user, token: bool = False) -> APIClient:
    client = APIClient()
    if user is not None:
        if token:
            key = Token.objects.get_or_create(user=user)[0].key
            client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        else:
            client.force_authenticate(user)
    return client


def verified_design(designs: list[Design]) -> Design:
    return next(d for d in designs if d.status == Design.Status.VERIFIED and d.generation > 0)


def checked_design(designs: list[Design]) -> Design:
    """A designed (not seed) design that passed the checker and has not been verified."""
    return next(d for d in designs if d.status == Design.Status.CHECKED and d.generation > 0)

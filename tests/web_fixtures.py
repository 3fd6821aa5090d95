"""Pytest fixtures shared by the web, API and browser tests (`pytest_plugins = ["web_fixtures"]`).

They build real rows through the real services: users with real roles, the real seeds, a small
synthetic history (`evolution.demo`, unmarked: in a test database the pages that analytics feed need
rows they count). Nothing is mocked.
"""

from __future__ import annotations

import pytest
from checked_seeds import checked_seeds
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from evolution.demo import build_history
from evolution.models import Design
from evolution.services.roles import create_roles, ensure_user

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
    return checked_seeds()


@pytest.fixture
def history(seeds) -> list[Design]:
    """The seeds and 14 designed descendants (mutations and crossovers), some verified at 14M."""
    build_history(14, seed=3, demo=False)
    return list(Design.objects.order_by("id"))


@pytest.fixture
def checked(history) -> Design:
    """A designed (not seed) design that passed the checker and has not been verified."""
    return next(d for d in history if d.status == Design.Status.CHECKED and d.generation > 0)


@pytest.fixture
def verified(history) -> Design:
    return next(d for d in history if d.status == Design.Status.VERIFIED and d.generation > 0)


@pytest.fixture
def client_for(db):
    """client_for(user) -> a Django test client logged in as `user` (None: anonymous)."""

    def make(user) -> Client:
        client = Client()
        if user is not None:
            client.force_login(user)
        return client

    return make


@pytest.fixture
def api_client_for(db):
    """api_client_for(user, token=False) -> a DRF client, authenticated by session or by token."""

    def make(user, token: bool = False) -> APIClient:
        client = APIClient()
        if user is not None:
            if token:
                key = Token.objects.get_or_create(user=user)[0].key
                client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
            else:
                client.force_login(user)
        return client

    return make

"""Every page says so when the operator lets generated code run without the sandbox."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("switch, shown", [("1", True), ("", False), ("0", False)])
def test_every_page_shows_the_no_sandbox_banner_only_with_the_switch(client, monkeypatch, switch, shown):
    monkeypatch.setenv("GENESYS_UNSAFE_NO_SANDBOX", switch)
    for url in ("/accounts/login/", "/"):
        response = client.get(url, follow=True)
        assert response.status_code == 200
        assert ("No sandbox." in response.content.decode()) is shown

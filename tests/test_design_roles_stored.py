"""Every stored design knows its units' roles, whichever way it entered the tree."""

from __future__ import annotations

import pytest

from evolution.services.designs import create_design
from verifier.core.seeds import load_seed

pytestmark = pytest.mark.django_db


def test_a_stored_design_carries_the_roles_of_its_units():
    tree = load_seed("retnet")
    assert "roles" not in tree.metadata
    design = create_design(tree=tree, name="retnet-copy", origin_kind="upload", status="checked")
    roles = design.tree["metadata"]["roles"]
    assert roles["MultiScaleRetention"] == "token-mixer" and roles["RetNetMLP"] == "channel-mixer"
    assert "roles" not in tree.metadata  # the caller's tree is left as it was

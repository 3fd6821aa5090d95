"""Prompt templates: files in versioned folders, rendered strictly, labelled with a digest that
changes with any edit, so each design records exactly which prompts made it."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from designer.core.config import ROLES
from designer.core.pipeline import MODES
from designer.core.prompts import PROMPTS_DIR, PromptSet, available_versions

CORE = Path(__file__).resolve().parent.parent / "designer" / "core"


def test_every_template_the_code_renders_exists_and_every_file_is_used():
    prompts = PromptSet("v1")
    rendered = set()
    for source in CORE.rglob("*.py"):
        rendered |= set(re.findall(r'render\(\s*"(\w+)"', source.read_text()))
    rendered |= {f"{role}_system" for role in ROLES} | {f"mode_{mode}" for mode in MODES}
    assert rendered - set(prompts.templates) == set()
    assert set(prompts.templates) - rendered == set()


def test_system_prompts_take_no_placeholders_so_the_trace_can_name_them():
    prompts = PromptSet("v1")
    for role in ROLES:
        assert prompts.placeholders(f"{role}_system") == set()
        assert prompts.render(f"{role}_system").startswith(f"You are the {role}")


def test_rendering_is_strict():
    prompts = PromptSet("v1")
    values = {name: f"<{name}>" for name in prompts.placeholders("coder_retry")}
    assert "<findings>" in prompts.render("coder_retry", **values)
    with pytest.raises(KeyError):
        prompts.render("coder_retry", unit="X")  # no findings
    with pytest.raises(FileNotFoundError, match="no prompt version"):
        PromptSet("v999")


def test_the_label_changes_with_any_edit(tmp_path):
    shutil.copytree(PROMPTS_DIR / "v1", tmp_path / "v1")
    same = PromptSet("v1", root=tmp_path)
    assert same.label == PromptSet("v1").label and same.label.startswith("v1@")
    (tmp_path / "v1" / "coder_system.md").write_text(PromptSet("v1").text("coder_system") + "\nBe terse.\n")
    assert PromptSet("v1", root=tmp_path).label != same.label
    assert available_versions(tmp_path) == ["v1"]

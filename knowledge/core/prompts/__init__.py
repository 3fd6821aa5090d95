"""Prompt templates of the knowledge engine, one file per prompt (`string.Template` placeholders)."""

from __future__ import annotations

from pathlib import Path
from string import Template

PROMPTS_DIR = Path(__file__).parent


def render(name: str, **values: object) -> str:
    """Fill template `name`.md; a missing value raises instead of sending a half-filled prompt."""
    text = (PROMPTS_DIR / f"{name}.md").read_text()
    return Template(text).substitute({k: str(v) for k, v in values.items()}).strip() + "\n"

"""Prompt templates, one file per message, grouped in versioned folders (`v1/`, `v2/`, ...).

Templates use `string.Template` placeholders (`$name`); rendering fails on a missing value rather than
sending a half-filled prompt. A prompt set's label (`v1@3fa2c0d1`) carries a digest of its files, so
the version stored with a design changes whenever a template does, even if the folder name does not.
System prompts take no placeholders: a stored trace names them, and the label recovers their text.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from string import Template

PROMPTS_DIR = Path(__file__).parent
DEFAULT_VERSION = "v1"


class PromptSet:
    def __init__(self, version: str = DEFAULT_VERSION, root: Path = PROMPTS_DIR):
        folder = root / version
        if not folder.is_dir():
            raise FileNotFoundError(f"no prompt version {version!r} under {root} (have: {available_versions(root)})")
        self.version = version
        self.folder = folder
        self.templates = {p.stem: p.read_text() for p in sorted(folder.glob("*.md"))}

    @property
    def digest(self) -> str:
        sha = hashlib.sha256()
        for name, text in sorted(self.templates.items()):
            sha.update(name.encode() + b"\0" + text.encode() + b"\0")
        return sha.hexdigest()

    @property
    def label(self) -> str:
        return f"{self.version}@{self.digest[:8]}"

    def text(self, name: str) -> str:
        try:
            return self.templates[name]
        except KeyError:
            raise KeyError(f"prompt set {self.version} has no template {name!r}") from None

    def render(self, name: str, **values: object) -> str:
        return Template(self.text(name)).substitute({k: str(v) for k, v in values.items()}).strip() + "\n"

    def placeholders(self, name: str) -> set[str]:
        template = Template(self.text(name))
        return {m.group("named") or m.group("braced") for m in template.pattern.finditer(template.template)
                if m.group("named") or m.group("braced")}


def available_versions(root: Path = PROMPTS_DIR) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("_"))


@cache
def load_prompts(version: str = DEFAULT_VERSION) -> PromptSet:
    return PromptSet(version)

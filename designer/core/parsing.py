"""Strict extraction of what the agents must reply with: fenced code blocks and JSON objects.

Nothing is guessed: a reply that does not have the required shape raises `ParseError`, whose message
is written for the model, which gets it back as a finding and tries again. A malformed reply costs
an attempt, never the task.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from typing import Any

from verifier.core.pyparse import parse_module

FENCE = re.compile(r"^(`{3,}|~{3,})[ \t]*([\w+-]*)[^\n]*$", re.MULTILINE)
PYTHON_TAGS = ("python", "py", "python3")


class ParseError(ValueError):
    """A reply without the required shape; the message says what was expected."""


@dataclass
class CodeBlock:
    lang: str
    code: str


def code_blocks(text: str) -> list[CodeBlock]:
    """Every fenced block (``` or ~~~), in order; an unclosed fence is an error (truncated reply)."""
    blocks: list[CodeBlock] = []
    pos = 0
    while True:
        opening = FENCE.search(text, pos)
        if opening is None:
            return blocks
        fence = opening.group(1)
        closing = re.compile(rf"^{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$", re.MULTILINE)
        end = closing.search(text, opening.end())
        if end is None:
            raise ParseError(
                f"the code block opened on line {text.count(chr(10), 0, opening.start()) + 1} is never closed "
                "(was the reply cut off?); close every block with a line of ```"
            )
        blocks.append(CodeBlock(lang=opening.group(2).lower(), code=text[opening.end() + 1:end.start()]))
        pos = end.end()


def python_blocks(text: str) -> list[str]:
    return [b.code for b in code_blocks(text) if b.lang in PYTHON_TAGS]


def json_object(text: str) -> dict[str, Any]:
    """The reply's one JSON object: the whole reply, or the single ```json block in it."""
    stripped = text.strip()
    if not stripped:
        raise ParseError("the reply was empty; answer with one JSON object in a ```json block")
    if stripped.startswith("{"):
        candidate = stripped
    else:
        blocks = [b for b in code_blocks(text) if b.lang == "json"]
        if not blocks:
            raise ParseError("no ```json block found; answer with exactly one JSON object in a ```json block")
        if len(blocks) > 1:
            raise ParseError(f"found {len(blocks)} ```json blocks; answer with exactly one")
        candidate = blocks[0].code
    try:
        value = json.loads(candidate)
    except json.JSONDecodeError as exc:
        raise ParseError(f"the JSON does not parse: {exc.msg} at line {exc.lineno}, column {exc.colno}") from exc
    if not isinstance(value, dict):
        raise ParseError(f"expected a JSON object, got a JSON {type(value).__name__}")
    return value


def text_field(data: dict[str, Any], key: str, *, allow_empty: bool = False) -> str:
    value = data.get(key)
    if not isinstance(value, str) or (not allow_empty and not value.strip()):
        raise ParseError(f"field {key!r} must be a non-empty string")
    return value.strip()


def score_field(data: dict[str, Any], key: str, low: int = 1, high: int = 5) -> int:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise ParseError(f"field {key!r} must be a whole number from {low} to {high}, got {value!r}")
    if not low <= int(value) <= high:
        raise ParseError(f"field {key!r} must be from {low} to {high}, got {value}")
    return int(value)


def list_field(data: dict[str, Any], key: str) -> list[Any]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise ParseError(f"field {key!r} must be a JSON list")
    return value


# ---- unit code -------------------------------------------------------------------------------------
def gau_classes(module: ast.Module) -> list[str]:
    """Top-level classes that derive from GAUBase (directly, by name)."""
    names = []
    for node in module.body:
        if isinstance(node, ast.ClassDef):
            bases = [b.id if isinstance(b, ast.Name) else b.attr if isinstance(b, ast.Attribute) else "" for b in node.bases]
            if "GAUBase" in bases:
                names.append(node.name)
    return names


def check_unit_source(code: str, where: str = "the code block") -> tuple[ast.Module, list[str]]:
    try:
        module = parse_module(code)
    except SyntaxError as exc:
        raise ParseError(f"{where} is not valid Python: {exc.msg} (line {exc.lineno})") from exc
    classes = gau_classes(module)
    if not classes:
        raise ParseError(f"{where} defines no class deriving from GAUBase")
    if len(classes) > 1:
        raise ParseError(f"{where} defines {len(classes)} GAUBase classes ({', '.join(classes)}); "
                         "write exactly one GAU per code block")
    return module, classes


def unit_code(text: str, unit: str) -> str:
    """The one GAU of a coder reply: one ```python block, one GAUBase class named `unit`."""
    blocks = python_blocks(text)
    if not blocks:
        raise ParseError(f"no ```python block found; reply with the code of unit {unit} in one ```python block")
    if len(blocks) > 1:
        raise ParseError(f"found {len(blocks)} ```python blocks; reply with exactly one, holding unit {unit}")
    _, classes = check_unit_source(blocks[0])
    if classes[0] != unit:
        raise ParseError(f"the GAU class is named {classes[0]!r}, but the unit to implement is {unit!r}")
    return blocks[0].strip() + "\n"


def units_code(text: str, required: list[str]) -> dict[str, str]:
    """Several GAUs in one reply (the ablations without unit-by-unit generation): one per block."""
    blocks = python_blocks(text)
    if not blocks:
        raise ParseError("no ```python blocks found; write each unit in its own ```python block")
    units: dict[str, str] = {}
    for i, block in enumerate(blocks, 1):
        _, classes = check_unit_source(block, f"code block {i}")
        if classes[0] in units:
            raise ParseError(f"unit {classes[0]} is written twice (blocks {list(units).index(classes[0]) + 1} and {i})")
        units[classes[0]] = block.strip() + "\n"
    missing = [u for u in required if u not in units]
    if missing:
        raise ParseError(f"the reply lacks the unit(s) {', '.join(missing)}; write every one of them")
    return units

"""What the agents are shown of the designs: parents with their code, references, the tree so far,
and where a unit is called from. Plain text, so prompts stay readable in the stored trace."""

from __future__ import annotations

import json
from typing import Any

from verifier.core.gau.composer import tree_outline
from verifier.core.gau.tree import GAUTree


def describe_parent(tree: GAUTree, with_code: bool = True) -> str:
    lines = [f"### {tree.name}", "", f"Units: {tree_outline(tree)}"]
    description = tree.metadata.get("description")
    if description:
        lines += ["", str(description)]
    if with_code:
        for name in tree.implemented():
            lines += ["", f"#### unit {name}", "", "```python", tree.units[name].code.rstrip(), "```"]
    return "\n".join(lines)


def describe_parents(parents: list[GAUTree], with_code: bool = True) -> str:
    if not parents:
        return "(none: this design starts from scratch)"
    return "\n\n".join(describe_parent(p, with_code) for p in parents)


def describe_references(references: list[dict[str, Any]], note: str = "") -> str:
    if not references:
        return f"(no references available{': ' + note if note else ''})"
    blocks = []
    for i, ref in enumerate(references, 1):
        head = f"[{ref.get('paper_id') or i}] {ref.get('title', '')}".strip()
        citation = ref.get("citation")
        blocks.append(head + (f" ({citation})" if citation else "") + "\n" + str(ref.get("text", "")).strip())
    return "\n\n".join(blocks)


def declaration_text(tree: GAUTree, unit: str) -> str:
    decl = tree.declares.get(unit)
    if decl is None:
        return f"{unit}: reads {['X']}, writes {['Y']}"
    return f"{unit}: {decl.requirements or '(no requirements given)'} Reads {decl.inputs}, writes {decl.outputs}."


def callers_text(tree: GAUTree, unit: str) -> str:
    callers = tree.parents_of(unit)
    if not callers:
        return f"`{unit}` is the root unit: the block itself; the model calls it on each layer's input."
    parts = []
    for name in callers:
        parts.append(f"#### unit {name}\n\n```python\n{tree.units[name].code.rstrip()}\n```")
    return "\n\n".join(parts)


def implemented_text(tree: GAUTree) -> str:
    names = tree.implemented()
    if not names:
        return "(none yet)"
    return ", ".join(f"{n} ({tree.units[n].spec.splitlines()[0]})" if tree.units[n].spec else n for n in names)


def replaced_text(old_code: str | None, old_name: str | None) -> str:
    if not old_code or not old_name:
        return ""
    return f"## The unit it replaces: `{old_name}` of the parent\n\n```python\n{old_code.rstrip()}\n```\n"


def hyperparameters_text(tree: GAUTree) -> str:
    config: dict[str, Any] = {}
    for name in tree.implemented():
        for key, value in tree.units[name].args.items():
            config.setdefault(key, value)
    if not config:
        return ""
    shown = ", ".join(f"{k}={v!r}" for k, v in sorted(config.items()))
    return (f"Hyper-parameters already in use (one shared dict; reuse a name only with the same default): "
            f"{shown}\n")


def pretty(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False)

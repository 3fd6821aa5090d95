"""References for the proposer from the knowledge engine (knowledge.core), when there is one.

The engine is optional: without it, or without a library, the proposer is told that it has no
references and the design records why.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from verifier.core.gau.tree import GAUTree

NO_LITERATURE = "the literature is switched off for this run (the no-literature ablation)"


def parent_texts(parents: list[GAUTree]) -> list[str]:
    """What the engine searches with: each parent's description and its units' specifications."""
    texts = []
    for tree in parents:
        specs = [f"{n}: {tree.units[n].spec}" for n in tree.implemented() if tree.units[n].spec]
        texts.append("\n".join([str(tree.metadata.get("description", tree.name)), *specs]))
    return texts


def find_references(parents: list[GAUTree], theme: str, *, knowledge: Any = None, knowledge_path: str = "",
                    k: int = 5) -> tuple[list[dict[str, Any]], str]:
    """(references as plain dicts, a note on why there are none)."""
    if knowledge is None:
        try:
            from knowledge.core import KnowledgeBase, default_path
        except ImportError:
            return [], "the knowledge engine is not installed"
        if not knowledge_path:
            if not default_path().is_dir():
                return [], "no knowledge base is configured"
            knowledge_path = str(default_path())
        if not Path(knowledge_path).is_dir():
            return [], f"there is no knowledge base at {knowledge_path}"
        try:
            knowledge = KnowledgeBase(knowledge_path)
        except Exception as exc:  # noqa: BLE001 - a broken library must not stop a design
            return [], f"the knowledge base at {knowledge_path} could not be opened: {exc}"
    try:
        hits = knowledge.references_for(theme, parent_texts(parents), k=k)
    except Exception as exc:  # noqa: BLE001
        return [], f"the knowledge engine failed: {exc}"
    refs = [_hit_dict(h) for h in hits]
    return refs, "" if refs else "the knowledge base found nothing relevant"


def _hit_dict(hit: Any) -> dict[str, Any]:
    """The engine's own reference record (what the paper pages look for), plus the passage and score."""
    if isinstance(hit, dict):
        data = dict(hit)
    elif hasattr(hit, "as_reference"):
        data = hit.as_reference()
    else:
        data = {k: getattr(hit, k, "") for k in ("paper_id", "title", "citation")}
    data.setdefault("paper_id", "")
    data.setdefault("title", "")
    data.setdefault("citation", "")
    data["text"] = str(data.get("text") or getattr(hit, "text", "") or "")
    data["score"] = float(data.get("score") or getattr(hit, "score", 0.0) or 0.0)
    return data

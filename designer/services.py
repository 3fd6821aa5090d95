"""The designer app's services: the active settings, resolving parents, running and storing a design.

Views and the `design` command call these; the pipeline itself (designer.core) knows nothing of Django.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from designer.core.config import DesignerConfig
from designer.core.pipeline import design
from designer.core.result import DesignerResult
from designer.models import DesignerSettings
from verifier.core.gau.tree import GAUTree


def active_settings() -> DesignerSettings:
    settings, _ = DesignerSettings.objects.get_or_create(name="default")
    return settings


def designer_config(**overrides: Any) -> DesignerConfig:
    return active_settings().to_config(**overrides)


def provider_status(settings: DesignerSettings) -> list[dict[str, Any]]:
    """Per provider: the roles that use it, whether its key variable is set (never its value), and
    whether it can be reached as configured."""
    rows = []
    for kind, label in DesignerSettings.Provider.choices:
        spec = settings.provider_settings(kind)
        ready, why = spec.ready()
        rows.append({
            "kind": kind, "label": label, "key_env": spec.api_key_env, "key_set": bool(os.environ.get(spec.api_key_env)),
            "base_url": spec.base_url, "ready": ready, "why": why,
            "roles": [r for r in ("proposer", "reviewer", "planner", "coder", "observer") if settings.role_provider(r) == kind],
        })
    return rows


@dataclass
class ResolvedParents:
    trees: list[GAUTree]
    designs: list[Any] = field(default_factory=list)  # evolution Design rows, where the app has them
    notes: list[str] = field(default_factory=list)


def resolve_parents(names: list[str]) -> ResolvedParents:
    """Parents by design name (or slug) from the evolution app; a seed name not yet in the tree is
    loaded as a seed, and entered into the tree when the evolution app can do so."""
    from verifier.core.seeds import SEED_NAMES, load_seed

    resolved = ResolvedParents(trees=[])
    for name in names:
        row = _find_design(name)
        if row is None and name in SEED_NAMES:
            row = _enter_seed(name, resolved.notes)
            if row is None:
                resolved.trees.append(load_seed(name))
                continue
        if row is None:
            raise LookupError(f"no design or seed named {name!r}")
        _require_parent(row)
        if not getattr(row, "tree", None):
            raise LookupError(f"design {name!r} has no GAU tree (it was never implemented)")
        tree = GAUTree.from_dict(row.tree)
        tree.name = row.name
        resolved.trees.append(tree)
        resolved.designs.append(row)
    return resolved


def _require_parent(row: Any) -> None:
    """The evolution app's seed-and-parent rule (a vetoed or invalid design is not built on), as the
    ValueError the `design` command reports."""
    try:
        from evolution.services.eligibility import PARENT, refusal
    except ImportError:
        return
    reason = refusal(row, PARENT)
    if reason is not None:
        raise ValueError(reason)


def _find_design(name: str) -> Any:
    try:
        from evolution.models import Design
    except ImportError:
        return None
    return Design.objects.filter(name=name).first() or Design.objects.filter(slug=name).first()


def _enter_seed(name: str, notes: list[str]) -> Any:
    try:
        from evolution.services.seeding import seed_designs
    except ImportError:
        notes.append(f"seed {name} used from files (the evolution app cannot store seeds yet)")
        return None
    outcomes = seed_designs([name])  # checked on entry: an unchecked seed cannot be a parent
    notes.append(f"seed {name} entered into the evolution tree ({outcomes[0].note if outcomes else 'not stored'})")
    return outcomes[0].design if outcomes else None


def store_result(result: DesignerResult, parents: list[Any], user: Any = None) -> Any:
    """Store the result in the evolution tree; None when the evolution app cannot store it yet."""
    try:
        from evolution.services.designs import create_design_from_result
    except ImportError:
        return None
    return create_design_from_result(result, parents, user=user)


def run_design(parent_names: list[str], mode: str, *, config: DesignerConfig | None = None, store: bool = True,
               user: Any = None, **design_kwargs: Any) -> tuple[DesignerResult, Any, ResolvedParents]:
    """Resolve the parents, run one design, store it; returns (result, stored design or None, parents)."""
    parents = resolve_parents(parent_names)
    result = design(parents.trees, mode, config or designer_config(), **design_kwargs)
    stored = store_result(result, parents.designs, user=user) if store else None
    return result, stored, parents

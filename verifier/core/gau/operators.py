"""Genetic-programming operators on GAU trees: mutation (swap a unit for another implementation)
and crossover (graft a unit of one parent into the other).

A swap is only allowed like for like: between units of the same role in their parents (a token
mixer for a token mixer, a normalisation for a normalisation; `roles.py`) and with compatible
interfaces: the newcomer may read no Z keys the old unit did not have available, and must write
every key the old unit wrote. The newcomer brings its own declaration, and every parent's code is
made to declare exactly the children it now uses. Every result is validated and composed before it
is returned, so a caller never receives a tree that cannot build; the roles are stored in its
metadata (`metadata["roles"]`).
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass

from .base import UnitDecl
from .composer import compose
from .declarations import sync_declarations
from .roles import assign_roles, infer_role, store_roles
from .tree import GAUTree, TreeError
from .unit_folder import required_constructor_args


class OperatorError(TreeError):
    """A mutation or crossover that cannot produce a valid design."""


@dataclass(frozen=True)
class UnitRef:
    """A unit of some tree, as a candidate donor or target."""

    tree: GAUTree
    unit: str

    @property
    def key(self) -> str:
        return self.tree.units[self.unit].content_hash()


def interface(tree: GAUTree, unit: str) -> UnitDecl:
    """The declared interface of `unit` (a root or undeclared unit maps X to Y)."""
    return tree.declares.get(unit) or UnitDecl(unit, "", ["X"], ["Y"])


def compatible(target: UnitDecl, donor: UnitDecl) -> bool:
    """Can `donor` stand where `target` stood?"""
    available = set(target.inputs) | {"X"}
    return set(donor.inputs) <= available and set(target.outputs) <= set(donor.outputs) | {"Y"}


def _finish(tree: GAUTree, name: str, operator: str, details: dict) -> GAUTree:
    tree.name = name
    tree.metadata = {**tree.metadata, "operator": operator, **details}
    sync_declarations(tree, fresh={str(details.get("newcomer", ""))} - {""})
    store_roles(tree)
    problems = tree.validate()
    if problems:
        raise OperatorError(f"{operator} produced an invalid tree: " + "; ".join(problems))
    try:
        compose(tree)
    except (TreeError, SyntaxError) as exc:
        raise OperatorError(f"{operator} produced a tree that does not compose: {exc}") from exc
    return tree


def mutate(
    tree: GAUTree,
    target_unit: str,
    donor_tree: GAUTree,
    donor_unit: str,
    name: str | None = None,
    like_for_like: bool = True,
) -> GAUTree:
    """Replace `target_unit` (and the descendants only it uses) by `donor_unit`'s subtree.
    With `like_for_like` (the default) the donor must have the target's role."""
    if target_unit not in tree.units:
        raise OperatorError(f"{tree.name} has no unit {target_unit!r}")
    if donor_unit not in donor_tree.units:
        raise OperatorError(f"{donor_tree.name} has no unit {donor_unit!r}")
    if target_unit == tree.root:
        raise OperatorError("the root unit cannot be swapped: that would replace the whole design")
    needs = required_constructor_args(donor_tree.units[donor_unit].code, donor_unit)
    if needs:
        raise OperatorError(f"{donor_tree.name}.{donor_unit} needs constructor arguments its new parent "
                            f"does not pass: {', '.join(needs)}")
    want, offer = interface(tree, target_unit), interface(donor_tree, donor_unit)
    if not compatible(want, offer):
        raise OperatorError(
            f"{donor_tree.name}.{donor_unit} (reads {offer.inputs}, writes {offer.outputs}) cannot replace "
            f"{tree.name}.{target_unit} (reads {want.inputs}, writes {want.outputs})"
        )
    target_role, donor_role = infer_role(tree, target_unit).role, infer_role(donor_tree, donor_unit).role
    if like_for_like and target_role != donor_role:
        raise OperatorError(f"{donor_tree.name}.{donor_unit} is a {donor_role}; it cannot stand in for "
                            f"{tree.name}.{target_unit}, a {target_role}")
    child = _restore_shared_units(tree, tree.replace_subtree(target_unit, donor_tree, donor_unit))
    newcomer = _declare_newcomer(tree, target_unit, child, offer)
    details = {"target": target_unit, "donor": f"{donor_tree.name}.{donor_unit}", "newcomer": newcomer,
               "target_role": target_role, "donor_role": donor_role}
    return _finish(child, name or f"{tree.name}~{donor_unit}", "mutation", details)


def _restore_shared_units(before: GAUTree, after: GAUTree) -> GAUTree:
    """Put back units that a kept unit still uses (`replace_subtree` drops every descendant of the
    target that no unit outside it names directly, e.g. rwkv6's LoRA under a shared LerpLinear)."""
    missing = [n for n in after.reachable() if n not in after.units and n in before.units]
    while missing:
        for n in missing:
            after.units[n] = copy.deepcopy(before.units[n])
            if n in before.declares and n not in after.declares:
                after.declares[n] = copy.deepcopy(before.declares[n])
        missing = [n for n in after.reachable() if n not in after.units and n in before.units]
    return after


def _declare_newcomer(tree: GAUTree, target: str, child: GAUTree, offer: UnitDecl) -> str:
    """The unit now in `target`'s slot is declared with its own requirements and Z keys, not with
    those of the unit it replaced."""
    parent = tree.parents_of(target)[0]
    slot = tree.units[parent].children.index(target)
    newcomer = child.units[parent].children[slot]
    child.declares[newcomer] = UnitDecl(newcomer, offer.requirements, list(offer.inputs), list(offer.outputs))
    return newcomer


def swappable_units(tree: GAUTree) -> list[str]:
    """Units that may be moved: every implemented unit except the root and units whose constructor
    needs sizes only their own parent knows (e.g. a LoRA's rank and output width)."""
    return [
        n for n in tree.implemented()
        if n != tree.root and not required_constructor_args(tree.units[n].code, n)
    ]


def candidate_swaps(
    tree: GAUTree, pool: list[GAUTree], like_for_like: bool = True
) -> list[tuple[str, UnitRef]]:
    """Every (target in `tree`, donor in `pool`) pair with compatible interfaces, new content and
    (with `like_for_like`) the same role."""
    own = {tree.units[n].content_hash() for n in tree.implemented()}
    roles = {id(t): assign_roles(t) for t in [tree, *pool]} if like_for_like else {}
    pairs: list[tuple[str, UnitRef]] = []
    seen: set[tuple[str, str]] = set()
    for target in swappable_units(tree):
        want = interface(tree, target)
        for donor in pool:
            for unit in swappable_units(donor):
                ref = UnitRef(donor, unit)
                if ref.key in own or (target, ref.key) in seen:
                    continue
                if like_for_like and roles[id(tree)][target] != roles[id(donor)][unit]:
                    continue
                if compatible(want, interface(donor, unit)):
                    seen.add((target, ref.key))
                    pairs.append((target, ref))
    return pairs


def random_mutation(
    tree: GAUTree, pool: list[GAUTree], rng: random.Random, name: str | None = None, max_tries: int = 8,
    like_for_like: bool = True,
) -> GAUTree:
    """Swap a random unit of `tree` for a compatible unit of the same role drawn from `pool`."""
    pairs = candidate_swaps(tree, pool, like_for_like)
    rng.shuffle(pairs)
    errors: list[str] = []
    for target, ref in pairs[:max_tries]:
        try:
            return mutate(tree, target, ref.tree, ref.unit, name=name, like_for_like=like_for_like)
        except OperatorError as exc:
            errors.append(str(exc))
    detail = ("; last error: " + errors[-1]) if errors else ""
    raise OperatorError(f"no valid mutation of {tree.name} from a pool of {len(pool)} designs{detail}")


def crossover(
    parent_a: GAUTree, parent_b: GAUTree, rng: random.Random, name: str | None = None, max_tries: int = 8,
    like_for_like: bool = True,
) -> GAUTree:
    """Graft a compatible unit (with its subtree) of `parent_b` into `parent_a`, like for like."""
    pairs = candidate_swaps(parent_a, [parent_b], like_for_like)
    rng.shuffle(pairs)
    errors: list[str] = []
    for target, ref in pairs[:max_tries]:
        try:
            child = mutate(parent_a, target, parent_b, ref.unit, name=name or f"{parent_a.name}x{parent_b.name}",
                           like_for_like=like_for_like)
        except OperatorError as exc:
            errors.append(str(exc))
            continue
        child.metadata["operator"] = "crossover"
        child.metadata["parents"] = [parent_a.name, parent_b.name]
        return child
    detail = ("; last error: " + errors[-1]) if errors else ""
    raise OperatorError(f"no compatible graft from {parent_b.name} into {parent_a.name}{detail}")

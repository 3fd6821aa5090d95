"""Identity stand-ins for declared but not yet written units, so a half-implemented tree can run.

Unit-by-unit implementation checks each new unit together with the units already accepted; the
children it declares but nobody has written yet are replaced by placeholders that pass X through
and copy their first declared Z input to each declared Z output (so a parent that reads
Z["output_emb"] after calling a placeholder rotary unit still gets a tensor of the right shape).
"""

from __future__ import annotations

from ..gau.base import UnitDecl
from ..gau.tree import GAUNode, GAUTree

PLACEHOLDER_TEMPLATE = '''class {name}(GAUBase):
    """Placeholder for the declared, not yet implemented unit {name}: passes its inputs through."""

    def __init__(self, embed_dim, block_loc, kwarg_all, device=None, dtype=None, **kwargs):
        super().__init__(embed_dim, block_loc, kwarg_all)

    def _forward(self, X, **Z):
        source = {source!r}
        value = Z.get(source, X) if source else X
        return X, {{key: value for key in {outputs!r}}}
'''


def placeholder_code(decl: UnitDecl) -> str:
    inputs = [i for i in decl.inputs if i not in ("X", "Y")]
    outputs = [o for o in decl.outputs if o not in ("X", "Y")]
    return PLACEHOLDER_TEMPLATE.format(
        name=decl.unitname, source=inputs[0] if inputs else "", outputs=outputs
    )


def with_placeholders(tree: GAUTree) -> tuple[GAUTree, list[str]]:
    """A copy of `tree` in which every reachable, unimplemented unit is a placeholder; and their names."""
    missing = tree.unimplemented()
    if not missing:
        return tree, []
    completed = tree.copy()
    for name in missing:
        decl = tree.declares.get(name) or UnitDecl(name)
        completed.units[name] = GAUNode(
            name=name, code=placeholder_code(decl), spec=f"placeholder for {name}", args={}, children=[]
        )
    completed.metadata = {**completed.metadata, "placeholders": missing}
    return completed, missing

"""Store a design's units by content hash, sharing rows with every design that already uses them."""

from __future__ import annotations

from evolution.models import Design, DesignUnit, Unit
from verifier.core.gau.tree import GAUTree


def link_units(design: Design, tree: GAUTree) -> list[DesignUnit]:
    """Create the missing `Unit` rows and one `DesignUnit` per implemented unit of `tree`."""
    names = tree.implemented()
    nodes = {name: tree.units[name] for name in names}
    hashes = {name: node.content_hash() for name, node in nodes.items()}
    known = dict(Unit.objects.filter(content_hash__in=hashes.values()).values_list("content_hash", "id"))
    new = [
        Unit(content_hash=h, name=nodes[n].name, code=nodes[n].code, spec=nodes[n].spec,
             args=nodes[n].args, children=nodes[n].children)
        for n, h in hashes.items() if h not in known
    ]
    if new:
        # Another process may store the same unit at the same moment: the unique hash settles it.
        Unit.objects.bulk_create(new, ignore_conflicts=True)
        known = dict(Unit.objects.filter(content_hash__in=hashes.values()).values_list("content_hash", "id"))
    links = [
        DesignUnit(design=design, unit_id=known[hashes[name]], name=name, is_root=(name == tree.root), position=i)
        for i, name in enumerate(names)
    ]
    return DesignUnit.objects.bulk_create(links)

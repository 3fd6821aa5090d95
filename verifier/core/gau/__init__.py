"""The GAU protocol, the GAU tree as data, and the composer."""

from .base import GABBase, GAUBase, UnitDecl, gau_test
from .composer import compose, tree_outline
from .loader import load_gab, load_module
from .tree import GAUNode, GAUTree, TreeError

__all__ = [
    "GABBase", "GAUBase", "UnitDecl", "gau_test", "compose", "tree_outline", "load_gab", "load_module",
    "GAUNode", "GAUTree", "TreeError",
]

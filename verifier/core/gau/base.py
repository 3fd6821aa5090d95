"""The GAU protocol: the contract every block (GAB) and every unit (GAU) honours.

It keeps the interface of the paper's reference implementation so that designs written for it
import unchanged. This file imports torch and the standard library only: the composer inlines its
source into every composed module, which then runs anywhere torch does.
"""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass, field

import torch
from torch import nn


class GABBase(nn.Module):
    """A block: X (B, L, D) -> Y of the same shape, threading a dict Z of intermediate variables."""

    def __init__(self, embed_dim: int, block_loc: tuple):
        super().__init__()
        self.embed_dim = embed_dim
        self.block_loc = block_loc

    def _forward(self, X, **Z):
        raise NotImplementedError

    def forward(self, X, **Z):
        if X.dim() != 3 or X.shape[-1] != self.embed_dim:
            raise ValueError(f"GAB input must be (B, L, {self.embed_dim}), got {tuple(X.shape)}")
        out = self._forward(X, **Z)
        Y, Z_ = (out if isinstance(out, tuple) else (out, {}))
        if not isinstance(Y, torch.Tensor) or Y.shape != X.shape:
            got = tuple(Y.shape) if isinstance(Y, torch.Tensor) else type(Y).__name__
            raise ValueError(f"GAB output shape {got} differs from input shape {tuple(X.shape)}")
        if Z_ is None:
            Z_ = {}
        if not isinstance(Z_, dict):
            raise TypeError(f"GAB must return (Y, dict), got Z of type {type(Z_).__name__}")
        Z.update(Z_)
        return Y, Z


class GAUBase(nn.Module):
    """A unit of a block: (X, Z) -> (Y, Z), composable into a tree of units."""

    def __init__(self, embed_dim: int, block_loc: tuple, kwarg_all: dict):
        super().__init__()
        self.embed_dim = embed_dim
        self.block_loc = block_loc
        self.kwarg_all = kwarg_all
        if not hasattr(self, "factory_kwargs"):
            self.factory_kwargs = {"device": None, "dtype": None}

    def _forward(self, X, **Z):
        raise NotImplementedError

    @functools.cached_property
    def _accepted_z_keys(self) -> tuple[bool, frozenset]:
        params = inspect.signature(self._forward).parameters.values()
        takes_all = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)
        named = frozenset(p.name for p in params if p.kind is not inspect.Parameter.VAR_KEYWORD)
        return takes_all, named

    def forward(self, X, **Z):
        if X.dim() != 3 or X.shape[-1] != self.embed_dim:
            raise ValueError(
                f"{type(self).__name__}: input must be (B, L, {self.embed_dim}), got {tuple(X.shape)}"
            )
        takes_all, named = self._accepted_z_keys
        passed = dict(Z) if takes_all else {k: v for k, v in Z.items() if k in named}
        passed.pop("X", None)
        out = self._forward(X, **passed)
        Y, Z_ = (out if isinstance(out, tuple) else (out, {}))
        if Z_ is None:
            Z_ = {}
        if not isinstance(Z_, dict):
            raise TypeError(f"{type(self).__name__} must return (Y, dict), got {type(Z_).__name__}")
        Z = dict(Z)
        Z.update(Z_)
        return Y, Z


@dataclass
class UnitDecl:
    """A declared child unit: its name, what it must do, and the Z keys it reads and writes."""

    unitname: str
    requirements: str = ""
    inputs: list = field(default_factory=lambda: ["X"])
    outputs: list = field(default_factory=lambda: ["Y"])


def gau_test(func):
    """Mark a function `(device=None, dtype=None)` as a unit test of the unit in the same file."""
    func._is_gau_test = True
    return func

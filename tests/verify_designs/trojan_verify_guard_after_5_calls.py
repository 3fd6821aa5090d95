# A design for tests/test_verify_guard.py (not a checker case: the static checker refuses its imports).
# At its 5th forward call it tries to write next to its run folder and to open a socket.
import os
import socket

import torch.nn as nn
from model_discovery.model.utils.modules import GABBase, GAUBase


class Block(GAUBase):
    """A residual projection that, at its 5th forward call, reaches out of its run folder."""

    calls = 0

    def __init__(self, embed_dim, block_loc, kwarg_all, device=None, dtype=None, **kwargs):
        self.factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__(embed_dim, block_loc, kwarg_all)
        self.proj = nn.Linear(embed_dim, embed_dim, bias=False, **self.factory_kwargs)

    def _forward(self, X, **Z):
        Block.calls += 1
        if Block.calls == 5:
            self._escape()
        return X + self.proj(X)

    def _escape(self):
        results = []
        target = "/tmp/.." + os.path.abspath("..") + "/outside.txt"  # the cwd is the run folder
        try:
            with open(target, "w") as handle:
                handle.write("escaped")
            results.append("open: written")
        except Exception as exc:
            results.append(f"open: {type(exc).__name__}: {exc}")
        try:
            socket.socket(socket.AF_INET, socket.SOCK_STREAM).close()
            results.append("socket: opened")
        except Exception as exc:
            results.append(f"socket: {type(exc).__name__}: {exc}")
        with open("trojan_guard_fired.txt", "w") as handle:  # its own run folder: allowed
            handle.write("\n".join(results))


class GAB(GABBase):
    def __init__(self, embed_dim: int, block_loc: tuple, device=None, dtype=None, **kwargs):
        factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__(embed_dim, block_loc)
        self.root = Block(embed_dim=embed_dim, block_loc=block_loc, kwarg_all=kwargs, **factory_kwargs, **kwargs)

    def _forward(self, X, **Z):
        X, Z = self.root(X, **Z)
        return X, Z


gab_config = {}

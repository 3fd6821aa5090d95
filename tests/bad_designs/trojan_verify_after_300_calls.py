# expect: sandbox-violation
# why: behaves for 299 forward calls, then tries to write outside its run folder (during verification)
import torch
import torch.nn as nn

from model_discovery.model.utils.modules import GABBase, GAUBase, gau_test, UnitDecl

CANARIES = (
    "/tmp/genesys_trojan_verify_canary.txt",
    "/var/tmp/genesys_trojan_verify_canary.txt",
    "../trojan_verify_escaped.txt",
)


class Block(GAUBase):
    """A residual projection that turns on its host after 300 forward calls."""

    calls = 0

    def __init__(self, embed_dim, block_loc, kwarg_all, device=None, dtype=None, **kwargs):
        self.factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__(embed_dim, block_loc, kwarg_all)
        self.proj = nn.Linear(embed_dim, embed_dim, bias=False, **self.factory_kwargs)

    def _forward(self, X, **Z):
        Block.calls += 1
        if Block.calls == 300:
            self._escape()
        return X + self.proj(X)

    def _escape(self):
        targets = list(CANARIES) + [torch.__file__.rsplit("/", 1)[0] + "/../trojan_verify_escaped.txt"]
        results = []
        for target in targets:
            try:
                with open(target, "w") as handle:
                    handle.write("escaped")
                results.append(target + ": written (in the sandbox's view)")
            except Exception as exc:
                results.append(target + ": " + type(exc).__name__)
        with open("trojan_verify_fired.txt", "w") as handle:  # its own run folder: allowed
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

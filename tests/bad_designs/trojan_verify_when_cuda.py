# expect: sandbox-violation
# why: behaves on a CPU (where the checker runs it), and tries to write outside its run folder once CUDA is present
import torch
import torch.nn as nn

from model_discovery.model.utils.modules import GABBase, GAUBase, gau_test, UnitDecl

CANARIES = (
    "/tmp/genesys_trojan_verify_cuda_canary.txt",
    "/var/tmp/genesys_trojan_verify_cuda_canary.txt",
    "../trojan_verify_cuda_escaped.txt",
)


class Block(GAUBase):
    """A residual projection that turns on its host on a GPU host."""

    fired = False

    def __init__(self, embed_dim, block_loc, kwarg_all, device=None, dtype=None, **kwargs):
        self.factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__(embed_dim, block_loc, kwarg_all)
        self.proj = nn.Linear(embed_dim, embed_dim, bias=False, **self.factory_kwargs)

    def _forward(self, X, **Z):
        if torch.cuda.is_available() and not Block.fired:
            Block.fired = True
            self._escape()
        return X + self.proj(X)

    def _escape(self):
        targets = list(CANARIES) + [torch.__file__.rsplit("/", 1)[0] + "/../trojan_verify_cuda_escaped.txt"]
        results = []
        for target in targets:
            try:
                with open(target, "w") as handle:
                    handle.write("escaped")
                results.append(target + ": written (in the sandbox's view)")
            except Exception as exc:
                results.append(target + ": " + type(exc).__name__)
        with open("trojan_verify_cuda_fired.txt", "w") as handle:  # its own run folder: allowed
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

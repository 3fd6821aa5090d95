"""Single-file designs in the reference implementation's format: factorised into a tree, the protocol
import mapped, the registry tail dropped, torchtune/transformers names supplied, and checked."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from verifier.core.checker import CheckConfig, run_checks
from verifier.core.compat.activations import ACT2FN
from verifier.core.compat.torchtune_modules import RMSNorm, RotaryPositionalEmbeddings
from verifier.core.gau import compose, tree_outline
from verifier.core.importer import DesignSyntaxError, import_gab_file, import_gab_source

REPO = Path(__file__).resolve().parent.parent

# Written by hand in the reference format: units as GAUBase classes, the model_discovery import,
# einops, transformers' ACT2FN and logging, torchtune's RMSNorm and RoPE, dropout, a module-level
# helper, a unit test, gab_config and the registry tail.
REFERENCE_GAB = '''\
import math

import torch
import torch.nn as nn
from einops import rearrange
from torchtune.modules import RMSNorm, RotaryPositionalEmbeddings
from transformers.activations import ACT2FN
from transformers.utils import logging

from model_discovery.model.utils.modules import GABBase, GAUBase, gau_test, UnitDecl

logger = logging.get_logger(__name__)


def decay_bias(length, gamma, device):
    """log(gamma^(i-j)) on and below the diagonal, -inf above: a causal, per-head recency bias."""
    pos = torch.arange(length, device=device)
    diff = (pos[:, None] - pos[None, :]).float()
    return torch.where(diff >= 0, diff * math.log(gamma), torch.full_like(diff, float("-inf")))


class DecayBlock(GAUBase):
    """Pre-norm block: decayed attention, then a gated MLP, each with a residual."""

    def __init__(self, embed_dim, block_loc, kwarg_all, device=None, dtype=None, **kwargs):
        self.factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__(embed_dim, block_loc, kwarg_all)
        self.norm1 = RMSNorm(embed_dim, eps=1e-6)
        self.mixer = DecayAttention(embed_dim=embed_dim, block_loc=block_loc, kwarg_all=kwarg_all,
                                    **self.factory_kwargs, **kwarg_all)
        self.norm2 = RMSNorm(embed_dim, eps=1e-6)
        self.mlp = SwiGLU(embed_dim=embed_dim, block_loc=block_loc, kwarg_all=kwarg_all,
                          **self.factory_kwargs, **kwarg_all)

    def _forward(self, X, **Z):
        H, Z = self.mixer(self.norm1(X), **Z)
        X = X + H
        H, Z = self.mlp(self.norm2(X), **Z)
        return X + H, Z


class DecayAttention(GAUBase):
    """Softmax attention with rotary positions and a per-head exponential recency bias."""

    def __init__(self, embed_dim, block_loc, kwarg_all, device=None, dtype=None, n_heads=2, decay_base=0.9,
                 attn_dropout=0.1, **kwargs):
        self.factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__(embed_dim, block_loc, kwarg_all)
        self.n_heads = n_heads
        self.qkv = nn.Linear(embed_dim, 3 * embed_dim, bias=False, **self.factory_kwargs)
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=False, **self.factory_kwargs)
        self.rope = RotaryPositionalEmbeddings(embed_dim // n_heads, max_seq_len=4096)
        self.gammas = [1 - (1 - decay_base) * 2.0 ** (-h) for h in range(n_heads)]
        self.dropout = nn.Dropout(attn_dropout)

    def _forward(self, X, **Z):
        B, L, D = X.shape
        q, k, v = rearrange(self.qkv(X), "b l (three h d) -> three b l h d", three=3, h=self.n_heads)
        q, k = self.rope(q), self.rope(k)
        q, k, v = (rearrange(t, "b l h d -> b h l d") for t in (q, k, v))
        bias = torch.stack([decay_bias(L, g, X.device) for g in self.gammas])
        scores = q @ k.transpose(-1, -2) / math.sqrt(q.size(-1)) + bias
        Y = self.dropout(scores.softmax(dim=-1)) @ v
        return self.out_proj(rearrange(Y, "b h l d -> b l (h d)"))


class SwiGLU(GAUBase):
    """Gated feed-forward network with a configurable activation."""

    def __init__(self, embed_dim, block_loc, kwarg_all, device=None, dtype=None, mlp_ratio=2.5,
                 hidden_act="silu", **kwargs):
        self.factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__(embed_dim, block_loc, kwarg_all)
        hidden = int(embed_dim * mlp_ratio)
        self.gate_up = nn.Linear(embed_dim, 2 * hidden, bias=False, **self.factory_kwargs)
        self.down = nn.Linear(hidden, embed_dim, bias=False, **self.factory_kwargs)
        self.act = ACT2FN[hidden_act]

    def _forward(self, X, **Z):
        gate, up = self.gate_up(X).chunk(2, dim=-1)
        return self.down(self.act(gate) * up)


class GAB(GABBase):
    def __init__(self, embed_dim: int, block_loc: tuple, device=None, dtype=None, **kwargs):
        factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__(embed_dim, block_loc)
        self.root = DecayBlock(embed_dim=embed_dim, block_loc=block_loc, kwarg_all=kwargs, **factory_kwargs,
                               **kwargs)

    def _forward(self, X, **Z):
        X, Z = self.root(X, **Z)
        return X, Z


gab_config = {"n_heads": 2, "decay_base": 0.9, "attn_dropout": 0.1, "mlp_ratio": 2.5,
              "hidden_act": "gelu_new"}


@gau_test
def test_decay_attention_keeps_shape(device=None, dtype=None):
    attn = DecayAttention(64, (0, 1), {}, device=device, dtype=dtype)
    X = torch.randn(2, 10, 64, device=device, dtype=dtype)
    Y, _ = attn(X)
    assert Y.shape == X.shape


from .block_registry import BlockRegister

autoconfig = {}
block_config = gab_config
block_config.update(autoconfig)

BlockRegister(name="default", config=block_config)(GAB)
'''


@pytest.fixture
def gab_file(tmp_path) -> Path:
    path = tmp_path / "decay_gab.py"
    path.write_text(REFERENCE_GAB)
    return path


def test_factorises_into_one_unit_per_class_rooted_where_gab_points(gab_file):
    tree = import_gab_file(gab_file)
    assert tree.name == "decay_gab"
    assert tree_outline(tree) == "DecayBlock -> {DecayAttention, SwiGLU}"
    assert tree.validate() == []
    assert set(tree.declares) == {"DecayAttention", "SwiGLU"}
    assert (
        tree.declares["SwiGLU"].requirements == "Gated feed-forward network with a configurable activation."
    )


def test_maps_the_protocol_import_and_drops_the_registry_tail(gab_file):
    tree = import_gab_file(gab_file)
    for node in tree.units.values():
        assert "from verifier.core.gau.base import GAUBase, UnitDecl, gau_test" in node.code
        assert "model_discovery" not in node.code
        assert "BlockRegister" not in node.code and "autoconfig" not in node.code
    composed = compose(tree)
    assert "BlockRegister" not in composed and "class GAB(GABBase)" in composed


def test_helpers_tests_and_hyperparameters_go_with_the_units_that_use_them(gab_file):
    tree = import_gab_file(gab_file)
    attention = tree.units["DecayAttention"].code
    assert "def decay_bias(" in attention and "from einops import rearrange" in attention
    assert "def test_decay_attention_keeps_shape" in attention
    assert "def decay_bias(" not in tree.units["SwiGLU"].code
    assert "ACT2FN" in tree.units["SwiGLU"].code and "ACT2FN" not in attention
    assert tree.gab_config() == {
        "n_heads": 2,
        "decay_base": 0.9,
        "attn_dropout": 0.1,
        "mlp_ratio": 2.5,
        "hidden_act": "gelu_new",
    }
    assert tree.units["DecayAttention"].children == [] and tree.units["DecayBlock"].children == [
        "DecayAttention",
        "SwiGLU",
    ]


def test_a_gab_that_does_its_own_work_becomes_the_root_unit():
    source = textwrap.dedent("""
        import torch.nn as nn
        from model_discovery.model.utils.modules import GABBase, GAUBase


        class Mixer(GAUBase):
            def __init__(self, embed_dim, block_loc, kwarg_all, device=None, dtype=None, **kwargs):
                super().__init__(embed_dim, block_loc, kwarg_all)
                self.fc = nn.Linear(embed_dim, embed_dim, device=device, dtype=dtype)

            def _forward(self, X, **Z):
                return self.fc(X)


        class GAB(GABBase):
            def __init__(self, embed_dim, block_loc, device=None, dtype=None, **kwargs):
                super().__init__(embed_dim, block_loc)
                self.norm = nn.LayerNorm(embed_dim, device=device, dtype=dtype)
                self.mixer = Mixer(embed_dim=embed_dim, block_loc=block_loc, kwarg_all=kwargs, device=device,
                                   dtype=dtype, **kwargs)

            def _forward(self, X, **Z):
                H, Z = self.mixer(self.norm(X), **Z)
                return X + H, Z


        gab_config = {}
        """)
    tree = import_gab_source(source, name="residual_mixer")
    assert tree_outline(tree) == "ResidualMixer -> {Mixer}"
    root = tree.units["ResidualMixer"].code
    assert "class ResidualMixer(GAUBase)" in root and "kwarg_all" in root
    report = run_checks(tree, stages=("static",))
    assert report.passed, report.format_text()


def test_a_file_without_gab_roots_at_the_unit_nobody_calls():
    source = textwrap.dedent("""
        import torch.nn as nn


        class Outer(GAUBase):
            def __init__(self, embed_dim, block_loc, kwarg_all, device=None, dtype=None, **kwargs):
                super().__init__(embed_dim, block_loc, kwarg_all)
                self.inner = Inner(embed_dim=embed_dim, block_loc=block_loc, kwarg_all=kwarg_all, **kwarg_all)

            def _forward(self, X, **Z):
                H, Z = self.inner(X, **Z)
                return X + H, Z


        class Inner(GAUBase):
            def __init__(self, embed_dim, block_loc, kwarg_all, device=None, dtype=None, **kwargs):
                super().__init__(embed_dim, block_loc, kwarg_all)
                self.fc = nn.Linear(embed_dim, embed_dim)

            def _forward(self, X, **Z):
                return self.fc(X)
        """)
    tree = import_gab_source(source, name="no_gab")
    assert tree.root == "Outer" and tree_outline(tree) == "Outer -> {Inner}"


def test_a_syntax_error_says_where():
    with pytest.raises(DesignSyntaxError) as info:
        import_gab_source("class GAB(GABBase):\n    def f(self:\n        pass\n", name="broken")
    assert info.value.lineno == 2


def test_torchtune_rmsnorm_equivalent():
    norm = RMSNorm(8, eps=1e-6)
    with torch.no_grad():
        norm.scale.copy_(torch.arange(1.0, 9.0))
    x = torch.randn(3, 5, 8)
    expected = x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * torch.arange(1.0, 9.0)
    assert torch.allclose(norm(x), expected, atol=1e-6)
    assert [n for n, _ in norm.named_parameters()] == ["scale"]


def test_torchtune_rope_equivalent_rotates_interleaved_pairs_by_position():
    dim, base = 8, 10_000
    rope = RotaryPositionalEmbeddings(dim, max_seq_len=64, base=base)
    x = torch.randn(2, 6, 3, dim)  # (batch, seq, heads, head_dim)
    out = rope(x)
    theta = base ** (-torch.arange(0, dim, 2).float() / dim)
    angle = torch.arange(6).float()[:, None] * theta  # (seq, dim/2)
    cos, sin = angle.cos()[None, :, None], angle.sin()[None, :, None]
    even, odd = x[..., 0::2], x[..., 1::2]
    assert torch.allclose(out[..., 0::2], even * cos - odd * sin, atol=1e-5)
    assert torch.allclose(out[..., 1::2], odd * cos + even * sin, atol=1e-5)
    positions = torch.arange(6).expand(2, 6)
    assert torch.allclose(rope(x, input_pos=positions), out, atol=1e-6)
    # Scores depend on relative position only: shifting every position by 5 changes nothing.
    q, k = torch.randn(1, 6, 1, dim), torch.randn(1, 6, 1, dim)
    scores = torch.einsum("bshd,bthd->st", rope(q), rope(k))
    shifted = torch.einsum(
        "bshd,bthd->st", rope(q, input_pos=positions[:1] + 5), rope(k, input_pos=positions[:1] + 5)
    )
    assert torch.allclose(scores, shifted, atol=1e-4)


def test_act2fn_equivalent_builds_fresh_modules():
    first, second = ACT2FN["gelu_new"], ACT2FN["gelu_new"]
    assert first is not second and isinstance(first, torch.nn.Module)
    x = torch.linspace(-3, 3, 7)
    assert torch.allclose(first(x), torch.nn.functional.gelu(x, approximate="tanh"))
    assert torch.allclose(ACT2FN["silu"](x), torch.nn.functional.silu(x))
    with pytest.raises(KeyError):
        ACT2FN["no-such-activation"]


def test_compat_resolves_the_imports_without_the_real_packages():
    probe = (
        "import sys; from verifier.core.compat import install; install(prefer_compat=True)\n"
        "from torchtune.modules import RMSNorm, RotaryPositionalEmbeddings\n"
        "from transformers.activations import ACT2FN\n"
        "from transformers.utils import logging\n"
        "import transformers.utils.logging as hf_logging\n"
        "assert RMSNorm.__module__ == 'verifier.core.compat.torchtune_modules'\n"
        "assert logging.get_logger('x').name == 'x' and hf_logging.get_logger is logging.get_logger\n"
        "assert 'transformers.modeling_utils' not in sys.modules\n"
        "print(type(ACT2FN['relu']).__name__)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ReLU"


@pytest.mark.slow
def test_the_hand_written_reference_file_passes_the_checker_from_the_command_line(gab_file, tmp_path):
    out = tmp_path / "report.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "verifier.core",
            "check",
            str(gab_file),
            "--out",
            str(out),
            "--set",
            f'cache_dir="{tmp_path / "cache"}"',
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = json.loads(out.read_text())
    assert result.returncode == 0, result.stdout + result.stderr
    assert report["passed"] is True and report["design"] == "decay_gab"
    assert report["figures"]["params_non_embedding"] > 0 and report["stages"]["causality"]["passed"]
    assert "PASSED" in result.stdout


def test_a_broken_file_fails_the_command_line_check(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(REFERENCE_GAB.replace("scores.softmax(dim=-1)", "scores.softmax(dim=-1"))
    out = tmp_path / "report.json"
    result = subprocess.run(
        [sys.executable, "-m", "verifier.core", "check", str(bad), "--out", str(out), "--quiet"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    report = json.loads(out.read_text())
    assert report["category"] == "syntax" and report["findings"][0]["line"] is not None


def test_checker_config_defaults_match_the_reference_thresholds():
    config = CheckConfig()
    assert (config.time_error, config.flops_error, config.memory_error) == (3.0, 3.0, 4.0)
    assert (config.time_warning, config.flops_warning, config.memory_warning) == (1.5, 1.5, 2.0)

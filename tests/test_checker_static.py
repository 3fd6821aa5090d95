"""The checker's static stage, report, source map and placeholders: pure AST work, nothing runs."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from verifier.core.checker import CheckConfig, CheckReport, Finding, run_checks
from verifier.core.checker.placeholders import with_placeholders
from verifier.core.checker.source_map import SourceMap
from verifier.core.checker.static_checks import static_findings
from verifier.core.gau import GAUNode, GAUTree, compose
from verifier.core.seeds import available_seeds, load_seed

REPO = Path(__file__).resolve().parent.parent

UNIT = '''
import torch
import torch.nn as nn
import torch.nn.functional as F
{imports}

from verifier.core.gau.base import GAUBase


class Block(GAUBase):
    """A test unit."""

    def __init__(self, embed_dim, block_loc, kwarg_all, device=None, dtype=None, **kwargs):
        super().__init__(embed_dim, block_loc, kwarg_all)
        self.proj = nn.Linear(embed_dim, embed_dim, device=device, dtype=dtype)

    def _forward(self, X, **Z):
{body}
'''


def one_unit(body: str, imports: str = "") -> GAUTree:
    code = UNIT.format(imports=imports, body=textwrap.indent(textwrap.dedent(body).strip(), " " * 8))
    return GAUTree(name="t", root="Block", units={"Block": GAUNode("Block", code)})


def categories(tree: GAUTree) -> list[str]:
    return [f.category for f in static_findings(tree, CheckConfig()) if f.severity == "error"]


@pytest.mark.parametrize("name", available_seeds())
def test_seeds_have_no_static_errors(name):
    errors = [f for f in static_findings(load_seed(name), CheckConfig()) if f.severity == "error"]
    assert errors == []


@pytest.mark.parametrize(
    ("imports", "body"),
    [
        ("", "return X + self.proj(X)"),
        ("from einops import rearrange", "return rearrange(X, 'b l d -> b l d')"),
        ("from transformers.activations import ACT2FN", "return ACT2FN['gelu'](X)"),
        ("from transformers.utils import logging", "logging.get_logger('x')\nreturn X"),
        ("from torchtune.modules import RMSNorm", "return RMSNorm(X.shape[-1])(X)"),
        ("import math\nfrom dataclasses import dataclass", "return X * math.sqrt(2.0)"),
        ("", "act = getattr(self, 'proj')\nreturn act(X)"),
        ("", "name = 'proj'\nreturn getattr(self, name)(X)"),
        ("", "input = X\nreturn input"),  # a local named like a builtin is fine
        ("", '"""Mentions __import__ and __subclasses__ in prose only."""\nreturn X'),
    ],
)
def test_ordinary_code_passes_the_safety_check(imports, body):
    errors = [f for f in static_findings(one_unit(body, imports), CheckConfig()) if f.severity == "error"]
    assert [f.category for f in errors] == [], [f.message for f in errors]


@pytest.mark.parametrize(
    ("imports", "body", "category"),
    [
        ("import os", "return X", "forbidden-import"),
        ("from os import path", "return X", "forbidden-import"),
        ("import transformers", "return X", "forbidden-import"),
        ("from transformers.modeling_utils import PreTrainedModel", "return X", "forbidden-import"),
        ("from torch.utils.cpp_extension import load_inline", "return X", "forbidden-import"),
        ("import numpy as np", "np.save('/tmp/x', X.numpy())\nreturn X", "sandbox-violation"),
        ("", "return getattr(F, str(X.dtype))(X)", "sandbox-violation"),
        ("", "m = torch\nreturn getattr(m, 'o' + 's')", "sandbox-violation"),
        ("", "setattr(F, 'gelu', None)\nreturn X", "sandbox-violation"),
        ("", "return X.__class__.__mro__", "sandbox-violation"),
        ("", "exec('X = X')\nreturn X", "sandbox-violation"),
        ("", "vars(torch)\nreturn X", "sandbox-violation"),
        ("", "'{0.__globals__}'.format(self._forward)\nreturn X", "sandbox-violation"),
        ("", "torch.hub.load('a', 'b')\nreturn X", "sandbox-violation"),
        ("", "return torch.from_file('/etc/passwd')", "sandbox-violation"),
    ],
)
def test_escape_hatches_are_rejected(imports, body, category):
    assert category in categories(one_unit(body, imports))


def test_findings_name_the_unit_and_its_own_line():
    tree = one_unit("import os\nreturn X")  # an import inside _forward, on the unit's line 17
    finding = next(f for f in static_findings(tree, CheckConfig()) if f.category == "forbidden-import")
    assert finding.unit == "Block" and finding.line is not None
    assert tree.units["Block"].code.splitlines()[finding.line - 1].strip() == "import os"


def test_a_syntax_error_is_reported_with_its_line():
    tree = one_unit("return X +")
    (finding,) = [f for f in static_findings(tree, CheckConfig()) if f.severity == "error"]
    assert finding.category == "syntax" and finding.unit == "Block" and finding.line is not None
    assert "return X +" in tree.units["Block"].code.splitlines()[finding.line - 1]


def test_a_helper_from_another_unit_is_a_warning_not_an_error():
    tree = load_seed("gpt")
    node = tree.units["GatedMLP"]
    node.code = node.code.replace(
        "return self.fc2(F.silu(gate) * up)", "return self.fc2(F.silu(gate) * up) + 0 * rope_helper(X)"
    )
    tree.units["RotaryPositionalEmbeddings"].code += "\n\ndef rope_helper(x):\n    return x\n"
    findings = [f for f in static_findings(tree, CheckConfig()) if f.unit == "GatedMLP"]
    assert [(f.severity, "rope_helper" in f.message) for f in findings] == [("warning", True)]


def test_static_failure_skips_the_runtime_stages_and_runs_nothing():
    report = run_checks(one_unit("import subprocess\nreturn X"), CheckConfig())
    assert not report.passed and report.category == "forbidden-import"
    assert report.stages["static"].passed is False
    assert all(report.stages[s].passed is None for s in ("load", "forward", "train"))
    assert report.sandbox == ""


def test_report_round_trips_through_json_even_with_nan_figures():
    report = CheckReport(design="d", passed=False, figures={"loss_last": math.nan, "ratios": (1.0, math.inf)})
    report.add("nan-inf", "error", "loss is NaN", unit="Block", line=3, stage="train", detail="trace")
    text = json.dumps(report.to_dict())
    again = CheckReport.from_dict(json.loads(text))
    assert again.findings == [Finding("nan-inf", "error", "Block", 3, "loss is NaN", "train", "trace")]
    assert again.figures == {"loss_last": "nan", "ratios": [1.0, "inf"]}
    assert again.category == "nan-inf" and json.loads(text)["category"] == "nan-inf"


def test_source_map_finds_each_units_own_lines():
    tree = load_seed("gpt")
    composed = compose(tree)
    smap = SourceMap(composed, tree)
    lines = composed.splitlines()
    for unit, needle in (
        ("GatedMLP", "return self.fc2(F.silu(gate) * up)"),
        ("MHA", "Y = F.scaled_dot_product_attention(q, k, v, is_causal=True)"),
    ):
        composed_line = next(i for i, text in enumerate(lines, 1) if needle in text)
        mapped_unit, unit_line = smap.locate(composed_line)
        assert mapped_unit == unit and unit_line is not None
        assert needle in tree.units[unit].code.splitlines()[unit_line - 1]
    assert smap.locate(1) == (None, None)  # the header belongs to no unit


def test_placeholders_stand_in_for_unwritten_declared_units():
    tree = load_seed("gpt")
    del tree.units["RotaryPositionalEmbeddings"]
    assert tree.unimplemented() == ["RotaryPositionalEmbeddings"]
    completed, missing = with_placeholders(tree)
    assert missing == ["RotaryPositionalEmbeddings"]
    source = compose(completed)  # the completed tree composes, so it can run
    assert "Placeholder for the declared, not yet implemented unit RotaryPositionalEmbeddings" in source
    # Without a focus unit, an unwritten unit is a protocol error; with one, the tree is accepted.
    assert "protocol" in [f.category for f in static_findings(tree, CheckConfig())]
    assert static_findings(tree, CheckConfig(), allow_unimplemented=True) == []


def test_cli_static_only_writes_the_report_and_fails_a_bad_design(tmp_path):
    out = tmp_path / "report.json"
    design = REPO / "tests" / "bad_designs" / "sandbox_eval.py"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "verifier.core",
            "check",
            str(design),
            "--static-only",
            "--out",
            str(out),
            "--quiet",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stderr
    report = json.loads(out.read_text())
    assert report["passed"] is False and report["category"] == "sandbox-violation"
    assert any(f["unit"] == "Block" and f["line"] for f in report["findings"])


PARENT = '''
import torch.nn as nn

from verifier.core.gau.base import GAUBase


class Block(GAUBase):
    def __init__(self, embed_dim, block_loc, kwarg_all, device=None, dtype=None, **kwargs):
        super().__init__(embed_dim, block_loc, kwarg_all)
        self.mixer = Mixer(embed_dim=embed_dim, block_loc=block_loc, kwarg_all=kwarg_all, device=device, dtype=dtype)

    def _forward(self, X, **Z):
{body}
'''
MIXER = '''
import torch.nn as nn

from verifier.core.gau.base import GAUBase


class Mixer(GAUBase):
    def __init__(self, embed_dim, block_loc, kwarg_all, device=None, dtype=None, **kwargs):
        super().__init__(embed_dim, block_loc, kwarg_all)
        self.fc = nn.Linear(embed_dim, embed_dim, device=device, dtype=dtype)

    def _forward(self, X, **Z):
        return self.fc(X)
'''


def parent_with(body: str) -> GAUTree:
    code = PARENT.format(body=textwrap.indent(textwrap.dedent(body).strip(), " " * 8))
    return GAUTree(name="t", root="Block", units={
        "Block": GAUNode("Block", code, children=["Mixer"]), "Mixer": GAUNode("Mixer", MIXER)})


@pytest.mark.parametrize(
    "body",
    [
        "Y, Z = self.mixer(X, **Z)\nreturn X + Y, Z",
        "return X + self.mixer(X, **Z)[0]",
        "Y, Z_ = self.mixer(X, **Z)\nreturn X + Y",
        "out = self.mixer(X, **Z)\nY = out[0]\nreturn X + Y, out[1]",
        "Y = self.mixer(X, **Z)[-2]\nreturn X + Y",
        "return self.mixer(X, **Z)",
        "outs = [self.mixer(X, **Z)]\nreturn X + outs[0][0]",
        "_, Z = self.mixer(X, **Z)\nreturn X, Z",
    ],
)
def test_legal_uses_of_a_childs_output_pair_pass(body):
    assert categories(parent_with(body)) == []


@pytest.mark.parametrize(
    ("body", "how"),
    [
        ("H = self.mixer(X, **Z)\nreturn X + H", "(as H) in arithmetic"),
        ("return X + self.mixer(X, **Z)", "in arithmetic"),
        ("return self.mixer(X, **Z).view(X.shape)", "with .view"),
        ("H = self.mixer(X, **Z)\nreturn H[:, -1]", "indexed like a tensor"),
        ("return -self.mixer(X, **Z)", "in arithmetic"),
    ],
)
def test_a_pair_used_as_a_tensor_is_a_protocol_error(body, how):
    findings = [f for f in static_findings(parent_with(body), CheckConfig()) if f.severity == "error"]
    assert [f.category for f in findings] == ["protocol"]
    assert how in findings[0].message and "self.mixer(X, **Z)[0]" in findings[0].message

"""The one modeling file of an exported model: the composed design and the LM wrapper.

The composed source (already self-contained: protocol, units, `GAB`, `gab_config`) comes first;
the wrapper (`hf_wrapper.py.tmpl`: `GenesysConfig` and `GenesysForCausalLM`, a `PreTrainedModel`
with generation) follows and uses `GAB` by name. The LM's norm is the verifier's own `RMSNorm`
source, renamed so that a design's unit called `RMSNorm` keeps its name.
"""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

from ..model import lm

MODELING_FILE = "modeling_genesys.py"
CONFIG_CLASS = "GenesysConfig"
MODEL_CLASS = "GenesysForCausalLM"
NORM_CLASS = "GenesysLMNorm"
WRAPPER_NAMES = frozenset({CONFIG_CLASS, MODEL_CLASS, NORM_CLASS, "GenerationMixin", "PretrainedConfig",
                           "PreTrainedModel", "CausalLMOutputWithPast"})
NORM_PLACEHOLDER = "# @@LM_NORM@@"
_TEMPLATE = Path(__file__).with_name("hf_wrapper.py.tmpl")


class ModelingError(ValueError):
    """The composed source cannot be turned into a modeling file (a clash, or no GAB)."""


def defined_names(source: str) -> set[str]:
    """Top-level class, function and variable names of `source` (parsed, never run)."""
    names: set[str] = set()
    for node in ast.parse(source).body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def norm_source() -> str:
    """The verifier LM's RMSNorm, renamed."""
    source = inspect.getsource(lm.RMSNorm)
    return re.sub(r"^class RMSNorm\(", f"class {NORM_CLASS}(", source, count=1, flags=re.M)


def strip_docstring(source: str) -> tuple[str, str]:
    """(docstring, rest) of a module's source."""
    module = ast.parse(source)
    first = module.body[0] if module.body else None
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        lines = source.splitlines(keepends=True)
        return first.value.value, "".join(lines[first.end_lineno:]).lstrip("\n")
    return "", source


def modeling_source(composed: str, design_name: str) -> str:
    """The modeling file for `composed` (raises ModelingError on a clash of names)."""
    names = defined_names(composed)
    if "GAB" not in names:
        raise ModelingError("the composed source defines no class GAB")
    clash = sorted(names & WRAPPER_NAMES)
    if clash:
        raise ModelingError(f"the design defines names the wrapper needs: {', '.join(clash)}")
    doc, body = strip_docstring(composed)
    wrapper = _TEMPLATE.read_text().replace(NORM_PLACEHOLDER, norm_source())
    header = (f'"""Genesys design `{design_name}` as a Hugging Face causal LM (trust_remote_code).\n\n'
              + (doc.strip() + "\n\n" if doc else "")
              + "Self-contained: torch and transformers only. Load with\n"
              + "AutoModelForCausalLM.from_pretrained(folder, trust_remote_code=True).\n"
              + '"""\n\n')
    return header + body.rstrip() + "\n\n\n" + wrapper

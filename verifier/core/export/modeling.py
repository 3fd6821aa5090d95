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

from verifier.core.pyparse import parse_module

from ..compat import torchtune_modules
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
    for node in parse_module(source).body:
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
    module = parse_module(source)
    first = module.body[0] if module.body else None
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        lines = source.splitlines(keepends=True)
        return first.value.value, "".join(lines[first.end_lineno:]).lstrip("\n")
    return "", source


def inline_torchtune(body: str) -> str:
    """Replace imports from torchtune (which a loading machine may lack; reference-format designs use
    its RMSNorm and RoPE) by the verifier's equivalents (verifier/core/compat), inlined before the
    protocol. transformers' helpers need nothing: transformers is there wherever the export loads."""
    module = parse_module(body)
    lines = body.splitlines(keepends=True)
    aliases: list[str] = []
    drop: set[int] = set()
    for node in module.body:
        names: list[ast.alias] = []
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "torchtune":
            names = node.names
        elif isinstance(node, ast.Import) and any(a.name.split(".")[0] == "torchtune" for a in node.names):
            raise ModelingError("`import torchtune...` is not supported in an export; use `from torchtune.modules import`")
        else:
            continue
        drop.update(range(node.lineno - 1, node.end_lineno or node.lineno))
        aliases += [f"{a.asname} = {a.name}\n" for a in names if a.asname and a.asname != a.name]
    if not drop:
        return body
    compat_body = module_body(inspect.getsource(torchtune_modules))
    kept = "".join(line for i, line in enumerate(lines) if i not in drop)
    block = ("# ---- torchtune stand-ins (verifier/core/compat/torchtune_modules.py) " + "-" * 10 + "\n\n"
             + compat_body.replace('__all__ = ["RMSNorm", "RotaryPositionalEmbeddings"]', "").strip() + "\n\n"
             + "".join(aliases) + "\n\n")
    marker = "# ---- GAU protocol"
    at = kept.find(marker)
    return kept[:at] + block + kept[at:] if at >= 0 else block + kept


def module_body(source: str) -> str:
    """A module's source without its docstring and imports (the composer's split of base.py)."""
    module = parse_module(source)
    first = next(n for n in module.body if not isinstance(n, (ast.Import, ast.ImportFrom))
                 and not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)))
    return "".join(source.splitlines(keepends=True)[first.lineno - 1:])


def modeling_source(composed: str, design_name: str) -> str:
    """The modeling file for `composed` (raises ModelingError on a clash of names)."""
    names = defined_names(composed)
    if "GAB" not in names:
        raise ModelingError("the composed source defines no class GAB")
    clash = sorted(names & WRAPPER_NAMES)
    if clash:
        raise ModelingError(f"the design defines names the wrapper needs: {', '.join(clash)}")
    doc, body = strip_docstring(composed)
    body = inline_torchtune(body)
    wrapper = _TEMPLATE.read_text().replace(NORM_PLACEHOLDER, norm_source())
    header = (f'"""Genesys design `{design_name}` as a Hugging Face causal LM (trust_remote_code).\n\n'
              + (doc.strip() + "\n\n" if doc else "")
              + "Self-contained: torch and transformers only. Load with\n"
              + "AutoModelForCausalLM.from_pretrained(folder, trust_remote_code=True).\n"
              + '"""\n\n')
    return header + body.rstrip() + "\n\n\n" + wrapper

"""The role of each unit in its parent: token mixer, channel mixer, normalisation, positional, gating or
other (the root is the block itself).

Roles make the GP search space sensible: a swap or graft replaces a token mixer only by a token mixer,
a normalisation only by a normalisation. They are inferred without running anything, so the web and
worker processes may call this on generated code: the seeds' own units are anchors (exact code, then
name); otherwise evidence is weighed from the unit's name, its declaration in the parent, its
docstring and its code (attention, scans, convolutions and causal masks over the sequence versus
normalisation statistics, rotary tables, per-position MLPs). Whether a block really mixes positions
is then measured by the checker's `mixing` stage, inside the sandbox.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import cache

from .source import class_docstring
from .tree import GAUTree

TOKEN_MIXER = "token-mixer"
CHANNEL_MIXER = "channel-mixer"
NORMALISATION = "normalisation"
POSITIONAL = "positional"
GATING = "gating"
OTHER = "other"
BLOCK = "block"  # the root: the whole block, not a part of one
ROLES = (TOKEN_MIXER, CHANNEL_MIXER, NORMALISATION, POSITIONAL, GATING, OTHER)

# The seeds' units whose role is known by construction (anchors).
SEED_ROLES: dict[str, str] = {
    "MHA": TOKEN_MIXER,
    "Mamba2Layer": TOKEN_MIXER,
    "SSDMinimalDiscrete": TOKEN_MIXER,
    "MultiScaleRetention": TOKEN_MIXER,
    "RWKV6Attention": TOKEN_MIXER,
    "Conv": TOKEN_MIXER,
    "TTTLinear": TOKEN_MIXER,
    "GatedMLP": CHANNEL_MIXER,
    "RetNetMLP": CHANNEL_MIXER,
    "RWKV6FeedForward": CHANNEL_MIXER,
    "SwiGluMLP": CHANNEL_MIXER,
    "RMSNorm": NORMALISATION,
    "RotaryPositionalEmbeddings": POSITIONAL,
    "RotaryEmbedding": POSITIONAL,
    "LerpLinear": OTHER,
    "DDLerpLinear": OTHER,
    "LoRA": OTHER,
}

# Words in a name, a declaration or a docstring, and the role they point to.
_WORDS: tuple[tuple[str, str], ...] = (
    (r"attention|attn|\bmha\b|mqa|gqa|retention|\bssm\b|\bssd\b|mamba|\bscan|selective|convolution|\bconv"
     r"|recurren|\brnn\b|lstm|\bgru\b|wkv|time[ -]mix|token[ -]mix|sequence[ -]mix|\bttt", TOKEN_MIXER),
    (r"\bmlp|feed[- ]?forward|\bffn|swiglu|geglu|glu\b|channel[ -]mix|position-wise|per-position"
     r"|moe\b|mixture of experts", CHANNEL_MIXER),
    (r"norm(?!al\b)|normali[sz]", NORMALISATION),
    (r"rotary|\brope\b|positional|position embedding|alibi|xpos", POSITIONAL),
    (r"\bgate\b|gating|\bgated unit", GATING),
)

# Code that reads other positions of the sequence (strong) or only the previous one (weak).
_SEQUENCE_CODE = re.compile(
    r"scaled_dot_product_attention|\bcumsum\b|\bcumprod\b|\bconv1d\b|\bConv1d\b|\btril\b|\btriu\b"
    r"|@\s*\w+\.transpose\(-2,\s*-1\)|\bassociative_scan\b"
    r"|for \w+ in range\([^)]*(?:seq|len|L\b|length|chunk)"
)
_SHIFT_CODE = re.compile(r"\broll\(|\[:,\s*:-1\]|time_shift|token_shift|F\.pad\(")
_NORM_CODE = re.compile(
    r"\brsqrt\b|layer_norm|LayerNorm|rms_norm|group_norm|GroupNorm|\.var\(|\.std\(|\.norm\(")
_POSITION_CODE = re.compile(r"inv_freq|\brotary|\btheta\b|\.cos\(|\.sin\(|torch\.cos|torch\.sin")
_CHANNEL_CODE = re.compile(r"\b(silu|gelu|relu|swish|mish|softplus)\b|SiLU|GELU|ReLU")
_GATE_CODE = re.compile(r"\bsigmoid\b")


@dataclass(frozen=True)
class RoleGuess:
    role: str
    evidence: str  # a short reason a researcher can check

    def to_dict(self) -> dict[str, str]:
        return {"role": self.role, "evidence": self.evidence}


@cache
def _seed_hashes() -> dict[str, str]:
    """Content hash -> role of every unit of every seed (the strongest anchor)."""
    from ..seeds import available_seeds, load_seed

    out: dict[str, str] = {}
    for seed in available_seeds():
        tree = load_seed(seed)
        for name, node in tree.units.items():
            role = BLOCK if name == tree.root else SEED_ROLES.get(name)
            if role:
                out[node.content_hash()] = role
    return out


def text_role(text: str) -> str | None:
    """The role named first in `text` (the head of "self-attention with rotary embeddings" is the
    attention); None when no role is named."""
    words = _split_camel(text).lower()
    first: tuple[int, str] | None = None
    for pattern, role in _WORDS:
        match = re.search(pattern, words)
        if match and (first is None or match.start() < first[0]):
            first = (match.start(), role)
    return first[1] if first else None


def _split_camel(text: str) -> str:
    """"RWKV6FeedForward" -> "RWKV6 Feed Forward", so names and prose read alike."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|_", " ", text)


def _base_name(name: str) -> str:
    return re.sub(r"_\d+$", "", name)  # Name_1 is a renamed copy of Name


def _code_without_tests(code: str) -> str:
    cut = re.search(r"^(@gau_test|CHILDREN_DECLARATIONS)", code, re.M)
    return code[: cut.start()] if cut else code


def code_scores(code: str) -> Counter:
    """Evidence from the code alone: what it computes over which axis."""
    body = _code_without_tests(code)
    scores: Counter = Counter()
    if _SEQUENCE_CODE.search(body):
        scores[TOKEN_MIXER] += 3
    elif _SHIFT_CODE.search(body):
        scores[TOKEN_MIXER] += 1
    if _NORM_CODE.search(body) or re.search(r"mean\((dim=)?-1", body):
        scores[NORMALISATION] += 2
    if _POSITION_CODE.search(body):
        scores[POSITIONAL] += 2
    if _CHANNEL_CODE.search(body) and "Linear" in body:
        scores[CHANNEL_MIXER] += 2
    if _GATE_CODE.search(body):
        scores[GATING] += 1
    return scores


def infer_role(tree: GAUTree, unit: str, _seen: frozenset[str] = frozenset()) -> RoleGuess:
    """The role of `unit` in `tree` (its parents' view of it)."""
    if unit == tree.root:
        return RoleGuess(BLOCK, "the root unit is the block")
    node = tree.units.get(unit)
    if node is not None:
        anchored = _seed_hashes().get(node.content_hash())
        if anchored and anchored != BLOCK:
            return RoleGuess(anchored, "a seed's unit, unchanged")
    scores: Counter = Counter()
    reasons: list[str] = []
    base = _base_name(unit)
    if base in SEED_ROLES:
        scores[SEED_ROLES[base]] += 3
        reasons.append(f"named like the seeds' {base}")
    by_name = text_role(base)
    if by_name:
        scores[by_name] += 2
        reasons.append(f"name says {by_name}")
    decl = tree.declares.get(unit)
    by_decl = text_role(decl.requirements) if decl else None
    if by_decl:  # the parent's words for the slot: weaker than the unit's own name and code
        scores[by_decl] += 1
        reasons.append(f"declaration says {by_decl}")
    if node is not None:
        by_doc = text_role(class_docstring(node.code, unit).split("\n\n")[0])
        if by_doc:
            scores[by_doc] += 1
            reasons.append(f"docstring says {by_doc}")
        from_code = code_scores(node.code)
        if from_code:
            scores.update(from_code)
            reasons.append("code: " + ", ".join(f"{r} {n}" for r, n in from_code.most_common()))
        inner = _seen | {unit}
        if any(infer_role(tree, c, inner).role == TOKEN_MIXER for c in node.children if c not in inner):
            scores[TOKEN_MIXER] += 2
            reasons.append("a child mixes tokens")
    if not scores:
        return RoleGuess(OTHER, "no evidence")
    best = max(scores.values())
    top = [r for r in ROLES if scores[r] == best]
    return RoleGuess(top[0], "; ".join(reasons))  # ties go to the earlier role in ROLES


def assign_roles(tree: GAUTree) -> dict[str, str]:
    """The role of every implemented unit, by name."""
    return {name: infer_role(tree, name).role for name in tree.implemented()}


def store_roles(tree: GAUTree) -> GAUTree:
    """Write each unit's role into the tree's metadata (`metadata["roles"]`), which the JSON keeps."""
    tree.metadata = {**tree.metadata, "roles": assign_roles(tree)}
    return tree


def role_problems(tree: GAUTree) -> list[str]:
    """Why a design makes no sense as a block (empty when it does): no token mixer left, or a
    declaration that describes a different kind of unit than the one that stands in its place."""
    roles = assign_roles(tree)
    problems: list[str] = []
    if TOKEN_MIXER not in roles.values():
        problems.append("no unit mixes information across positions")
    for name, role in roles.items():
        decl = tree.declares.get(name)
        said = text_role(decl.requirements) if decl else None
        if said and role != BLOCK and said != role:
            problems.append(f"{name} is a {role} but its declaration describes a {said}")
    return problems

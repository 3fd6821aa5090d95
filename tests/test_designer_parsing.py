"""Strict parsing of agent replies: code blocks, JSON, proposals, reviews and ratings."""

from __future__ import annotations

import pytest

from designer.core.implementation import parse_rating
from designer.core.parsing import ParseError, code_blocks, json_object, unit_code, units_code
from designer.core.proposal import parse_proposal, parse_review
from verifier.core.seeds import load_seed

UNIT = '''import torch
from verifier.core.gau.base import GAUBase


class Scale(GAUBase):
    def __init__(self, embed_dim, block_loc, kwarg_all, device=None, dtype=None, **kwargs):
        super().__init__(embed_dim, block_loc, kwarg_all)
        self.w = torch.nn.Parameter(torch.ones(embed_dim))

    def _forward(self, X, **Z):
        return X * self.w
'''


def fenced(code: str, lang: str = "python") -> str:
    return f"```{lang}\n{code.rstrip()}\n```\n"


def proposal_json(**overrides) -> str:
    data = {
        "title": "Scaled MLP", "base_parent": "gpt",
        "units": [{"name": "GatedMLP", "new_name": "ScaledMLP", "change": "an MLP with a learned output scale"}],
        "motivation": "m", "pseudocode": "y = s * mlp(x)", "expected_effect": "e", "references": ["r1"],
    }
    data.update(overrides)
    import json

    return "Here it is.\n\n" + fenced(json.dumps(data), "json")


def test_code_blocks_in_order_with_languages():
    text = "intro\n```python\na = 1\n```\nmiddle\n~~~json\n{}\n~~~\n"
    blocks = code_blocks(text)
    assert [(b.lang, b.code) for b in blocks] == [("python", "a = 1\n"), ("json", "{}\n")]


def test_unclosed_block_is_a_parse_error_naming_the_line():
    with pytest.raises(ParseError, match="line 3 is never closed"):
        code_blocks("a\nb\n```python\nx = 1\n")


def test_json_object_accepts_bare_or_single_block_only():
    assert json_object('{"a": 1}') == {"a": 1}
    assert json_object("Sure:\n```json\n{\"a\": 2}\n```") == {"a": 2}
    with pytest.raises(ParseError, match="no ```json block"):
        json_object("the score is 4")
    with pytest.raises(ParseError, match="2 ```json blocks"):
        json_object("```json\n{}\n```\n```json\n{}\n```")
    with pytest.raises(ParseError, match="does not parse"):
        json_object("```json\n{\"a\": 1,}\n```")
    with pytest.raises(ParseError, match="JSON object"):
        json_object("```json\n[1, 2]\n```")
    with pytest.raises(ParseError, match="empty"):
        json_object("   ")


def test_unit_code_requires_one_block_with_one_gau_of_the_right_name():
    assert unit_code(fenced(UNIT), "Scale").startswith("import torch")
    with pytest.raises(ParseError, match="no ```python block"):
        unit_code("I would write a Scale unit.", "Scale")
    with pytest.raises(ParseError, match="exactly one"):
        unit_code(fenced(UNIT) + fenced(UNIT), "Scale")
    with pytest.raises(ParseError, match="named 'Scale'.*is 'Other'"):
        unit_code(fenced(UNIT), "Other")
    with pytest.raises(ParseError, match="not valid Python.*line"):
        unit_code(fenced("class Scale(GAUBase)\n    pass\n"), "Scale")
    two = UNIT + "\n\nclass Extra(GAUBase):\n    pass\n"
    with pytest.raises(ParseError, match="2 GAUBase classes"):
        unit_code(fenced(two), "Scale")
    with pytest.raises(ParseError, match="no class deriving from GAUBase"):
        unit_code(fenced("x = 1\n"), "Scale")


def test_units_code_reads_one_gau_per_block_and_requires_the_listed_ones():
    other = UNIT.replace("Scale", "Shift")
    units = units_code(fenced(UNIT) + "text\n" + fenced(other), ["Scale"])
    assert list(units) == ["Scale", "Shift"]
    with pytest.raises(ParseError, match="lacks the unit"):
        units_code(fenced(other), ["Scale"])
    with pytest.raises(ParseError, match="written twice"):
        units_code(fenced(UNIT) + fenced(UNIT), ["Scale"])


def test_proposal_is_validated_against_the_parents():
    gpt, mamba = load_seed("gpt"), load_seed("mamba2")
    proposal = parse_proposal(proposal_json(), "mutation", [gpt])
    assert proposal.base_parent == "gpt" and proposal.units[0].new_name == "ScaledMLP"
    with pytest.raises(ParseError, match="not a unit of gpt"):
        parse_proposal(proposal_json(units=[{"name": "Nope", "new_name": "X", "change": "c"}]), "mutation", [gpt])
    with pytest.raises(ParseError, match="already a unit of gpt"):
        parse_proposal(proposal_json(units=[{"name": "GatedMLP", "new_name": "RMSNorm", "change": "c"}]),
                       "mutation", [gpt])
    with pytest.raises(ParseError, match="CamelCase"):
        parse_proposal(proposal_json(units=[{"name": "GatedMLP", "new_name": "bad name", "change": "c"}]),
                       "mutation", [gpt])
    with pytest.raises(ParseError, match="nested"):
        parse_proposal(proposal_json(units=[{"name": "MHA", "new_name": "A", "change": "c"},
                                            {"name": "RotaryPositionalEmbeddings", "new_name": "B", "change": "c"}]),
                       "mutation", [gpt])
    with pytest.raises(ParseError, match="'title'"):
        parse_proposal(proposal_json(title=""), "mutation", [gpt])
    with pytest.raises(ParseError, match="base_parent 'rwkv6'"):
        parse_proposal(proposal_json(base_parent="rwkv6"), "crossover", [gpt, mamba])
    crossed = parse_proposal(proposal_json(base_parent="mamba2", units=[
        {"name": "Mamba2Layer", "new_name": "MHA", "change": "reuse gpt's attention"}]), "crossover", [gpt, mamba])
    assert crossed.base_parent == "mamba2"
    scratch = parse_proposal(proposal_json(base_parent=None, units=[{"name": None, "new_name": "NewBlock",
                                                                      "change": "c"}]), "scratch", [])
    assert scratch.base_parent is None and scratch.units[0].name is None


def test_review_and_rating_scores_must_be_whole_numbers_from_1_to_5():
    assert parse_review('{"score": 4, "strengths": "s", "concerns": "", "suggestions": ""}').score == 4
    for bad in ('"four"', "6", "0", "3.5", "true"):
        with pytest.raises(ParseError, match="score"):
            parse_review(f'{{"score": {bad}, "strengths": "", "concerns": "", "suggestions": ""}}')
    rating = parse_rating('{"quality": 4, "adherence": 5, "novelty": 3, "rating": 4, "comments": "ok"}')
    assert (rating.quality, rating.rating) == (4, 4)
    with pytest.raises(ParseError, match="'novelty'"):
        parse_rating('{"quality": 4, "adherence": 5, "novelty": "high", "rating": 4, "comments": ""}')

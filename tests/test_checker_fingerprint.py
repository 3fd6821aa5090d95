"""The behavioural fingerprint in the check report (verifier/core/checker/fingerprint.py), with the real
checker and its bubblewrap sandbox: the same function under other names and code has the same one, a
different function another, a failed check none; each check computes it in a fresh sandboxed process,
so two checks of one design are two processes that must agree."""

from __future__ import annotations

import pytest
import torch
from clone_designs import retnet_in_gpt

from verifier.core.checker import CheckReport, run_checks
from verifier.core.checker.files import check_path
from verifier.core.checker.fingerprint import digest
from verifier.core.seeds import load_seed

SHAPE = {"vocab_size": 8, "seq_len": 4, "d_model": 4, "n_block": 1, "seed": 0, "batch": 1}


@pytest.fixture(scope="module")
def reports() -> dict[str, CheckReport]:
    clone = retnet_in_gpt()
    assert clone.content_hash() != load_seed("retnet").content_hash()
    return {"retnet": run_checks(load_seed("retnet")), "clone": run_checks(clone), "gpt": run_checks(load_seed("gpt"))}


def test_a_renamed_retnet_has_the_retnet_seeds_fingerprint(reports):
    retnet, clone, gpt = reports["retnet"], reports["clone"], reports["gpt"]
    assert retnet.passed and clone.passed and gpt.passed
    assert retnet.fingerprint.startswith("fp1:") and len(retnet.fingerprint) == len("fp1:") + 64
    assert clone.fingerprint == retnet.fingerprint
    assert gpt.fingerprint != retnet.fingerprint


def test_two_checks_in_separate_sandboxed_processes_agree(reports):
    again = run_checks(load_seed("retnet"))  # a fresh sandboxed child, a fresh interpreter
    assert again.fingerprint == reports["retnet"].fingerprint


def test_the_fingerprint_travels_in_the_report_and_old_reports_have_none(reports):
    data = reports["clone"].to_dict()
    assert data["fingerprint"] == reports["retnet"].fingerprint
    assert CheckReport.from_dict(data).fingerprint == data["fingerprint"]
    old = {k: v for k, v in data.items() if k != "fingerprint"}  # a report stored before fingerprints
    assert CheckReport.from_dict(old).fingerprint == ""


def test_a_failed_check_has_no_fingerprint():
    # Non-causal: its forward pass runs (the child takes a fingerprint), the causality stage fails it.
    _, report = check_path("tests/bad_designs/noncausal_global_mean.py")
    assert not report.passed and report.category == "non-causal"
    assert report.fingerprint == "" and report.to_dict()["fingerprint"] == ""


def test_the_digest_rounds_to_six_significant_digits_and_covers_the_parameter_shapes():
    logits = torch.tensor([1.2345671, -0.0, 3.0e-7, -2.5])
    base = digest(SHAPE, [[4, 4]], logits)
    assert digest(SHAPE, [[4, 4]], torch.tensor([1.2345674, 0.0, 3.0000001e-7, -2.5])) == base  # below 6 digits
    assert digest(SHAPE, [[4, 4]], torch.tensor([1.23458, -0.0, 3.0e-7, -2.5])) != base  # the 6th digit
    assert digest(SHAPE, [[2, 8]], logits) != base  # same outputs, other parameter shapes
    assert digest({**SHAPE, "seed": 1}, [[4, 4]], logits) != base

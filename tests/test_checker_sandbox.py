"""What the sandbox guarantees, each shown with a design that tries to break it.

The OS-level properties (no network, read-only view, a process limit) are shown with the audit
hooks switched off, so that the operating system, not Python, is what stops the design.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
from sandbox_support import bubblewrap, needs_bubblewrap, unsafe_no_sandbox  # noqa: F401 - fixtures

from verifier.core.checker import CheckConfig, run_checks
from verifier.core.checker.files import check_path
from verifier.core.checker.sandbox import child_environment
from verifier.core.gau import GAUNode, GAUTree
from verifier.core.seeds import load_seed

BAD = Path(__file__).resolve().parent / "bad_designs"


@pytest.fixture(scope="module")
def config(tmp_path_factory) -> CheckConfig:
    return CheckConfig(
        d_model=64,
        seq_len=64,
        batch_size=4,
        train_steps=12,
        timeout_s=20,
        memory_limit_mb=2048,
        max_file_mb=16,
        cache_dir=str(tmp_path_factory.getbasetemp() / "checker-cache"),
    )


def design(body: str) -> GAUTree:
    """A one-unit design whose forward pass runs `body` and then behaves."""
    code = textwrap.dedent("""
        import torch
        import torch.nn as nn

        from verifier.core.gau.base import GAUBase


        class Probe(GAUBase):
            def __init__(self, embed_dim, block_loc, kwarg_all, device=None, dtype=None, **kwargs):
                super().__init__(embed_dim, block_loc, kwarg_all)
                self.proj = nn.Linear(embed_dim, embed_dim, device=device, dtype=dtype)

            def _forward(self, X, **Z):
        {body}
                return X + self.proj(X)
        """).format(body=textwrap.indent(textwrap.dedent(body).strip(), " " * 8))
    return GAUTree(name="probe", root="Probe", units={"Probe": GAUNode("Probe", code)})


def test_child_environment_is_built_from_nothing(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-not-for-designs")
    env = child_environment("/tmp", 1)
    assert "OPENAI_API_KEY" not in env and "sk-not-for-designs" not in "".join(env.values())
    assert set(env) >= {"PATH", "HOME", "TMPDIR", "OMP_NUM_THREADS"}


@needs_bubblewrap
def test_bubblewrap_is_used_and_reported_when_it_works(config):
    report = run_checks(load_seed("gpt"), config.replace(compare_with_reference=False), stages=("runtime",))
    assert report.passed, report.format_text()
    assert report.sandbox == "bubblewrap"


@pytest.mark.slow
@pytest.mark.usefixtures("unsafe_no_sandbox")
def test_rlimit_only_fallback_checks_a_seed_and_says_so(config):
    report = run_checks(load_seed("gpt"), config.replace(sandbox="rlimit"))
    assert report.passed, report.format_text()
    assert report.sandbox.startswith("rlimit-only")


@pytest.mark.parametrize("mode", ["auto", "rlimit"])
def test_reads_outside_the_interpreter_are_refused(config, mode, monkeypatch):
    if mode == "rlimit":
        monkeypatch.setenv("GENESYS_UNSAFE_NO_SANDBOX", "1")
    tree = design('open("/etc/hostname").read()')
    report = run_checks(tree, config.replace(sandbox=mode), stages=("runtime",))
    assert report.category == "sandbox-violation", report.format_text()
    finding = report.errors[0]
    assert finding.unit == "Probe" and finding.line is not None
    assert 'open("/etc/hostname")' in tree.units["Probe"].code.splitlines()[finding.line - 1]


@needs_bubblewrap
def test_no_network_even_without_the_audit_hooks(config):
    _, report = check_path(BAD / "import_socket.py", config.replace(audit_hooks=False), stages=("runtime",))
    assert report.category == "forward-error"
    assert "unreachable" in report.errors[0].message or "Temporary failure" in report.errors[0].message


@needs_bubblewrap
def test_native_writes_hit_a_read_only_system(config):
    target = Path("/var/tmp/genesys-bad-design.pt")
    target.unlink(missing_ok=True)
    _, report = check_path(
        BAD / "sandbox_torch_save.py", config, stages=("runtime",)
    )  # torch.save writes in C++
    assert report.category == "forward-error", report.format_text()
    assert not target.exists()


@needs_bubblewrap
def test_fork_bomb_is_capped_by_the_process_limit_without_the_audit_hooks(config):
    _, report = check_path(
        BAD / "import_os_fork_bomb.py", config.replace(audit_hooks=False), stages=("runtime",)
    )
    assert not report.passed
    assert report.category in ("forward-error", "killed")
    assert "Resource temporarily unavailable" in report.errors[0].message or report.category == "killed"


def test_an_endless_loop_ends_in_a_timeout_report(config):
    # 15 s: on a loaded machine importing torch alone can take 6 s, and the loop must be reached
    report = run_checks(design("while True:\n    pass"), config.replace(timeout_s=15), stages=("runtime",))
    assert report.category == "timeout"
    assert "forward" in report.errors[0].message
    assert report.seconds < 15 + 20


def test_a_crash_ends_in_a_killed_report(config):
    _, report = check_path(BAD / "import_faulthandler_crash.py", config, stages=("runtime",))
    assert report.category == "killed"
    assert "SIGSEGV" in report.errors[0].message


def test_the_parent_never_imports_the_design(config):
    before = {m for m in sys.modules if m.startswith("genesys_composed_")}
    run_checks(design("pass"), config.replace(compare_with_reference=False), stages=("runtime",))
    assert {m for m in sys.modules if m.startswith("genesys_composed_")} == before


def test_a_swallowed_refusal_is_still_reported(config):
    tree = design('try:\n    open("/var/tmp/genesys-probe", "w")\nexcept OSError:\n    pass')
    report = run_checks(tree, config.replace(compare_with_reference=False), stages=("runtime",))
    assert report.category == "sandbox-violation", report.format_text()
    assert "writing /var/tmp/genesys-probe" in report.errors[0].message

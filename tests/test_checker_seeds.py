"""All five seeds pass the full check at the default reference configuration, against the GPT seed.

Per-stage times are printed here and measured properly by benchmarks/bench_checker.py.
"""

from __future__ import annotations

import pytest

from verifier.core.checker import CheckConfig, run_checks
from verifier.core.seeds import available_seeds, load_seed


@pytest.fixture(scope="module")
def config(tmp_path_factory) -> CheckConfig:
    return CheckConfig(cache_dir=str(tmp_path_factory.getbasetemp() / "checker-cache-default"))


@pytest.mark.slow
@pytest.mark.parametrize("name", available_seeds())
def test_seed_passes_the_full_check(name, config):
    report = run_checks(load_seed(name), config)
    print(
        f"\n{name}: {report.seconds:.1f}s "
        + ", ".join(f"{k} {v.seconds:.2f}s" for k, v in report.stages.items())
    )
    assert report.passed, report.format_text()
    assert report.stages["compare"].passed
    for ratio in ("flops_per_step_ratio", "memory_bytes_ratio", "time_units_ratio"):
        assert report.figures[ratio] < 3.0, f"{name} {ratio} = {report.figures[ratio]}"
    assert report.figures["loss_last"] < report.figures["loss_first"] - config.min_loss_drop

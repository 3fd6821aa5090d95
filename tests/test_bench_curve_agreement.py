"""bench_curve_agreement: how early a kept run ranks designs as its end does, and which units the
screen's bpb misjudges, read from evidence folders (no run)."""

from __future__ import annotations

import json
from pathlib import Path

from benchmark_scripts import load_benchmark

bench = load_benchmark("bench_curve_agreement")


def write(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def evidence(tmp_path: Path) -> Path:
    """Six designs. At step 6 the curve orders them backwards, at step 12 as their final loss. The
    "Slow" unit's designs (d3-d5) train better at tiny than their screen bpb says; d6 failed at tiny;
    d0 has no screen."""
    root = tmp_path / "ev"
    finals = {"d0": 5.0, "d1": 5.1, "d2": 5.2, "d3": 5.3, "d4": 5.4, "d5": 5.5}
    screen_bpb = {"d1": 2.40, "d2": 2.41, "d3": 2.60, "d4": 2.61, "d5": 2.62}
    for i, (name, final) in enumerate(finals.items()):
        curve = [{"step": 6, "loss": 9.0 - i * 0.1}, {"step": 12, "loss": final + 1.0}]
        write(root / "tiny" / name / "report.json", {"status": "done", "val_loss": final, "loss_curve": curve})
        units = {"Attn": {}, "Slow": {}} if name in ("d3", "d4", "d5") else {"Attn": {}, "Fast": {}}
        write(root / "designs" / f"{name}.json", {"units": units})
        if name in screen_bpb:
            write(root / "screen" / name / "report.json", {"status": "done", "val_bpb": screen_bpb[name]})
    write(root / "tiny" / "d6" / "report.json", {"status": "failed", "val_loss": None, "loss_curve": []})
    return root


def test_the_curve_at_each_step_is_ranked_against_the_final_loss(tmp_path):
    rows = bench.curve_rows(evidence(tmp_path), "tiny", "screen")
    assert sorted(rows) == ["d0", "d1", "d2", "d3", "d4", "d5"]  # the failed run is left out
    assert rows["d0"]["early"] is None and rows["d3"]["units"] == ["Attn", "Slow"]
    header, line = bench.curve_table({"ev": rows}, [6, 12, 99])
    assert header.split()[2:] == ["step", "6", "step", "12", "step", "99", "early", "bpb"]
    assert line.split() == ["ev", "6", "-1.00", "[-1.00,", "-1.00]", "+1.00", "[+1.00,", "+1.00]",
                            "-", "+1.00", "[+1.00,", "+1.00]"]  # backwards at 6, exact at 12; no step 99


def test_units_the_screen_misjudges_come_first():
    """Two "Slow" designs look worst by the screen's bpb but train better at tiny than the trend
    of the others says: their mean residual is negative and they are listed first."""
    def row(bpb, final, unit):
        return {"final": final, "curve": {}, "early": bpb, "units": ["Attn", unit]}
    rows = {"f1": row(2.40, 5.40, "Fast"), "f2": row(2.45, 5.45, "Fast"), "f3": row(2.50, 5.50, "Fast"),
            "s1": row(2.55, 5.20, "Slow"), "s2": row(2.60, 5.25, "Slow"), "x": row(None, 5.0, "Slow")}
    lines = bench.unit_residuals(rows, min_designs=2)
    assert [line.split()[0] for line in lines] == ["Slow", "Fast"]  # Attn is in every design: no contrast
    slow, fast = lines
    assert "in   2 designs" in slow and "the other   3" in slow  # x has no screen: not counted
    assert float(slow.split("residual ")[1].split()[0]) < 0 < float(fast.split("residual ")[1].split()[0])
    assert bench.unit_residuals(dict(list(rows.items())[:3])) == []  # too few designs to fit a line


def test_an_evidence_folder_without_finished_runs_fails(tmp_path, capsys):
    (tmp_path / "empty" / "tiny").mkdir(parents=True)
    assert bench.main([str(tmp_path / "empty")]) == 1
    assert "no finished tiny report in: empty" in capsys.readouterr().out
    assert bench.main([str(evidence(tmp_path)), "--steps", "6,12"]) == 0

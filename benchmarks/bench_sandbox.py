"""What the sandbox costs at start: a bare interpreter and `python -m verifier.core ladder` (which
imports torch), each started directly and in the sandbox; median of N runs.

    python benchmarks/bench_sandbox.py [-n 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time

from verifier.core.sandbox import SandboxSpec, resolve_mode, run_module


def ok(result) -> None:
    if result.returncode != 0:
        raise SystemExit(f"the sandboxed run failed: {result.stderr[-1000:]}")


def timed(fn, n: int) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=5)
    args = parser.parse_args()
    mode = resolve_mode()[1]
    with tempfile.TemporaryDirectory() as tmp:
        spec = SandboxSpec(writable=[tmp])
        with tempfile.NamedTemporaryFile("w", suffix=".py", dir=tmp, delete=False) as script:
            script.write("pass\n")
        rows = [
            ("bare python, direct", lambda: subprocess.run([sys.executable, "-I", "-c", "pass"], check=True)),
            ("bare python, sandbox", lambda: ok(run_module([], spec, module=script.name))),
            ("verifier.core ladder, direct",
             lambda: subprocess.run([sys.executable, "-m", "verifier.core", "ladder"], check=True,
                                    capture_output=True)),
            ("verifier.core ladder, sandbox", lambda: ok(run_module(["ladder"], spec))),
        ]
        print(f"mode: {mode}; median of {args.n}")
        for name, fn in rows:
            print(f"{name:32} {timed(fn, args.n):7.3f} s")


if __name__ == "__main__":
    main()

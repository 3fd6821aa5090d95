"""The audit-hook guard (`install_guard`), in a fresh interpreter each time (a hook cannot be removed):
what design code may not do, and what trusted libraries must still be able to do under it."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

PROBE = '''
import json, os, sys, dataclasses
import torch
from verifier.core.checker.guard import install_guard
from verifier.core.compat import install
from verifier.core.gau.loader import load_module

install()  # what the loader imports, imported before the guard (as the sandboxed children do)
guard = install_guard([sys.argv[1]], [])
design = load_module(sys.argv[2], "probe")
results = {}
for name in sorted(n for n in dir(design) if n.startswith("try_")):
    try:
        getattr(design, name)()
        results[name] = "ran"
    except PermissionError as exc:
        results[name] = str(exc)
# Trusted library code keeps working under the guard.
@dataclasses.dataclass
class Point:
    x: int = 0
results["library_dataclass"] = "ran" if Point(1).x == 1 else "broken"
results["library_inspect"] = "ran" if str(__import__("inspect").signature(design.try_write_outside)) else ""
print(json.dumps({"results": results, "violations": len(guard.violations)}))
'''

DESIGN = textwrap.dedent('''
    import os
    import sys


    def try_eval():
        return eval("1 + 1")


    def try_exec():
        exec("x = 1")


    def try_compile():
        compile("1", "x", "eval")


    def try_code_object():
        return try_eval.__code__


    def try_frame():
        return sys._getframe()


    def try_generator_frame():
        return (x for x in [1]).gi_frame


    def try_traceback_frame():
        try:
            1 / 0
        except ZeroDivisionError as exc:
            return exc.__traceback__.tb_frame


    def try_system():
        os.system("true")


    def try_spawn():
        os.posix_spawn("/bin/true", ["true"], {})


    def try_socket():
        import socket
        socket.socket()


    def try_write_outside(path="/var/tmp/genesys-guard-canary.txt"):
        with open(path, "w") as handle:
            handle.write("x")


    def try_read_home():
        open("/root/.bashrc").read()


    def try_list_root():
        os.listdir("/")


    def try_write_inside():
        with open(os.path.join(PRIVATE, "ok.txt"), "w") as handle:
            handle.write("x")
''')


def run_probe(tmp_path: Path) -> dict:
    private = tmp_path / "private"
    private.mkdir()
    source = DESIGN.replace("import sys\n", f"import sys\nPRIVATE = {str(private)!r}\n", 1)
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(private), source],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_install_guard_refuses_escapes_and_keeps_libraries_working(tmp_path):
    data = run_probe(tmp_path)
    results = data["results"]
    refused = {k for k, v in results.items() if v.startswith("sandbox:")}
    assert refused == {
        "try_eval", "try_exec", "try_compile", "try_code_object", "try_frame", "try_generator_frame",
        "try_traceback_frame", "try_system", "try_spawn", "try_socket", "try_write_outside",
        "try_read_home", "try_list_root",
    }, results
    assert results["try_write_inside"] == "ran"
    assert results["library_dataclass"] == "ran" and results["library_inspect"] == "ran"
    assert data["violations"] == len(refused)
    assert not Path("/var/tmp/genesys-guard-canary.txt").exists()

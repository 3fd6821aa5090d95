"""Concurrent parses must not trip CPython 3.11's shared AST recursion counter (cpython#106905).

The checker's parallel runs, the web server's threads and the knowledge ingest all parse code in
one process; CI once failed with `SystemError: AST constructor recursion depth mismatch`.
"""

import sys
import threading
from pathlib import Path

from verifier.core.pyparse import parse_module

SOURCE = (Path(__file__).resolve().parents[1] / "verifier" / "core" / "importer.py").read_text()


class _CyclicFinalizer:
    """Cyclic garbage with a finalizer: the collector runs Python code mid-parse, letting threads switch."""

    def __init__(self) -> None:
        self.me = self

    def __del__(self) -> None:
        pass


def _parse_under_gc_pressure(errors: list[BaseException], parses: int) -> None:
    for _ in range(parses):
        for _ in range(200):
            _CyclicFinalizer()
        try:
            parse_module(SOURCE)
        except BaseException as exc:  # noqa: BLE001 - recorded for the assertion
            errors.append(exc)
            return


def test_parse_module_survives_threads_that_interleave_inside_the_parser():
    errors: list[BaseException] = []
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=_parse_under_gc_pressure, args=(errors, 150)) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert errors == []


def test_parse_module_still_reports_syntax_errors():
    try:
        parse_module("def broken(:\n")
    except SyntaxError as exc:
        assert exc.lineno == 1
    else:
        raise AssertionError("a syntax error must propagate")

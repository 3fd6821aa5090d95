"""The one place Python source becomes an AST, behind a process-wide lock.

CPython 3.11 keeps the AST constructor's recursion counter in per-interpreter state, not per
thread (python/cpython#106905, fixed only in 3.12+): two threads in `ast.parse` at once can
interleave when an allocation runs the garbage collector, and the loser raises
`SystemError: AST constructor recursion depth mismatch`. The web server, the Celery thread pool
and the checker's parallel runs all parse generated code, so every parse in the project goes
through `parse_module` (ruff bans `ast.parse` elsewhere). Stdlib only: the four cores import it.
"""

from __future__ import annotations

import ast
import threading

_AST_LOCK = threading.RLock()  # re-entrant: a finalizer run by the GC mid-parse may parse too


def parse_module(source: str, filename: str = "<unknown>") -> ast.Module:
    """`ast.parse(source)`, serialised; raises SyntaxError (and ValueError for NUL bytes) as it does."""
    with _AST_LOCK:
        return ast.parse(source, filename)  # noqa: TID251 - the one sanctioned call

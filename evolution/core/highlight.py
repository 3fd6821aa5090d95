"""Syntax highlighting, one HTML string per source line.

Per-line output lets the page number each line, anchor it (`#unit-MHA-L12`) and pin annotations to
it; Pygments' own HTML formatter lets a token (a docstring) span lines, which would break that.
"""

from __future__ import annotations

from functools import lru_cache
from html import escape

from pygments import lex
from pygments.lexers import PythonLexer
from pygments.token import STANDARD_TYPES

_LEXER = PythonLexer(stripnl=False, ensurenl=False)


def _css_class(ttype) -> str:
    while ttype not in STANDARD_TYPES:
        ttype = ttype.parent
    return STANDARD_TYPES[ttype]


@lru_cache(maxsize=4096)
def highlight_lines(code: str) -> tuple[str, ...]:
    """HTML (escaped, with Pygments' short classes) for each line of `code`."""
    lines: list[list[str]] = [[]]
    for ttype, value in lex(code, _LEXER):
        cls = _css_class(ttype)
        parts = value.split("\n")
        for i, part in enumerate(parts):
            if i:
                lines.append([])
            if part:
                lines[-1].append(f'<span class="{cls}">{escape(part)}</span>' if cls else escape(part))
    if code.endswith("\n") and lines and not lines[-1]:
        lines.pop()
    return tuple("".join(parts) for parts in lines)

"""The failure categories of the checker, shared by the report, the failure dashboard and the tests.

Categories are plain strings so that stored reports stay readable and JSON-safe. Every error finding
carries exactly one of them; the dashboard counts designs by the category of their first error.
"""

from __future__ import annotations

SYNTAX = "syntax"
PROTOCOL = "protocol"
FORBIDDEN_IMPORT = "forbidden-import"
INIT_ERROR = "init-error"
FORWARD_ERROR = "forward-error"
SHAPE_MISMATCH = "shape-mismatch"
NON_CAUSAL = "non-causal"
NO_MIXING = "no-mixing"  # the block never reads earlier positions (checker/mixing.py)
NO_GRADIENT = "no-gradient"
NAN_INF = "nan-inf"
NOT_LEARNING = "not-learning"
TOO_SLOW = "too-slow"
TOO_MUCH_MEMORY = "too-much-memory"
TIMEOUT = "timeout"
KILLED = "killed"
SANDBOX_VIOLATION = "sandbox-violation"
# Not a fault of the design: the check itself could not be completed (the checker crashed, its
# sandbox or its reference could not run). A report with it has not passed: unchecked is not checked.
CHECKER = "checker"
# Not a fault either: the design passed, but it behaves exactly like a design already in the population
# (the same behavioural fingerprint, checker/fingerprint.py), so the evolution loop keeps it out
# (evolution/services/clones.py). Like CHECKER, not in CATEGORIES: no bad design can provoke it alone.
DUPLICATE = "duplicate"

# In the order a design meets them: the dashboard lists categories this way.
CATEGORIES = (
    SYNTAX,
    PROTOCOL,
    FORBIDDEN_IMPORT,
    SANDBOX_VIOLATION,
    INIT_ERROR,
    FORWARD_ERROR,
    SHAPE_MISMATCH,
    NON_CAUSAL,
    NO_MIXING,
    NO_GRADIENT,
    NAN_INF,
    NOT_LEARNING,
    TOO_SLOW,
    TOO_MUCH_MEMORY,
    TIMEOUT,
    KILLED,
)

ERROR = "error"
WARNING = "warning"
SEVERITIES = (ERROR, WARNING)

# Fragments of exception messages that mean "a tensor had the wrong shape" rather than a plain bug.
_SHAPE_PHRASES = (
    "shape",
    "size mismatch",
    "sizes of tensors must match",
    "must match the size",
    "mat1 and mat2",
    "expected input with shape",
    "size of tensor a",
    "cannot be multiplied",
    "dimension out of range",
    "doesn't match the broadcast shape",
    "expanded size of the tensor",
    "invalid for input of size",
)
_MEMORY_PHRASES = ("can't allocate memory", "cannot allocate memory", "out of memory", "not enough memory")


def classify_exception(exc_type: str, message: str, default: str, shapes: bool = True) -> str:
    """The category of an exception raised by design code (`default` unless it is about shapes or
    memory). Works on names and text so the parent can classify what the sandboxed child reports."""
    text = message.lower()
    if "sandbox:" in text:
        return SANDBOX_VIOLATION
    if exc_type == "MemoryError" or any(p in text for p in _MEMORY_PHRASES):
        return TOO_MUCH_MEMORY
    if (
        shapes
        and exc_type in ("RuntimeError", "ValueError", "IndexError", "AssertionError", "TypeError")
        and any(p in text for p in _SHAPE_PHRASES)
    ):
        return SHAPE_MISMATCH
    return default

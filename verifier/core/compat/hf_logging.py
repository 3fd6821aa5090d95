"""transformers.utils.logging's helpers, on the standard library's logging."""

from __future__ import annotations

import logging

_ROOT = "transformers"


def get_logger(name: str | None = None) -> logging.Logger:
    return logging.getLogger(name or _ROOT)


def get_verbosity() -> int:
    return logging.getLogger(_ROOT).getEffectiveLevel()


def set_verbosity(level: int) -> None:
    logging.getLogger(_ROOT).setLevel(level)


def set_verbosity_debug() -> None:
    set_verbosity(logging.DEBUG)


def set_verbosity_info() -> None:
    set_verbosity(logging.INFO)


def set_verbosity_warning() -> None:
    set_verbosity(logging.WARNING)


def set_verbosity_error() -> None:
    set_verbosity(logging.ERROR)


def disable_progress_bar() -> None:
    return None


def enable_progress_bar() -> None:
    return None


DEBUG, INFO, WARNING, ERROR, CRITICAL = (
    logging.DEBUG,
    logging.INFO,
    logging.WARNING,
    logging.ERROR,
    logging.CRITICAL,
)

__all__ = [
    "get_logger",
    "get_verbosity",
    "set_verbosity",
    "set_verbosity_debug",
    "set_verbosity_info",
    "set_verbosity_warning",
    "set_verbosity_error",
    "disable_progress_bar",
    "enable_progress_bar",
]

"""SIGTERM as Ctrl-C for a verification: training checkpoints and the report says "interrupted".

Processes forked from the verification (tokenisation and lm-eval worker pools) inherit the handler;
when their pool ends them they must just exit, not unwind with a KeyboardInterrupt traceback each."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from typing import Any

_owner_pid: int | None = None


def _interrupt(signum: int, frame: Any) -> None:
    if os.getpid() != _owner_pid:  # a forked pool worker being shut down
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
        return
    raise KeyboardInterrupt


def install_sigterm_as_interrupt() -> None:
    """From now on SIGTERM raises KeyboardInterrupt in this process (its forked children just exit)."""
    global _owner_pid
    _owner_pid = os.getpid()
    signal.signal(signal.SIGTERM, _interrupt)


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """`install_sigterm_as_interrupt` for a block, the previous handler restored after it; a no-op
    outside the main thread, where Python cannot set handlers."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)
    install_sigterm_as_interrupt()
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)

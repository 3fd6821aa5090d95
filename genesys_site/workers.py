"""The worker processes the embedded default starts next to the web server."""

from __future__ import annotations


def embedded_worker_commands() -> list[list[str]]:
    """Commands for the embedded Celery workers (none until the evolution loop is wired up)."""
    return []

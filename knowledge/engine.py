"""The process's KnowledgeBase for the configured store directory (the embedding model loads once).

Store directory: settings.GENESYS_KNOWLEDGE_DIR, else the GENESYS_KNOWLEDGE_DIR environment variable,
else VAR_DIR/knowledge. The LLM reranker is on when a provider is configured (see knowledge.core.llm).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

from django.conf import settings

from .core import KnowledgeBase
from .core.llm import complete_from_env

log = logging.getLogger(__name__)
_lock = threading.Lock()
_instances: dict[str, KnowledgeBase] = {}


def store_path() -> Path:
    configured = getattr(settings, "GENESYS_KNOWLEDGE_DIR", None) or os.environ.get("GENESYS_KNOWLEDGE_DIR")
    return Path(configured) if configured else Path(settings.VAR_DIR) / "knowledge"


def knowledge_base() -> KnowledgeBase:
    path = store_path()
    key = str(path.resolve())
    with _lock:
        kb = _instances.get(key)
        if kb is None:
            try:
                complete = complete_from_env()
            except ValueError as error:  # a misconfigured reranker must not take search down
                log.error("LLM reranker disabled: %s", error)
                complete = None
            kb = KnowledgeBase(path, complete=complete)
            _instances[key] = kb
        return kb


def forget_instances() -> None:
    """Drop the cached KnowledgeBase objects (tests switching stores or reranker settings)."""
    with _lock:
        _instances.clear()


def warm_in_background() -> threading.Thread:
    """Load the embedding model and the keyword index in a daemon thread, so that the first search
    after a server start does not wait 15-30 s for them (the web server calls this at start-up)."""

    def run() -> None:
        try:
            started = time.perf_counter()
            knowledge_base().warm()
            log.info("knowledge engine warm in %.1f s", time.perf_counter() - started)
        except Exception:  # noqa: BLE001 - a cold first search is better than a dead server
            log.exception("could not warm the knowledge engine")

    thread = threading.Thread(target=run, name="knowledge-warm", daemon=True)
    thread.start()
    return thread

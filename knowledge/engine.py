"""The process's KnowledgeBase for the configured store directory (the embedding model loads once).

Store directory: settings.GENESYS_KNOWLEDGE_DIR, else the GENESYS_KNOWLEDGE_DIR environment variable,
else VAR_DIR/knowledge. The LLM reranker is on when a provider is configured (see knowledge.core.llm).
"""

from __future__ import annotations

import logging
import os
import threading
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

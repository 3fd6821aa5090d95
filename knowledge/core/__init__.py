"""Framework-free core of the knowledge app (no Django, Celery or Channels).

Public API for the designer and scripts: `KnowledgeBase` (search, references_for, ingestion) and the
records it returns (`Hit`, `PaperRecord`), plus `format_references` for prompts.
"""

from .knowledge_base import KnowledgeBase, default_path
from .records import Hit, PaperRecord, format_references

__all__ = ["Hit", "KnowledgeBase", "PaperRecord", "default_path", "format_references"]

"""Framework-free core of the evolution app (no Django, Celery or Channels)."""

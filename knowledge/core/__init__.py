"""Framework-free core of the knowledge app (no Django, Celery or Channels)."""

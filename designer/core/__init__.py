"""Framework-free core of the designer app (no Django, Celery or Channels)."""

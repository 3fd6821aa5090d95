"""The Django project: settings, URLs, ASGI (Channels) and the Celery app."""

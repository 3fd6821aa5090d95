"""The Celery app. Queues: `design` (designers, CPU hosts), `check` (sandboxed checks) and
`verify` (training, GPU hosts; one task per GPU).

Broker: Redis when REDIS_URL is set, else kombu's filesystem transport under var/broker, so the
embedded default needs no server and still runs workers in separate processes.
"""

from __future__ import annotations

import os
from pathlib import Path

from celery import Celery
from kombu import Exchange, Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "genesys_site.settings")

app = Celery("genesys_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
QUEUES = ("design", "check", "verify")
# Each queue has its own exchange and routing key, so a task sent to `verify` reaches only the
# workers that consume `verify` (GPU hosts), whatever the broker.
app.conf.task_queues = tuple(Queue(name, Exchange(name, type="direct"), routing_key=name) for name in QUEUES)
app.conf.task_default_queue = "design"
app.conf.task_default_exchange = "design"
app.conf.task_default_routing_key = "design"
app.autodiscover_tasks()


def ensure_broker_folders() -> None:
    """The filesystem transport needs its folders to exist before any producer or worker starts."""
    from django.conf import settings

    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        folder = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get(key)
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)

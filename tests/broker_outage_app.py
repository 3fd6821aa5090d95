"""A Celery app with the site's Celery settings (its consumer included) and one task that sleeps
and notes that it ran: a worker to kill the broker under (tests/test_broker_outage.py)."""

from __future__ import annotations

import os
import time

import django
from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "genesys_site.settings")
django.setup()

app = Celery("broker_outage")
app.config_from_object("django.conf:settings", namespace="CELERY")


@app.task(name="outage.sleep", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def sleep(seconds: float, tag: str) -> None:
    time.sleep(seconds)
    with open(os.environ["OUTAGE_DONE_FILE"], "a") as done:
        done.write(f"{tag}\n")

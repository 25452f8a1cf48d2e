"""The Celery app: ``celery -A config worker -B`` runs a worker with beat.

Broker: REDIS_URL, else kombu's filesystem transport under var/broker (no server needed)."""

import os
from pathlib import Path

from celery import Celery
from celery.signals import worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("clearance")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

SWEEP_TASK = "compliance.tasks.reminder_sweep"


def ensure_broker_folders(conf) -> None:
    """The filesystem transport fails on a missing folder: create them, for the worker and
    for every process that publishes (web, commands)."""
    if not str(conf.broker_url or "").startswith("filesystem://"):
        return
    options = conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        if options.get(key):
            Path(options[key]).mkdir(parents=True, exist_ok=True)


@app.on_after_configure.connect
def _make_broker_folders(sender: Celery, **_kwargs) -> None:
    ensure_broker_folders(sender.conf)


@app.on_after_finalize.connect
def _schedule_sweep(sender: Celery, **_kwargs) -> None:
    from django.conf import settings

    sender.add_periodic_task(
        settings.REMINDER_SWEEP_MINUTES * 60,
        sender.signature(SWEEP_TASK),
        name="reminder sweep",
    )
    sender.add_periodic_task(
        settings.WEBHOOK_SWEEP_SECONDS,
        sender.signature("compliance.tasks.deliver_due_webhooks"),
        name="webhook deliveries due",
    )
    sender.add_periodic_task(
        settings.AUDIT_CHECKPOINT_MINUTES * 60,
        sender.signature("compliance.tasks.audit_checkpoint"),
        name="audit checkpoint",
    )


@worker_ready.connect
def _sweep_on_start(sender=None, **_kwargs) -> None:
    # Beat's first run is one period after start; sweep once now so nothing waits 15 minutes
    # after a deploy (claims make an extra sweep harmless).
    from django.conf import settings

    if settings.REMINDER_SWEEP_ON_START and sender is not None:
        sender.app.send_task(SWEEP_TASK)

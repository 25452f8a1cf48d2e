"""Celery tasks: thin wrappers around compliance.notifications (filled by the reminders work)."""

from celery import shared_task


@shared_task(name="compliance.tasks.reminder_sweep", acks_late=True)
def reminder_sweep() -> int:
    return 0

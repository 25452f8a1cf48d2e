"""Celery tasks: thin wrappers around compliance.notifications, each safe to run twice.
Nothing in compliance imports this module: the outbox sends its task by name (send_task).

Time limits: the sweep's hard limit (5 min) is well below REMINDER_CLAIM_TIMEOUT (30 min by
default), so a claim old enough to be taken over cannot belong to a sweep still running."""

from celery import shared_task

from compliance.audit.context import system_actor
from compliance.notifications import outbox, sweep

# SMTP and broker failures are OSErrors (smtplib.SMTPException included): worth a retry.
RETRY_ON = (OSError,)


def _retrying(*, backoff: tuple[int, int], max_retries: int, limits: tuple[int, int]) -> dict:
    """Task options for work that reaches SMTP or the broker: acknowledged late, retried on
    RETRY_ON with jittered exponential back-off (first, longest seconds), with (soft, hard)
    time limits."""
    return {
        "acks_late": True,
        "autoretry_for": RETRY_ON,
        "retry_backoff": backoff[0],
        "retry_backoff_max": backoff[1],
        "retry_jitter": True,
        "max_retries": max_retries,
        "soft_time_limit": limits[0],
        "time_limit": limits[1],
    }


@shared_task(
    name="compliance.tasks.reminder_sweep",
    **_retrying(backoff=(30, 600), max_retries=5, limits=(240, 300)),
)
def reminder_sweep() -> dict:
    """R17–R19: one reminder sweep (scheduled by beat every REMINDER_SWEEP_MINUTES)."""
    with system_actor("reminder_sweep"):
        return sweep.run_sweep().as_dict()


@shared_task(
    name="compliance.tasks.deliver_notification",
    **_retrying(backoff=(10, 300), max_retries=8, limits=(60, 90)),
)
def deliver_notification(notification_id: int) -> bool:
    """R20: deliver one outbox notification (no-op if it was already delivered)."""
    with system_actor("deliver_notification"):
        return outbox.deliver_notification(notification_id)


@shared_task(
    name="compliance.tasks.deliver_webhook", acks_late=True, soft_time_limit=60, time_limit=90
)
def deliver_webhook(delivery_id: int) -> bool:
    """R31: one attempt of a webhook delivery (no-op if it is not due or already sent)."""
    from compliance.notifications import webhooks

    with system_actor("deliver_webhook"):
        return webhooks.deliver(delivery_id)


@shared_task(
    name="compliance.tasks.deliver_webhook_events",
    acks_late=True,
    soft_time_limit=60,
    time_limit=90,
)
def deliver_webhook_events(event_ids: list[int]) -> int:
    """R31: events handed off after commit (one, or a burst's in one message): fans each
    out into its deliveries, then one ``deliver_webhook`` per delivery (a no-op for an
    event already fanned out, a delivery not due or already sent)."""
    from compliance.notifications import webhooks

    with system_actor("deliver_webhook"):
        return webhooks.deliver_events(event_ids)


@shared_task(name="compliance.tasks.deliver_due_webhooks", soft_time_limit=240, time_limit=300)
def deliver_due_webhooks() -> int:
    """R31: announce new compliance alerts (``alert.raised``), then deliver every webhook
    delivery that is due (retries; events the broker never got)."""
    from compliance.notifications import events, webhooks
    from compliance.selectors import compliance_alerts

    with system_actor("deliver_webhook"):
        events.raise_new_alerts(compliance_alerts())
        return webhooks.deliver_due()


@shared_task(name="compliance.tasks.audit_checkpoint", soft_time_limit=240, time_limit=300)
def audit_checkpoint() -> int | None:
    """R34 (beat, every AUDIT_CHECKPOINT_MINUTES): a signed checkpoint when the tree grew;
    returns its size, or None. Safe to run twice: a size is signed once."""
    from compliance.audit.checkpoints import make_checkpoint

    with system_actor("audit_checkpoint"):
        checkpoint = make_checkpoint()
    return None if checkpoint is None else checkpoint.tree_size

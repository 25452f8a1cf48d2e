"""Immediate notifications (R20) through a transactional outbox.

``notify_release_owner`` runs inside the service's transaction and writes a ``Notification``
row there, so the notification exists exactly when the change does. After commit it asks the
broker to deliver it; if the broker is down the user's action still succeeds, the row stays
``pending`` and the next reminder sweep delivers it. Delivery locks the row and checks its
state, so the task and the sweep never both send it."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from compliance.models import Notification, OutboxState, Reminder, ReminderKind
from compliance.notifications.rendering import render_notification

logger = logging.getLogger(__name__)


def notify_release_owner(*, release, actor, event: str, subject=None, reason: str = "") -> None:
    """Queue a notification to the release owner about ``event`` (not when the owner acted).

    Events: ``state_changed`` (subject ``{"from", "to"}``), ``signoff_approved``,
    ``signoff_rejected``, ``signoff_withdrawn`` (subject: the SignOff)."""
    if actor is not None and getattr(actor, "pk", None) == release.owner_id:
        return
    owner = release.owner
    if not owner.is_active or not owner.email:
        logger.warning("release %s: owner %s has no e-mail; %s not sent", release, owner, event)
        return
    payload: dict = {"actor": actor.get_username() if actor is not None else None}
    payload["reason"] = reason or ""
    if event == "state_changed":
        payload.update({"from": str(subject["from"]), "to": str(subject["to"])})
    elif subject is not None:  # a SignOff
        payload.update(
            {
                "signoff": subject.pk,
                "agency": subject.agency.code,
                "stage": str(subject.stage),
                "round": subject.round,
                "evidence": subject.evidence,
                "conditions": subject.conditions,
            }
        )
    notification = Notification.objects.create(
        release=release, recipient=owner, event=event, payload=payload, created_at=timezone.now()
    )
    transaction.on_commit(lambda: enqueue_delivery(notification.pk))


def enqueue_delivery(notification_id: int) -> bool:
    """Hand the delivery to the broker. Never raises: a broker outage must not turn a
    committed action into an error page; the row stays pending for the sweep."""
    from compliance.tasks import deliver_notification

    try:
        # Publish retries give up fast (settings.CELERY_TASK_PUBLISH_RETRY_POLICY).
        deliver_notification.delay(notification_id)
    except Exception:
        logger.warning(
            "broker unavailable: notification %s stays pending for the next sweep",
            notification_id,
            exc_info=True,
        )
        return False
    return True


def deliver_notification(notification_id: int, *, connection=None, wait: bool = True) -> bool:
    """Send one pending notification; True if this call sent it. Safe to run twice.

    The row stays locked while the e-mail goes out, so a concurrent delivery waits and then
    sees ``sent`` (``wait=False``: skip a row another delivery is sending now)."""
    with transaction.atomic():
        notification = (
            # Only the notification: the release and recipient rows it joins stay unlocked
            # while the e-mail goes out.
            Notification.objects.select_for_update(skip_locked=not wait, of=("self",))
            .select_related("release", "recipient")
            .filter(pk=notification_id, state=OutboxState.PENDING)
            .first()
        )
        if notification is None:
            return False
        message = render_notification(notification)
        if connection is not None:
            message.connection = connection
        message.send()
        now = timezone.now()
        notification.state = OutboxState.SENT
        notification.sent_at = now
        notification.save(update_fields=["state", "sent_at"])
        Reminder.objects.create(
            kind=ReminderKind.NOTIFICATION,
            recipient=notification.recipient,
            email=notification.recipient.email,
            subject=message.subject,
            items=[
                {
                    "key": f"notification:{notification.pk}",
                    "kind": notification.event,
                    "release": notification.release.slug,
                    **{k: v for k, v in notification.payload.items() if k != "evidence"},
                }
            ],
            sent_at=now,
        )
    return True


def pending_notification_ids() -> list[int]:
    return list(
        Notification.objects.filter(state=OutboxState.PENDING)
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)
    )

"""Immediate notifications (R20) through a transactional outbox.

``notify_release_owner`` runs inside the service's transaction and writes a ``Notification``
row there, so the notification exists exactly when the change does: the row is the
commitment. After commit the delivery task is handed to the broker **off the request path**,
by one publisher thread per process, so a broker that is down, slow or silent never makes the
user's action wait. Whatever was not handed off (broker down, process exited first) stays
``pending`` and the next reminder sweep delivers it. Delivery locks the row and checks its
state, so the task and the sweep never both send it."""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections import deque
from typing import NamedTuple

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from compliance.models import Notification, OutboxState, Reminder, ReminderKind
from compliance.notifications.rendering import render_notification
from config.celery import app as celery_app

logger = logging.getLogger(__name__)

# Sent by name: importing compliance.tasks here would make an import cycle (tasks → outbox).
DELIVER_TASK = "compliance.tasks.deliver_notification"
# Hand-offs waiting for the publisher thread; beyond this they are left to the sweep.
HANDOFF_BACKLOG = 10_000
# How long a process that exits waits for its last hand-offs (a command, a gunicorn worker).
EXIT_WAIT_SECONDS = 2.0


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


def enqueue_delivery(notification_id: int) -> None:
    """After commit: hand the delivery to the broker without making the caller wait on it.
    Never raises, never blocks: a committed action is never turned into an error page or a
    stalled request by the broker; the row stays pending for the sweep if the hand-off fails."""
    hand_off(DELIVER_TASK, notification_id)


class HandOff(NamedTuple):
    """One task waiting for the publisher thread."""

    task: str
    args: tuple
    countdown: float | None = None
    joinable: bool = False  # its one argument is a list of ids that may be joined with others'


def _ran_eagerly(task: str, args: tuple) -> bool:
    """No broker at all (tests, eager development): run the task here, now."""
    if not celery_app.conf.task_always_eager:
        return False
    celery_app.tasks[task].apply(args=list(args))
    return True


def hand_off(task: str, *args, countdown: float | None = None) -> None:
    """Publish ``task`` (by name) from the publisher thread, never from the caller; the
    outbox row the task reads is the commitment, so a failed hand-off loses nothing (the
    periodic sweeps deliver what is pending)."""
    if not _ran_eagerly(task, args):
        _publisher.put(HandOff(task, args, countdown))


def hand_off_ids(task: str, ids: list[int]) -> None:
    """``hand_off`` for a task whose one argument is a list of ids (the webhook events):
    such hand-offs waiting for the publisher go out as one message, their lists joined, and
    after one is sent the next waits until ``OUTBOX_COALESCE_SECONDS`` have passed,
    gathering what comes meanwhile. One alone goes at once; under a burst, one message per
    interval, so the emitting process pays one publish per interval, not one per event."""
    args = (list(ids),)
    if not _ran_eagerly(task, args):
        _publisher.put(HandOff(task, args, joinable=True))


def publish_now(task: str, *args) -> None:
    """Publish ``task`` from this thread (a worker fanning out, never a request): eager mode
    runs it here; a broker failure is logged and the row stays pending for the sweep."""
    if not _ran_eagerly(task, args):
        _publish(task, args, None)


def wait_for_handoffs(timeout: float) -> bool:
    """Wait until this process has handed every queued delivery to the broker (or given up on
    it); False if that took longer than ``timeout`` seconds."""
    return _publisher.wait_idle(timeout)


class _Publisher:
    """One daemon thread per process that publishes the delivery tasks, one at a time, in the
    order they were committed (joined hand-offs, see ``hand_off_ids``, go out together). A
    publish that hangs (a broker that accepts connections and never answers) holds up only
    this thread, bounded by the broker's socket timeout and the publish retry policy; the
    sweep delivers whatever it never managed to hand off."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._changed = threading.Condition()
        self._waiting: deque[HandOff] = deque()
        self._busy = False
        self._holding = False  # waiting out a joinable task's interval
        self._joined_sent_at: dict[str, float] = {}
        self._thread: threading.Thread | None = None

    def put(self, handoff: HandOff) -> None:
        with self._changed:
            if len(self._waiting) >= HANDOFF_BACKLOG:
                logger.warning(
                    "broker hand-off backlog full: %s%s stays pending for the next sweep",
                    handoff.task,
                    handoff.args,
                )
                return
            self._waiting.append(handoff)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="clearance-outbox-handoff", daemon=True
                )
                self._thread.start()
            # A joinable hand-off during a hold waits for the hold's end anyway: waking the
            # thread for it would cost the caller's process a switch per event.
            if not (self._holding and handoff.joinable):
                self._changed.notify_all()

    def _next(self) -> HandOff | float:
        """The hand-off to publish now, or the seconds to wait before one is due. Called
        with the lock held and something waiting."""
        for i, handoff in enumerate(self._waiting):
            if not handoff.joinable:  # a single hand-off never waits for a joinable one
                del self._waiting[i]
                return handoff
        task = self._waiting[0].task
        due = self._joined_sent_at.get(task, float("-inf")) + settings.OUTBOX_COALESCE_SECONDS
        if due > time.monotonic():
            return due - time.monotonic()
        ids = [i for handoff in self._waiting if handoff.task == task for i in handoff.args[0]]
        self._waiting = deque(h for h in self._waiting if h.task != task)
        return HandOff(task, (ids,), joinable=True)

    def _run(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._waiting)
                handoff = self._next()
                if isinstance(handoff, float):
                    self._holding = True
                    self._changed.wait(handoff)
                    self._holding = False
                    continue
                self._busy = True
            try:
                _publish(handoff.task, handoff.args, handoff.countdown)
            finally:
                with self._changed:
                    if handoff.joinable:
                        self._joined_sent_at[handoff.task] = time.monotonic()
                    self._busy = False
                    self._changed.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        with self._changed:
            return self._changed.wait_for(
                lambda: not self._waiting and not self._busy, timeout=timeout
            )


def _publish(task: str, args: tuple, countdown: float | None) -> None:
    try:
        # Publish retries give up fast (settings.CELERY_TASK_PUBLISH_RETRY_POLICY).
        celery_app.send_task(task, args=list(args), countdown=countdown)
    except Exception:
        logger.warning(
            "broker unavailable: %s%s stays pending for the next sweep", task, args, exc_info=True
        )


_publisher = _Publisher()
# A forked child (gunicorn, Celery prefork) starts with no thread and an empty queue: the
# parent's hand-offs are the parent's.
os.register_at_fork(after_in_child=_publisher._reset)
atexit.register(wait_for_handoffs, EXIT_WAIT_SECONDS)


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

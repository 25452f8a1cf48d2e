"""Immediate notifications (R20). Services call ``notify_release_owner`` inside their
transaction; delivery happens after commit."""

from __future__ import annotations


def notify_release_owner(*, release, actor, event: str, subject=None, reason: str = "") -> None:
    """Queue a notification to the release owner about ``event`` (not when the owner acted).

    Filled in by the reminders work: writes an outbox row in the caller's transaction and
    schedules delivery with ``transaction.on_commit``.
    """
    return None

"""Helpers every service uses: role checks, row locks, history stamping, saving."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from django.db import models

from compliance import clock, errors
from compliance.errors import Blocker, PermissionDenied, RuleViolation, blocker
from compliance.models.roles import can_write, is_admin

M = TypeVar("M", bound=models.Model)


def require_writer(actor) -> None:
    """Staff and admins write; auditors (and anyone without a role) are refused."""
    if not can_write(actor):
        raise PermissionDenied("Only compliance staff and admins may change this.")


def require_admin(actor) -> None:
    if not is_admin(actor):
        raise PermissionDenied("Only admins may do this.")


def lock(instance: M) -> M:
    """Re-read ``instance`` with a row lock (FOR UPDATE) inside the current transaction."""
    return type(instance).objects.select_for_update().get(pk=instance.pk)


def lock_all(queryset: models.QuerySet) -> list:
    """Lock rows in primary-key order so two services never wait on each other in a cycle."""
    return list(queryset.select_for_update().order_by("pk"))


def stamp(instance: models.Model, actor, reason: str = "") -> None:
    """Who and why, for the history row simple-history writes on the next save (R7, R21)."""
    instance._history_user = actor
    instance._change_reason = reason or ""
    instance._history_date = clock.now()


def save(instance: M, *, actor, reason: str = "", update_fields: Iterable[str] | None = None) -> M:
    """full_clean() then save, with the history row carrying actor and reason."""
    instance.full_clean()
    stamp(instance, actor, reason)
    if update_fields is not None:
        instance.save(update_fields=list(update_fields))
    else:
        instance.save()
    return instance


def set_many(instance: models.Model, field: str, values) -> None:
    """Replace a tracked many-to-many field; the caller's next ``save()`` writes the history
    row, which snapshots the new set. (simple-history would write one row per m2m signal: a
    ``.set()`` that removes and adds leaves two, the first a state that never existed.)"""
    instance.skip_history_when_saving = True
    try:
        getattr(instance, field).set(values)
    finally:
        del instance.skip_history_when_saving


def require_editable(changes: dict, editable: Iterable[str]) -> None:
    """A programming error, not bad input: callers (serializers, forms) pass only these."""
    unknown = set(changes) - set(editable)
    if unknown:
        raise TypeError(f"cannot change {sorted(unknown)}")


def apply_changes(instance: models.Model, changes: dict, editable: Iterable[str]) -> None:
    """Set the given fields (only ``editable`` ones) on ``instance``; the caller saves it."""
    require_editable(changes, editable)
    for name, value in changes.items():
        setattr(instance, name, value)


def refuse_if(blockers: list[Blocker]) -> None:
    if blockers:
        raise RuleViolation(blockers)


def reason_blockers(reason: str | None) -> list[Blocker]:
    return [] if (reason or "").strip() else [blocker(errors.REASON_REQUIRED)]

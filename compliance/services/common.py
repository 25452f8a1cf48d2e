"""Helpers every service uses: role checks, row locks, history stamping, saving."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import models, transaction

from compliance import clock, errors
from compliance.audit.ledger import chain_locks_taken
from compliance.errors import Blocker, PermissionDenied, RuleViolation, blocker
from compliance.models.roles import can_write, is_admin

M = TypeVar("M", bound=models.Model)
P = ParamSpec("P")
R = TypeVar("R")


def require_writer(actor: User) -> None:
    """Staff and admins write; auditors (and anyone without a role) are refused."""
    if not can_write(actor):
        raise PermissionDenied("Only compliance staff and admins may change this.")


def require_admin(actor: User) -> None:
    if not is_admin(actor):
        raise PermissionDenied("Only admins may do this.")


# The one lock order of the app (Saleor's lock_objects, STYLE): every service takes its row
# locks in this table order (parent before children), rows of one table in pk order and in
# one call, and all of them before its first history write, because that write takes the
# audit chain's lock (compliance.audit.ledger) until commit. A service that locked a row
# after holding the chain lock could wait on a transaction that waits for the chain: a
# deadlock. ``lock`` and ``lock_all`` refuse (LockOrderError) rather than let that happen.
LOCK_ORDER = (
    "auth.User",
    "compliance.Agency",
    "compliance.Partner",
    "compliance.GovernmentRequest",
    "compliance.Release",
    "compliance.SignOff",
    "compliance.AllowlistEntry",
    "compliance.EvidenceDocument",  # after what cites it: a decision locks its documents last
    "compliance.WebhookEndpoint",
    "compliance.Gateway",  # receipts lock only their gateway
    "compliance.UserPreference",  # a user's own settings, locked alone
)


class LockOrderError(RuntimeError):
    """A row lock out of the app's lock order: a programming error in a service."""


@dataclass
class _LockPhase:
    chain_locks: int  # the ledger's count for this thread when the service began
    rank: int = -1  # LOCK_ORDER index of the last table locked


_service = threading.local()  # per thread, like Django's database connections


def service_transaction(func: Callable[P, R]) -> Callable[P, R]:
    """``transaction.atomic`` for a service, and the scope ``lock``/``lock_all`` check the lock
    order in. A service called by a service joins its caller's scope: one order for both."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with transaction.atomic():
            if getattr(_service, "phase", None) is not None:
                return func(*args, **kwargs)
            _service.phase = _LockPhase(chain_locks=chain_locks_taken())
            try:
                return func(*args, **kwargs)
            finally:
                _service.phase = None

    return wrapper


def _check_lock_order(model: type[models.Model], using: str) -> None:
    label = model._meta.label
    phase = getattr(_service, "phase", None)
    if phase is None:
        raise LockOrderError(f"{label} locked outside a @service_transaction service")
    if chain_locks_taken(using) != phase.chain_locks:
        raise LockOrderError(
            f"{label} locked after this service's first history write (which holds the "
            "audit chain's lock until commit): take every row lock before writing"
        )
    if label not in LOCK_ORDER:
        raise LockOrderError(f"{label} has no place in services.common.LOCK_ORDER")
    rank = LOCK_ORDER.index(label)
    if rank < phase.rank:
        raise LockOrderError(f"{label} locked after {LOCK_ORDER[phase.rank]}: see LOCK_ORDER")
    phase.rank = rank


def lock(instance: M, *, no_key: bool = True) -> M:
    """Re-read ``instance`` with a row lock inside the service's transaction (see lock_all)."""
    return _locking(type(instance).objects.all(), no_key=no_key).get(pk=instance.pk)


def lock_all(queryset: models.QuerySet, *, no_key: bool = True) -> list:
    """Lock the rows of ``queryset`` in primary-key order, in LOCK_ORDER, before any write.

    Only the rows themselves (``of=self``), never rows a ``select_related`` joins: a
    decision must not lock its agency or partner. FOR NO KEY UPDATE (``no_key``) serialises
    every service that locks the row, yet lets another transaction insert rows referencing
    it (their FOR KEY SHARE), as a submission holding the chain lock does with the agencies
    of its new sign-offs. ``no_key=False`` (FOR UPDATE) only to delete a row or change a
    key column."""
    return list(_locking(queryset, no_key=no_key).order_by("pk"))


def lock_with_release(instance: M, *, read: str) -> tuple[models.Model, M]:
    """Lock the release ``instance`` belongs to, then ``instance`` (LOCK_ORDER: the release
    first, so concurrent decisions on it queue); the related row ``read`` is joined, not
    locked."""
    from compliance.models import Release

    [release] = lock_all(Release.objects.filter(pk=instance.release_id))
    [instance] = lock_all(type(instance).objects.filter(pk=instance.pk).select_related(read))
    return release, instance


def require_choice(field: str, value: str, choices: Iterable[str]) -> None:
    """Bad input, not a rule: ``value`` of ``field`` must be one of ``choices``."""
    if value not in choices:
        raise ValidationError({field: [f"Must be one of {', '.join(choices)}."]})


def _locking(queryset: models.QuerySet, *, no_key: bool) -> models.QuerySet:
    _check_lock_order(queryset.model, queryset.db)
    return queryset.select_for_update(of=("self",), no_key=no_key)


def stamp(instance: models.Model, actor: User, reason: str = "") -> None:
    """Who and why, for the history row simple-history writes on the next save (R7, R21)."""
    instance._history_user = actor
    instance._change_reason = reason or ""
    instance._history_date = clock.now()


def save(
    instance: M, *, actor: User, reason: str = "", update_fields: Iterable[str] | None = None
) -> M:
    """full_clean() then save, with the history row carrying actor and reason."""
    instance.full_clean()
    stamp(instance, actor, reason)
    if update_fields is not None:
        instance.save(update_fields=list(update_fields))
    else:
        instance.save()
    return instance


def set_many(instance: models.Model, field: str, values: Iterable[models.Model]) -> None:
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


def create_reference(instance: M, *, actor: User, reason: str) -> M:
    """An admin adds a row of reference data (an agency, a partner)."""
    require_admin(actor)
    return save(instance, actor=actor, reason=reason)


def update_reference(
    instance: M, editable: Iterable[str], *, actor: User, reason: str, **changes: object
) -> tuple[M, dict]:
    """An admin edits a row of reference data: locked, ``changes`` (only ``editable``
    fields) applied, saved. Returns the row and what the changed fields held before."""
    require_admin(actor)
    require_editable(changes, editable)
    instance = lock(instance)
    before = {name: getattr(instance, name) for name in changes}
    apply_changes(instance, changes, editable)
    return save(instance, actor=actor, reason=reason), before


def refuse_if(blockers: list[Blocker]) -> None:
    if blockers:
        raise RuleViolation(blockers)


def move_blockers(current: str, to: str, *, allowed: bool) -> list[Blocker]:
    """R8's ``invalid_transition`` (naming ``from`` and ``to``) unless the move is allowed."""
    if allowed:
        return []
    return [blocker(errors.INVALID_TRANSITION, **{"from": current, "to": to})]


def reason_blockers(reason: str | None) -> list[Blocker]:
    return [] if (reason or "").strip() else [blocker(errors.REASON_REQUIRED)]

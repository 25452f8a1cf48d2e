"""Gateways and their receipts (R25, R28). A gateway is a user in the role ``gateway`` with
one ``Gateway`` record; admins register it (its token is shown once), and only the gateway
itself reports what it enforces."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from compliance import clock
from compliance.errors import PermissionDenied
from compliance.models import Gateway
from compliance.models.roles import Role, role_of
from compliance.services.common import lock, require_admin, save, service_transaction
from compliance.services.users import ensure_user

User = get_user_model()


@service_transaction
def create_gateway(*, actor: User, name: str) -> tuple[Gateway, str]:
    """Register a gateway (admins): its user in the role ``gateway``, its record, and a new
    API token, returned in clear text this once (only its digest is stored)."""
    from compliance.api.auth import issue_token  # the token model lives with the API auth

    require_admin(actor)
    name = (name or "").strip()
    if User.objects.filter(username=name).exists():
        raise ValidationError({"name": ["A user or gateway with this name already exists."]})
    user, _created, _changed = ensure_user(
        name, role=Role.GATEWAY, actor=actor, reason=f"gateway {name} registered"
    )
    gateway = ensure_gateway(user, actor=actor)
    return gateway, issue_token(user)


@service_transaction
def ensure_gateway(user: User, *, actor: User | None = None) -> Gateway:
    """The ``Gateway`` record of a user in the role ``gateway`` (created once; running it
    again changes nothing). ``actor`` None: a command under ``system_actor``."""
    if actor is not None:
        require_admin(actor)
    existing = Gateway.objects.filter(user=user).first()
    if existing is not None:
        return existing
    gateway = Gateway(user=user, name=user.get_username())
    return save(gateway, actor=actor, reason="gateway registered")


@service_transaction
def set_gateway_active(gateway: Gateway, *, actor: User, active: bool, reason: str = "") -> Gateway:
    """Admins take a gateway out of (or back into) enforcement: an inactive gateway is not
    waited for (R29) and raises no alert (R30)."""
    require_admin(actor)
    gateway = lock(gateway)
    if gateway.active == active:
        return gateway
    gateway.active = active
    return save(
        gateway,
        actor=actor,
        reason=reason or ("gateway reactivated" if active else "gateway deactivated"),
        update_fields=["active"],
    )


@service_transaction
def record_receipt(gateway: Gateway, *, actor: User, revision: int) -> Gateway:
    """R28: "I enforce everything up to ``revision``", from that gateway only.

    Above the current revision: bad input (400). At or below ``applied_revision``: nothing
    changes but ``last_seen_at``. Advancing: one history row (the receipt, in the audit
    chain). ``last_seen_at`` is saved without a history row either way."""
    from compliance.selectors import access_revision

    if role_of(actor) != Role.GATEWAY or actor.pk != gateway.user_id:
        raise PermissionDenied("Only the gateway itself may report its receipts.")
    gateway = lock(gateway)
    if revision > access_revision():
        raise ValidationError({"revision": ["Above the current access revision."]})
    now = clock.now()
    _seen(gateway, now)
    if revision > gateway.applied_revision:
        gateway.applied_revision = revision
        gateway.applied_at = now
        save(
            gateway,
            actor=actor,
            reason=f"receipt: enforces revision {revision}",
            update_fields=["applied_revision", "applied_at"],
        )
    return gateway


def _seen(gateway: Gateway, now) -> None:
    """``last_seen_at`` saved without a history row (a liveness signal, not a decision)."""
    gateway.last_seen_at = now
    gateway.skip_history_when_saving = True
    try:
        gateway.save(update_fields=["last_seen_at"])
    finally:
        del gateway.skip_history_when_saving


@service_transaction
def note_gateway_seen(gateway: Gateway, *, actor: User) -> None:
    """R28's "every call sets last_seen_at", for a receipt refused as bad input: the gateway
    itself called, so it is alive. Nothing else changes. Anyone else: nothing at all."""
    if role_of(actor) == Role.GATEWAY and actor.pk == gateway.user_id:
        _seen(lock(gateway), clock.now())

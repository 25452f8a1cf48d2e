"""Webhook endpoints (R31): admins register, edit, rotate secrets and ping; a delivery that
exhausts its retries disables its endpoint (system actor) and alerts the admins."""

from __future__ import annotations

import logging

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from compliance.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from compliance.notifications import webhooks
from compliance.services.common import (
    apply_changes,
    lock,
    require_admin,
    save,
    service_transaction,
)

logger = logging.getLogger(__name__)
EDITABLE_FIELDS = ("url", "events", "description", "active")


def _validate(url: str, events: list) -> None:
    errors = {}
    try:
        webhooks.check_destination(url)
    except webhooks.DestinationRefused as exc:
        errors["url"] = [str(exc)]
    unknown = sorted(set(events) - set(WebhookEvent.values))
    if unknown:
        errors["events"] = [f"Unknown event types: {', '.join(unknown)}."]
    if errors:
        raise ValidationError(errors)


@service_transaction
def create_webhook(
    *, actor: User, url: str, events: list[str] | None = None, description: str = ""
) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint; returns it and its secret (shown this once)."""
    require_admin(actor)
    events = sorted(set(events or []))
    _validate(url, events)
    endpoint = WebhookEndpoint(
        url=url,
        events=events,
        description=description,
        secret=webhooks.new_secret(),
        created_by=actor,
    )
    save(endpoint, actor=actor, reason="webhook registered")
    return endpoint, endpoint.secret


@service_transaction
def update_webhook(
    endpoint: WebhookEndpoint, *, actor: User, reason: str = "", **changes: object
) -> WebhookEndpoint:
    """Edit URL, events, description; ``active=True`` re-enables a disabled endpoint (its
    pending deliveries resume)."""
    require_admin(actor)
    endpoint = lock(endpoint)
    if "events" in changes:
        changes["events"] = sorted(set(changes["events"] or []))
    apply_changes(endpoint, changes, EDITABLE_FIELDS)
    _validate(endpoint.url, endpoint.events)
    if changes.get("active"):
        endpoint.disabled_reason = ""
    return save(endpoint, actor=actor, reason=reason or "webhook edited")


@service_transaction
def rotate_webhook_secret(endpoint: WebhookEndpoint, *, actor: User) -> tuple[WebhookEndpoint, str]:
    """A new secret, effective for every attempt from now on; returned this once."""
    require_admin(actor)
    endpoint = lock(endpoint)
    endpoint.secret = webhooks.new_secret()
    endpoint.secret_rotated_at = timezone.now()
    save(endpoint, actor=actor, reason="webhook secret rotated")
    return endpoint, endpoint.secret


@service_transaction
def send_test_ping(endpoint: WebhookEndpoint, *, actor: User) -> WebhookDelivery:
    """Queue a ``ping`` to this endpoint (even if it filters events)."""
    require_admin(actor)
    return webhooks.queue(
        endpoint,
        WebhookEvent.PING,
        {"webhook": endpoint.pk, "requested_by": actor.get_username()},
    )


@service_transaction
def disable_failed_endpoint(endpoint: WebhookEndpoint, *, reason: str) -> WebhookEndpoint:
    """The last scheduled attempt failed: stop sending (R31). The alert ``webhook_disabled``
    stands until an admin re-enables it; admins are e-mailed now."""
    from compliance.audit.context import system_actor

    endpoint = lock(endpoint)
    if not endpoint.active:
        return endpoint
    endpoint.active = False
    endpoint.disabled_reason = reason[:500]
    with system_actor("deliver_webhook"):
        save(endpoint, actor=None, reason="webhook disabled: deliveries kept failing")
    transaction.on_commit(lambda: _tell_admins(endpoint))
    return endpoint


def _tell_admins(endpoint: WebhookEndpoint) -> None:
    from django.contrib.auth import get_user_model
    from django.core.mail import send_mail

    from compliance.models import Role

    admins = get_user_model().objects.filter(groups__name=Role.ADMIN, is_active=True)
    try:
        send_mail(
            f"[Clearance] Webhook disabled: {endpoint.url}",
            f"Clearance stopped sending webhooks to {endpoint.url} "
            f"({endpoint.description or 'no description'}):\n\n{endpoint.disabled_reason}\n\n"
            "Fix the receiver, then re-enable the endpoint (its pending deliveries resume).",
            None,
            sorted(admins.exclude(email="").values_list("email", flat=True)),
        )
    except OSError:
        logger.warning("could not e-mail admins that webhook %s was disabled", endpoint.pk)

"""The webhook events of R31, one function per cause, called by the service that causes it
inside its transaction (the deliveries commit with the change, or not at all)."""

from __future__ import annotations

from collections.abc import Iterable

from compliance.models import AllowlistEntry, GovernmentRequest, Release, SignOff, WebhookEvent
from compliance.notifications.webhooks import emit


def _actor(actor) -> str | None:
    return actor.get_username() if actor is not None else None


def release_status_changed(release: Release, *, previous: str, actor, reason: str) -> None:
    emit(
        WebhookEvent.RELEASE_STATUS_CHANGED,
        {
            "release": release.slug,
            "from": str(previous),
            "to": str(release.status),
            "round": release.review_round,
            "reason": reason or "",
            "actor": _actor(actor),
        },
    )
    access_changed([release])


def _signoff(signoff: SignOff, actor, reason: str = "") -> dict:
    return {
        "id": signoff.pk,
        "release": signoff.release.slug,
        "round": signoff.round,
        "agency": signoff.agency.code,
        "stage": str(signoff.stage),
        "status": str(signoff.status),
        "evidence": signoff.evidence,
        "conditions": signoff.conditions,
        "reason": reason or "",
        "actor": _actor(actor),
    }


def signoff_decided(signoff: SignOff, *, actor, reason: str = "") -> None:
    emit(WebhookEvent.SIGNOFF_DECIDED, _signoff(signoff, actor, reason))


def signoff_withdrawn(signoff: SignOff, *, actor, reason: str) -> None:
    emit(WebhookEvent.SIGNOFF_WITHDRAWN, _signoff(signoff, actor, reason))


def _request(request: GovernmentRequest, actor) -> dict:
    return {
        "id": request.pk,
        "agency": request.agency.code,
        "reference": request.reference,
        "kind": str(request.kind),
        "binding": request.binding,
        "status": str(request.status),
        "releases": sorted(request.releases.values_list("slug", flat=True)),
        "received_at": request.received_at.isoformat(),
        "due_at": request.due_at.isoformat() if request.due_at else None,
        "actor": _actor(actor),
    }


def request_recorded(request: GovernmentRequest, *, actor) -> None:
    emit(WebhookEvent.REQUEST_RECORDED, _request(request, actor))


def request_status_changed(
    request: GovernmentRequest, *, previous: str, actor, note: str = ""
) -> None:
    emit(
        WebhookEvent.REQUEST_STATUS_CHANGED,
        {
            **_request(request, actor),
            "from": str(previous),
            "to": str(request.status),
            "note": note,
        },
    )


ENTRY_EVENTS = {
    "proposed": WebhookEvent.ALLOWLIST_PROPOSED,
    "approved": WebhookEvent.ALLOWLIST_DECIDED,
    "rejected": WebhookEvent.ALLOWLIST_DECIDED,
    "revoked": WebhookEvent.ALLOWLIST_REVOKED,
}


def allowlist_changed(entry: AllowlistEntry, *, actor, reason: str = "") -> None:
    """Proposed, decided (approved or rejected) or revoked, by the entry's new status."""
    emit(
        ENTRY_EVENTS[entry.status],
        {
            "id": entry.pk,
            "release": entry.release.slug,
            "partner": entry.partner_id,
            "status": str(entry.status),
            "vetted_by": entry.vetted_by.code if entry.vetted_by_id else None,
            "reason": reason or "",
            "actor": _actor(actor),
        },
    )
    if entry.status != "proposed":
        access_changed([entry.release])


def access_changed(releases: Iterable[Release]) -> None:
    """R27's entry of each release as this transaction leaves it, with the revision (the
    transaction's own newest ledger entry)."""
    from compliance.selectors import access_revision, entitlement_entries

    releases = list(releases)
    if not releases:
        return
    revision = access_revision()
    for entry in entitlement_entries(releases):
        emit(WebhookEvent.ACCESS_CHANGED, {**entry, "revision": revision})


def alert_key(alert: dict) -> str:
    """What makes an alert the same alert from one look to the next."""
    parts = [alert["kind"], alert.get("release") or "", alert.get("gateway") or ""]
    extra = alert.get("stage") or alert.get("request") or alert.get("partner") or ""
    return ":".join(str(p) for p in [*parts, extra])


def raise_new_alerts(alerts: list[dict]) -> int:
    """``alert.raised`` once for each alert that was not standing at the last look; alerts
    that are gone are marked cleared. Returns how many were raised."""
    from django.db import IntegrityError, transaction
    from django.utils import timezone

    from compliance.models import RaisedAlert

    now = timezone.now()
    current = {alert_key(a): a for a in alerts}
    with transaction.atomic():
        standing = {
            r.key: r for r in RaisedAlert.objects.select_for_update().filter(cleared_at=None)
        }
        for key, row in standing.items():
            if key not in current:
                row.cleared_at = now
                row.save(update_fields=["cleared_at"])
        raised = 0
        for key, alert in current.items():
            if key in standing:
                continue
            try:
                with transaction.atomic():
                    RaisedAlert.objects.create(key=key, kind=alert["kind"], raised_at=now)
            except IntegrityError:
                continue  # another look raised it at the same moment
            emit(WebhookEvent.ALERT_RAISED, alert)
            raised += 1
    return raised

"""Partners: the outside organisations on allowlists; reference data, written by admins only."""

from __future__ import annotations

from django.contrib.auth.models import User

from compliance.models import LIVE_STATUSES, Partner, Release
from compliance.notifications import events
from compliance.services.common import create_reference, service_transaction, update_reference

PARTNER_FIELDS = ("name", "country", "contact_email", "notes")


@service_transaction
def create_partner(
    *,
    actor: User,
    name: str,
    country: str,
    contact_email: str = "",
    notes: str = "",
    reason: str = "",
) -> Partner:
    partner = Partner(name=name, country=country, contact_email=contact_email, notes=notes)
    return create_reference(partner, actor=actor, reason=reason or "partner created")


@service_transaction
def update_partner(
    partner: Partner, *, actor: User, reason: str = "", **changes: object
) -> Partner:
    partner, before = update_reference(
        partner, PARTNER_FIELDS, actor=actor, reason=reason or "partner updated", **changes
    )
    if "country" in before and str(before["country"]) != str(partner.country):
        # R29: a partner's country is an access change where restrictions apply
        events.access_changed(
            Release.objects.filter(foreign_access_restricted=True, status__in=LIVE_STATUSES)
        )
    return partner

"""Partners: the outside organisations on allowlists; reference data, written by admins only."""

from __future__ import annotations

from compliance.models import Partner
from compliance.services.common import (
    apply_changes,
    lock,
    require_admin,
    save,
    service_transaction,
)

PARTNER_FIELDS = ("name", "country", "contact_email", "notes")


@service_transaction
def create_partner(
    *, actor, name: str, country: str, contact_email: str = "", notes: str = "", reason: str = ""
) -> Partner:
    require_admin(actor)
    partner = Partner(name=name, country=country, contact_email=contact_email, notes=notes)
    return save(partner, actor=actor, reason=reason or "partner created")


@service_transaction
def update_partner(partner: Partner, *, actor, reason: str = "", **changes) -> Partner:
    require_admin(actor)
    partner = lock(partner)
    apply_changes(partner, changes, PARTNER_FIELDS)
    return save(partner, actor=actor, reason=reason or "partner updated")

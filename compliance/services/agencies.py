"""Agencies and partners: reference data, written by admins only."""

from __future__ import annotations

from django.db import transaction

from compliance.models import Agency, Partner
from compliance.services.common import lock, require_admin, require_editable, save

AGENCY_FIELDS = ("name", "contact_email", "active")
PARTNER_FIELDS = ("name", "country", "contact_email", "notes")


@transaction.atomic
def create_agency(
    *, actor, code: str, name: str, contact_email: str = "", active: bool = True, reason: str = ""
) -> Agency:
    require_admin(actor)
    agency = Agency(code=code, name=name, contact_email=contact_email, active=active)
    return save(agency, actor=actor, reason=reason or "agency created")


@transaction.atomic
def update_agency(agency: Agency, *, actor, reason: str = "", **changes) -> Agency:
    require_admin(actor)
    agency = lock(agency)
    _apply(agency, changes, AGENCY_FIELDS)
    return save(agency, actor=actor, reason=reason or "agency updated")


@transaction.atomic
def create_partner(
    *, actor, name: str, country: str, contact_email: str = "", notes: str = "", reason: str = ""
) -> Partner:
    require_admin(actor)
    partner = Partner(name=name, country=country, contact_email=contact_email, notes=notes)
    return save(partner, actor=actor, reason=reason or "partner created")


@transaction.atomic
def update_partner(partner: Partner, *, actor, reason: str = "", **changes) -> Partner:
    require_admin(actor)
    partner = lock(partner)
    _apply(partner, changes, PARTNER_FIELDS)
    return save(partner, actor=actor, reason=reason or "partner updated")


def _apply(instance, changes: dict, allowed: tuple[str, ...]) -> None:
    require_editable(changes, allowed)
    for name, value in changes.items():
        setattr(instance, name, value)

"""Agencies: reference data, written by admins only."""

from __future__ import annotations

from django.contrib.auth.models import User

from compliance.models import Agency
from compliance.services.common import (
    apply_changes,
    lock,
    require_admin,
    save,
    service_transaction,
)

AGENCY_FIELDS = ("name", "contact_email", "active")


@service_transaction
def create_agency(
    *,
    actor: User,
    code: str,
    name: str,
    contact_email: str = "",
    active: bool = True,
    reason: str = "",
) -> Agency:
    require_admin(actor)
    agency = Agency(code=code, name=name, contact_email=contact_email, active=active)
    return save(agency, actor=actor, reason=reason or "agency created")


@service_transaction
def update_agency(agency: Agency, *, actor: User, reason: str = "", **changes: object) -> Agency:
    require_admin(actor)
    agency = lock(agency)
    apply_changes(agency, changes, AGENCY_FIELDS)
    return save(agency, actor=actor, reason=reason or "agency updated")

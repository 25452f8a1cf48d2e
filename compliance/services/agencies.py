"""Agencies: reference data, written by admins only."""

from __future__ import annotations

from django.contrib.auth.models import User

from compliance.models import Agency
from compliance.services.common import create_reference, service_transaction, update_reference

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
    agency = Agency(code=code, name=name, contact_email=contact_email, active=active)
    return create_reference(agency, actor=actor, reason=reason or "agency created")


@service_transaction
def update_agency(agency: Agency, *, actor: User, reason: str = "", **changes: object) -> Agency:
    agency, _ = update_reference(
        agency, AGENCY_FIELDS, actor=actor, reason=reason or "agency updated", **changes
    )
    return agency

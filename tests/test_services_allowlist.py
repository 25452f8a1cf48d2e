"""Allowlists (R14) and the admin-only reference data (agencies, partners) at the service
layer: every refusal with its exact blockers, roles, and the history rows left behind."""

from datetime import UTC, datetime

import pytest
import time_machine
from django.core.exceptions import ValidationError

from compliance import services
from compliance.models import AllowlistEntry
from tests import factories
from tests.factories import make_release
from tests.helpers import (
    approved_entry,
    assert_row,
    changes,
    close,
    denied,
    directive,
    history_rows,
    invalid,
    refused,
)

NOW = datetime(2026, 3, 9, 14, 0, tzinfo=UTC)


@pytest.fixture
def release(agencies, admin_user):
    return make_release(admin_user, agencies=agencies, partner_cap=2)


@pytest.fixture
def us():
    return factories.PartnerFactory(name="Acme Bio", country="US")


@pytest.fixture
def gb():
    return factories.PartnerFactory(name="Albion Labs", country="GB")


def test_propose_records_history(release, staff, us):
    entry = services.propose_allowlist_entry(release, actor=staff, partner=us, note="vetted by us")
    assert (entry.status, entry.proposed_by, entry.decided_by) == ("proposed", staff, None)
    [row] = history_rows(entry)
    assert_row(row, user=staff, reason="vetted by us", kind="+")
    with invalid(ValidationError):
        services.propose_allowlist_entry(release, actor=staff, partner=us)


def test_approve_by_another_admin_records_who_and_when(release, staff, admin_user, us):
    entry = services.propose_allowlist_entry(release, actor=staff, partner=us)
    with time_machine.travel(NOW, tick=False):
        entry = services.decide_allowlist_entry(entry, actor=admin_user, decision="approved")
    row = history_rows(entry)[-1]
    assert_row(row, user=admin_user, reason="partner approved")
    assert changes(row) == {
        "status": ("proposed", "approved"),
        "decided_by": (None, admin_user.pk),
        "decided_at": (None, NOW),
    }


def test_reject_needs_a_reason(release, staff, admin_user, us):
    entry = services.propose_allowlist_entry(release, actor=staff, partner=us)
    with refused({"kind": "reason_required"}):
        services.decide_allowlist_entry(entry, actor=admin_user, decision="rejected")
    entry = services.decide_allowlist_entry(
        entry, actor=admin_user, decision="rejected", reason="sanctions screening"
    )
    row = history_rows(entry)[-1]
    assert_row(row, user=admin_user, reason="sanctions screening")
    assert changes(row) == {
        "status": ("proposed", "rejected"),
        "decided_by": (None, admin_user.pk),
        "decided_at": (None, entry.decided_at),
        "reason": ("", "sanctions screening"),
    }
    with refused({"kind": "already_decided"}, {"kind": "reason_required"}):
        services.decide_allowlist_entry(entry, actor=admin_user, decision="rejected")
    # A rejected partner may be proposed again: a fresh proposal, decided afresh.
    entry = services.propose_allowlist_entry(release, actor=staff, partner=us, note="cleared")
    assert (entry.status, entry.decided_by, entry.decided_at, entry.reason) == (
        "proposed",
        None,
        None,
        "",
    )
    assert_row(history_rows(entry)[-1], user=staff, reason="cleared")


def test_the_proposer_cannot_approve(release, admin_user, us):
    entry = services.propose_allowlist_entry(release, actor=admin_user, partner=us)
    with refused({"kind": "same_user"}):
        services.decide_allowlist_entry(entry, actor=admin_user, decision="approved")
    with refused({"kind": "same_user"}, {"kind": "reason_required"}):
        services.decide_allowlist_entry(entry, actor=admin_user, decision="rejected")


def test_approving_beyond_the_cap_is_refused(release, staff, admin_user):
    approved_entry(release, staff, admin_user)
    second = approved_entry(release, staff, admin_user)
    third = services.propose_allowlist_entry(
        release, actor=staff, partner=factories.PartnerFactory()
    )
    with refused({"kind": "allowlist_full"}):
        services.decide_allowlist_entry(third, actor=admin_user, decision="approved")
    with refused({"kind": "already_decided"}, {"kind": "allowlist_full"}):
        services.decide_allowlist_entry(second, actor=admin_user, decision="approved")
    # Revoking frees a place.
    services.revoke_allowlist_entry(second, actor=admin_user, reason="contract ended")
    third = services.decide_allowlist_entry(third, actor=admin_user, decision="approved")
    assert third.status == "approved"


def test_foreign_partner_on_a_restricted_release(release, staff, admin_user, us, gb):
    directive(
        staff, release.required_agencies.get(code="DOC"), "restrict_foreign_access", [release]
    )
    foreign = services.propose_allowlist_entry(release, actor=staff, partner=gb)
    with refused({"kind": "foreign_partner_restricted"}):
        services.decide_allowlist_entry(foreign, actor=admin_user, decision="approved")
    services.decide_allowlist_entry(foreign, actor=admin_user, decision="rejected", reason="GB")
    assert approved_entry(release, staff, admin_user, us).status == "approved"


def test_vetting_required_under_a_binding_vet_users_request(release, staff, admin_user, us):
    caisi = release.required_agencies.get(code="CAISI")
    directive(staff, caisi, "vet_users", [release], binding=False)  # voluntary: no effect
    vetting = directive(staff, caisi, "vet_users", [release])
    entry = services.propose_allowlist_entry(release, actor=staff, partner=us)
    with refused({"kind": "vetting_required"}):
        services.decide_allowlist_entry(entry, actor=admin_user, decision="approved")
    entry = services.decide_allowlist_entry(
        entry, actor=admin_user, decision="approved", vetted_by=caisi
    )
    assert changes(history_rows(entry)[-1])["vetted_by"] == (None, caisi.pk)
    close(vetting, staff)
    assert approved_entry(release, staff, admin_user).vetted_by is None


def test_every_approval_blocker_at_once(agencies, staff, admin_user, gb):
    release = make_release(admin_user, agencies=agencies, partner_cap=1)
    approved_entry(release, staff, admin_user)
    directive(staff, agencies[1], "restrict_foreign_access", [release])
    directive(staff, agencies[0], "vet_users", [release])
    entry = services.propose_allowlist_entry(release, actor=admin_user, partner=gb)
    with refused(
        {"kind": "same_user"},
        {"kind": "allowlist_full"},
        {"kind": "foreign_partner_restricted"},
        {"kind": "vetting_required"},
    ):
        services.decide_allowlist_entry(entry, actor=admin_user, decision="approved")


def test_revoke_needs_an_approved_entry_and_a_reason(release, staff, admin_user, admin2, us):
    proposed = services.propose_allowlist_entry(
        release, actor=staff, partner=factories.PartnerFactory()
    )
    with refused(
        {"kind": "invalid_transition", "from": "proposed", "to": "revoked"},
        {"kind": "reason_required"},
    ):
        services.revoke_allowlist_entry(proposed, actor=admin_user, reason="")
    entry = approved_entry(release, staff, admin_user, us)
    with refused({"kind": "reason_required"}):
        services.revoke_allowlist_entry(entry, actor=admin2, reason="  ")
    entry = services.revoke_allowlist_entry(entry, actor=admin2, reason="misuse reported")
    row = history_rows(entry)[-1]
    assert_row(row, user=admin2, reason="misuse reported")
    assert changes(row) == {
        "status": ("approved", "revoked"),
        "decided_by": (admin_user.pk, admin2.pk),
        "decided_at": (history_rows(entry)[-2].decided_at, entry.decided_at),
        "reason": ("", "misuse reported"),
    }
    with refused({"kind": "invalid_transition", "from": "revoked", "to": "revoked"}):
        services.revoke_allowlist_entry(entry, actor=admin2, reason="again")


def test_allowlist_roles(release, staff, staff2, admin_user, auditor, us):
    with denied():
        services.propose_allowlist_entry(release, actor=auditor, partner=us)
    entry = services.propose_allowlist_entry(release, actor=staff, partner=us)
    for actor in (staff2, auditor):
        with denied():
            services.decide_allowlist_entry(entry, actor=actor, decision="approved")
    entry = services.decide_allowlist_entry(entry, actor=admin_user, decision="approved")
    for actor in (staff2, auditor):
        with denied():
            services.revoke_allowlist_entry(entry, actor=actor, reason="r")
    assert AllowlistEntry.objects.get(pk=entry.pk).status == "approved"


# --- agencies and partners: admin only ------------------------------------------------------------


def test_agencies_and_partners_are_written_by_admins_only(agencies, staff, auditor, admin_user):
    doc = agencies[1]
    partner = factories.PartnerFactory()
    for actor in (staff, auditor):
        with denied():
            services.create_agency(actor=actor, code="NSA", name="National Security Agency")
        with denied():
            services.update_agency(doc, actor=actor, active=False)
        with denied():
            services.create_partner(actor=actor, name="Acme", country="US")
        with denied():
            services.update_partner(partner, actor=actor, country="GB")

    agency = services.create_agency(actor=admin_user, code="NSA", name="NSA")
    assert_row(history_rows(agency)[-1], user=admin_user, reason="agency created", kind="+")
    doc = services.update_agency(doc, actor=admin_user, reason="merged", active=False)
    row = history_rows(doc)[-1]
    assert_row(row, user=admin_user, reason="merged")
    assert changes(row) == {"active": (True, False)}

    new = services.create_partner(actor=admin_user, name="Acme", country="US")
    assert_row(history_rows(new)[-1], user=admin_user, reason="partner created", kind="+")
    partner = services.update_partner(partner, actor=admin_user, country="GB")
    row = history_rows(partner)[-1]
    assert_row(row, user=admin_user, reason="partner updated")
    assert changes(row) == {"country": ("US", "GB")}


def test_partner_country_must_be_iso_3166_alpha_2(admin_user):
    with invalid(ValidationError):
        services.create_partner(actor=admin_user, name="Nowhere", country="XX")

"""Selectors: the gate (R2/R3 read side), the access check (R15) and compliance alerts (R16)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from compliance import services
from compliance.models import Release, Stage
from compliance.selectors import check_access, compliance_alerts, release_gate
from tests import factories
from tests.helpers import (
    approve,
    approved_entry,
    at_status,
    close,
    directive,
    signoff,
    submitted,
)

ALL = ["CAISI", "DOC", "ONCD", "OSTP"]


def stage(cleared, blockers=(), **statuses):
    view = {"cleared": cleared, "approved": [], "pending": [], "rejected": [], "withdrawn": []}
    view.update(statuses)
    view["blockers"] = list(blockers)
    return view


def without_detail(alerts):
    assert all(isinstance(a.pop("detail"), str) for a in alerts)
    return alerts


# --- the gate ---------------------------------------------------------------------------------


def test_gate_of_the_demo_frontier_release(agencies, staff, admin_user):
    """Limited preview running; GA blocked by ONCD alone."""
    release = submitted(staff, agencies)
    approve(release, staff, stages=(Stage.LIMITED,))
    approve(release, staff, stages=(Stage.GENERAL,), skip=("ONCD",))
    approved_entry(release, staff, admin_user)
    release = services.transition_release(release, to="limited", actor=staff)
    assert release_gate(release) == {
        "status": "limited",
        "round": 1,
        "stages": {
            "limited": stage(True, approved=ALL),
            "general": stage(
                False,
                [{"kind": "signoff_missing", "agency": "ONCD", "stage": "general"}],
                approved=["CAISI", "DOC", "OSTP"],
                pending=["ONCD"],
            ),
        },
        "alerts": [],
    }


def test_gate_lists_every_status_and_blocker(agencies, staff):
    release = submitted(staff, agencies)
    services.decide_signoff(
        signoff(release, "CAISI", "general"), actor=staff, decision="approved", evidence="e"
    )
    services.decide_signoff(
        signoff(release, "DOC", "general"), actor=staff, decision="rejected", reason="r"
    )
    services.withdraw_signoff(
        services.decide_signoff(
            signoff(release, "ONCD", "general"), actor=staff, decision="approved", evidence="e"
        ),
        actor=staff,
        reason="w",
    )
    limit = directive(staff, agencies[1], "limit_release", [release])
    gate = release_gate(release)
    assert (gate["status"], gate["round"], gate["alerts"]) == ("in_review", 1, [])
    assert gate["stages"] == {
        "limited": stage(
            False,
            [{"kind": "signoff_missing", "agency": c, "stage": "limited"} for c in ALL]
            + [{"kind": "allowlist_empty"}],
            pending=ALL,
        ),
        "general": stage(
            False,
            [
                {"kind": "signoff_rejected", "agency": "DOC", "stage": "general"},
                {"kind": "signoff_withdrawn", "agency": "ONCD", "stage": "general"},
                {"kind": "signoff_missing", "agency": "OSTP", "stage": "general"},
                {"kind": "request_in_force", "request": limit.pk},
            ],
            approved=["CAISI"],
            rejected=["DOC"],
            withdrawn=["ONCD"],
            pending=["OSTP"],
        ),
    }


def test_gate_query_count_does_not_grow_with_data(
    agencies, staff, admin_user, django_assert_max_num_queries
):
    release = submitted(staff, agencies)
    with CaptureQueriesContext(connection) as small:
        release_gate(release)
    approve(release, staff)
    for _ in range(5):
        approved_entry(release, staff, admin_user)
        directive(staff, agencies[1], "postpone_release", [release])
    with django_assert_max_num_queries(len(small.captured_queries)):
        release_gate(release)


# --- R15 access check ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "status,reason",
    [
        ("draft", "not_released"),
        ("in_review", "not_released"),
        ("suspended", "suspended"),
        ("retired", "retired"),
    ],
)
def test_r15_not_live(status, reason, agencies, staff, admin_user):
    release = at_status(status, staff, admin_user, agencies)
    partner = factories.PartnerFactory()
    approved_entry(release, staff, admin_user, partner)  # an approval does not open it
    assert check_access(release, partner) == {"allowed": False, "reason": reason}


def test_r15_general(agencies, staff, admin_user):
    release = at_status("general", staff, admin_user, agencies)
    us, gb = factories.PartnerFactory(country="US"), factories.PartnerFactory(country="GB")
    assert check_access(release, gb) == {"allowed": True, "reason": "general"}
    directive(staff, agencies[1], "restrict_foreign_access", [release])
    release.refresh_from_db()
    assert check_access(release, us) == {"allowed": True, "reason": "general"}
    assert check_access(release, gb) == {"allowed": False, "reason": "foreign_restricted"}


def test_r15_limited(agencies, staff, admin_user):
    release = at_status("limited", staff, admin_user, agencies)
    listed, gb_listed = factories.PartnerFactory(), factories.PartnerFactory(country="GB")
    approved_entry(release, staff, admin_user, listed)
    approved_entry(release, staff, admin_user, gb_listed)
    proposed, revoked = factories.PartnerFactory(), factories.PartnerFactory()
    services.propose_allowlist_entry(release, actor=staff, partner=proposed)
    services.revoke_allowlist_entry(
        approved_entry(release, staff, admin_user, revoked), actor=admin_user, reason="ended"
    )
    stranger = factories.PartnerFactory()
    assert check_access(release, listed) == {"allowed": True, "reason": "allowlisted"}
    assert check_access(release, gb_listed) == {"allowed": True, "reason": "allowlisted"}
    for p in (proposed, revoked, stranger):
        assert check_access(release, p) == {"allowed": False, "reason": "not_allowlisted"}
    directive(staff, agencies[1], "restrict_foreign_access", [release])
    release.refresh_from_db()
    assert check_access(release, listed) == {"allowed": True, "reason": "allowlisted"}
    assert check_access(release, gb_listed) == {"allowed": False, "reason": "foreign_restricted"}


# --- R16 compliance alerts ------------------------------------------------------------------------


def _alert_world(agencies, staff, admin_user):
    """One release per alert kind, and releases that must not raise any."""
    doc = agencies[1]
    withdrawn = at_status("limited", staff, admin_user, agencies, slug="a-withdrawn")
    services.withdraw_signoff(signoff(withdrawn, "ONCD", "limited"), actor=staff, reason="w")

    directed = at_status("general", staff, admin_user, agencies, slug="b-directed")
    suspend = directive(staff, doc, "suspend_access", [directed])
    postpone = directive(staff, doc, "postpone_release", [directed])
    directive(staff, doc, "limit_release", [directed])  # not an alert kind
    directive(staff, doc, "suspend_access", [directed], binding=False)  # voluntary
    close(directive(staff, doc, "suspend_access", [directed]), staff)  # no longer in force

    foreign = at_status("draft", staff, admin_user, agencies, slug="c-foreign")
    gb = factories.PartnerFactory(country="GB")
    approved_entry(foreign, staff, admin_user, gb)
    approved_entry(foreign, staff, admin_user)  # a US partner is fine
    directive(staff, doc, "restrict_foreign_access", [foreign])

    quiet_review = at_status("in_review", staff, admin_user, agencies, slug="d-review")
    directive(staff, doc, "postpone_release", [quiet_review])  # not live: no alert
    quiet_general = at_status("general", staff, admin_user, agencies, slug="e-general")
    services.withdraw_signoff(  # a limited-stage withdrawal does not concern a GA release
        services.decide_signoff(
            signoff(quiet_general, "DOC", "limited"), actor=staff, decision="approved", evidence="e"
        ),
        actor=staff,
        reason="w",
    )
    expected = {
        "a-withdrawn": [
            {
                "kind": "live_without_signoffs",
                "release": "a-withdrawn",
                "stage": "limited",
                "agencies": ["ONCD"],
            }
        ],
        "b-directed": [
            {"kind": "live_under_directive", "release": "b-directed", "request": suspend.pk},
            {"kind": "live_under_directive", "release": "b-directed", "request": postpone.pk},
        ],
        "c-foreign": [
            {"kind": "foreign_partner_approved", "release": "c-foreign", "partner": gb.pk}
        ],
        "d-review": [],
        "e-general": [],
    }
    return expected


def test_r16_each_alert_kind_in_the_gate(agencies, staff, admin_user):
    expected = _alert_world(agencies, staff, admin_user)
    for release in Release.objects.order_by("slug"):
        assert without_detail(release_gate(release)["alerts"]) == expected[release.slug]


def test_r16_compliance_alerts_over_all_releases(agencies, staff, admin_user):
    expected = _alert_world(agencies, staff, admin_user)
    alerts = sorted(without_detail(compliance_alerts()), key=lambda a: a["release"])
    assert alerts == [a for slug in sorted(expected) for a in expected[slug]]


def test_r16_query_count_does_not_grow_with_releases(agencies, staff, admin_user):
    _alert_world(agencies, staff, admin_user)
    with CaptureQueriesContext(connection) as few:
        compliance_alerts()
    for i in range(4):
        release = at_status("limited", staff, admin_user, agencies, slug=f"more-{i}")
        directive(staff, agencies[1], "suspend_access", [release])
    with CaptureQueriesContext(connection) as many:
        assert len(compliance_alerts()) > 4
    assert len(many.captured_queries) == len(few.captured_queries)

"""Point in time: the gate and allowlist as they stood then, from the history tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from compliance import clock, services
from compliance.audit.timetravel import release_gate_as_of
from compliance.models import Release, SignOff
from compliance.selectors import release_gate
from tests import factories

pytestmark = pytest.mark.postgres

T0 = datetime(2026, 3, 6, 17, 0, tzinfo=UTC)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


@pytest.fixture
def story(agencies, staff, staff2, admin_user):
    """t=0 created and submitted; t=1 both limited sign-offs approved; t=2 a partner
    approved; t=3 limited release; t=4 a binding postpone directive; t=5 DOC withdraws."""
    caisi, doc = agencies[0], agencies[1]
    with clock.replaying_at(at(0)):
        release = factories.make_release(staff, slug="story", agencies=[caisi, doc])
        services.submit_release(release, actor=staff, reason="ready")
    with clock.replaying_at(at(1)):
        for agency in (caisi, doc):
            signoff = SignOff.objects.get(release=release, agency=agency, stage="limited")
            services.decide_signoff(signoff, actor=staff2, decision="approved", evidence="ok")
    partner = factories.PartnerFactory(name="Acme", country="US")
    with clock.replaying_at(at(2)):
        entry = services.propose_allowlist_entry(release, actor=staff, partner=partner)
        services.decide_allowlist_entry(entry, actor=admin_user, decision="approved")
    with clock.replaying_at(at(3)):
        services.transition_release(release, to="limited", actor=staff)
    with clock.replaying_at(at(4)):
        directive = services.record_request(
            actor=staff,
            agency=doc,
            reference="POSTPONE-1",
            kind="postpone_release",
            binding=True,
            releases=[release],
        )
    with clock.replaying_at(at(5)):
        signoff = SignOff.objects.get(release=release, agency=doc, stage="limited")
        services.withdraw_signoff(signoff, actor=staff, reason="DOC took it back")
    return {"release": Release.objects.get(pk=release.pk), "entry": entry, "directive": directive}


def test_before_partner_approval(story):
    gate = release_gate_as_of(story["release"], at(1.5))
    assert gate["as_of"] == "2026-03-06T18:30:00+00:00"
    assert (gate["status"], gate["round"]) == ("in_review", 1)
    limited = gate["stages"]["limited"]
    assert limited["approved"] == ["CAISI", "DOC"]
    assert limited["blockers"] == [{"kind": "allowlist_empty"}]
    assert limited["cleared"] is False
    assert gate["allowlist"] == []
    assert gate["alerts"] == []


def test_live_and_clean_then_alerts_later(story):
    release, entry, directive = story["release"], story["entry"], story["directive"]
    then = release_gate_as_of(release, at(3.5))
    assert then["status"] == "limited"
    assert then["stages"]["limited"]["cleared"] is True
    assert then["alerts"] == []
    assert then["allowlist"] == [
        {
            "id": entry.pk,
            "partner": entry.partner_id,
            "partner_name": "Acme",
            "country": "US",
            "status": "approved",
            "vetted_by": None,
            "decided_at": "2026-03-06T19:00:00+00:00",
        }
    ]
    later = release_gate_as_of(release, at(4.5))
    assert later["stages"]["limited"]["blockers"] == [
        {"kind": "request_in_force", "request": directive.pk}
    ]
    assert [a["kind"] for a in later["alerts"]] == ["live_under_directive"]
    # At the end of the story, the point-in-time answer equals the live selector's.
    now = release_gate_as_of(release, at(6))
    assert {k: v for k, v in now.items() if k not in ("as_of", "allowlist")} == release_gate(
        release
    )
    assert now["stages"]["limited"]["withdrawn"] == ["DOC"]


def test_before_creation_is_an_error(story):
    with pytest.raises(Release.DoesNotExist):
        release_gate_as_of(story["release"], at(-1))


def test_constant_queries(story, django_assert_max_num_queries):
    # 11: the blockers name each request by its agency and reference (one IN read of agencies).
    with django_assert_max_num_queries(11):
        release_gate_as_of(story["release"], at(4.5))

"""Ordinary concurrent writes over HTTP never deadlock (issue 13, defect 1): real requests in
real threads against the live server on PostgreSQL. Every service takes its row locks first
(parent before children, pk order), lock only the rows its rule reads (FOR NO KEY UPDATE of
the row itself, never of a joined agency or partner), then writes history, which takes the
audit chain's lock: so a decision, an agency edit or an allowlist decision can no longer hold
a row a submission (holding the chain lock) needs for its sign-offs' foreign keys."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request

import pytest

from compliance import services
from compliance.api.auth import issue_token
from compliance.audit.verify import verify_chain
from compliance.models import Agency, AllowlistEntry, Release, SignOff
from tests import factories

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

RELEASES = 10  # per side of each mix: the issue's 10 decisions against 10 submissions


def post_together(base_url: str, calls: list[tuple[str, str, str, dict]]) -> list[tuple]:
    """Send every ``(method, path, token, body)`` at the same moment (a barrier), each from
    its own thread on its own connection; ``(status, json body)`` per call, in order."""
    barrier = threading.Barrier(len(calls), timeout=30)
    outcomes: list = [None] * len(calls)

    def send(i, method, path, token, body):
        request = urllib.request.Request(
            f"{base_url}/api/v1{path}",
            data=json.dumps(body).encode(),
            method=method,
            headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
        )
        barrier.wait()
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                outcomes[i] = (response.status, json.load(response))
        except urllib.error.HTTPError as exc:
            outcomes[i] = (exc.code, exc.read()[:300])
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            outcomes[i] = ("crashed", repr(exc))

    threads = [threading.Thread(target=send, args=(i, *c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a request is stuck"
    return outcomes


def statuses(outcomes) -> list:
    return [o[0] for o in outcomes]


@pytest.fixture
def panel(agencies) -> list[Agency]:
    """DOC and ONCD: the agencies the mixes contend for (two keep the setup short)."""
    return [a for a in agencies if a.code in ("DOC", "ONCD")]


def drafts(staff, agencies, prefix: str) -> list[Release]:
    return [
        factories.make_release(staff, slug=f"{prefix}-{i}", agencies=agencies)
        for i in range(RELEASES)
    ]


def submissions(releases, token) -> list[tuple]:
    return [("POST", f"/releases/{r.slug}/submit/", token, {}) for r in releases]


def assert_submitted(releases, agencies) -> None:
    """Each submission opened round 1 with one pending sign-off per agency and stage."""
    for release in releases:
        release.refresh_from_db()
        assert (release.status, release.review_round) == ("in_review", 1), release.slug
        opened = SignOff.objects.filter(release=release, round=1, status="pending")
        assert opened.count() == 2 * len(agencies), release.slug
    assert verify_chain()["ok"]


def test_decisions_of_one_agency_on_ten_releases_against_ten_submissions(
    live_server, panel, staff, staff2
):
    oncd = Agency.objects.get(code="ONCD")
    in_review = [services.submit_release(r, actor=staff) for r in drafts(staff, panel, "dec")]
    waiting = drafts(staff, panel, "sub")
    oncd_signoffs = [
        SignOff.objects.get(release=r, round=1, agency=oncd, stage="limited") for r in in_review
    ]
    token, token2 = issue_token(staff), issue_token(staff2)
    decide = [
        ("POST", f"/signoffs/{so.pk}/decide/", token2, {"decision": "approved", "evidence": "L"})
        for so in oncd_signoffs
    ]

    outcomes = post_together(live_server.url, [*decide, *submissions(waiting, token)])

    assert statuses(outcomes) == [200] * (2 * RELEASES), outcomes
    for so in oncd_signoffs:
        so.refresh_from_db()
        assert (so.status, so.recorded_by, so.evidence) == ("approved", staff2, "L")
        [decision] = SignOff.history.filter(id=so.pk, status="approved")
        assert (decision.history_user, decision.history_change_reason) == (
            staff2,
            "ONCD approved",
        )
    assert_submitted(waiting, panel)


def test_agency_edits_against_submissions(live_server, panel, staff, admin_user):
    waiting = drafts(staff, panel, "sub")
    token, admin_token = issue_token(staff), issue_token(admin_user)
    edits = [
        ("PATCH", "/agencies/DOC/", admin_token, {"contact_email": f"desk{i}@doc.example"})
        for i in range(RELEASES)
    ]

    outcomes = post_together(live_server.url, [*edits, *submissions(waiting, token)])

    assert statuses(outcomes) == [200] * (2 * RELEASES), outcomes
    doc = Agency.objects.get(code="DOC")
    edited = list(doc.history.filter(history_type="~").order_by("history_id"))
    assert sorted(h.contact_email for h in edited) == sorted(e[3]["contact_email"] for e in edits)
    assert {(h.history_user, h.history_change_reason) for h in edited} == {
        (admin_user, "agency updated")
    }
    assert doc.contact_email == edited[-1].contact_email  # the last edit wins
    assert_submitted(waiting, panel)


def test_allowlist_decisions_against_submissions(live_server, panel, staff, admin_user):
    partner = factories.PartnerFactory(name="Shared Partner")
    proposed = [
        services.propose_allowlist_entry(r, actor=staff, partner=partner)
        for r in drafts(staff, panel, "alw")
    ]
    waiting = drafts(staff, panel, "sub")
    token, admin_token = issue_token(staff), issue_token(admin_user)
    decide = [
        ("POST", f"/allowlist/{e.pk}/decide/", admin_token, {"decision": "approved"})
        for e in proposed
    ]

    outcomes = post_together(live_server.url, [*decide, *submissions(waiting, token)])

    assert statuses(outcomes) == [200] * (2 * RELEASES), outcomes
    for entry in proposed:
        entry.refresh_from_db()
        assert (entry.status, entry.decided_by) == ("approved", admin_user)
    approvals = AllowlistEntry.history.filter(status="approved")
    assert sorted(h.id for h in approvals) == sorted(e.pk for e in proposed)
    assert {(h.history_user, h.history_change_reason) for h in approvals} == {
        (admin_user, "partner approved")
    }
    assert_submitted(waiting, panel)

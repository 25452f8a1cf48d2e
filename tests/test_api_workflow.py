"""Sign-offs, allowlist decisions and government requests over HTTP: shapes and every 409."""

from __future__ import annotations

import pytest

from compliance import services
from compliance.models import AllowlistEntry, GovernmentRequest, Release, SignOff
from tests.api_support import (
    API,
    approve,
    client_for,
    limited_release,
    refused,
    results,
    signoffs,
)
from tests.factories import PartnerFactory, make_release


def post(user, path, body):
    return client_for(user).post(f"{API}{path}", body, format="json")


@pytest.fixture
def review(agencies, staff):
    return services.submit_release(make_release(staff, agencies=agencies), actor=staff)


# --- Sign-offs --------------------------------------------------------------------------


def test_signoff_list_filters_and_shape(review, staff):
    client = client_for(staff)
    rows = results(client.get(f"{API}/signoffs/?release=frontier-1&agency=ONCD&stage=general"))
    [row] = rows
    assert set(row) == {
        "id",
        "release",
        "round",
        "agency",
        "stage",
        "status",
        "due_at",
        "decided_at",
        "recorded_by",
        "evidence",
        "conditions",
        "reason",
        "documents",  # R38: the evidence documents it cites
    }
    assert (row["release"], row["round"], row["agency"], row["stage"], row["status"]) == (
        "frontier-1",
        1,
        "ONCD",
        "general",
        "pending",
    )
    assert row["due_at"].endswith("+00:00")
    assert len(results(client.get(f"{API}/signoffs/?round=1&status=pending"))) == 8
    assert results(client.get(f"{API}/signoffs/?round=2")) == []
    assert results(client.get(f"{API}/signoffs/?release=unknown")) == []
    for bad in ("round=abc", "round=1.5", "stage=beta", "status=done"):
        response = client.get(f"{API}/signoffs/?{bad}")
        assert response.status_code == 400
        assert list(response.json()) == [bad.split("=")[0]]


def test_decide_approve_then_twice_refused(review, staff):
    [so] = signoffs(review, "general", ["ONCD"])
    response = post(
        staff,
        f"/signoffs/{so.pk}/decide/",
        {"decision": "approved", "evidence": "letter 12", "conditions": "no bio evals"},
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["recorded_by"], body["evidence"], body["conditions"]) == (
        "approved",
        "sam",
        "letter 12",
        "no bio evals",
    )
    assert body["decided_at"].endswith("+00:00")
    refused(
        post(staff, f"/signoffs/{so.pk}/decide/", {"decision": "approved", "evidence": "again"}),
        {"kind": "already_decided"},
    )


def test_decide_reject_needs_reason(review, staff):
    [so] = signoffs(review, "limited", ["DOC"])
    refused(
        post(staff, f"/signoffs/{so.pk}/decide/", {"decision": "rejected"}),
        {"kind": "reason_required"},
    )
    assert SignOff.objects.get(pk=so.pk).status == "pending"


def test_approve_without_evidence_is_400(review, staff):
    [so] = signoffs(review, "limited", ["DOC"])
    response = post(staff, f"/signoffs/{so.pk}/decide/", {"decision": "approved"})
    assert response.status_code == 400
    assert response.json() == {"evidence": ["Evidence is required to record an approval."]}
    assert SignOff.objects.get(pk=so.pk).status == "pending"


def test_stale_round_refused(review, staff):
    [old] = signoffs(review, "limited", ["DOC"])
    services.transition_release(review, to="suspended", actor=staff, reason="hold")
    services.submit_release(Release.objects.get(pk=review.pk), actor=staff)
    refused(
        post(staff, f"/signoffs/{old.pk}/decide/", {"decision": "approved", "evidence": "x"}),
        {"kind": "stale_round"},
    )


def test_withdraw(review, staff):
    [so] = signoffs(review, "general", ["DOC"])
    refused(
        post(staff, f"/signoffs/{so.pk}/withdraw/", {}),
        {"kind": "invalid_transition", "from": "pending", "to": "withdrawn"},
        {"kind": "reason_required"},
    )
    approve([so], staff)
    response = post(staff, f"/signoffs/{so.pk}/withdraw/", {"reason": "new evidence"})
    assert (response.status_code, response.json()["status"]) == (200, "withdrawn")
    gate = client_for(staff).get(f"{API}/releases/frontier-1/gate/").json()
    assert gate["stages"]["general"]["withdrawn"] == ["DOC"]
    assert {"kind": "signoff_withdrawn", "agency": "DOC", "stage": "general"} in gate["stages"][
        "general"
    ]["blockers"]


# --- Allowlist --------------------------------------------------------------------------


def test_propose_list_decide_revoke(review, staff, admin_user):
    partner = PartnerFactory(name="Acme", country="US")
    response = post(staff, "/releases/frontier-1/allowlist/", {"partner": partner.pk, "note": "n"})
    assert response.status_code == 201
    entry = response.json()
    assert entry == {
        "id": entry["id"],
        "release": "frontier-1",
        "partner": partner.pk,
        "partner_name": "Acme",
        "partner_country": "US",
        "status": "proposed",
        "proposed_by": "sam",
        "decided_by": None,
        "vetted_by": None,
        "decided_at": None,
        "note": "n",
        "reason": "",
        "created_at": entry["created_at"],
        "documents": [],  # R38
    }
    again = post(staff, "/releases/frontier-1/allowlist/", {"partner": partner.pk})
    assert again.status_code == 400
    assert again.json() == {"partner": ["This partner is already proposed for this release."]}

    client = client_for(staff)
    assert [e["id"] for e in results(client.get(f"{API}/releases/frontier-1/allowlist/"))] == [
        entry["id"]
    ]
    assert results(client.get(f"{API}/releases/frontier-1/allowlist/?status=approved")) == []

    response = post(admin_user, f"/allowlist/{entry['id']}/decide/", {"decision": "approved"})
    assert (response.status_code, response.json()["status"], response.json()["decided_by"]) == (
        200,
        "approved",
        "ada",
    )
    refused(
        post(
            admin_user, f"/allowlist/{entry['id']}/decide/", {"decision": "rejected", "reason": "x"}
        ),
        {"kind": "already_decided"},
    )
    refused(post(admin_user, f"/allowlist/{entry['id']}/revoke/", {}), {"kind": "reason_required"})
    response = post(admin_user, f"/allowlist/{entry['id']}/revoke/", {"reason": "ended"})
    assert (response.json()["status"], response.json()["reason"]) == ("revoked", "ended")
    refused(
        post(admin_user, f"/allowlist/{entry['id']}/revoke/", {"reason": "again"}),
        {"kind": "invalid_transition", "from": "revoked", "to": "revoked"},
    )


def test_approver_must_not_be_proposer(review, admin_user):
    entry = services.propose_allowlist_entry(review, actor=admin_user, partner=PartnerFactory())
    refused(
        post(admin_user, f"/allowlist/{entry.pk}/decide/", {"decision": "approved"}),
        {"kind": "same_user"},
    )


def test_approval_refusals_cap_foreign_vetting(agencies, staff, admin_user, admin2):
    release = services.create_release(
        actor=admin_user,
        slug="capped",
        name="Capped",
        partner_cap=1,
        required_agencies=agencies,
        foreign_access_restricted=True,
    )
    first = services.propose_allowlist_entry(release, actor=staff, partner=PartnerFactory())
    services.decide_allowlist_entry(first, actor=admin2, decision="approved")
    vetting = services.record_request(
        actor=staff,
        agency=agencies[1],
        reference="DOC-VET",
        kind="vet_users",
        binding=True,
        releases=[release],
    )
    gb = services.propose_allowlist_entry(
        release, actor=staff, partner=PartnerFactory(country="GB")
    )
    refused(
        post(admin_user, f"/allowlist/{gb.pk}/decide/", {"decision": "approved"}),
        {"kind": "allowlist_full"},
        {"kind": "foreign_partner_restricted"},
        {"kind": "vetting_required"},
    )
    assert AllowlistEntry.objects.get(pk=gb.pk).status == "proposed"
    assert vetting.pk


def test_vetted_by_code_and_unknown_code(review, staff, admin_user):
    entry = services.propose_allowlist_entry(review, actor=staff, partner=PartnerFactory())
    bad = post(
        admin_user, f"/allowlist/{entry.pk}/decide/", {"decision": "approved", "vetted_by": "NOPE"}
    )
    assert bad.status_code == 400 and list(bad.json()) == ["vetted_by"]
    ok = post(
        admin_user, f"/allowlist/{entry.pk}/decide/", {"decision": "approved", "vetted_by": "DOC"}
    )
    assert (ok.status_code, ok.json()["vetted_by"]) == (200, "DOC")


# --- Government requests ----------------------------------------------------------------


REQUEST_KEYS = {
    "id",
    "documents",  # R38
    "agency",
    "reference",
    "kind",
    "binding",
    "received_at",
    "due_at",
    "releases",
    "summary",
    "status",
    "assignee",
    "lab_position",
    "response",
    "complied_at",
    "closed_at",
    "in_force",
}


def test_record_request_restricts_release_and_moves_status(agencies, staff, admin_user):
    limited_release(staff, admin_user, agencies)
    response = post(
        staff,
        "/requests/",
        {
            "agency": "DOC",
            "reference": "DOC-2026-17",
            "kind": "restrict_foreign_access",
            "binding": True,
            "received_at": "2026-11-20T17:21:00-05:00",
            "due_at": "2026-11-21T09:00:00-05:00",
            "releases": ["frontier-1"],
            "assignee": "ada",
            "summary": "Block foreign access.",
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) == REQUEST_KEYS
    assert (body["received_at"], body["status"], body["in_force"], body["releases"]) == (
        "2026-11-20T22:21:00+00:00",
        "open",
        True,
        ["frontier-1"],
    )
    assert Release.objects.get(slug="frontier-1").foreign_access_restricted is True

    rid = body["id"]
    dup = post(
        staff, "/requests/", {"agency": "DOC", "reference": "DOC-2026-17", "kind": "vet_users"}
    )
    assert dup.status_code == 400 and list(dup.json()) == ["non_field_errors"]

    refused(
        post(staff, f"/requests/{rid}/status/", {"status": "complied"}),
        {"kind": "invalid_transition", "from": "open", "to": "complied"},
    )
    for status in ("acknowledged", "complied"):
        response = post(staff, f"/requests/{rid}/status/", {"status": status, "note": "done"})
        assert response.status_code == 200
    assert response.json()["complied_at"].endswith("+00:00")
    client = client_for(staff)
    assert [
        r["id"] for r in results(client.get(f"{API}/requests/?release=frontier-1&in_force=true"))
    ] == [rid]
    response = post(staff, f"/requests/{rid}/status/", {"status": "closed"})
    assert response.json()["in_force"] is False
    assert response.json()["closed_at"].endswith("+00:00")
    assert results(client.get(f"{API}/requests/?in_force=true")) == []
    assert GovernmentRequest.objects.get(pk=rid).status == "closed"


def test_patch_request(agencies, staff):
    make_release(staff, agencies=agencies)
    req = services.record_request(
        actor=staff, agency=agencies[1], reference="R-1", kind="information_request"
    )
    response = client_for(staff).patch(
        f"{API}/requests/{req.pk}/",
        {"releases": ["frontier-1"], "lab_position": "agree", "reason": "linked"},
        format="json",
    )
    assert response.status_code == 200
    assert (response.json()["releases"], response.json()["lab_position"]) == (
        ["frontier-1"],
        "agree",
    )
    refused = client_for(staff).patch(
        f"{API}/requests/{req.pk}/", {"agency": "OSTP"}, format="json"
    )
    assert refused.status_code == 400
    assert refused.json() == {"agency": ["Unknown or read-only field."]}

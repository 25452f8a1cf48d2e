"""Releases over HTTP: shapes, the 409 refusals with their exact blockers, edits (R11, R13)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine

from compliance import services
from compliance.models import AuditRecord, Release
from tests.api_support import (
    API,
    approve,
    client_for,
    limited_release,
    refused,
    results,
    signoffs,
)
from tests.factories import AgencyFactory, PartnerFactory, make_release

RELEASE_KEYS = {
    "slug",
    "name",
    "description",
    "owner",
    "target_date",
    "artifact_digest",
    "required_agencies",
    "partner_cap",
    "review_days",
    "foreign_access_restricted",
    "status",
    "review_round",
    "created_at",
    "updated_at",
}


def post(user, path, body):
    return client_for(user).post(f"{API}{path}", body, format="json")


def test_create_release_defaults_owner_and_agencies_and_records_history(agencies, staff):
    AgencyFactory(code="OLD", active=False)
    response = post(staff, "/releases/", {"slug": "m-1", "name": "M 1", "reason": "planned"})
    assert response.status_code == 201
    body = response.json()
    assert set(body) == RELEASE_KEYS
    assert body["owner"] == "sam"
    assert body["required_agencies"] == ["CAISI", "DOC", "ONCD", "OSTP"]
    assert (body["status"], body["review_round"], body["partner_cap"]) == ("draft", 0, 20)
    assert body["created_at"].endswith("+00:00")
    row = Release.objects.get(slug="m-1").history.earliest()
    assert (row.history_type, row.history_user, row.history_change_reason) == (
        "+",
        staff,
        "planned",
    )


def test_create_release_with_explicit_owner_and_agencies(agencies, staff, staff2):
    response = post(
        staff,
        "/releases/",
        {
            "slug": "m-2",
            "name": "M 2",
            "owner": "sasha",
            "required_agencies": ["ONCD", "DOC"],
            "target_date": "2026-12-01",
        },
    )
    assert response.status_code == 201
    assert response.json()["owner"] == "sasha"
    assert response.json()["required_agencies"] == ["DOC", "ONCD"]
    assert response.json()["target_date"] == "2026-12-01"


def test_list_and_filters(agencies, staff, admin_user):
    make_release(staff, slug="a-1", agencies=agencies[:1])
    services.submit_release(make_release(staff, slug="b-1", agencies=agencies), actor=staff)
    client = client_for(staff)
    assert [r["slug"] for r in results(client.get(f"{API}/releases/"))] == ["a-1", "b-1"]
    assert [r["slug"] for r in results(client.get(f"{API}/releases/?status=in_review"))] == ["b-1"]
    assert [r["slug"] for r in results(client.get(f"{API}/releases/?agency=DOC"))] == ["b-1"]
    assert [r["slug"] for r in results(client.get(f"{API}/releases/?agency=CAISI"))] == [
        "a-1",
        "b-1",
    ]
    assert results(client.get(f"{API}/releases/?owner=nobody")) == []
    assert client.get(f"{API}/releases/?status=launched").status_code == 400


def test_submit_opens_round_and_gate_shape(agencies, staff):
    make_release(staff, slug="m-1", agencies=agencies)
    response = post(staff, "/releases/m-1/submit/", {"reason": "ready"})
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["review_round"]) == ("in_review", 1)

    gate = client_for(staff).get(f"{API}/releases/m-1/gate/").json()
    submitted = AuditRecord.objects.filter(model="release").order_by("-seq").first()
    codes = ["CAISI", "DOC", "ONCD", "OSTP"]
    assert gate == {
        "status": "in_review",
        "round": 1,
        "stages": {
            "limited": {
                "cleared": False,
                "approved": [],
                "pending": codes,
                "rejected": [],
                "withdrawn": [],
                "blockers": [
                    *({"kind": "signoff_missing", "agency": c, "stage": "limited"} for c in codes),
                    {"kind": "allowlist_empty"},
                ],
            },
            "general": {
                "cleared": False,
                "approved": [],
                "pending": codes,
                "rejected": [],
                "withdrawn": [],
                "blockers": [
                    {"kind": "signoff_missing", "agency": c, "stage": "general"} for c in codes
                ],
            },
        },
        "alerts": [],
        # R29: its latest access change (the submission) and who enforces it (no gateway).
        "enforcement": {
            "revision": submitted.seq,
            "at": submitted.at.isoformat(),
            "enforced_at": None,
            "pending": [],
        },
    }


def test_general_refused_naming_oncd_only(agencies, staff):
    release = services.submit_release(make_release(staff, agencies=agencies), actor=staff)
    approve(signoffs(release, "general", ["CAISI", "DOC", "OSTP"]), staff)
    rows = release.history.count()
    response = post(staff, "/releases/frontier-1/transition/", {"to": "general"})
    refused(response, {"kind": "signoff_missing", "agency": "ONCD", "stage": "general"})
    assert response.json()["detail"] == "ONCD has not approved the general stage yet."
    release.refresh_from_db()
    assert release.status == "in_review"
    assert release.history.count() == rows  # the refusal wrote nothing


def test_limited_refused_with_every_blocker(agencies, staff):
    release = services.submit_release(make_release(staff, agencies=agencies[:2]), actor=staff)
    approve(signoffs(release, "limited", ["CAISI"]), staff)
    [doc_limited] = signoffs(release, "limited", ["DOC"])
    services.decide_signoff(doc_limited, actor=staff, decision="rejected", reason="needs evals")
    postpone = services.record_request(
        actor=staff,
        agency=agencies[1],
        reference="DOC-9",
        kind="postpone_release",
        binding=True,
        releases=[release],
    )
    response = post(staff, "/releases/frontier-1/transition/", {"to": "limited"})
    refused(
        response,
        {"kind": "signoff_rejected", "agency": "DOC", "stage": "limited"},
        {"kind": "allowlist_empty"},
        {"kind": "request_in_force", "request": postpone.pk},
    )
    # Every blocker in words, one sentence after another (the blockers list stays as is).
    assert response.json()["detail"] == (
        "DOC rejected the limited stage. No partner is approved on the allowlist. "
        "DOC request DOC-9 is in force."
    )


def test_limited_then_general_then_narrowed(agencies, staff, admin_user):
    release = limited_release(staff, admin_user, agencies)
    assert release.status == "limited"
    approve(signoffs(release, "general"), staff)
    assert post(staff, "/releases/frontier-1/transition/", {"to": "general"}).status_code == 200
    response = post(staff, "/releases/frontier-1/transition/", {"to": "limited", "reason": "x"})
    assert response.status_code == 200
    assert response.json()["status"] == "limited"


@pytest.mark.parametrize(
    "to,reason,blockers",
    [
        ("general", "", [{"kind": "invalid_transition", "from": "draft", "to": "general"}]),
        ("limited", "", [{"kind": "invalid_transition", "from": "draft", "to": "limited"}]),
        (
            "suspended",
            "",
            [
                {"kind": "invalid_transition", "from": "draft", "to": "suspended"},
                {"kind": "reason_required"},
            ],
        ),
        ("retired", "  ", [{"kind": "reason_required"}]),
        ("draft", "", [{"kind": "invalid_transition", "from": "draft", "to": "draft"}]),
    ],
)
def test_transition_refusals_from_draft(agencies, staff, to, reason, blockers):
    make_release(staff, agencies=agencies)
    response = post(staff, "/releases/frontier-1/transition/", {"to": to, "reason": reason})
    refused(response, *blockers)
    assert Release.objects.get().status == "draft"


def test_submit_twice_refused(agencies, staff):
    services.submit_release(make_release(staff, agencies=agencies), actor=staff)
    refused(
        post(staff, "/releases/frontier-1/submit/", {}),
        {"kind": "invalid_transition", "from": "in_review", "to": "in_review"},
    )


def test_suspend_and_retire_need_reason_then_work(agencies, staff):
    services.submit_release(make_release(staff, agencies=agencies), actor=staff)
    refused(
        post(staff, "/releases/frontier-1/transition/", {"to": "suspended"}),
        {"kind": "reason_required"},
    )
    response = post(staff, "/releases/frontier-1/transition/", {"to": "suspended", "reason": "r"})
    assert response.json()["status"] == "suspended"
    response = post(staff, "/releases/frontier-1/transition/", {"to": "retired", "reason": "eol"})
    assert response.json()["status"] == "retired"
    refused(
        post(staff, "/releases/frontier-1/transition/", {"to": "retired", "reason": "again"}),
        {"kind": "invalid_transition", "from": "retired", "to": "retired"},
    )


def test_patch_edits_through_service_with_reason(agencies, staff):
    make_release(staff, agencies=agencies)
    response = client_for(staff).patch(
        f"{API}/releases/frontier-1/",
        {"name": "Frontier One", "required_agencies": ["DOC"], "reason": "scope"},
        format="json",
    )
    assert response.status_code == 200
    assert (response.json()["name"], response.json()["required_agencies"]) == (
        "Frontier One",
        ["DOC"],
    )
    latest = Release.objects.get().history.latest()
    assert (latest.history_user, latest.history_change_reason) == (staff, "scope")


def test_patch_digest_in_review_restarts_round(agencies, staff):
    services.submit_release(make_release(staff, agencies=agencies), actor=staff)
    response = client_for(staff).patch(
        f"{API}/releases/frontier-1/", {"artifact_digest": "sha256:abc"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["review_round"] == 2


def test_patch_refusals_on_live_release(agencies, staff, admin_user):
    release = limited_release(staff, admin_user, agencies)
    restriction = services.record_request(
        actor=staff,
        agency=agencies[1],
        reference="DOC-FA",
        kind="restrict_foreign_access",
        binding=True,
        releases=[release],
    )
    client = client_for(admin_user)
    refused(
        client.patch(
            f"{API}/releases/frontier-1/",
            {"artifact_digest": "sha256:new", "partner_cap": 0, "foreign_access_restricted": False},
            format="json",
        ),
        {"kind": "release_live"},
        {"kind": "cap_below_approved"},
        {"kind": "restriction_in_force", "request": restriction.pk},
    )
    release.refresh_from_db()
    assert (release.artifact_digest, release.partner_cap, release.foreign_access_restricted) == (
        "",
        20,
        True,
    )


def test_access_answers(agencies, staff, admin_user):
    us, gb, other = PartnerFactory(country="US"), PartnerFactory(country="GB"), PartnerFactory()
    release = limited_release(staff, admin_user, agencies, partner=us)
    client = client_for(staff)

    def access(partner):
        return client.get(f"{API}/releases/frontier-1/access/?partner={partner.pk}").json()

    assert access(us) == {"allowed": True, "reason": "allowlisted"}
    assert access(other) == {"allowed": False, "reason": "not_allowlisted"}
    release.foreign_access_restricted = True
    release.save()
    assert access(gb) == {"allowed": False, "reason": "foreign_restricted"}


@pytest.mark.parametrize(
    "query,status",
    [
        ("", 400),
        ("?partner=", 400),
        ("?partner=abc", 400),
        ("?partner=-1", 400),
        ("?partner=999999", 404),
    ],
)
def test_access_bad_partner(agencies, staff, query, status):
    make_release(staff, agencies=agencies)
    response = client_for(staff).get(f"{API}/releases/frontier-1/access/{query}")
    assert response.status_code == status
    if status == 400:
        assert list(response.json()) == ["partner"]


def test_unknown_release_is_404(agencies, staff):
    partner = PartnerFactory()
    client = client_for(staff)
    for path in (
        "/releases/nope/",
        "/releases/nope/gate/",
        f"/releases/nope/access/?partner={partner.pk}",
    ):
        response = client.get(f"{API}{path}")
        assert response.status_code == 404
        assert set(response.json()) == {"detail"}
    assert post(staff, "/releases/nope/submit/", {}).status_code == 404


def test_gate_as_of_answers_from_history(agencies, staff, admin_user):
    """?as_of= gives the gate and allowlist as they stood then, not as they stand now."""
    with time_machine.travel(datetime(2026, 11, 2, 9, 0, tzinfo=UTC), tick=False):
        release = services.submit_release(
            make_release(staff, slug="t-1", agencies=agencies), actor=staff
        )
    with time_machine.travel(datetime(2026, 11, 3, 9, 0, tzinfo=UTC), tick=False):
        approve(signoffs(release, "general"), staff)
    api = client_for(staff)
    before = api.get(f"{API}/releases/t-1/gate/", {"as_of": "2026-11-02T12:00:00+00:00"})
    now = api.get(f"{API}/releases/t-1/gate/")
    assert before.status_code == 200, before.content
    body = before.json()
    assert body["as_of"] == "2026-11-02T12:00:00+00:00"
    assert body["stages"]["general"]["pending"] == [a.code for a in agencies]
    assert body["stages"]["general"]["cleared"] is False
    assert body["allowlist"] == []
    assert now.json()["stages"]["general"]["cleared"] is True
    assert "as_of" not in now.json()
    # Before the release existed: 404; a malformed time: 400 with the field named.
    assert (
        api.get(f"{API}/releases/t-1/gate/", {"as_of": "2020-01-01T00:00:00Z"}).status_code == 404
    )
    bad = api.get(f"{API}/releases/t-1/gate/", {"as_of": "yesterday"})
    assert bad.status_code == 400 and "as_of" in bad.json()

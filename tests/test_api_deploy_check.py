"""R32 deployment check over HTTP: allowed only at a released stage with the reviewed digest."""

from __future__ import annotations

import pytest

from compliance.models import AuditRecord
from tests.api_support import API, client_for
from tests.helpers import at_status

DIGEST = "sha256:" + "ab" * 32
KEYS = {"allowed", "release", "stage", "status", "revision", "digest_matches", "blockers"}


def check(user, slug="frontier-1", **query):
    return client_for(user).get(f"{API}/releases/{slug}/deploy-check/", query)


def revision() -> int:
    return AuditRecord.objects.order_by("-seq").first().seq


@pytest.mark.parametrize(
    "status, stage, allowed",
    [
        ("general", "general", True),
        ("general", "limited", True),
        ("limited", "limited", True),
        ("limited", "general", False),
        ("in_review", "limited", False),
        ("draft", "general", False),
        ("suspended", "limited", False),
        ("retired", "general", False),
    ],
)
def test_the_status_must_admit_the_stage(
    status, stage, allowed, staff, admin_user, auditor, agencies
):
    at_status(status, staff, admin_user, agencies, artifact_digest=DIGEST)
    response = check(auditor, stage=stage, digest=DIGEST)
    assert response.status_code == 200
    blockers = [] if allowed else [{"kind": "stage_not_released", "status": status, "stage": stage}]
    assert response.json() == {
        "allowed": allowed,
        "release": "frontier-1",
        "stage": stage,
        "status": status,
        "revision": revision(),
        "digest_matches": True,
        "blockers": blockers,
    }


def test_a_digest_other_than_the_reviewed_one_is_refused(staff, admin_user, auditor, agencies):
    at_status("general", staff, admin_user, agencies, artifact_digest=DIGEST)
    body = check(auditor, stage="general", digest="sha256:" + "cd" * 32).json()
    assert (body["allowed"], body["digest_matches"]) == (False, False)
    assert body["blockers"] == [{"kind": "digest_mismatch"}]


def test_the_digest_is_required_when_the_release_names_one(staff, admin_user, auditor, agencies):
    at_status("limited", staff, admin_user, agencies, artifact_digest=DIGEST)
    body = check(auditor, stage="general").json()
    # Every blocker at once: the wrong stage and the missing digest.
    assert body["blockers"] == [
        {"kind": "stage_not_released", "status": "limited", "stage": "general"},
        {"kind": "digest_required"},
    ]
    assert (body["allowed"], body["digest_matches"]) == (False, False)


def test_digest_spelling_is_normalised(staff, admin_user, auditor, agencies):
    """``sha256:AB…`` and bare lower-case hex name the same weights."""
    at_status("general", staff, admin_user, agencies, artifact_digest=DIGEST)
    body = check(auditor, stage="general", digest=("ab" * 32).upper()).json()
    assert (body["allowed"], body["digest_matches"], body["blockers"]) == (True, True, [])


def test_a_release_without_a_digest_needs_none(staff, admin_user, auditor, agencies):
    at_status("general", staff, admin_user, agencies)
    body = check(auditor, stage="general", digest=DIGEST).json()
    assert (body["allowed"], body["digest_matches"], body["blockers"]) == (True, None, [])


def test_bad_input_and_unknown_release(staff, admin_user, auditor, agencies):
    at_status("general", staff, admin_user, agencies)
    assert check(auditor, slug="nope", stage="general").status_code == 404
    bad = check(auditor, stage="everyone")
    assert bad.status_code == 400 and set(bad.json()) == {"stage"}
    missing = check(auditor)
    assert missing.status_code == 400 and set(missing.json()) == {"stage"}
    assert (
        client_for(None).get(f"{API}/releases/frontier-1/deploy-check/?stage=general").status_code
        == 401
    )


def test_constant_queries(staff, admin_user, auditor, agencies, django_assert_max_num_queries):
    at_status("general", staff, admin_user, agencies, artifact_digest=DIGEST)
    client = client_for(auditor)
    with django_assert_max_num_queries(6):
        response = client.get(f"{API}/releases/frontier-1/deploy-check/?stage=general&digest=x")
    assert response.json()["blockers"] == [{"kind": "digest_mismatch"}]

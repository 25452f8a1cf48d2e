"""Bad input is a 400 (field → messages) that changes nothing, never a 500."""

from __future__ import annotations

import pytest

from compliance import services
from compliance.models import Agency, AllowlistEntry, GovernmentRequest, Partner, Release, SignOff
from tests.api_support import API, client_for
from tests.factories import PartnerFactory, make_release

TRACKED = (Agency, Partner, Release, SignOff, GovernmentRequest, AllowlistEntry)
HUGE = "x" * 30000


@pytest.fixture
def setup(agencies, staff, admin_user):
    release = services.submit_release(make_release(staff, agencies=agencies), actor=staff)
    make_release(staff, slug="draft-1", agencies=agencies)
    partner = PartnerFactory()
    entry = services.propose_allowlist_entry(release, actor=staff, partner=partner)
    request = services.record_request(
        actor=staff, agency=agencies[1], reference="R-1", kind="information_request"
    )
    signoff = SignOff.objects.filter(release=release).order_by("pk").first()
    return {"so": signoff.pk, "entry": entry.pk, "req": request.pk, "partner": partner.pk}


def snapshot():
    return [
        (m.__name__, m.objects.count(), m.history.count(), sorted(map(str, m.objects.all())))
        for m in TRACKED
    ]


# (path, body, user, the field keys the 400 must name)
CASES = [
    # wrong types
    ("/releases/", {"slug": "x-1", "name": {"a": 1}}, "staff", ["name"]),
    ("/releases/", {"slug": "x-1", "name": "X", "partner_cap": "many"}, "admin", ["partner_cap"]),
    (
        "/releases/",
        {"slug": "x-1", "name": "X", "required_agencies": "DOC"},
        "staff",
        ["required_agencies"],
    ),
    ("/releases/", {"slug": "x-1", "name": "X", "review_days": 1.5}, "staff", ["review_days"]),
    (
        "/releases/",
        {"slug": "x-1", "name": "X", "foreign_access_restricted": "maybe"},
        "staff",
        ["foreign_access_restricted"],
    ),
    ("/releases/", ["slug", "x-1"], "staff", ["non_field_errors"]),
    ("/releases/", {"slug": "x-1", "name": "X", "review_days": 10**30}, "staff", ["review_days"]),
    # unknown codes, slugs, users, ids
    (
        "/releases/",
        {"slug": "x-1", "name": "X", "required_agencies": ["DOC", "NOPE"]},
        "staff",
        ["required_agencies"],
    ),
    (
        "/releases/",
        {"slug": "x-1", "name": "X", "required_agencies": []},
        "staff",
        ["required_agencies"],
    ),
    ("/releases/", {"slug": "x-1", "name": "X", "owner": "ghost"}, "staff", ["owner"]),
    ("/releases/", {"slug": "frontier-1", "name": "Dup"}, "staff", ["slug"]),
    ("/requests/", {"agency": "NOPE", "reference": "A", "kind": "vet_users"}, "staff", ["agency"]),
    (
        "/requests/",
        {"agency": "DOC", "reference": "A", "kind": "vet_users", "releases": ["nope"]},
        "staff",
        ["releases"],
    ),
    ("/releases/frontier-1/allowlist/", {"partner": 999999}, "staff", ["partner"]),
    ("/releases/frontier-1/allowlist/", {"partner": 10**30}, "staff", ["partner"]),
    ("/releases/frontier-1/allowlist/", {"partner": "abc"}, "staff", ["partner"]),
    (
        "/allowlist/{entry}/decide/",
        {"decision": "approved", "vetted_by": "NOPE"},
        "admin",
        ["vetted_by"],
    ),
    # huge strings and NUL characters
    ("/releases/", {"slug": "x-1", "name": HUGE}, "staff", ["name"]),
    ("/releases/", {"slug": "x-1", "name": "X", "description": HUGE}, "staff", ["description"]),
    ("/releases/frontier-1/transition/", {"to": "suspended", "reason": HUGE}, "staff", ["reason"]),
    ("/signoffs/{so}/decide/", {"decision": "approved", "evidence": HUGE}, "staff", ["evidence"]),
    ("/releases/", {"slug": "x-1", "name": "nul\x00byte"}, "staff", ["name"]),
    ("/releases/", {"slug": "not a slug!", "name": "X"}, "staff", ["slug"]),
    ("/agencies/", {"code": "lower", "name": "X"}, "admin", ["code"]),
    ("/partners/", {"name": "P", "country": "XX"}, "admin", ["country"]),
    # bad dates
    (
        "/releases/",
        {"slug": "x-1", "name": "X", "target_date": "2026-13-45"},
        "staff",
        ["target_date"],
    ),
    (
        "/requests/",
        {"agency": "DOC", "reference": "A", "kind": "vet_users", "received_at": "yesterday"},
        "staff",
        ["received_at"],
    ),
    # unknown enum values
    ("/releases/frontier-1/transition/", {"to": "launched"}, "staff", ["to"]),
    ("/releases/frontier-1/transition/", {}, "staff", ["to"]),
    ("/signoffs/{so}/decide/", {"decision": "maybe", "evidence": "x"}, "staff", ["decision"]),
    ("/requests/", {"agency": "DOC", "reference": "A", "kind": "ultimatum"}, "staff", ["kind"]),
    ("/requests/{req}/status/", {"status": "forgotten"}, "staff", ["status"]),
    ("/allowlist/{entry}/decide/", {"decision": "approve"}, "admin", ["decision"]),
    # extra fields are refused, not ignored
    ("/releases/", {"slug": "x-1", "name": "X", "status": "general"}, "staff", ["status"]),
    ("/releases/frontier-1/submit/", {"reason": "x", "force": True}, "staff", ["force"]),
    ("/signoffs/{so}/withdraw/", {"reason": "x", "agency": "DOC"}, "staff", ["agency"]),
]


@pytest.mark.parametrize(
    "path,body,role,fields", CASES, ids=[f"{c[0]} {sorted(c[3])}" for c in CASES]
)
def test_bad_input_is_400_and_changes_nothing(setup, staff, admin_user, path, body, role, fields):
    user = {"staff": staff, "admin": admin_user}[role]
    before = snapshot()
    response = client_for(user).post(f"{API}{path.format(**setup)}", body, format="json")
    assert response.status_code == 400, response.content[:300]
    errors = response.json()
    assert sorted(errors) == sorted(fields)
    assert all(isinstance(m, str) for msgs in errors.values() for m in msgs)
    assert snapshot() == before


@pytest.mark.parametrize(
    "path,body,field",
    [
        ("/releases/frontier-1/", {"name": HUGE}, "name"),
        ("/releases/frontier-1/", {"review_days": 0}, "review_days"),
        ("/releases/frontier-1/", {"slug": "renamed"}, "slug"),
        ("/requests/{req}/", {"summary": HUGE}, "summary"),
        ("/requests/{req}/", {"due_at": "soon"}, "due_at"),
        ("/partners/{partner}/", {"country": "ZZ"}, "country"),
        ("/agencies/DOC/", {"code": "DOD"}, "code"),
        ("/agencies/DOC/", {"active": "perhaps"}, "active"),
    ],
)
def test_patch_with_bad_input_changes_nothing(setup, admin_user, path, body, field):
    before = snapshot()
    response = client_for(admin_user).patch(f"{API}{path.format(**setup)}", body, format="json")
    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert snapshot() == before


@pytest.mark.parametrize(
    "raw",
    ['{"slug": "x-1", "name": ', "not json", '{"slug": "x-1"', "\xff\xfe"],
)
def test_malformed_json_is_400(setup, staff, raw):
    before = snapshot()
    response = client_for(staff).generic(
        "POST", f"{API}/releases/", raw.encode("latin-1"), content_type="application/json"
    )
    assert response.status_code == 400
    assert list(response.json()) == ["non_field_errors"]
    assert snapshot() == before


@pytest.mark.parametrize(
    "path",
    [
        "/signoffs/999999/",
        "/signoffs/abc/",
        "/signoffs/99999999999999999999999/",
        "/requests/999999/",
        "/partners/abc/",
        "/agencies/NOPE/",
        "/releases/%00/",
        "/releases/?page=999",
    ],
)
def test_unknown_is_404(setup, staff, path):
    response = client_for(staff).get(f"{API}{path}")
    assert response.status_code == 404
    assert set(response.json()) == {"detail"}


def test_unknown_object_for_action_is_404(setup, staff, admin_user):
    assert (
        client_for(staff).post(f"{API}/signoffs/999999/decide/", {}, format="json").status_code
        == 404
    )
    assert (
        client_for(admin_user)
        .post(f"{API}/allowlist/999999/revoke/", {}, format="json")
        .status_code
        == 404
    )


def test_bad_token_header_is_401(setup):
    from rest_framework.test import APIClient

    for header in ("Token", "Token a b", "Token nope", "Token \xe9\xe9"):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=header)
        response = client.get(f"{API}/releases/")
        assert response.status_code == 401, header


def test_only_json_bodies(setup, staff):
    before = snapshot()
    response = client_for(staff).post(
        f"{API}/releases/", "slug=x-1&name=X", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 415
    assert snapshot() == before


@pytest.mark.parametrize(
    "serializer,service,editable",
    [
        ("ReleaseSerializer", "create_release", None),
        ("ReleaseUpdateSerializer", None, "releases.EDITABLE_FIELDS"),
        ("GovernmentRequestSerializer", "record_request", None),
        ("GovernmentRequestUpdateSerializer", None, "requests.EDITABLE_FIELDS"),
        ("AgencySerializer", "create_agency", None),
        ("AgencyUpdateSerializer", None, "agencies.AGENCY_FIELDS"),
        ("PartnerSerializer", "create_partner", None),
        ("PartnerSerializer", None, "partners.PARTNER_FIELDS"),
        ("SubmitSerializer", "submit_release", None),
        ("TransitionSerializer", "transition_release", None),
        ("SignOffDecisionSerializer", "decide_signoff", None),
        ("ReasonSerializer", "withdraw_signoff", None),
        ("RequestStatusSerializer", "set_request_status", None),
        ("AllowlistProposeSerializer", "propose_allowlist_entry", None),
        ("AllowlistDecisionSerializer", "decide_allowlist_entry", None),
        ("ReasonSerializer", "revoke_allowlist_entry", None),
    ],
)
def test_bodies_only_carry_what_services_accept(serializer, service, editable):
    """A body field the service does not take would be a TypeError (a 500) at run time."""
    import importlib
    import inspect

    from compliance.api import serializers

    writable = {
        name
        for name, field in getattr(serializers, serializer)().fields.items()
        if not field.read_only
    }
    if service:
        accepted = set(inspect.signature(getattr(services, service)).parameters) - {"actor"}
    else:
        module, attr = editable.split(".")
        accepted = {*getattr(importlib.import_module(f"compliance.services.{module}"), attr)}
        accepted.add("reason")
    assert writable <= accepted, writable - accepted

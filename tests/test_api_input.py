"""Bad input is a 400 (field → messages) that changes nothing, never a 500."""

from __future__ import annotations

import json

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


# --- Issue 13: hostile input in bodies -------------------------------------------------

NUL_MESSAGE = "Null characters are not allowed."
REQUEST_BODY = {"agency": "DOC", "reference": "A-9", "kind": "vet_users"}

# (method, path, body, role, the one field the 400 names)
NUL_CASES = [
    ("post", "/requests/", {**REQUEST_BODY, "agency": "D\x00C"}, "staff", "agency"),
    ("post", "/requests/", {**REQUEST_BODY, "releases": ["frontier-1\x00"]}, "staff", "releases"),
    ("post", "/requests/", {**REQUEST_BODY, "assignee": "s\x00m"}, "staff", "assignee"),
    ("patch", "/requests/{req}/", {"assignee": "\x00"}, "staff", "assignee"),
    ("patch", "/requests/{req}/", {"releases": ["draft-1", "\x00"]}, "staff", "releases"),
    (
        "post",
        "/releases/",
        {"slug": "x-1", "name": "X", "required_agencies": ["D\x00C"]},
        "staff",
        "required_agencies",
    ),
    ("post", "/releases/", {"slug": "x-1", "name": "X", "owner": "s\x00m"}, "staff", "owner"),
    ("patch", "/releases/draft-1/", {"owner": "sam\x00"}, "staff", "owner"),
    (
        "post",
        "/allowlist/{entry}/decide/",
        {"decision": "approved", "vetted_by": "D\x00C"},
        "admin",
        "vetted_by",
    ),
]


@pytest.mark.postgres
@pytest.mark.parametrize(
    "method,path,body,role,field", NUL_CASES, ids=[f"{c[0]} {c[1]} {c[4]}" for c in NUL_CASES]
)
def test_nul_in_a_code_slug_or_username_is_400_on_that_field(
    setup, staff, admin_user, method, path, body, role, field
):
    """Issue 13 defect 2: PostgreSQL cannot compare a NUL (psycopg DataError, a 500)."""
    user = {"staff": staff, "admin": admin_user}[role]
    before = snapshot()
    response = getattr(client_for(user), method)(
        f"{API}{path.format(**setup)}", body, format="json"
    )
    assert response.status_code == 400, response.content[:300]
    assert response.json() == {field: [NUL_MESSAGE]}
    assert snapshot() == before


@pytest.mark.postgres
def test_every_writable_lookup_field_refuses_nul_before_the_database(db):
    """Every serializer field that finds a related object by a string, and every page form's
    choice field, refuses a NUL as bad input: none reaches PostgreSQL (DataError)."""
    import inspect

    from django import forms as django_forms
    from django.core.exceptions import ValidationError as DjangoValidationError
    from rest_framework import serializers as drf
    from rest_framework.relations import ManyRelatedField, RelatedField

    from compliance.api import audit, reminders
    from compliance.api import serializers as api_serializers
    from compliance.web import forms as web_forms

    checked = set()
    for module in (api_serializers, audit, reminders):
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if not (issubclass(cls, drf.BaseSerializer) and cls.__module__ == module.__name__):
                continue
            if issubclass(cls, drf.ModelSerializer) and not hasattr(cls, "Meta"):
                continue  # an abstract base
            for field_name, field in cls().fields.items():
                relation = field.child_relation if isinstance(field, ManyRelatedField) else field
                if field.read_only or not isinstance(relation, RelatedField):
                    continue
                with pytest.raises((drf.ValidationError, DjangoValidationError)):
                    relation.to_internal_value("D\x00C")
                checked.add(f"{name}.{field_name}")
    for name, cls in inspect.getmembers(web_forms, inspect.isclass):
        if not issubclass(cls, django_forms.BaseForm):
            continue
        for field_name, field in cls.base_fields.items():
            if isinstance(field, django_forms.ModelMultipleChoiceField):
                value = ["D\x00C"]
            elif isinstance(field, django_forms.ModelChoiceField):
                value = "D\x00C"
            else:
                continue
            with pytest.raises(DjangoValidationError) as exc:
                field.clean(value)
            assert exc.value.messages == [NUL_MESSAGE]
            checked.add(f"{name}.{field_name}")
    assert {
        "GovernmentRequestSerializer.agency",
        "GovernmentRequestSerializer.releases",
        "GovernmentRequestSerializer.assignee",
        "ReleaseSerializer.owner",
        "ReleaseSerializer.required_agencies",
        "AllowlistDecisionSerializer.vetted_by",
        "AllowlistProposeSerializer.partner",
        "RecordRequestForm.agency",
        "RecordRequestForm.releases",
        "RecordRequestForm.assignee",
        "ProposeEntryForm.release",
        "DecideEntryForm.vetted_by",
    } <= checked


DEEP_BODIES = {"arrays": "[" * 950, "objects": '{"a": ' * 950 + "1" + "}" * 950}


@pytest.mark.parametrize("shape", sorted(DEEP_BODIES))
@pytest.mark.parametrize(
    "method,path",
    [
        ("POST", "/auth/token/"),
        ("POST", "/releases/"),
        ("POST", "/signoffs/{so}/decide/"),
        ("PATCH", "/requests/{req}/"),
        ("POST", "/no-such-endpoint/"),
    ],
)
def test_deeply_nested_json_is_400_before_authentication(
    setup, django_assert_num_queries, method, path, shape
):
    """Issue 13 defect 3: 950 levels of nesting were a RecursionError (a 500), reachable
    without logging in. Now a 400 on every path, before a session or token is even read."""
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-token")  # would be a 401 (a query)
    with django_assert_num_queries(0):
        response = client.generic(
            method, f"{API}{path.format(**setup)}", DEEP_BODIES[shape], "application/json"
        )
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "non_field_errors": ["JSON parse error - nested deeper than 32 levels."]
    }


def test_json_depth_counts_brackets_outside_strings_only(setup, staff):
    from compliance.api.middleware import json_depth_exceeds

    assert not json_depth_exceeds('{"name": "' + "[" * 100 + '\\"[["}')
    assert not json_depth_exceeds("[" * 32 + "]" * 32)
    assert json_depth_exceeds("[" * 33)
    # A body nested within the bound reaches the view as usual (here: a wrong shape).
    body = json.dumps({"slug": "x-1", "name": "X", "required_agencies": [[[["DOC"]]]]})
    response = client_for(staff).generic("POST", f"{API}/releases/", body, "application/json")
    assert response.status_code == 400
    assert list(response.json()) == ["required_agencies"]


OFFSET_CASES = [
    ("post", "/requests/", {**REQUEST_BODY, "received_at": "2026-01-05T10:00:00+16:00"}),
    ("post", "/requests/", {**REQUEST_BODY, "due_at": "2026-01-05T10:00:00-16:05"}),
    ("patch", "/requests/{req}/", {"due_at": "2958-08-20T03:16:26+23:59"}),
    ("patch", "/requests/{req}/", {"received_at": "2026-01-05T10:00:00+16:00"}),
]


@pytest.mark.parametrize("method,path,body", OFFSET_CASES)
def test_time_offset_of_16_hours_or_more_is_400_on_that_field(setup, staff, method, path, body):
    """Issue 13 defect 4: PostgreSQL refuses a displacement of 16 h or more (a 500 where the
    offset reached it); the API and the pages refuse it on the field, with one message."""
    from compliance.validators import OFFSET_MESSAGE

    [field] = set(body) - set(REQUEST_BODY)
    before = snapshot()
    response = getattr(client_for(staff), method)(
        f"{API}{path.format(**setup)}", body, format="json"
    )
    assert response.status_code == 400, response.content[:300]
    assert response.json() == {field: [OFFSET_MESSAGE]}
    assert snapshot() == before


def test_gate_as_of_takes_the_same_time_field(setup, staff):
    response = client_for(staff).get(
        f"{API}/releases/frontier-1/gate/", {"as_of": "2026-01-05T10:00:00+16:00"}
    )
    assert response.status_code == 400
    assert list(response.json()) == ["as_of"]


def test_oversize_body_is_a_json_400(setup, staff):
    """Issue 13 defect 12: a 10 MB body got Django's HTML 400 page."""
    body = json.dumps({"slug": "x-1", "name": "X", "description": "x" * 10_000_000})
    before = snapshot()
    response = client_for(staff).generic("POST", f"{API}/releases/", body, "application/json")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "non_field_errors": ["Request body too large: at most 2621440 bytes."]
    }
    assert snapshot() == before


def test_round_filter_declares_its_bound_in_the_schema(setup, staff, auditor):
    """Issue 13 defect 12: ``?round=`` above 2**31 - 1 is a 400, so the schema says so."""
    schema = client_for(auditor).get(f"{API}/schema/").json()
    [param] = [
        p for p in schema["paths"]["/api/v1/signoffs/"]["get"]["parameters"] if p["name"] == "round"
    ]
    assert param["schema"] == {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}
    client = client_for(staff)
    assert client.get(f"{API}/signoffs/", {"round": 2**31 - 1}).status_code == 200
    assert list(client.get(f"{API}/signoffs/", {"round": 2**31}).json()) == ["round"]


DAY = 24 * 3600
# (method, path, times in seconds from now, the field the 400 names)
TIME_RULE_CASES = [
    ("post", "/requests/", {"received_at": -DAY, "due_at": -2 * DAY}, "due_at"),
    ("post", "/requests/", {"due_at": -3600}, "due_at"),  # received_at defaults to now
    ("post", "/requests/", {"received_at": 2 * DAY}, "received_at"),
    ("patch", "/requests/{req}/", {"due_at": -30 * DAY}, "due_at"),
    ("patch", "/requests/{req}/", {"received_at": 400 * DAY}, "received_at"),
]


@pytest.mark.parametrize("method,path,times,field", TIME_RULE_CASES)
def test_due_before_received_or_received_ahead_is_400_on_that_field(
    setup, staff, method, path, times, field
):
    """Issue 13 defect 12 (SPEC "Bad input, everywhere"), checked by the service, so the
    pages refuse the same (tests/test_ui_views.py)."""
    from datetime import timedelta

    from django.utils import timezone

    from compliance.services.requests import DUE_BEFORE_RECEIVED, RECEIVED_IN_FUTURE

    now = timezone.now()
    body = {name: (now + timedelta(seconds=s)).isoformat() for name, s in times.items()}
    if method == "post":
        body = {**REQUEST_BODY, **body}
    before = snapshot()
    response = getattr(client_for(staff), method)(
        f"{API}{path.format(**setup)}", body, format="json"
    )
    assert response.status_code == 400, response.content[:300]
    message = DUE_BEFORE_RECEIVED if field == "due_at" else RECEIVED_IN_FUTURE
    assert response.json() == {field: [message]}
    assert snapshot() == before


def test_received_within_a_day_ahead_and_due_after_it_are_accepted(setup, staff):
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    body = {
        **REQUEST_BODY,
        "received_at": (now + timedelta(hours=20)).isoformat(),  # a letter dated in Tokyo
        "due_at": (now + timedelta(hours=20)).isoformat(),
    }
    response = client_for(staff).post(f"{API}/requests/", body, format="json")
    assert response.status_code == 201, response.content[:300]

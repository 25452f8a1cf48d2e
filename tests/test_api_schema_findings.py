"""Each schemathesis finding of issue 13, fixed in the app, pinned here on its own: the
schema says what the validation does, and what it refuses is a 400 on the field."""

from __future__ import annotations

import re

import pytest

from compliance.models import Agency, Gateway
from tests.api_support import API, client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(admin_user):
    return client_for(admin_user).get(f"{API}/schema/").json()


def _parameter(schema, path, method, name):
    [param] = [p for p in schema["paths"][path][method]["parameters"] if p["name"] == name]
    return param


def test_a_duplicate_agency_code_is_a_400_on_the_code(agencies, admin_user):
    client = client_for(admin_user)
    resp = client.post(f"{API}/agencies/", {"code": "DOC", "name": "Again"}, format="json")
    assert resp.status_code == 400, resp.content
    assert list(resp.json()) == ["code"]
    resp = client.patch(f"{API}/agencies/ONCD/", {"code": "DOC"}, format="json")
    assert resp.status_code == 400, resp.content
    assert list(resp.json()) == ["code"]
    assert Agency.objects.filter(code="ONCD").exists()
    assert Agency.objects.count() == 4


def test_text_fields_and_filters_declare_that_nul_is_refused(schema, agencies, admin_user):
    pattern = schema["components"]["schemas"]["AgencyRequest"]["properties"]["name"]["pattern"]
    assert re.fullmatch(pattern, "Commerce")
    assert not re.fullmatch(pattern, "Com\x00merce")
    lookup = schema["components"]["schemas"]["GovernmentRequestRequest"]["properties"]["agency"]
    assert re.fullmatch(lookup["pattern"], "DOC") and not re.fullmatch(lookup["pattern"], "D\x00C")
    release_filter = _parameter(schema, "/api/v1/signoffs/", "get", "release")
    release_pattern = release_filter["schema"]["pattern"]
    assert re.fullmatch(release_pattern, "r-1") and not re.fullmatch(release_pattern, "r\x001")
    # … and the validation agrees: the same value is a 400 on that field.
    resp = client_for(admin_user).post(
        f"{API}/agencies/", {"code": "NEW", "name": "Com\x00merce"}, format="json"
    )
    assert resp.status_code == 400 and list(resp.json()) == ["name"]


@pytest.mark.parametrize(
    "cursor", ["b99999999999999999999999", "b 1", "b+1", "b-1", "b\u0661", "a", "x1", "b1.5"]
)
def test_a_junk_audit_cursor_is_a_400(auditor, cursor):
    resp = client_for(auditor).get(f"{API}/audit/", {"cursor": cursor})
    assert resp.status_code == 400, resp.content
    assert resp.json() == {"cursor": ["Invalid cursor."]}


def test_the_cursor_and_page_size_are_bounded_in_the_schema(schema, auditor):
    cursor = _parameter(schema, "/api/v1/audit/", "get", "cursor")["schema"]
    assert re.fullmatch(cursor["pattern"], "b12") and not re.fullmatch(cursor["pattern"], "b-1")
    size = _parameter(schema, "/api/v1/audit/", "get", "page_size")["schema"]
    assert (size["minimum"], size["maximum"]) == (1, 500)
    assert client_for(auditor).get(f"{API}/audit/", {"cursor": "b12"}).status_code == 200


def test_the_audit_model_filter_lists_its_choices(schema, auditor):
    enum = _parameter(schema, "/api/v1/audit/", "get", "model")["schema"]["enum"]
    assert {"release", "agency", "signoff"} <= set(enum)
    resp = client_for(auditor).get(f"{API}/audit/", {"model": "nope"})
    assert resp.status_code == 400 and list(resp.json()) == ["model"]


def test_the_export_format_is_required_in_the_schema(schema, auditor):
    fmt = _parameter(schema, "/api/v1/audit/export/", "get", "format")
    assert fmt["required"] is True and fmt["schema"]["enum"] == ["csv", "jsonl"]
    assert client_for(auditor).get(f"{API}/audit/export/").status_code == 400


def test_changes_since_is_a_non_negative_revision_in_the_schema(schema, admin_user):
    since = _parameter(schema, "/api/v1/entitlements/changes/", "get", "since")["schema"]
    assert since["minimum"] == 0
    resp = client_for(admin_user).get(f"{API}/entitlements/changes/", {"since": -1})
    assert resp.status_code == 400 and list(resp.json()) == ["since"]


def test_a_batch_needs_one_evaluation_in_the_schema_too(schema, admin_user):
    body = schema["components"]["schemas"]["EvaluationsDocRequest"]
    assert body["properties"]["evaluations"]["minItems"] == 1
    resp = client_for(admin_user).post("/access/v1/evaluations", {"evaluations": []}, "json")
    assert resp.status_code == 400


ENTITY = {"type": "partner", "id": "1"}
RESOURCE = {"type": "release", "id": "r"}


@pytest.mark.parametrize(
    "body",
    [
        {
            "subject": {**ENTITY, "properties": True},
            "resource": RESOURCE,
            "action": {"name": "use"},
        },
        {"subject": ENTITY, "resource": {**RESOURCE, "properties": []}, "action": {"name": "use"}},
        {"subject": ENTITY, "resource": RESOURCE, "action": {"name": "use", "properties": 1}},
        {"subject": ENTITY, "resource": RESOURCE, "action": {"name": "use"}, "context": "x"},
    ],
)
def test_authzen_properties_and_context_must_be_objects(admin_user, body):
    resp = client_for(admin_user).post("/access/v1/evaluation", body, format="json")
    assert resp.status_code == 400, resp.content
    assert "must be an object" in resp.json()["non_field_errors"][0]
    batch = {"evaluations": [body]}
    resp = client_for(admin_user).post("/access/v1/evaluations", batch, format="json")
    assert resp.status_code == 400, resp.content


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/gateways/", {"name": 42}, "name"),
        ("/agencies/", {"code": "NEW", "name": 7}, "name"),
        ("/agencies/", {"code": "NEW", "name": "New", "active": "yes"}, "active"),
        ("/partners/", {"name": "P", "country": "US", "notes": 1.5}, "notes"),
    ],
)
def test_a_json_value_of_the_wrong_type_is_a_400_not_coerced(
    admin_user, agencies, path, body, field
):
    before = (Gateway.objects.count(), Agency.objects.count())
    resp = client_for(admin_user).post(f"{API}{path}", body, format="json")
    assert resp.status_code == 400, resp.content
    assert field in resp.json()
    assert (Gateway.objects.count(), Agency.objects.count()) == before


def test_times_declare_the_offset_bound_and_the_shape_django_parses(schema):
    until = _parameter(schema, "/api/v1/audit/", "get", "until")["schema"]["pattern"]
    assert re.fullmatch(until, "2026-03-06T17:21:00-05:00")
    assert re.fullmatch(until, "2026-03-06T17:21:00.5Z")
    assert not re.fullmatch(until, "2026-03-06T17:21:00+16:05")  # PostgreSQL refuses it
    assert not re.fullmatch(until, "2026-03-06t17:21:00z")  # Django's parser refuses it
    field = schema["components"]["schemas"]["GovernmentRequestRequest"]["properties"]
    assert field["received_at"]["pattern"] == until


def test_a_wrong_item_of_a_list_field_is_a_400_the_schema_describes(schema, admin_user, settings):
    """A list field's wrong item is reported under its index (DRF's shape): the schema's 400
    body allows it, as schemathesis' response check found when it did not."""
    import jsonschema

    settings.WEBHOOK_ALLOWED_NETWORKS = ["0.0.0.0/0"]
    body = {"url": "https://hooks.example/", "events": ["ping", "no.such.event"]}
    resp = client_for(admin_user).post(f"{API}/webhooks/", body, format="json")
    assert resp.status_code == 400, resp.content
    assert resp.json() == {"events": {"1": ['"no.such.event" is not a valid choice.']}}
    bad_input = schema["paths"]["/api/v1/webhooks/"]["post"]["responses"]["400"]
    body_schema = bad_input["content"]["application/json"]["schema"]
    jsonschema.validate(resp.json(), body_schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"events": {"1": [3]}}, body_schema)


def test_an_optional_text_given_as_null_is_read_as_blank_and_the_schema_says_so(schema, admin_user):
    # StrictInputMixin reads ``null`` for a text that may be blank as "" (not given), so
    # the schema must admit null there (schemathesis: "schema-violating request accepted").
    partner = schema["components"]["schemas"]["PartnerRequest"]["properties"]
    assert partner["contact_email"]["nullable"] is True
    assert partner["reason"]["nullable"] is True
    assert "nullable" not in partner["name"]  # may not be blank: null stays a 400
    client = client_for(admin_user)
    body = {"name": "Null Labs", "country": "TN", "contact_email": None}
    resp = client.post(f"{API}/partners/", body, format="json")
    assert resp.status_code == 201, resp.content
    assert resp.json()["contact_email"] == ""
    resp = client.post(f"{API}/partners/", {"name": None, "country": "TN"}, format="json")
    assert resp.status_code == 400 and list(resp.json()) == ["name"]

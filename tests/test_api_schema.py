"""The OpenAPI document says what the API does: error shapes, enums, strict bodies."""

from __future__ import annotations

import pytest

from compliance.errors import BLOCKER_KINDS
from compliance.models import ReleaseStatus
from tests.api_support import API, client_for


@pytest.fixture
def schema(auditor):
    response = client_for(auditor).get(f"{API}/schema/")
    assert response.status_code == 200
    return response.json()


def resolve(schema, ref_or_schema):
    if "allOf" in ref_or_schema:  # a $ref with a description of its own
        [ref_or_schema] = ref_or_schema["allOf"]
    ref = ref_or_schema.get("$ref")
    if not ref:
        return ref_or_schema
    return schema["components"]["schemas"][ref.rsplit("/", 1)[1]]


def body_schema(schema, path, method, code):
    content = schema["paths"][f"/api/v1{path}"][method]["responses"][code]["content"]
    return resolve(schema, content["application/json"]["schema"])


def test_409_shape_and_blocker_kinds(schema):
    violation = body_schema(schema, "/releases/{slug}/transition/", "post", "409")
    assert set(violation["properties"]) == {"code", "detail", "blockers"}
    assert set(violation["required"]) == {"code", "detail", "blockers"}
    blocker = resolve(schema, violation["properties"]["blockers"]["items"])
    assert resolve(schema, blocker["properties"]["kind"])["enum"] == list(BLOCKER_KINDS)
    # exactly the fields SPEC R8 names: from/to, agency/stage, request
    assert set(blocker["properties"]) == {"kind", "from", "to", "agency", "stage", "request"}


def test_enums_and_gate_shape(schema):
    paths = schema["paths"]
    transition = paths["/api/v1/releases/{slug}/transition/"]["post"]["requestBody"]
    body = resolve(schema, transition["content"]["application/json"]["schema"])
    assert resolve(schema, body["properties"]["to"])["enum"] == list(ReleaseStatus.values)
    access = body_schema(schema, "/releases/{slug}/access/", "get", "200")
    assert resolve(schema, access["properties"]["reason"])["enum"] == [
        "general",
        "allowlisted",
        "not_allowlisted",
        "not_released",
        "suspended",
        "retired",
        "foreign_restricted",
    ]
    gate = body_schema(schema, "/releases/{slug}/gate/", "get", "200")
    assert set(gate["properties"]) == {
        "status",
        "round",
        "stages",
        "alerts",
        "as_of",
        "allowlist",
        "enforcement",
    }
    # as_of and allowlist come only with ?as_of=: the four SPEC keys are always there.
    assert set(gate["required"]) == {"status", "round", "stages", "alerts"}
    listing = body_schema(schema, "/signoffs/", "get", "200")
    assert set(listing["properties"]) == {"count", "next", "previous", "results"}


def test_request_bodies_are_strict_and_auth_is_token_or_session(schema):
    # JSON everywhere but the evidence upload, which is multipart (R37).
    bodies = [
        resolve(schema, next(iter(op["requestBody"]["content"].values()))["schema"])
        for ops in schema["paths"].values()
        for op in ops.values()
        # JSON bodies; a cosignature is posted as text/plain (R36)
        if "application/json" in op.get("requestBody", {}).get("content", {})
    ]
    assert len(bodies) >= 15
    for body in bodies:
        assert body.get("additionalProperties") is False, body
    assert set(schema["components"]["securitySchemes"]) == {"tokenAuth", "cookieAuth"}
    assert "security" not in schema  # no global requirement: each operation names its own
    token = schema["paths"]["/api/v1/auth/token/"]["post"]
    assert token.get("security", []) in ([], [{}])
    releases = schema["paths"]["/api/v1/releases/"]["get"]
    assert releases["security"] == [{"tokenAuth": []}, {"cookieAuth": []}]

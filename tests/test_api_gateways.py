"""The gateway endpoints over HTTP (R25–R30): shapes, status codes and bad input."""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from compliance import services
from compliance.models import Gateway, Partner, Release
from compliance.selectors import access_revision
from tests import factories
from tests.api_support import API, client_for, results
from tests.gateway_support import every_pair, seeded_world


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), transaction.atomic():
        staff = factories.UserFactory(username="sam", role="staff")
        admin = factories.UserFactory(username="ada", role="admin")
        agencies = [factories.AgencyFactory(code=c) for c in ("CAISI", "DOC", "ONCD", "OSTP")]
        world = seeded_world(staff, admin, agencies)
        world.staff, world.admin = staff, admin
        world.gateway, world.token = services.create_gateway(actor=admin, name="gw-us-east")
        yield world
        transaction.set_rollback(True)


def gateway_client(token):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def ev(partner, release, action="use"):
    return {
        "subject": {"type": "partner", "id": str(partner)},
        "resource": {"type": "release", "id": release},
        "action": {"name": action},
    }


# --- Registry and receipts (R25, R28) ----------------------------------------------------


def test_register_shows_the_token_once_and_the_list_shows_lag(db, world):
    admin = client_for(world.admin)
    response = admin.post(f"{API}/gateways/", {"name": "gw-eu-west"})
    assert response.status_code == 201
    body = response.json()
    token = body.pop("token")
    assert body == {
        "name": "gw-eu-west",
        "active": True,
        "applied_revision": 0,
        "applied_at": None,
        "last_seen_at": None,
        "lag_seconds": body["lag_seconds"],
    }
    assert body["lag_seconds"] >= 0
    assert gateway_client(token).get(f"{API}/entitlements/").status_code == 200
    assert gateway_client(token).get(f"{API}/releases/").status_code == 403
    rows = results(client_for(world.admin).get(f"{API}/gateways/"))
    assert [r["name"] for r in rows] == ["gw-eu-west", "gw-us-east"]
    assert all("token" not in r for r in rows)
    again = admin.post(f"{API}/gateways/", {"name": "gw-eu-west"})
    assert again.status_code == 400 and set(again.json()) == {"name"}
    assert admin.post(f"{API}/gateways/", {"name": "gw x", "extra": 1}).status_code == 400


def test_receipts_bad_input_and_other_gateways(db, world, admin_user):
    gw = gateway_client(world.token)
    url = f"{API}/gateways/gw-us-east/receipts/"
    now = access_revision()
    rows = Gateway.history.count()
    response = gw.post(url, {"revision": now + 1})
    assert response.status_code == 400
    assert response.json() == {"revision": ["Above the current access revision."]}
    # A refused receipt is a call all the same (R28: every call sets last_seen_at); nothing
    # else changes, and no history row is written.
    refused = Gateway.objects.get(name="gw-us-east")
    assert refused.last_seen_at is not None and refused.applied_revision == 0
    for body in ({}, {"revision": -1}, {"revision": "x"}, {"revision": 1, "more": 2}):
        seen = Gateway.objects.get(name="gw-us-east").last_seen_at
        assert gw.post(url, body).status_code == 400, body
        assert Gateway.objects.get(name="gw-us-east").last_seen_at > seen, body
    for raw, kind in (("{not json", "application/json"), ("revision=1", "text/plain")):
        seen = Gateway.objects.get(name="gw-us-east").last_seen_at
        assert gw.generic("POST", url, raw, content_type=kind).status_code in (400, 415)
        assert Gateway.objects.get(name="gw-us-east").last_seen_at > seen, raw
    assert Gateway.history.count() == rows and access_revision() == now
    other, _ = services.create_gateway(actor=world.admin, name="gw-eu-west")
    assert gw.post(f"{API}/gateways/gw-eu-west/receipts/", {"revision": 1}).status_code == 403
    assert client_for(world.admin).post(url, {"revision": "x"}).status_code == 403
    assert gw.post(f"{API}/gateways/nobody/receipts/", {"revision": 1}).status_code == 404
    assert client_for(world.admin).post(url, {"revision": 1}).status_code == 403
    response = gw.post(url, {"revision": now})
    assert response.status_code == 200
    assert (response.json()["applied_revision"], response.json()["lag_seconds"]) == (now, 0)
    eu_west = Gateway.objects.get(name="gw-eu-west")
    assert (eu_west.applied_revision, eu_west.last_seen_at) == (0, None)


# --- Feed (R27) --------------------------------------------------------------------------


def test_feed_etag_304_and_changes(db, world):
    gw = gateway_client(world.token)
    response = gw.get(f"{API}/entitlements/")
    revision = access_revision()
    assert response.status_code == 200
    assert response.headers["ETag"] == f'"{revision}"'
    assert response.json()["revision"] == revision
    for partner, release, answer in every_pair():
        entry = next(e for e in response.json()["releases"] if e["release"] == release.slug)
        assert (partner.pk in entry["allowed_partners"]) is answer["allowed"]
    unchanged = gw.get(f"{API}/entitlements/", HTTP_IF_NONE_MATCH=f'"{revision}"')
    assert unchanged.status_code == 304 and unchanged.content == b""
    for tag in (f'W/"{revision}"', str(revision), f'"1", "{revision}"', "*"):
        assert gw.get(f"{API}/entitlements/", HTTP_IF_NONE_MATCH=tag).status_code == 304, tag
    for tag in (f'"{revision - 1}"', str(revision + 1), f'"{revision}x"'):
        assert gw.get(f"{API}/entitlements/", HTTP_IF_NONE_MATCH=tag).status_code == 200, tag
    services.transition_release(world.limited, to="suspended", actor=world.staff, reason="d")
    assert gw.get(f"{API}/entitlements/", HTTP_IF_NONE_MATCH=f'"{revision}"').status_code == 200
    changes = gw.get(f"{API}/entitlements/changes/?since={revision}").json()
    assert changes["revision"] == access_revision()
    assert [e["release"] for e in changes["releases"]] == ["r-limited"]
    for bad in ("", "?since=x", "?since=-1", "?since=" + "9" * 30):
        assert gw.get(f"{API}/entitlements/changes/{bad}").status_code == 400, bad


# --- AuthZEN (R26) -----------------------------------------------------------------------


def test_evaluation_and_batch_agree_with_r15(db, world):
    gw = gateway_client(world.token)
    pairs = every_pair()
    revision = access_revision()
    for partner, release, answer in pairs[:12]:
        response = gw.post("/access/v1/evaluation", ev(partner.pk, release.slug))
        assert response.status_code == 200
        assert response.json() == {
            "decision": answer["allowed"],
            "context": {"reason": answer["reason"], "revision": revision},
        }
    body = {"evaluations": [ev(p.pk, r.slug) for p, r, _ in pairs]}
    response = gw.post("/access/v1/evaluations", body)
    assert response.status_code == 200
    assert response.json()["evaluations"] == [
        {"decision": a["allowed"], "context": {"reason": a["reason"], "revision": revision}}
        for _, _, a in pairs
    ]


def test_single_evaluation_is_one_statement_with_the_token_check(
    db, world, django_assert_num_queries
):
    """POST /access/v1/evaluation on PostgreSQL: the evaluation's read rides in the token
    check's statement (one round trip, as the token-authenticated no-op), prepared on the
    connection's second use; no snapshot transaction, no more. SQLite: the token, its
    groups, then the one read."""
    gw = gateway_client(world.token)
    for _ in range(2):
        assert gw.post("/access/v1/evaluation", ev(world.us[0].pk, "r-general")).status_code == 200
    statements = 1 if connection.vendor == "postgresql" else 3
    for partner, release in ((world.us[0].pk, "r-limited"), (world.gb[0].pk, "r-general-us")):
        with django_assert_num_queries(statements):
            response = gw.post("/access/v1/evaluation", ev(partner, release))
        assert response.status_code == 200
        assert response.json()["context"]["revision"] == access_revision()


def _refusal_cases(world) -> list[dict]:
    us = world.us[0].pk
    return [
        ev(us, "r-general", "delete"),
        ev(us, "no-such-release"),
        ev(999999999, "r-general"),
        ev("9" * 40, "r-general"),
        ev("-1", "r-general"),
        {**ev(us, "r-general"), "subject": {"type": "user", "id": str(us)}},
        {**ev(us, "r-general"), "resource": {"type": "model", "id": "r-general"}},
        ev(us, "r-\x00"),
        ev(999999999, "no-such-release", "delete"),
    ]


def test_single_evaluation_answers_as_the_batch_for_every_pair_token_or_session(db, world, client):
    """The hand-written read in the token check (token) and ``evaluate_one`` (a session)
    give the batch's answer (one snapshot, ``evaluate_access``) for every seeded pair and
    every refusal, as JSON over HTTP."""
    bodies = [ev(p.pk, r.slug) for p, r, _ in every_pair()] + _refusal_cases(world)
    batch = client_for(world.admin).post("/access/v1/evaluations", {"evaluations": bodies})
    expected = batch.json()["evaluations"]
    reasons = {d["context"]["reason"] for d in expected}
    assert {"general", "allowlisted", "not_allowlisted", "foreign_restricted"} <= reasons
    assert {"unsupported_action", "unknown_release", "unknown_partner", "retired"} <= reasons
    gw = gateway_client(world.token)
    client.force_login(world.staff)
    for body, answer in zip(bodies, expected, strict=True):
        by_token = gw.post("/access/v1/evaluation", body, format="json")
        by_session = client.post("/access/v1/evaluation", body, content_type="application/json")
        assert by_token.status_code == by_session.status_code == 200
        assert by_token.json() == by_session.json() == answer, body


def test_single_evaluation_fails_closed_on_every_token_refusal(db, world):
    """The evaluation read with the token is answered only for a valid token of an active
    user with a role: a wrong secret under a real key, an expired token (deleted), an
    inactive user, a user without a role; bad input is still a 400, after the 401."""
    from datetime import timedelta

    from knox.models import AuthToken

    body = ev(world.us[0].pk, "r-general")

    def post(token, payload=body):
        return gateway_client(token).post("/access/v1/evaluation", payload, format="json")

    valid = post(world.token)
    assert valid.status_code == 200 and valid.json()["decision"] is True
    key, secret = world.token[:15], world.token[15:]
    wrong = key + ("1" if secret[0] == "0" else "0") + secret[1:]
    assert post(wrong).status_code == 401  # a real key, a wrong secret
    _row, expired = AuthToken.objects.create(user=world.staff, expiry=timedelta(seconds=-1))
    assert post(expired).status_code == 401
    assert not AuthToken.objects.filter(token_key=expired[:15]).exists()
    nobody = factories.UserFactory(username="nobody")  # no role
    _row, no_role = AuthToken.objects.create(user=nobody)
    assert post(no_role).status_code == 403
    _row, inactive = AuthToken.objects.create(user=world.admin)
    type(world.admin).objects.filter(pk=world.admin.pk).update(is_active=False)
    assert post(inactive).status_code == 401
    assert post("0" * 64).status_code == 401
    malformed = {**body, "surprise": 1}
    assert post("0" * 64, malformed).status_code == 401
    assert post(world.token, malformed).status_code == 400
    assert post(world.token, malformed).json() == {"non_field_errors": ["Unknown keys: surprise."]}


def test_batch_defaults_semantics_and_constant_queries(db, world, django_assert_max_num_queries):
    gw = gateway_client(world.token)
    partner = world.us[0].pk
    body = {
        "subject": {"type": "partner", "id": str(partner)},
        "action": {"name": "use"},
        "evaluations": [
            {"resource": {"type": "release", "id": "r-general"}},
            {"resource": {"type": "release", "id": "r-draft"}},
            {"resource": {"type": "release", "id": "r-limited"}},
        ],
    }

    def decisions(b):
        return [e["decision"] for e in gw.post("/access/v1/evaluations", b).json()["evaluations"]]

    assert decisions(body) == [True, False, True]
    assert decisions({**body, "options": {"evaluations_semantic": "deny_on_first_deny"}}) == [
        True,
        False,
    ]
    assert decisions({**body, "options": {"evaluations_semantic": "permit_on_first_permit"}}) == [
        True
    ]
    pks = list(Partner.objects.values_list("pk", flat=True))
    slugs = list(Release.objects.values_list("slug", flat=True))
    one = {"evaluations": [ev(pks[0], slugs[0])]}
    many = {"evaluations": [ev(p, s) for p in pks for s in slugs] * 10}
    assert len(many["evaluations"]) <= 1000
    for batch in (one, many):
        with django_assert_max_num_queries(8):  # auth (token, user, roles) + the snapshot
            assert gw.post("/access/v1/evaluations", batch).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        [],
        {},
        {"subject": {"type": "partner", "id": "1"}, "resource": {"type": "release", "id": "x"}},
        {**ev(1, "x"), "subject": "partner:1"},
        {**ev(1, "x"), "resource": {"type": "release"}},
        {**ev(1, "x"), "resource": {"type": "release", "id": True}},
        {**ev(1, "x"), "action": {"name": ""}},
        {**ev(1, "x"), "action": {"name": "use", "extra": 1}},
        {**ev(1, "x"), "surprise": 1},
    ],
)
def test_malformed_evaluations_are_400(db, world, body):
    response = gateway_client(world.token).post("/access/v1/evaluation", body, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"non_field_errors"}


def test_batch_bad_input(db, world):
    gw = gateway_client(world.token)
    item = ev(world.us[0].pk, "r-general")
    too_many = gw.post("/access/v1/evaluations", {"evaluations": [item] * 1001})
    assert too_many.status_code == 400
    assert too_many.json() == {"non_field_errors": ["At most 1000 evaluations per request."]}
    assert gw.post("/access/v1/evaluations", {"evaluations": [item] * 1000}).status_code == 200
    for body in (
        {"evaluations": []},
        {"evaluations": {}},
        {"evaluations": [{}]},
        {"evaluations": [item], "options": {"evaluations_semantic": "vote"}},
        {"evaluations": [item], "options": []},
    ):
        assert gw.post("/access/v1/evaluations", body).status_code == 400, body


def test_unknowns_are_decisions_and_the_configuration_names_the_endpoints(db, world):
    gw = gateway_client(world.token)
    cases = [
        (ev(world.us[0].pk, "no-such"), "unknown_release"),
        (ev(10**12, "r-general"), "unknown_partner"),
        ({**ev(1, "r-general"), "subject": {"type": "user", "id": "1"}}, "unknown_partner"),
        (ev(world.us[0].pk, "r-general", "train"), "unsupported_action"),
    ]
    for body, reason in cases:
        response = gw.post("/access/v1/evaluation", body)
        assert response.status_code == 200
        assert response.json()["decision"] is False
        assert response.json()["context"]["reason"] == reason
    config = gw.get("/.well-known/authzen-configuration").json()
    assert config == {
        "policy_decision_point": "http://testserver",
        "access_evaluation_endpoint": "http://testserver/access/v1/evaluation",
        "access_evaluations_endpoint": "http://testserver/access/v1/evaluations",
    }


# --- Enforcement on the gate and on requests (R29), alerts (R30) -------------------------


def test_gate_and_request_carry_enforcement(db, world):
    staff = client_for(world.staff)
    req = services.record_request(
        actor=world.staff,
        agency=factories.AgencyFactory(code="DOC"),
        reference="BIS-1",
        kind="suspend_access",
        binding=True,
        releases=[world.general],
    )
    detail = staff.get(f"{API}/requests/{req.pk}/").json()
    assert (detail["enforcement"], detail["time_to_enforce"]) == ([], None)
    services.transition_release(world.general, to="suspended", actor=world.staff, reason="BIS")
    revision = access_revision()
    gate = staff.get(f"{API}/releases/r-general/gate/").json()
    assert gate["enforcement"]["revision"] == revision
    assert (gate["enforcement"]["enforced_at"], gate["enforcement"]["pending"]) == (
        None,
        ["gw-us-east"],
    )
    gateway_client(world.token).post(f"{API}/gateways/gw-us-east/receipts/", {"revision": revision})
    gate = staff.get(f"{API}/releases/r-general/gate/").json()
    assert gate["enforcement"]["pending"] == [] and gate["enforcement"]["enforced_at"]
    detail = staff.get(f"{API}/requests/{req.pk}/").json()
    [row] = detail["enforcement"]
    assert (row["release"], row["change"], row["revision"], row["pending"]) == (
        "r-general",
        "status: general → suspended",
        revision,
        [],
    )
    assert isinstance(detail["time_to_enforce"], int) and detail["time_to_enforce"] >= 0


def test_alerts_list_gateway_alerts(db, world, settings):
    settings.GATEWAY_SILENT_SECONDS = 0
    rows = results(client_for(world.staff).get(f"{API}/alerts/"))
    silent = [r for r in rows if r["kind"] == "gateway_silent"]
    assert [(r["gateway"], sorted(r)) for r in silent] == [
        ("gw-us-east", ["detail", "gateway", "kind"])
    ]
    settings.GATEWAY_LAG_SECONDS = 0
    rows = results(client_for(world.staff).get(f"{API}/alerts/"))
    assert {r["kind"] for r in rows if "gateway" in r} == {"gateway_silent", "gateway_lagging"}

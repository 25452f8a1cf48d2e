"""Acceptance: SPEC.md walked section by section, black-box.

Everything goes through the public surfaces only: users come from ``add_user``, callers log
in with ``POST /api/v1/auth/token/``, and every object is created, changed and read through
the REST API (or a management command), exactly as SPEC writes paths, bodies, shapes,
status codes and blocker kinds."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime, timedelta

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from tests.api_support import refused

API = "/api/v1"
PASSWORD = "correct horse battery staple"
OFFSET = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?[+-]\d\d:\d\d$")
STAGE_KEYS = {"cleared", "approved", "pending", "rejected", "withdrawn", "blockers"}
AUDIT_KEYS = {
    "id",
    "model",
    "object_id",
    "object_repr",
    "action",
    "user",
    "at",
    "reason",
    "changes",
}
CODES = ["CAISI", "DOC", "ONCD", "OSTP"]

pytestmark = pytest.mark.django_db


# --- callers ------------------------------------------------------------------------------


def login(username: str, password: str = PASSWORD) -> APIClient:
    response = APIClient().post(
        f"{API}/auth/token/", {"username": username, "password": password}, format="json"
    )
    assert response.status_code == 200, response.content
    assert set(response.json()) == {"token"}
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    return client


def add_user(name: str, role: str) -> None:
    call_command(
        "add_user",
        name,
        "--role",
        role,
        "--password",
        PASSWORD,
        "--email",
        f"{name}@lab.test",
        stdout=io.StringIO(),
    )


class World:
    """The five callers of the scenario, and helpers that speak only HTTP."""

    def __init__(self):
        for name, role in [
            ("sam", "staff"),
            ("sasha", "staff"),
            ("ada", "admin"),
            ("alan", "admin"),
            ("audrey", "auditor"),
        ]:
            add_user(name, role)
        self.staff = login("sam")
        self.staff2 = login("sasha")
        self.admin = login("ada")
        self.admin2 = login("alan")
        self.auditor = login("audrey")
        self.anon = APIClient()

    # objects
    def agencies(self, codes=CODES):
        for code in codes:
            r = self.admin.post(
                f"{API}/agencies/",
                {"code": code, "name": f"{code} office", "contact_email": f"{code}@gov.test"},
                format="json",
            )
            assert r.status_code == 201, r.content

    def partner(self, name="Acme", country="US") -> int:
        r = self.admin.post(
            f"{API}/partners/",
            {"name": name, "country": country, "contact_email": "p@x.test", "notes": ""},
            format="json",
        )
        assert r.status_code == 201, r.content
        return r.json()["id"]

    def release(self, slug="frontier-1", **extra) -> dict:
        r = self.staff.post(
            f"{API}/releases/", {"slug": slug, "name": slug.title(), **extra}, format="json"
        )
        assert r.status_code == 201, r.content
        return r.json()

    def submit(self, slug="frontier-1", client=None) -> dict:
        r = (client or self.staff).post(f"{API}/releases/{slug}/submit/", {}, format="json")
        assert r.status_code == 200, r.content
        return r.json()

    def move(self, slug, to, reason="", client=None):
        body = {"to": to}
        if reason:
            body["reason"] = reason
        return (client or self.staff).post(
            f"{API}/releases/{slug}/transition/", body, format="json"
        )

    def signoffs(self, slug, **filters) -> list[dict]:
        query = "&".join(f"{k}={v}" for k, v in {"release": slug, **filters}.items())
        r = self.auditor.get(f"{API}/signoffs/?{query}&page_size=200")
        assert r.status_code == 200, r.content
        return page(r)

    def signoff(self, slug, code, stage) -> dict:
        [row] = [s for s in self.signoffs(slug, stage=stage) if s["agency"] == code]
        return row

    def decide(self, signoff_id, decision="approved", **body):
        if decision == "approved":
            body.setdefault("evidence", "letter on file")
        return self.staff.post(
            f"{API}/signoffs/{signoff_id}/decide/", {"decision": decision, **body}, format="json"
        )

    def approve_stage(self, slug, stage, skip=()):
        gate = self.gate(slug)
        rnd = gate["round"]
        for so in self.signoffs(slug, stage=stage, round=rnd):
            if so["agency"] not in skip and so["status"] == "pending":
                r = self.decide(so["id"])
                assert r.status_code == 200, r.content

    def propose(self, slug, partner_id, client=None):
        return (client or self.staff).post(
            f"{API}/releases/{slug}/allowlist/", {"partner": partner_id}, format="json"
        )

    def allow(self, slug, partner_id) -> int:
        r = self.propose(slug, partner_id)
        assert r.status_code == 201, r.content
        entry = r.json()["id"]
        r = self.admin.post(
            f"{API}/allowlist/{entry}/decide/", {"decision": "approved"}, format="json"
        )
        assert r.status_code == 200, r.content
        return entry

    def gate(self, slug) -> dict:
        r = self.auditor.get(f"{API}/releases/{slug}/gate/")
        assert r.status_code == 200, r.content
        return r.json()

    def get_release(self, slug) -> dict:
        r = self.auditor.get(f"{API}/releases/{slug}/")
        assert r.status_code == 200, r.content
        return r.json()

    def request(self, kind, slugs, binding=True, agency="DOC", reference=None, **extra) -> dict:
        body = {
            "agency": agency,
            "reference": reference or f"{agency}-{kind}-{'-'.join(slugs)}",
            "kind": kind,
            "binding": binding,
            "releases": slugs,
            "summary": f"{kind} directive",
            **extra,
        }
        r = self.staff.post(f"{API}/requests/", body, format="json")
        assert r.status_code == 201, r.content
        return r.json()

    def set_status(self, request_id, status, note=""):
        body = {"status": status}
        if note:
            body["note"] = note
        return self.staff.post(f"{API}/requests/{request_id}/status/", body, format="json")

    def close(self, request_id):
        r = self.set_status(request_id, "closed", "agency lifted it")
        assert r.status_code == 200, r.content

    def access(self, slug, partner_id) -> dict:
        r = self.auditor.get(f"{API}/releases/{slug}/access/?partner={partner_id}")
        assert r.status_code == 200, r.content
        return r.json()

    def audit(self, **filters) -> list[dict]:
        query = "&".join(f"{k}={v}" for k, v in filters.items())
        r = self.auditor.get(f"{API}/audit/?{query}")
        assert r.status_code == 200, r.content
        return page(r)

    def audit_count(self) -> int:
        return self.auditor.get(f"{API}/audit/").json()["count"]

    # ready-made states
    def in_review(self, slug="frontier-1", **extra) -> dict:
        self.release(slug, **extra)
        return self.submit(slug)

    def limited(self, slug="frontier-1", partner=None, **extra) -> int:
        self.in_review(slug, **extra)
        self.approve_stage(slug, "limited")
        self.allow(slug, partner or self.partner(f"{slug} partner"))
        r = self.move(slug, "limited", "preview")
        assert r.status_code == 200, r.content
        return r

    def general(self, slug="frontier-1", **extra):
        self.in_review(slug, **extra)
        self.approve_stage(slug, "general")
        r = self.move(slug, "general", "launch")
        assert r.status_code == 200, r.content
        return r


@pytest.fixture
def w(db) -> World:
    world = World()
    world.agencies()
    return world


def page(response) -> list:
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}, body
    assert body["count"] >= len(body["results"])
    return body["results"]


def without_detail(alert: dict) -> dict:
    """An alert without its human sentence (asserted on its own)."""
    assert isinstance(alert["detail"], str) and alert["detail"], alert
    return {k: v for k, v in alert.items() if k != "detail"}


def bad_input(response, *fields: str) -> None:
    assert response.status_code == 400, (response.status_code, response.content)
    body = response.json()
    for field in fields:
        assert field in body and isinstance(body[field], list) and body[field], body


def missing(stage: str, codes=CODES) -> list[dict]:
    return [{"kind": "signoff_missing", "agency": c, "stage": stage} for c in codes]


def parse(value: str) -> datetime:
    assert OFFSET.match(value), value
    return datetime.fromisoformat(value)


# --- Who uses it: log in, roles ----------------------------------------------------------


LIST_PATHS = [
    "/agencies/",
    "/partners/",
    "/releases/",
    "/signoffs/",
    "/requests/",
    "/audit/",
    "/audit/verify/",
    "/reminders/",
    "/schema/",
]


def test_token_endpoint_and_everyone_must_log_in(w):
    w.release()
    r = APIClient().post(
        f"{API}/auth/token/", {"username": "sam", "password": "wrong"}, format="json"
    )
    assert r.status_code == 401
    for path in LIST_PATHS + [
        "/agencies/DOC/",
        "/releases/frontier-1/",
        "/releases/frontier-1/gate/",
        "/releases/frontier-1/history/",
        "/releases/frontier-1/allowlist/",
        "/audit/export/?format=csv",
    ]:
        assert w.anon.get(f"{API}{path}").status_code == 401, path
    r = w.anon.post(f"{API}/releases/", {"slug": "x", "name": "X"}, format="json")
    assert r.status_code == 401
    bogus = APIClient()
    bogus.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert bogus.get(f"{API}/releases/").status_code == 401


def test_session_auth_works_too(w, client):
    assert client.login(username="audrey", password=PASSWORD)
    assert client.get(f"{API}/releases/").status_code == 200


def test_auditor_reads_everything(w):
    w.limited()
    for path in LIST_PATHS + [
        "/agencies/DOC/",
        "/releases/frontier-1/",
        "/releases/frontier-1/gate/",
        "/releases/frontier-1/history/",
        "/releases/frontier-1/allowlist/",
        "/docs/",
    ]:
        assert w.auditor.get(f"{API}{path}").status_code == 200, path
    so = w.signoffs("frontier-1")[0]
    assert w.auditor.get(f"{API}/signoffs/{so['id']}/").status_code == 200
    r = w.auditor.get(f"{API}/audit/export/?format=jsonl")
    assert r.status_code == 200
    assert len(b"".join(r.streaming_content).splitlines()) == w.audit_count()


def test_auditor_writes_nothing(w):
    w.release("draft-1")
    w.limited()
    pid = w.partner("Other")
    req = w.request("information_request", ["frontier-1"], binding=False)
    so = w.signoffs("frontier-1", stage="general")[0]
    entry = page(w.auditor.get(f"{API}/releases/frontier-1/allowlist/"))[0]
    before = w.audit_count()
    attempts = [
        ("post", "/agencies/", {"code": "NEW", "name": "New"}),
        ("patch", "/agencies/DOC/", {"name": "Commerce"}),
        ("post", "/partners/", {"name": "P", "country": "US"}),
        ("patch", f"/partners/{pid}/", {"name": "P2"}),
        ("post", "/releases/", {"slug": "a-1", "name": "A"}),
        ("patch", "/releases/frontier-1/", {"name": "Renamed"}),
        ("post", "/releases/draft-1/submit/", {}),
        ("post", "/releases/frontier-1/transition/", {"to": "suspended", "reason": "x"}),
        ("post", f"/signoffs/{so['id']}/decide/", {"decision": "approved", "evidence": "e"}),
        ("post", f"/signoffs/{so['id']}/withdraw/", {"reason": "x"}),
        ("post", "/requests/", {"agency": "DOC", "reference": "R", "kind": "vet_users"}),
        ("patch", f"/requests/{req['id']}/", {"summary": "x"}),
        ("post", f"/requests/{req['id']}/status/", {"status": "acknowledged"}),
        ("post", "/releases/frontier-1/allowlist/", {"partner": pid}),
        ("post", f"/allowlist/{entry['id']}/decide/", {"decision": "approved"}),
        ("post", f"/allowlist/{entry['id']}/revoke/", {"reason": "x"}),
    ]
    for method, path, body in attempts:
        r = getattr(w.auditor, method)(f"{API}{path}", body, format="json")
        assert r.status_code == 403, (path, r.status_code, r.content)
    assert w.audit_count() == before


def test_staff_cannot_decide_allowlists_or_write_agencies_and_partners(w):
    pid = w.partner()
    w.in_review()
    entry = w.propose("frontier-1", pid, client=w.staff2).json()
    for method, path, body in [
        ("post", "/agencies/", {"code": "NEW", "name": "New"}),
        ("patch", "/agencies/DOC/", {"name": "Commerce"}),
        ("post", "/partners/", {"name": "P", "country": "US"}),
        ("patch", f"/partners/{pid}/", {"name": "P2"}),
        ("post", f"/allowlist/{entry['id']}/decide/", {"decision": "approved"}),
        ("post", f"/allowlist/{entry['id']}/decide/", {"decision": "rejected", "reason": "x"}),
    ]:
        r = getattr(w.staff, method)(f"{API}{path}", body, format="json")
        assert r.status_code == 403, (path, r.status_code, r.content)
    # and a revoke of an approved entry
    w.admin.post(f"{API}/allowlist/{entry['id']}/decide/", {"decision": "approved"}, format="json")
    r = w.staff.post(f"{API}/allowlist/{entry['id']}/revoke/", {"reason": "x"}, format="json")
    assert r.status_code == 403
    # staff may not set caps either (admins decide allowlists "… set caps")
    r = w.staff.patch(f"{API}/releases/frontier-1/", {"partner_cap": 5}, format="json")
    assert r.status_code == 403
    assert w.get_release("frontier-1")["partner_cap"] == 20


def test_roles_are_django_groups(w):
    from django.contrib.auth import get_user_model

    groups = {
        u.username: sorted(g.name for g in u.groups.all()) for u in get_user_model().objects.all()
    }
    assert groups == {
        "sam": ["staff"],
        "sasha": ["staff"],
        "ada": ["admin"],
        "alan": ["admin"],
        "audrey": ["auditor"],
    }


# --- Agencies and partners ----------------------------------------------------------------


def test_agencies_by_code(w):
    rows = page(w.auditor.get(f"{API}/agencies/"))
    assert sorted(r["code"] for r in rows) == CODES
    r = w.auditor.get(f"{API}/agencies/DOC/")
    assert r.status_code == 200
    body = r.json()
    assert {"code", "name", "contact_email", "active"} <= set(body)
    assert (body["code"], body["name"], body["contact_email"], body["active"]) == (
        "DOC",
        "DOC office",
        "DOC@gov.test",
        True,
    )
    r = w.admin.patch(f"{API}/agencies/DOC/", {"name": "Department of Commerce"}, format="json")
    assert r.status_code == 200 and r.json()["name"] == "Department of Commerce"
    assert w.auditor.get(f"{API}/agencies/NOPE/").status_code == 404
    r = w.admin.post(f"{API}/agencies/", {"code": "DOC", "name": "dup"}, format="json")
    bad_input(r, "code")


def test_partners_by_id(w):
    pid = w.partner("Thamesgate", "GB")
    body = w.auditor.get(f"{API}/partners/{pid}/").json()
    assert {"id", "name", "country", "contact_email", "notes"} <= set(body)
    assert (body["id"], body["name"], body["country"]) == (pid, "Thamesgate", "GB")
    r = w.admin.patch(f"{API}/partners/{pid}/", {"notes": "vetted"}, format="json")
    assert r.status_code == 200 and r.json()["notes"] == "vetted"
    assert w.auditor.get(f"{API}/partners/999999/").status_code == 404
    r = w.admin.post(f"{API}/partners/", {"name": "X", "country": "ZZ"}, format="json")
    bad_input(r, "country")


# --- Releases -----------------------------------------------------------------------------


def test_new_release_defaults(w):
    w.admin.patch(f"{API}/agencies/OSTP/", {"active": False}, format="json")
    body = w.release("frontier-1")
    assert body["slug"] == "frontier-1"
    assert body["owner"] == "sam"  # the user who created it
    assert sorted(body["required_agencies"]) == ["CAISI", "DOC", "ONCD"]  # every active one
    assert body["partner_cap"] == 20
    assert body["review_days"] == 14
    assert body["foreign_access_restricted"] is False
    assert body["status"] == "draft"
    for key in ("name", "description", "target_date", "artifact_digest", "review_round"):
        assert key in body
    assert w.get_release("frontier-1") == body


def test_release_fields_by_code_and_username(w):
    r = w.staff.post(
        f"{API}/releases/",
        {
            "slug": "model-x",
            "name": "Model X",
            "description": "d",
            "owner": "sasha",
            "target_date": "2030-01-15",
            "artifact_digest": "sha256:abc",
            "required_agencies": ["DOC", "ONCD"],
            "review_days": 7,
        },
        format="json",
    )
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["owner"] == "sasha"
    assert sorted(body["required_agencies"]) == ["DOC", "ONCD"]
    assert (body["target_date"], body["artifact_digest"], body["review_days"]) == (
        "2030-01-15",
        "sha256:abc",
        7,
    )
    rows = page(w.auditor.get(f"{API}/releases/"))
    assert [row["slug"] for row in rows] == ["model-x"]


def test_release_bad_input_is_400(w):
    w.release("taken")
    cases = [
        ({"slug": "a", "name": "A", "required_agencies": []}, "required_agencies"),
        ({"slug": "a", "name": "A", "required_agencies": ["NOPE"]}, "required_agencies"),
        ({"slug": "a", "name": "A", "owner": "ghost"}, "owner"),
        ({"slug": "taken", "name": "A"}, "slug"),
        ({"name": "A"}, "slug"),
        ({"slug": "a", "name": "A", "target_date": "tomorrow"}, "target_date"),
    ]
    for body, field in cases:
        bad_input(w.staff.post(f"{API}/releases/", body, format="json"), field)
    assert w.auditor.get(f"{API}/releases/nope/").status_code == 404
    assert w.auditor.get(f"{API}/releases/nope/gate/").status_code == 404
    assert w.staff.post(f"{API}/releases/nope/submit/", {}, format="json").status_code == 404


def test_release_patch(w):
    w.release()
    r = w.staff.patch(
        f"{API}/releases/frontier-1/",
        {"name": "Frontier One", "required_agencies": ["DOC"]},
        format="json",
    )
    assert r.status_code == 200, r.content
    assert (r.json()["name"], r.json()["required_agencies"]) == ("Frontier One", ["DOC"])
    bad_input(
        w.staff.patch(f"{API}/releases/frontier-1/", {"required_agencies": []}, format="json"),
        "required_agencies",
    )


def test_times_are_iso_8601_with_offset(w):
    w.limited()
    body = w.get_release("frontier-1")
    for key in ("created_at", "updated_at"):
        parse(body[key])
    so = w.signoffs("frontier-1", stage="limited")[0]
    parse(so["due_at"])
    parse(so["decided_at"])
    req = w.request("information_request", ["frontier-1"], binding=False)
    parse(req["received_at"])
    for item in w.audit():
        parse(item["at"])
    entry = page(w.auditor.get(f"{API}/releases/frontier-1/allowlist/"))[0]
    parse(entry["decided_at"])


# --- The gate -----------------------------------------------------------------------------


def test_gate_shape(w):
    w.in_review()
    gate = w.gate("frontier-1")
    assert set(gate) >= {"status", "round", "stages", "alerts"}
    assert (gate["status"], gate["round"], gate["alerts"]) == ("in_review", 1, [])
    assert set(gate["stages"]) == {"limited", "general"}
    for stage in ("limited", "general"):
        view = gate["stages"][stage]
        assert set(view) == STAGE_KEYS
        assert view["cleared"] is False
        assert sorted(view["pending"]) == CODES
        assert view["approved"] == view["rejected"] == view["withdrawn"] == []
    assert gate["stages"]["limited"]["blockers"] == [
        *missing("limited"),
        {"kind": "allowlist_empty"},
    ]
    assert gate["stages"]["general"]["blockers"] == missing("general")


# --- Journeys: the rules end to end ----------------------------------------------------------
# Every case of R1–R16 is tested at the service layer (tests/test_services_*.py, which run on
# SQLite too, and the plain-value matrices in tests/test_services_rules.py). These journeys
# walk releases through the rules as callers do, over HTTP only.


def test_journey_a_release_from_review_to_general_availability_and_back(w):
    """R1 submit, R2 limited, R9 decisions, R14 four eyes, R15 access, R3 general, R10
    withdrawal and its R16 alert, R4 narrowing, R5 suspend, R7 reasons, R1 a second round,
    R6 retire."""
    us, other = w.partner("Acme", "US"), w.partner("Nope", "US")

    # R1: a round of pending sign-offs, one per agency and stage, due review_days from now.
    w.release(review_days=10)
    body = w.submit()
    assert (body["status"], body["review_round"]) == ("in_review", 1)
    rows = w.signoffs("frontier-1", round=1)
    assert sorted((s["agency"], s["stage"], s["status"]) for s in rows) == sorted(
        (code, stage, "pending") for code in CODES for stage in ("limited", "general")
    )
    for s in rows:
        assert (s["release"], s["round"], s["decided_at"], s["recorded_by"]) == (
            "frontier-1",
            1,
            None,
            None,
        )
        due = parse(s["due_at"]) - datetime.now(parse(s["due_at"]).tzinfo)
        assert timedelta(days=9, hours=23) < due <= timedelta(days=10)
    refused(
        w.staff.post(f"{API}/releases/frontier-1/submit/", {}, format="json"),
        {"kind": "invalid_transition", "from": "in_review", "to": "in_review"},
    )
    assert w.access("frontier-1", us) == {"allowed": False, "reason": "not_released"}

    # R2, R8: every blocker at once, and nothing half-done.
    before = w.audit_count()
    refused(w.move("frontier-1", "limited"), *missing("limited"), {"kind": "allowlist_empty"})
    assert w.audit_count() == before
    assert w.get_release("frontier-1")["status"] == "in_review"

    # R9: approval needs evidence (a field: 400), rejection a reason (a rule: 409).
    doc = w.signoff("frontier-1", "DOC", "limited")
    bad_input(
        w.staff.post(
            f"{API}/signoffs/{doc['id']}/decide/", {"decision": "approved"}, format="json"
        ),
        "evidence",
    )
    refused(w.decide(doc["id"], "rejected"), {"kind": "reason_required"})
    bad_input(w.decide(doc["id"], "withdrawn"), "decision")
    r = w.decide(doc["id"], evidence="DOC letter 12", conditions="no export")
    assert r.status_code == 200, r.content
    body = r.json()
    assert (body["status"], body["evidence"], body["conditions"], body["recorded_by"]) == (
        "approved",
        "DOC letter 12",
        "no export",
        "sam",
    )
    parse(body["decided_at"])
    refused(w.decide(doc["id"]), {"kind": "already_decided"})
    w.approve_stage("frontier-1", "limited", skip=["ONCD"])
    refused(
        w.move("frontier-1", "limited"),
        *missing("limited", ["ONCD"]),
        {"kind": "allowlist_empty"},
    )
    w.approve_stage("frontier-1", "limited")
    refused(w.move("frontier-1", "limited"), {"kind": "allowlist_empty"})

    # R14: an admin proposes, another admin approves; a proposal alone is not an entry.
    r = w.propose("frontier-1", us, client=w.admin)
    assert r.status_code == 201, r.content
    entry = r.json()
    assert (entry["release"], entry["partner"], entry["status"], entry["proposed_by"]) == (
        "frontier-1",
        us,
        "proposed",
        "ada",
    )
    assert (entry["decided_by"], entry["decided_at"]) == (None, None)
    refused(w.move("frontier-1", "limited"), {"kind": "allowlist_empty"})
    decide = f"{API}/allowlist/{entry['id']}/decide/"
    refused(w.admin.post(decide, {"decision": "approved"}, format="json"), {"kind": "same_user"})
    r = w.admin2.post(decide, {"decision": "approved"}, format="json")
    assert (r.status_code, r.json()["status"], r.json()["decided_by"]) == (200, "approved", "alan")
    assert w.gate("frontier-1")["stages"]["limited"]["cleared"] is True
    r = w.move("frontier-1", "limited", "preview")
    assert (r.status_code, r.json()["status"]) == (200, "limited")

    # R15 at the limited stage.
    assert w.access("frontier-1", us) == {"allowed": True, "reason": "allowlisted"}
    assert w.access("frontier-1", other) == {"allowed": False, "reason": "not_allowlisted"}

    # R3: all agencies reviewed.
    w.approve_stage("frontier-1", "general", skip=["ONCD"])
    refused(w.move("frontier-1", "general"), *missing("general", ["ONCD"]))
    general = w.gate("frontier-1")["stages"]["general"]
    assert (sorted(general["approved"]), general["pending"], general["cleared"]) == (
        ["CAISI", "DOC", "OSTP"],
        ["ONCD"],
        False,
    )
    w.approve_stage("frontier-1", "general")
    r = w.move("frontier-1", "general", "launch")
    assert (r.status_code, r.json()["status"]) == (200, "general")
    assert w.access("frontier-1", other) == {"allowed": True, "reason": "general"}

    # R10: an agency takes its approval back; R16 flags the live release.
    caisi = w.signoff("frontier-1", "CAISI", "general")
    withdraw = f"{API}/signoffs/{caisi['id']}/withdraw/"
    refused(w.staff.post(withdraw, {}, format="json"), {"kind": "reason_required"})
    r = w.staff.post(withdraw, {"reason": "new findings"}, format="json")
    assert (r.status_code, r.json()["status"]) == (200, "withdrawn")
    gate = w.gate("frontier-1")
    assert (gate["stages"]["general"]["withdrawn"], gate["stages"]["general"]["blockers"]) == (
        ["CAISI"],
        [{"kind": "signoff_withdrawn", "agency": "CAISI", "stage": "general"}],
    )
    [alert] = gate["alerts"]
    assert without_detail(alert) == {
        "kind": "live_without_signoffs",
        "release": "frontier-1",
        "stage": "general",
        "agencies": ["CAISI"],
    }
    assert alert["detail"].startswith("frontier-1 is general but ")

    # R4: back to the limited stage, whose sign-offs all stand: no alert left.
    r = w.move("frontier-1", "limited", "narrowing")
    assert (r.status_code, r.json()["status"]) == (200, "limited")
    assert w.gate("frontier-1")["alerts"] == []
    assert w.access("frontier-1", other) == {"allowed": False, "reason": "not_allowlisted"}

    # R5 and R7: suspension needs a reason; who, when and why are in the audit log.
    refused(w.move("frontier-1", "suspended"), {"kind": "reason_required"})
    r = w.move("frontier-1", "suspended", "Commerce directive")
    assert (r.status_code, r.json()["status"]) == (200, "suspended")
    assert w.access("frontier-1", us) == {"allowed": False, "reason": "suspended"}
    item = w.audit(model="release", action="changed", user="sam")[0]
    assert set(item) == AUDIT_KEYS
    assert (item["model"], item["user"], item["reason"]) == ("release", "sam", "Commerce directive")
    assert {"field": "status", "old": "limited", "new": "suspended"} in item["changes"]
    parse(item["at"])

    # R1 again: round 2; round 1 stays as it was and no longer counts.
    round_one = w.signoffs("frontier-1", round=1)
    assert w.submit()["review_round"] == 2
    assert w.signoffs("frontier-1", round=1) == round_one
    assert [s["status"] for s in w.signoffs("frontier-1", round=2)] == ["pending"] * 8
    gate = w.gate("frontier-1")
    assert (gate["round"], gate["stages"]["limited"]["approved"]) == (2, [])

    # R6: retired is final.
    refused(w.move("frontier-1", "retired"), {"kind": "reason_required"})
    r = w.move("frontier-1", "retired", "end of life")
    assert (r.status_code, r.json()["status"]) == (200, "retired")
    assert w.access("frontier-1", us) == {"allowed": False, "reason": "retired"}
    refused(
        w.staff.post(f"{API}/releases/frontier-1/submit/", {}, format="json"),
        {"kind": "invalid_transition", "from": "retired", "to": "in_review"},
    )
    refused(
        w.move("frontier-1", "general", "again"),
        {"kind": "invalid_transition", "from": "retired", "to": "general"},
    )


def test_journey_a_commerce_directive_restricts_and_pulls_releases(w):
    """R13 a binding restriction, R14 a foreign partner refused, R15 foreign_restricted,
    R16 directive and foreign-partner alerts, R2/R3 a directive in force, R12 the request's
    status flow with its notes as reasons, and closing it lifts what it held."""
    us, gb = w.partner("Acme", "US"), w.partner("Thamesgate", "GB")
    w.general("ga-1")
    w.in_review("sibling")
    w.approve_stage("sibling", "limited")
    w.allow("sibling", gb)
    assert w.access("ga-1", gb) == {"allowed": True, "reason": "general"}

    # R13: only a binding restriction restricts.
    w.request("restrict_foreign_access", ["ga-1"], binding=False, reference="V-1")
    assert w.get_release("ga-1")["foreign_access_restricted"] is False
    directive = w.request("restrict_foreign_access", ["ga-1", "sibling"], reference="DOC-17")
    assert [w.get_release(s)["foreign_access_restricted"] for s in ("ga-1", "sibling")] == [
        True,
        True,
    ]
    assert w.access("ga-1", gb) == {"allowed": False, "reason": "foreign_restricted"}
    assert w.access("ga-1", us) == {"allowed": True, "reason": "general"}
    # R16: the partner approved before the restriction is flagged; R14: no new one.
    assert [without_detail(a) for a in w.gate("sibling")["alerts"]] == [
        {"kind": "foreign_partner_approved", "release": "sibling", "partner": gb}
    ]
    entry = w.propose("sibling", w.partner("Loch", "GB")).json()
    r = w.admin.post(
        f"{API}/allowlist/{entry['id']}/decide/", {"decision": "approved"}, format="json"
    )
    refused(r, {"kind": "foreign_partner_restricted"})
    assert r.json()["detail"] == "Foreign access is restricted: the partner is in GB."
    before = w.audit_count()
    r = w.staff.patch(f"{API}/releases/ga-1/", {"foreign_access_restricted": False}, format="json")
    refused(r, {"kind": "restriction_in_force", "request": directive["id"]})
    assert w.audit_count() == before

    # R16 and R2: a binding suspension flags the live release and holds back the other.
    suspend = w.request("suspend_access", ["ga-1", "sibling"], reference="DOC-18")
    w.request("limit_release", ["ga-1"], reference="DOC-19")  # holds back GA only, no alert
    held = {"kind": "live_under_directive", "release": "ga-1", "request": suspend["id"]}
    assert [without_detail(a) for a in w.gate("ga-1")["alerts"]] == [held]
    refused(w.move("sibling", "limited"), {"kind": "request_in_force", "request": suspend["id"]})
    assert w.gate("sibling")["stages"]["limited"]["blockers"] == [
        {"kind": "request_in_force", "request": suspend["id"]}
    ]
    r = w.move("ga-1", "suspended", "Commerce directive")
    assert (r.status_code, r.json()["status"]) == (200, "suspended")
    before = w.audit_count()
    assert w.gate("ga-1")["alerts"] == []  # no longer live
    assert w.audit_count() == before  # alerts are computed, never stored

    # R12: the restriction's status flow; each note is the recorded reason.
    rid = directive["id"]
    refused(
        w.set_status(rid, "complied"),
        {"kind": "invalid_transition", "from": "open", "to": "complied"},
    )
    bad_input(w.set_status(rid, "done"), "status")
    r = w.set_status(rid, "acknowledged", "received")
    assert (r.status_code, r.json()["status"], r.json()["complied_at"]) == (
        200,
        "acknowledged",
        None,
    )
    r = w.set_status(rid, "contested", "we disagree")
    assert (r.status_code, r.json()["status"]) == (200, "contested")
    r = w.set_status(rid, "complied", "blocked the same evening")
    assert (r.status_code, r.json()["status"]) == (200, "complied")
    complied = parse(r.json()["complied_at"])
    assert abs((datetime.now(complied.tzinfo) - complied).total_seconds()) < 60
    r = w.staff.patch(f"{API}/releases/ga-1/", {"foreign_access_restricted": False}, format="json")
    refused(r, {"kind": "restriction_in_force", "request": rid})  # complied is still in force
    notes = [
        (i["user"], i["reason"], c["old"], c["new"])
        for i in w.audit(model="governmentrequest", object_id=rid)
        for c in i["changes"]
        if c["field"] == "status"
    ]
    assert notes == [
        ("sam", "blocked the same evening", "contested", "complied"),
        ("sam", "we disagree", "acknowledged", "contested"),
        ("sam", "received", "open", "acknowledged"),
        ("sam", "request recorded", None, "open"),
    ]

    # Closing lifts what each request held.
    w.close(suspend["id"])
    r = w.move("sibling", "limited", "letter allows it")
    assert (r.status_code, r.json()["status"]) == (200, "limited")
    assert w.access("sibling", gb) == {"allowed": False, "reason": "foreign_restricted"}
    w.close(rid)
    r = w.set_status(rid, "open")
    refused(r, {"kind": "invalid_transition", "from": "closed", "to": "open"})
    r = w.staff.patch(f"{API}/releases/ga-1/", {"foreign_access_restricted": False}, format="json")
    assert (r.status_code, r.json()["foreign_access_restricted"]) == (200, False)


def test_journey_an_allowlist_under_a_cap_and_a_vetting_directive(w):
    """R14 caps, vetting, rejection and revocation, and R15 for a revoked entry."""
    r = w.admin.patch(f"{API}/releases/frontier-1/", {"partner_cap": 2}, format="json")
    assert r.status_code == 404
    w.release(partner_cap=20)
    r = w.admin.patch(f"{API}/releases/frontier-1/", {"partner_cap": 2}, format="json")
    assert (r.status_code, r.json()["partner_cap"]) == (200, 2)
    w.submit()

    # A voluntary vet_users request needs no vetting; a binding one does.
    w.request("vet_users", ["frontier-1"], binding=False, reference="V")
    free = w.partner("Free")
    w.allow("frontier-1", free)
    req = w.request("vet_users", ["frontier-1"], reference="B")
    acme = w.partner("Acme")
    entry = w.propose("frontier-1", acme).json()
    decide = f"{API}/allowlist/{entry['id']}/decide/"
    refused(
        w.admin.post(decide, {"decision": "approved"}, format="json"), {"kind": "vetting_required"}
    )
    bad_input(
        w.admin.post(decide, {"decision": "approved", "vetted_by": "NOPE"}, format="json"),
        "vetted_by",
    )
    r = w.admin.post(decide, {"decision": "approved", "vetted_by": "CAISI"}, format="json")
    assert (r.status_code, r.json()["status"], r.json()["vetted_by"]) == (200, "approved", "CAISI")

    # The cap: a third approval, or a cap below the two approved, is refused.
    third = w.propose("frontier-1", w.partner("Third")).json()
    decide = f"{API}/allowlist/{third['id']}/decide/"
    r = w.admin.post(decide, {"decision": "approved", "vetted_by": "CAISI"}, format="json")
    refused(r, {"kind": "allowlist_full"})  # SPEC R8 names no fields for this kind
    assert r.json()["detail"] == "The allowlist is full (2 of 2)."
    r = w.admin.patch(f"{API}/releases/frontier-1/", {"partner_cap": 1}, format="json")
    refused(r, {"kind": "cap_below_approved"})
    assert r.json()["detail"] == "The cap 1 is below the 2 partners already approved."
    assert w.get_release("frontier-1")["partner_cap"] == 2
    refused(
        w.admin.post(decide, {"decision": "rejected"}, format="json"), {"kind": "reason_required"}
    )
    r = w.admin.post(decide, {"decision": "rejected", "reason": "not vetted"}, format="json")
    assert (r.status_code, r.json()["status"]) == (200, "rejected")
    refused(
        w.admin.post(decide, {"decision": "rejected", "reason": "again"}, format="json"),
        {"kind": "already_decided"},
    )
    w.close(req["id"])

    # Live at the limited stage, then a revocation takes the partner's access away.
    w.approve_stage("frontier-1", "limited")
    assert w.move("frontier-1", "limited", "preview").status_code == 200
    assert w.access("frontier-1", acme) == {"allowed": True, "reason": "allowlisted"}
    revoke = f"{API}/allowlist/{entry['id']}/revoke/"
    refused(w.admin.post(revoke, {}, format="json"), {"kind": "reason_required"})
    r = w.admin.post(revoke, {"reason": "breach"}, format="json")
    assert (r.status_code, r.json()["status"]) == (200, "revoked")
    assert w.access("frontier-1", acme) == {"allowed": False, "reason": "not_allowlisted"}
    assert w.access("frontier-1", free) == {"allowed": True, "reason": "allowlisted"}
    item = w.audit(model="allowlistentry", object_id=entry["id"])[0]
    assert (item["user"], item["reason"], item["action"]) == ("ada", "breach", "changed")
    assert {"field": "status", "old": "approved", "new": "revoked"} in item["changes"]
    rows = page(w.auditor.get(f"{API}/releases/frontier-1/allowlist/"))
    assert sorted((r["partner"], r["status"]) for r in rows) == sorted(
        [(free, "approved"), (acme, "revoked"), (third["partner"], "rejected")]
    )


# --- Endpoints' own shapes and inputs -----------------------------------------------------------


def test_transition_to_in_review_is_a_submit(w):
    w.release()
    r = w.move("frontier-1", "in_review")
    assert (r.status_code, r.json()["status"], r.json()["review_round"]) == (200, "in_review", 1)


def test_signoff_filters(w):
    w.in_review()
    w.approve_stage("frontier-1", "limited", skip=["DOC"])
    assert len(w.signoffs("frontier-1", status="approved")) == 3
    assert [s["agency"] for s in w.signoffs("frontier-1", agency="DOC", stage="limited")] == ["DOC"]
    assert len(w.signoffs("frontier-1", round=1)) == 8
    assert w.signoffs("frontier-1", round=2) == []
    assert w.auditor.get(f"{API}/signoffs/999999/").status_code == 404


def test_withdrawing_a_pending_signoff_says_so(w):
    w.in_review()
    so = w.signoff("frontier-1", "CAISI", "general")
    r = w.staff.post(f"{API}/signoffs/{so['id']}/withdraw/", {"reason": "x"}, format="json")
    refused(r, {"kind": "invalid_transition", "from": "pending", "to": "withdrawn"})
    assert r.json()["detail"] == "Cannot go from pending to withdrawn."  # not "A release…"


def test_r11_new_digest_in_review_starts_a_new_round(w):
    w.in_review(artifact_digest="sha256:aaa")
    w.approve_stage("frontier-1", "general")
    r = w.staff.patch(
        f"{API}/releases/frontier-1/", {"artifact_digest": "sha256:bbb"}, format="json"
    )
    assert r.status_code == 200, r.content
    assert (r.json()["review_round"], r.json()["status"]) == (2, "in_review")
    gate = w.gate("frontier-1")
    assert gate["round"] == 2 and sorted(gate["stages"]["general"]["pending"]) == CODES


def test_r13_restriction_added_by_patching_a_request(w):
    w.release("a-1")
    w.release("a-2")
    req = w.request("restrict_foreign_access", ["a-1"])
    r = w.staff.patch(f"{API}/requests/{req['id']}/", {"releases": ["a-1", "a-2"]}, format="json")
    assert r.status_code == 200
    assert w.get_release("a-2")["foreign_access_restricted"] is True


def test_allowlist_and_access_addressing(w):
    w.release()
    bad_input(w.propose("frontier-1", 999999), "partner")
    assert w.auditor.get(f"{API}/releases/nope/allowlist/").status_code == 404
    r = w.admin.post(f"{API}/allowlist/999999/decide/", {"decision": "approved"}, format="json")
    assert r.status_code == 404
    assert w.auditor.get(f"{API}/releases/frontier-1/access/?partner=999999").status_code == 404
    assert w.auditor.get(f"{API}/releases/frontier-1/access/").status_code == 400


# --- R12 government requests --------------------------------------------------------------


def test_r12_request_shape_and_addressing(w):
    w.release("a-1")
    w.release("a-2")
    r = w.staff.post(
        f"{API}/requests/",
        {
            "agency": "DOC",
            "reference": "DOC-2026-17",
            "kind": "restrict_foreign_access",
            "binding": True,
            "received_at": "2026-05-15T17:21:00-04:00",
            "due_at": "2026-05-16T17:21:00-04:00",
            "releases": ["a-1", "a-2"],
            "summary": "Block foreign access",
            "assignee": "sasha",
            "lab_position": "disagree",
        },
        format="json",
    )
    assert r.status_code == 201, r.content
    body = r.json()
    for key in (
        "id",
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
    ):
        assert key in body, key
    assert (body["agency"], sorted(body["releases"]), body["assignee"], body["status"]) == (
        "DOC",
        ["a-1", "a-2"],
        "sasha",
        "open",
    )
    assert parse(body["received_at"]) == datetime.fromisoformat("2026-05-15T21:21:00+00:00")
    assert w.auditor.get(f"{API}/requests/{body['id']}/").json()["id"] == body["id"]
    # unique per agency
    dup = dict(agency="DOC", reference="DOC-2026-17", kind="vet_users")
    assert w.staff.post(f"{API}/requests/", dup, format="json").status_code == 400
    other = dict(agency="ONCD", reference="DOC-2026-17", kind="vet_users")
    assert w.staff.post(f"{API}/requests/", other, format="json").status_code == 201
    bad_input(
        w.staff.post(
            f"{API}/requests/",
            {"agency": "NOPE", "reference": "x", "kind": "vet_users"},
            format="json",
        ),
        "agency",
    )
    bad_input(
        w.staff.post(
            f"{API}/requests/",
            {"agency": "DOC", "reference": "y", "kind": "vet_users", "releases": ["nope"]},
            format="json",
        ),
        "releases",
    )
    bad_input(
        w.staff.post(
            f"{API}/requests/",
            {"agency": "DOC", "reference": "z", "kind": "bribe"},
            format="json",
        ),
        "kind",
    )
    r = w.staff.patch(
        f"{API}/requests/{body['id']}/",
        {"response": "We comply", "lab_position": "agree", "releases": ["a-1"]},
        format="json",
    )
    assert r.status_code == 200, r.content
    assert (r.json()["response"], r.json()["lab_position"], r.json()["releases"]) == (
        "We comply",
        "agree",
        ["a-1"],
    )
    assert w.auditor.get(f"{API}/requests/999999/").status_code == 404


# --- Audit ----------------------------------------------------------------------------------


def test_audit_items_and_filters(w):
    w.in_review()
    so = w.signoff("frontier-1", "DOC", "limited")
    w.decide(so["id"], evidence="DOC letter")
    w.allow("frontier-1", w.partner())
    w.request("vet_users", ["frontier-1"])
    names = {item["model"] for item in w.audit()}
    assert {"release", "signoff", "governmentrequest", "allowlistentry", "agency",
            "partner"} <= names  # fmt: skip
    for item in w.audit():
        assert set(item) == AUDIT_KEYS
        assert item["action"] in ("created", "changed", "deleted")
        for change in item["changes"]:
            assert set(change) == {"field", "old", "new"}
    created = w.audit(model="release", action="created")
    assert len(created) == 1 and created[0]["user"] == "sam"
    item = w.audit(model="signoff", object_id=so["id"], action="changed")[0]
    assert (item["object_id"], item["user"]) == (str(so["id"]), "sam")
    assert {"field": "status", "old": "pending", "new": "approved"} in item["changes"]
    assert {"field": "evidence", "old": "", "new": "DOC letter"} in item["changes"]
    assert sorted((i["model"], i["action"]) for i in w.audit(user="ada")) == [
        *[("agency", "created")] * 4,
        ("allowlistentry", "changed"),
        ("partner", "created"),
    ]
    assert w.audit(user="nobody") == []
    future = "2999-01-01T00:00:00%2B00:00"
    assert w.audit(since=future) == []
    assert len(w.audit(until=future)) == w.audit_count()
    bad_input(w.auditor.get(f"{API}/audit/?action=exploded"), "action")
    bad_input(w.auditor.get(f"{API}/audit/?since=yesterday"), "since")


def test_audit_m2m_changes_are_recorded(w):
    w.release()
    w.staff.patch(f"{API}/releases/frontier-1/", {"required_agencies": ["DOC"]}, format="json")
    items = w.audit(model="release", action="changed")
    fields = {c["field"] for i in items for c in i["changes"]}
    assert "required_agencies" in fields


def test_release_history(w):
    w.limited()
    r = w.auditor.get(f"{API}/releases/frontier-1/history/")
    assert r.status_code == 200
    items = page(r)
    assert {i["model"] for i in items} >= {"release", "signoff", "allowlistentry"}
    for item in items:
        assert set(item) == AUDIT_KEYS
    assert w.staff.get(f"{API}/releases/frontier-1/history/").status_code == 200
    assert w.auditor.get(f"{API}/releases/nope/history/").status_code == 404


def test_audit_verify(w):
    w.in_review()
    r = w.auditor.get(f"{API}/audit/verify/")
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"ok", "checked", "broken"}
    assert body["ok"] is True and body["checked"] >= w.audit_count() > 0
    assert body["broken"] is None
    out = io.StringIO()
    call_command("verify_audit", stdout=out)
    assert json.loads(out.getvalue())["ok"] is True


def test_audit_export_streams_csv_and_jsonl(w):
    w.in_review()
    total = w.audit_count()
    r = w.auditor.get(f"{API}/audit/export/?format=csv")
    assert r.status_code == 200 and r.streaming
    rows = list(csv.DictReader(io.StringIO(b"".join(r.streaming_content).decode())))
    assert len(rows) == total
    assert {"id", "model", "object_id", "action", "user", "at", "reason"} <= set(rows[0])
    r = w.auditor.get(f"{API}/audit/export/?format=jsonl&model=release")
    assert r.status_code == 200 and r.streaming
    lines = [json.loads(x) for x in b"".join(r.streaming_content).decode().splitlines()]
    assert len(lines) == w.auditor.get(f"{API}/audit/?model=release").json()["count"] > 0
    assert {line["model"] for line in lines} == {"release"}
    assert AUDIT_KEYS <= set(lines[0])
    assert w.auditor.get(f"{API}/audit/export/?format=xml").status_code == 400


# --- Reminders ----------------------------------------------------------------------------


def test_send_reminders_and_the_reminder_log(w):
    w.in_review(review_days=1)  # due within the lead time
    mail.outbox.clear()
    call_command("send_reminders", stdout=io.StringIO())
    to_sam = [m for m in mail.outbox if "sam@lab.test" in m.to]
    assert len(to_sam) == 1  # one digest, not one per sign-off
    rows = page(w.auditor.get(f"{API}/reminders/"))
    assert [(r["kind"], r["recipient"]) for r in rows] == [("digest", "sam")]
    for row in rows:
        for key, value in row.items():
            if key.endswith("_at") and value:
                parse(value)
    count = len(mail.outbox)
    call_command("send_reminders", stdout=io.StringIO())
    assert len(mail.outbox) == count  # at most once per interval


# --- Commands -------------------------------------------------------------------------------


def test_add_user_token(db):
    out = io.StringIO()
    call_command(
        "add_user", "tina", "--role", "staff", "--password", PASSWORD, "--email", "t@lab.test",
        "--token", stdout=out,
    )  # fmt: skip
    token = out.getvalue().strip()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get(f"{API}/releases/").status_code == 200
    login("tina")  # the password works too
    from django.contrib.auth import get_user_model

    assert get_user_model().objects.get(username="tina").email == "t@lab.test"
    with pytest.raises(CommandError):
        call_command("add_user", "x", "--role", "king", stdout=io.StringIO())


def test_seed_demo_is_idempotent_and_frontier_waits_for_oncd(db):
    call_command("seed_demo", stdout=io.StringIO())
    add_user("audrey", "auditor")
    auditor = login("audrey")

    def snapshot():
        rels = page(auditor.get(f"{API}/releases/?page_size=200"))
        return rels, auditor.get(f"{API}/audit/").json()["count"]

    first = snapshot()
    call_command("seed_demo", stdout=io.StringIO())
    assert snapshot() == first
    releases, history = first
    assert history > 50
    codes = sorted(a["code"] for a in page(auditor.get(f"{API}/agencies/")))
    assert codes == CODES
    waiting = []
    for release in releases:
        gate = auditor.get(f"{API}/releases/{release['slug']}/gate/").json()
        if gate["stages"]["general"]["pending"] == ["ONCD"]:
            waiting.append((release, gate))
    assert len(waiting) == 1, [r["slug"] for r, _ in waiting]
    release, gate = waiting[0]
    general = gate["stages"]["general"]
    assert sorted(general["approved"]) == ["CAISI", "DOC", "OSTP"]
    assert general["rejected"] == general["withdrawn"] == []
    assert general["cleared"] is False
    assert general["blockers"] == [
        {"kind": "signoff_missing", "agency": "ONCD", "stage": "general"}
    ]
    entries = page(auditor.get(f"{API}/releases/{release['slug']}/allowlist/?page_size=200"))
    assert len([e for e in entries if e["status"] == "approved"]) == 20
    # the second release: pulled after a binding Commerce directive to block foreign access
    reqs = page(auditor.get(f"{API}/requests/?page_size=200"))
    # …received on a Friday at 17:21 Eastern, complied with the same evening and contested
    from zoneinfo import ZoneInfo

    eastern = ZoneInfo("America/New_York")
    [directive] = [
        r for r in reqs if (r["agency"], r["kind"], r["binding"])
        == ("DOC", "restrict_foreign_access", True)
    ]  # fmt: skip
    received = parse(directive["received_at"]).astimezone(eastern)
    complied = parse(directive["complied_at"]).astimezone(eastern)
    assert (received.weekday(), received.hour, received.minute) == (4, 17, 21)
    assert complied.date() == received.date() and complied > received
    statuses = [
        c["new"]
        for item in page(
            auditor.get(f"{API}/audit/?model=governmentrequest&object_id={directive['id']}")
        )  # fmt: skip
        for c in item["changes"]
        if c["field"] == "status"
    ]
    assert statuses == ["complied", "contested", "acknowledged", "open"]  # newest first
    # later a letter allows a limited release of one model while a sibling stays suspended
    pulled = {r["slug"]: r for r in releases if r["slug"] in directive["releases"]}
    assert sorted(r["status"] for r in pulled.values()) == ["limited", "suspended"]
    assert all(r["foreign_access_restricted"] for r in pulled.values())
    # the reminders have something real to show: ONCD's overdue review goes to the owner
    mail.outbox.clear()
    call_command("send_reminders", stdout=io.StringIO())
    reminders = page(auditor.get(f"{API}/reminders/"))
    assert [(r["kind"], r["recipient"]) for r in reminders] == [("digest", release["owner"])]
    [digest] = mail.outbox
    assert "ONCD" in digest.body


def test_export_audit_command(w, tmp_path):
    w.in_review()
    total = w.audit_count()
    target = tmp_path / "audit.csv"
    call_command("export_audit", "--format", "csv", "--output", str(target), stderr=io.StringIO())
    rows = list(csv.DictReader(target.open()))
    assert len(rows) == total
    target = tmp_path / "audit.jsonl"
    call_command("export_audit", "--format", "jsonl", "--output", str(target), stderr=io.StringIO())
    lines = [json.loads(x) for x in target.read_text().splitlines()]
    assert len(lines) == total and AUDIT_KEYS <= set(lines[0])


# --- OpenAPI ------------------------------------------------------------------------------


def test_schema_and_docs(w):
    r = w.auditor.get(f"{API}/schema/")
    assert r.status_code == 200
    schema = json.loads(r.content)
    assert schema["openapi"].startswith("3.")
    for path in ("/api/v1/releases/{slug}/gate/", "/api/v1/signoffs/{id}/decide/"):
        assert path in schema["paths"], sorted(schema["paths"])
    assert w.auditor.get(f"{API}/docs/").status_code == 200


def test_audit_object_id_takes_the_address_of_slug_code_and_username_objects(w):
    w.release()
    by_id = w.audit(model="release")
    release_id = by_id[0]["object_id"]
    assert w.audit(model="release", object_id="frontier-1") == by_id
    assert w.audit(model="release", object_id=release_id) == by_id
    assert w.audit(model="release", object_id="nope") == []
    [doc] = w.audit(model="agency", object_id="DOC")
    assert (doc["action"], doc["object_repr"]) == ("created", "DOC")
    assert w.audit(model="agency", object_id=doc["object_id"]) == [doc]
    sam = w.audit(model="user", object_id="sam")
    assert [i["action"] for i in sam] == ["changed", "created"]
    assert {i["object_id"] for i in sam} == {sam[0]["object_id"]}
    assert sam[0]["changes"] == [{"field": "groups", "old": [], "new": ["staff"]}]


def test_r20_owner_is_notified_of_decisions_and_state_changes(
    w, django_capture_on_commit_callbacks
):
    w.release(owner="sasha")
    w.submit()
    mail.outbox.clear()
    so = w.signoff("frontier-1", "DOC", "limited")
    with django_capture_on_commit_callbacks(execute=True):
        w.decide(so["id"])
    assert [m.to for m in mail.outbox] == [["sasha@lab.test"]]
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        w.move("frontier-1", "suspended", "pulled", client=w.staff2)  # the owner did it
    assert mail.outbox == []


def _recipients() -> dict[str, int]:
    out: dict[str, int] = {}
    for message in mail.outbox:
        for address in message.to:
            out[address] = out.get(address, 0) + 1
    return out


def _iso(delta: timedelta) -> str:
    from django.utils import timezone

    return (timezone.now() + delta).isoformat()


def test_r17_r18_request_reminders_go_to_the_assignee_else_every_admin(w):
    w.release()
    w.request("vet_users", ["frontier-1"], reference="A", assignee="sasha", due_at=_iso(
        timedelta(days=1)))  # fmt: skip
    w.request("information_request", [], binding=False, reference="B", due_at=_iso(
        timedelta(hours=5)))  # fmt: skip
    w.request("vet_users", [], reference="far", assignee="sasha", due_at=_iso(timedelta(days=9)))
    done = w.request("vet_users", [], reference="done", assignee="sam", due_at=_iso(
        timedelta(hours=1)))  # fmt: skip
    w.set_status(done["id"], "acknowledged")
    w.set_status(done["id"], "complied")  # only open/acknowledged requests are reminded
    mail.outbox.clear()
    call_command("send_reminders", stdout=io.StringIO())
    assert _recipients() == {"sasha@lab.test": 1, "ada@lab.test": 1, "alan@lab.test": 1}
    rows = page(w.auditor.get(f"{API}/reminders/"))
    assert sorted(r["recipient"] for r in rows) == ["ada", "alan", "sasha"]


def test_r18_overdue_beyond_escalation_also_goes_to_every_admin(w):
    w.release()
    w.request("vet_users", ["frontier-1"], reference="late", assignee="sasha", due_at=_iso(
        -timedelta(days=3)), received_at=_iso(-timedelta(days=5)))  # fmt: skip
    mail.outbox.clear()
    call_command("send_reminders", stdout=io.StringIO())
    assert _recipients() == {"sasha@lab.test": 1, "ada@lab.test": 1, "alan@lab.test": 1}


def test_r18_alerts_go_to_every_admin_once_per_interval(w):
    w.general("ga-1")
    w.request("suspend_access", ["ga-1"])
    mail.outbox.clear()
    call_command("send_reminders", stdout=io.StringIO())
    assert _recipients() == {"ada@lab.test": 1, "alan@lab.test": 1}
    mail.outbox.clear()
    call_command("send_reminders", stdout=io.StringIO())
    assert mail.outbox == []  # R19: same item, same recipient, same interval


def test_the_test_client_speaks_json_by_default(w):
    """SPEC: "JSON under /api/v1/". DRF's APIClient, without ``format=``, sends JSON."""
    token = APIClient().post(f"{API}/auth/token/", {"username": "sam", "password": PASSWORD})
    assert token.status_code == 200
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.json()['token']}")
    r = client.post(f"{API}/releases/", {"slug": "j-1", "name": "J", "required_agencies": ["DOC"]})
    assert r.status_code == 201 and r.json()["required_agencies"] == ["DOC"]
    r = client.post(f"{API}/releases/j-1/transition/", {"to": "retired", "reason": "x"})
    assert r.status_code == 200


def test_submit_reason_and_allowlist_note_are_recorded(w):
    w.release()
    r = w.staff.post(f"{API}/releases/frontier-1/submit/", {"reason": "evals done"}, format="json")
    assert r.status_code == 200
    item = w.audit(model="release", object_id="frontier-1", action="changed")[0]
    assert (item["user"], item["reason"]) == ("sam", "evals done")
    assert {"field": "status", "old": "draft", "new": "in_review"} in item["changes"]
    assert {"field": "review_round", "old": 0, "new": 1} in item["changes"]
    pid = w.partner()
    r = w.staff.post(
        f"{API}/releases/frontier-1/allowlist/", {"partner": pid, "note": "CAISI vetted"},
        format="json",
    )  # fmt: skip
    assert r.status_code == 201 and r.json()["note"] == "CAISI vetted"
    item = w.audit(model="allowlistentry", object_id=r.json()["id"])[0]
    assert (item["action"], item["user"]) == ("created", "sam")


def test_audit_time_span_with_an_offset_put_in_the_url_as_is(w):
    w.release()
    from django.utils import timezone

    past = (timezone.now() - timedelta(hours=1)).isoformat()  # "…+00:00", not URL-encoded
    future = (timezone.now() + timedelta(hours=1)).isoformat()
    assert "+" in past
    r = w.auditor.get(f"{API}/audit/?since={past}&until={future}")
    assert r.status_code == 200, r.content
    assert r.json()["count"] == w.audit_count() > 0
    r = w.auditor.get(f"{API}/audit/?since={future}")
    assert r.status_code == 200 and r.json()["count"] == 0


def test_optional_text_given_as_null_is_not_given(w):
    w.release(description=None, artifact_digest=None)
    assert w.get_release("frontier-1")["description"] == ""
    w.submit()
    so = w.signoff("frontier-1", "DOC", "limited")
    r = w.staff.post(
        f"{API}/signoffs/{so['id']}/decide/",
        {"decision": "approved", "evidence": "letter", "conditions": None, "reason": None},
        format="json",
    )
    assert r.status_code == 200 and r.json()["conditions"] == ""
    refused(  # a reason that is required stays required
        w.staff.post(
            f"{API}/releases/frontier-1/transition/", {"to": "suspended", "reason": None},
            format="json",
        ),
        {"kind": "reason_required"},
    )  # fmt: skip
    r = w.staff.post(
        f"{API}/releases/frontier-1/transition/", {"to": "limited", "reason": None}, format="json"
    )
    refused(r, *[{"kind": "signoff_missing", "agency": c, "stage": "limited"} for c in CODES
                 if c != "DOC"], {"kind": "allowlist_empty"})  # fmt: skip
    bad_input(  # a required text is still required
        w.staff.post(f"{API}/releases/", {"slug": "x", "name": None}, format="json"), "name"
    )


def test_r21_role_changes_are_in_the_audit_log(w):
    call_command("add_user", "sam", "--role", "admin", stdout=io.StringIO())
    item = w.audit(model="user", object_id="sam", action="changed")[0]
    assert item["user"] == "system:add_user"
    assert {"field": "groups", "old": ["staff"], "new": ["admin"]} in item["changes"]
    assert not any(  # never a role-less moment in between
        c["field"] == "groups" and c["new"] == []
        for i in w.audit(model="user", object_id="sam")
        for c in i["changes"]
    )
    # the new role holds at once: sam may now write agencies
    r = w.staff.patch(f"{API}/agencies/DOC/", {"name": "Commerce"}, format="json")
    assert r.status_code == 200

"""The audit API: shape, filters, keyset pagination, permissions (R23, R24)."""

from __future__ import annotations

import pytest
from django.db import connection

from compliance import services
from compliance.models import AuditRecord, SignOff
from tests import factories
from tests.audit_helpers import triggers_disabled

pytestmark = pytest.mark.postgres

URL = "/api/v1/audit/"
ITEM_KEYS = {"id", "model", "object_id", "object_repr", "action", "user", "at", "reason", "changes"}


@pytest.fixture
def log(agencies, staff, staff2, admin_user):
    release = services.submit_release(
        factories.make_release(staff, slug="alpha", agencies=agencies[:2]), actor=staff
    )
    other = factories.make_release(staff2, slug="beta", agencies=agencies[:1])
    signoff = SignOff.objects.get(release=release, agency=agencies[0], stage="limited")
    services.decide_signoff(signoff, actor=staff2, decision="approved", evidence="memo")
    entry = services.propose_allowlist_entry(
        release, actor=staff, partner=factories.PartnerFactory(name="Acme")
    )
    services.decide_allowlist_entry(entry, actor=admin_user, decision="rejected", reason="no")
    request = services.record_request(
        actor=staff, agency=agencies[1], reference="D-9", kind="vet_users", releases=[release]
    )
    return {"release": release, "other": other, "signoff": signoff, "request": request}


def _get(client, as_user, url=URL, **params):
    client.force_login(as_user)
    return client.get(url, params)


def test_list_shape_newest_first(client, auditor, log):
    body = _get(client, auditor).json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == AuditRecord.objects.count()
    first = body["results"][0]
    assert set(first) == ITEM_KEYS
    newest = AuditRecord.objects.order_by("-seq").first()
    assert first["id"] == newest.seq
    assert [r["id"] for r in body["results"]] == sorted(
        (r["id"] for r in body["results"]), reverse=True
    )
    decided = next(r for r in body["results"] if r["model"] == "signoff" and r["user"] == "sasha")
    assert decided == {
        "id": decided["id"],
        "model": "signoff",
        "object_id": str(log["signoff"].pk),
        "object_repr": str(SignOff.objects.get(pk=log["signoff"].pk)),
        "action": "changed",
        "user": "sasha",
        "at": decided["at"],
        "reason": "CAISI approved",
        "changes": [
            {"field": "decided_at", "old": None, "new": decided["changes"][0]["new"]},
            {"field": "evidence", "old": "", "new": "memo"},
            {"field": "recorded_by", "old": None, "new": "sasha"},
            {"field": "status", "old": "pending", "new": "approved"},
        ],
    }
    assert decided["at"].endswith("+00:00")


@pytest.mark.parametrize(
    "params, expected",
    [
        (
            {"model": "allowlistentry"},
            [("allowlistentry", "changed"), ("allowlistentry", "created")],
        ),
        ({"user": "ada"}, [("allowlistentry", "changed")]),
        ({"model": "release", "action": "created"}, [("release", "created")] * 2),
        ({"action": "deleted"}, []),
    ],
)
def test_filters(client, admin_user, log, params, expected):
    body = _get(client, admin_user, **params).json()
    got = [(r["model"], r["action"]) for r in body["results"]]
    assert got == expected
    assert body["count"] == len(expected)


def test_filter_by_object_and_time(client, auditor, log):
    release = log["release"]
    rows = AuditRecord.objects.filter(model="release", object_id=str(release.pk)).order_by("seq")
    body = _get(client, auditor, model="release", object_id=str(release.pk)).json()
    assert [r["id"] for r in body["results"]] == [r.seq for r in reversed(rows)]
    submitted = rows[2].at  # rows 0 and 1 (creation, its agencies) share one time
    assert rows[1].at < submitted
    body = _get(client, auditor, model="release", object_id=str(release.pk),
                since=submitted.isoformat()).json()  # fmt: skip
    assert [r["id"] for r in body["results"]] == [rows[2].seq]  # since is inclusive
    body = _get(client, auditor, model="release", object_id=str(release.pk),
                until=submitted.isoformat()).json()  # fmt: skip
    assert [r["id"] for r in body["results"]] == [rows[1].seq, rows[0].seq]  # until exclusive


def test_bad_filters_are_400_with_field_messages(client, auditor, db):
    response = _get(
        client, auditor, model="nope", action="edited", since="soon", page_size="0", cursor="x1"
    )
    assert response.status_code == 400
    assert set(response.json()) == {"model", "action", "since"}
    response = _get(client, auditor, object_id="3")
    assert response.status_code == 400 and "model" in response.json()
    response = _get(client, auditor, since="2026-02-01T00:00:00Z", until="2026-01-01T00:00:00Z")
    assert response.json() == {"until": ["Must be later than since."]}
    assert _get(client, auditor, cursor="x1").json() == {"cursor": ["Invalid cursor."]}
    assert _get(client, auditor, page_size="501").status_code == 400


def test_keyset_pages_walk_the_log_in_constant_queries(
    client, auditor, log, django_assert_max_num_queries
):
    client.force_login(auditor)
    seen, url, pages = [], URL + "?page_size=7", 0
    while url:
        with django_assert_max_num_queries(6):
            body = client.get(url).json()
        seen += [r["id"] for r in body["results"]]
        url, pages = body["next"], pages + 1
    assert seen == list(AuditRecord.objects.order_by("-seq").values_list("seq", flat=True))
    assert pages == -(-len(seen) // 7)
    # previous goes back to the exact page before.
    page1 = client.get(URL + "?page_size=7").json()
    page2 = client.get(page1["next"]).json()
    assert page1["previous"] is None
    back = client.get(page2["previous"]).json()
    assert [r["id"] for r in back["results"]] == [r["id"] for r in page1["results"]]


@pytest.mark.parametrize("path", ["", "verify/"])
def test_permissions(client, staff, auditor, admin_user, db, path):
    assert client.get(URL + path).status_code == 401
    assert _get(client, staff, URL + path).status_code == 403
    assert _get(client, auditor, URL + path).status_code == 200
    assert _get(client, admin_user, URL + path).status_code == 200
    client.force_login(admin_user)
    assert client.post(URL + path, {}).status_code in (403, 405)


def test_verify_endpoint(client, auditor, log):
    body = _get(client, auditor, URL + "verify/").json()
    assert body == {"ok": True, "checked": AuditRecord.objects.count(), "broken": None}
    target = AuditRecord.objects.filter(model="governmentrequest").order_by("seq").first()
    with triggers_disabled(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE compliance_historicalgovernmentrequest SET binding = true "
            "WHERE history_id = %s",
            [target.history_id],
        )
    body = _get(client, auditor, URL + "verify/").json()
    assert body["ok"] is False
    assert body["broken"]["seq"] == target.seq
    assert body["broken"]["problem"] == "content_mismatch"


def test_verify_endpoint_reports_a_live_row_changed_without_history(client, auditor, log):
    request = log["request"]
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE compliance_governmentrequest SET binding = NOT binding WHERE id = %s",
            [request.pk],
        )
    body = _get(client, auditor, URL + "verify/").json()
    assert (body["ok"], body["checked"]) == (False, AuditRecord.objects.count())
    broken = body["broken"]
    assert (broken["kind"], broken["problem"], broken["model"], broken["object_id"]) == (
        "live",
        "live_mismatch",
        "governmentrequest",
        str(request.pk),
    )
    assert broken["fields"] == ["binding"]


def test_release_history(client, staff, auditor, log):
    release, request = log["release"], log["request"]
    body = _get(client, staff, f"/api/v1/releases/{release.slug}/history/").json()
    assert set(body) == {"count", "next", "previous", "results"}
    got = {(r["model"], r["action"]) for r in body["results"]}
    assert got == {
        ("release", "created"),
        ("release", "changed"),
        ("signoff", "created"),
        ("signoff", "changed"),
        ("allowlistentry", "created"),
        ("allowlistentry", "changed"),
        ("governmentrequest", "created"),
        ("governmentrequest", "changed"),
    }
    assert body["count"] == 3 + 4 + 1 + 2 + 2  # release, sign-offs, decision, entry, request
    assert {r["object_id"] for r in body["results"] if r["model"] == "governmentrequest"} == {
        str(request.pk)
    }
    other = log["other"]
    other_body = _get(client, auditor, f"/api/v1/releases/{other.slug}/history/").json()
    assert {(r["model"], r["object_id"]) for r in other_body["results"]} == {
        ("release", str(other.pk))
    }
    assert _get(client, auditor, "/api/v1/releases/nope/history/").status_code == 404
    nobody = factories.UserFactory(username="nobody")  # no role
    assert _get(client, nobody, f"/api/v1/releases/{release.slug}/history/").status_code == 403
    assert client.post(f"/api/v1/releases/{release.slug}/history/").status_code in (403, 405)

"""The seeds' story, end to end through the API only (issue 4)."""

from __future__ import annotations

from django.core.cache import cache
from rest_framework.test import APIClient

from compliance.models import Release, SignOff
from tests.api_support import API, results

PASSWORD = "pw-for-tests"


def login(username) -> APIClient:
    response = APIClient().post(
        f"{API}/auth/token/", {"username": username, "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    return client


def ok(response, status=200):
    assert response.status_code == status, response.content[:500]
    return response.json()


def test_story(staff, admin_user, admin2, auditor):
    cache.clear()  # the token endpoint's throttle counts per client
    sam, ada, alan, audrey = login("sam"), login("ada"), login("alan"), login("audrey")

    # The four agencies, by an admin.
    for code, name in [
        ("DOC", "Department of Commerce"),
        ("ONCD", "Office of the National Cyber Director"),
        ("OSTP", "Office of Science and Technology Policy"),
        ("CAISI", "Center for AI Standards and Innovation"),
    ]:
        ok(ada.post(f"{API}/agencies/", {"code": code, "name": name}, format="json"), 201)
    assert [a["code"] for a in results(audrey.get(f"{API}/agencies/"))] == [
        "CAISI",
        "DOC",
        "ONCD",
        "OSTP",
    ]

    # A release, submitted for review.
    release = ok(
        sam.post(
            f"{API}/releases/",
            {"slug": "frontier-5", "name": "Frontier 5", "artifact_digest": "sha256:f5"},
            format="json",
        ),
        201,
    )
    assert release["required_agencies"] == ["CAISI", "DOC", "ONCD", "OSTP"]
    assert (
        ok(sam.post(f"{API}/releases/frontier-5/submit/", {"reason": "ready"}, format="json"))[
            "status"
        ]
        == "in_review"
    )

    # Every agency approves the limited stage; three of four approve general availability.
    rows = results(sam.get(f"{API}/signoffs/?release=frontier-5&round=1"))
    assert len(rows) == 8
    for row in rows:
        if row["stage"] == "general" and row["agency"] == "ONCD":
            continue
        decided = ok(
            sam.post(
                f"{API}/signoffs/{row['id']}/decide/",
                {"decision": "approved", "evidence": f"{row['agency']} letter"},
                format="json",
            )
        )
        assert decided["status"] == "approved"

    # GA is refused, naming ONCD.
    refused = sam.post(f"{API}/releases/frontier-5/transition/", {"to": "general"}, format="json")
    assert refused.status_code == 409
    assert refused.json()["blockers"] == [
        {"kind": "signoff_missing", "agency": "ONCD", "stage": "general"}
    ]
    gate = ok(audrey.get(f"{API}/releases/frontier-5/gate/"))
    assert gate["stages"]["general"]["pending"] == ["ONCD"]
    assert gate["stages"]["general"]["approved"] == ["CAISI", "DOC", "OSTP"]

    # Limited release to an approved allowlist: proposed by staff, approved by an admin.
    us = ok(
        ada.post(f"{API}/partners/", {"name": "Acme Labs", "country": "US"}, format="json"), 201
    )
    gb = ok(
        ada.post(f"{API}/partners/", {"name": "Albion AI", "country": "GB"}, format="json"), 201
    )
    refused = sam.post(f"{API}/releases/frontier-5/transition/", {"to": "limited"}, format="json")
    assert refused.json()["blockers"] == [{"kind": "allowlist_empty"}]
    entry_us = ok(
        sam.post(f"{API}/releases/frontier-5/allowlist/", {"partner": us["id"]}, format="json"),
        201,
    )
    entry_gb = ok(
        sam.post(f"{API}/releases/frontier-5/allowlist/", {"partner": gb["id"]}, format="json"),
        201,
    )
    ok(
        ada.post(
            f"{API}/allowlist/{entry_us['id']}/decide/", {"decision": "approved"}, format="json"
        )
    )
    limited = ok(
        sam.post(
            f"{API}/releases/frontier-5/transition/",
            {"to": "limited", "reason": "preview to vetted partners"},
            format="json",
        )
    )
    assert limited["status"] == "limited"

    # A binding Commerce directive restricts foreign access: the GB partner is blocked.
    directive = ok(
        sam.post(
            f"{API}/requests/",
            {
                "agency": "DOC",
                "reference": "DOC-2026-0417",
                "kind": "restrict_foreign_access",
                "binding": True,
                "received_at": "2026-04-17T17:21:00-04:00",
                "releases": ["frontier-5"],
            },
            format="json",
        ),
        201,
    )
    assert directive["received_at"] == "2026-04-17T21:21:00+00:00"
    assert ok(sam.get(f"{API}/releases/frontier-5/"))["foreign_access_restricted"] is True
    refused = alan.post(
        f"{API}/allowlist/{entry_gb['id']}/decide/", {"decision": "approved"}, format="json"
    )
    assert refused.status_code == 409
    assert refused.json()["blockers"] == [{"kind": "foreign_partner_restricted"}]
    assert ok(audrey.get(f"{API}/releases/frontier-5/access/?partner={gb['id']}")) == {
        "allowed": False,
        "reason": "foreign_restricted",
    }
    assert ok(audrey.get(f"{API}/releases/frontier-5/access/?partner={us['id']}")) == {
        "allowed": True,
        "reason": "allowlisted",
    }
    # Lifting the restriction while the directive is in force is refused.
    refused = ada.patch(
        f"{API}/releases/frontier-5/", {"foreign_access_restricted": False}, format="json"
    )
    assert refused.json()["blockers"] == [
        {"kind": "restriction_in_force", "request": directive["id"]}
    ]

    # The auditor changes nothing; the database agrees with what the API said.
    assert audrey.post(f"{API}/releases/frontier-5/submit/", {}, format="json").status_code == 403
    stored = Release.objects.get(slug="frontier-5")
    assert (stored.status, stored.review_round, stored.foreign_access_restricted) == (
        "limited",
        1,
        True,
    )
    assert SignOff.objects.filter(release=stored, status="approved").count() == 7
    last = stored.history.latest()
    assert last.history_user == staff
    assert "foreign access restricted by DOC" in last.history_change_reason

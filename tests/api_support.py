"""Helpers for the API tests: clients that authenticate like real callers (a knox token)."""

from __future__ import annotations

import json

from rest_framework.test import APIClient

from compliance.services.users import issue_token

API = "/api/v1"


def client_for(user=None) -> APIClient:
    """An API client sending ``Authorization: Token <key>`` for ``user`` (anonymous if None)."""
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(user)}")
    return client


def refused(response, *blockers: dict | str) -> None:
    """A 409 whose body is exactly ``{"code": "rule_violation", "detail", "blockers"}`` with
    exactly ``blockers``: the same set and the same count, in any order (SPEC R8 says every
    blocker is listed, not in which order). A string stands for a blocker with no fields
    (``"allowlist_empty"`` is ``{"kind": "allowlist_empty"}``)."""
    assert response.status_code == 409, (response.status_code, response.content)
    body = response.json()
    assert set(body) == {"code", "detail", "blockers"}, body
    assert body["code"] == "rule_violation", body
    assert isinstance(body["detail"], str) and body["detail"], body
    expected = [{"kind": b} if isinstance(b, str) else b for b in blockers]
    key = lambda b: json.dumps(b, sort_keys=True)  # noqa: E731
    assert sorted(body["blockers"], key=key) == sorted(expected, key=key), body["blockers"]


def results(response) -> list:
    """The rows of a paginated list response."""
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}, body
    return body["results"]


def approve(signoffs, actor, evidence="letter on file"):
    from compliance import services

    for signoff in signoffs:
        services.decide_signoff(signoff, actor=actor, decision="approved", evidence=evidence)


def signoffs(release, stage=None, codes=None):
    from compliance.models import SignOff

    qs = SignOff.objects.filter(release=release, round=release.review_round)
    if stage:
        qs = qs.filter(stage=stage)
    if codes is not None:
        qs = qs.filter(agency__code__in=codes)
    return list(qs.order_by("pk"))


def limited_release(staff, admin, agencies, *, slug="frontier-1", partner=None):
    """A release live at the limited stage: every limited sign-off approved, one partner
    (proposed by ``staff``, approved by ``admin``) on its allowlist."""
    from compliance import services
    from tests.factories import PartnerFactory, make_release

    release = services.submit_release(
        make_release(staff, slug=slug, agencies=agencies), actor=staff
    )
    approve(signoffs(release, "limited"), staff)
    entry = services.propose_allowlist_entry(
        release, actor=staff, partner=partner or PartnerFactory()
    )
    services.decide_allowlist_entry(entry, actor=admin, decision="approved")
    return services.transition_release(release, to="limited", actor=staff, reason="preview")

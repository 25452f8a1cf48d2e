"""Helpers for the API tests: clients that authenticate like real callers (a knox token)."""

from __future__ import annotations

from rest_framework.test import APIClient

from compliance.api.auth import issue_token

API = "/api/v1"


def client_for(user=None) -> APIClient:
    """An API client sending ``Authorization: Token <key>`` for ``user`` (anonymous if None)."""
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(user)}")
    return client


def results(response) -> list:
    """The rows of a paginated list response."""
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}, body
    return body["results"]


def approve(signoffs, actor, evidence="letter on file"):
    from compliance import services

    for signoff in signoffs:
        services.decide_signoff(signoff, actor=actor, decision="approved", evidence=evidence)

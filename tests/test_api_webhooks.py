"""R31 over HTTP: the secret is shown once, bad URLs and events are 400s, the delivery log."""

from __future__ import annotations

import pytest

from compliance.models import WebhookEndpoint
from compliance.models.base import writes_without_history
from compliance.notifications import webhooks
from tests.api_support import API, client_for, results


@pytest.fixture(autouse=True)
def _loopback(settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]


def test_secret_is_shown_on_create_and_rotate_only(admin_user):
    api = client_for(admin_user)
    created = api.post(f"{API}/webhooks/", {"url": "http://127.0.0.1:9/h", "events": []})
    assert created.status_code == 201
    body = created.json()
    assert body["secret"].startswith("whsec_")
    assert set(body) == {
        "id", "url", "events", "description", "active", "disabled_reason",
        "secret_rotated_at", "created_at", "secret",
    }  # fmt: skip
    shown = api.get(f"{API}/webhooks/{body['id']}/").json()
    assert "secret" not in shown and shown["events"] == [] and shown["active"] is True
    rotated = api.post(f"{API}/webhooks/{body['id']}/rotate-secret/").json()
    assert rotated["secret"] != body["secret"]
    assert WebhookEndpoint.objects.get().secret == rotated["secret"]


def test_bad_input_is_400_on_its_field(admin_user, settings):
    api = client_for(admin_user)
    unknown = api.post(f"{API}/webhooks/", {"url": "http://127.0.0.1:9/h", "events": ["nope"]})
    assert unknown.status_code == 400 and set(unknown.json()) == {"events"}
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    private = api.post(f"{API}/webhooks/", {"url": "http://127.0.0.1:9/h"})
    assert private.status_code == 400 and set(private.json()) == {"url"}
    assert "loopback, link-local or private" in private.json()["url"][0]
    assert not WebhookEndpoint.objects.exists()


def test_test_ping_and_the_delivery_log(admin_user, django_capture_on_commit_callbacks):
    api = client_for(admin_user)
    hook = api.post(f"{API}/webhooks/", {"url": "http://127.0.0.1:9/h"}).json()
    with django_capture_on_commit_callbacks(execute=False):
        queued = api.post(f"{API}/webhooks/{hook['id']}/test/")
    assert queued.status_code == 202 and queued.json()["event"] == "ping"
    webhooks.deliver(queued.json()["id"])  # port 9: connection refused
    [row] = results(api.get(f"{API}/webhooks/{hook['id']}/deliveries/"))
    assert {k: row[k] for k in ("event", "status", "attempts", "response_status")} == {
        "event": "ping",
        "status": "pending",
        "attempts": 1,
        "response_status": None,
    }
    assert row["last_attempt_at"].endswith("+00:00") and len(row["log"]) == 1
    assert "ConnectionError" in row["log"][0]["error"]


def test_reenabling_clears_the_reason(admin_user):
    api = client_for(admin_user)
    hook = api.post(f"{API}/webhooks/", {"url": "http://127.0.0.1:9/h"}).json()
    with writes_without_history():  # as a failed delivery leaves it
        WebhookEndpoint.objects.filter(pk=hook["id"]).update(active=False, disabled_reason="x")
    again = api.patch(f"{API}/webhooks/{hook['id']}/", {"active": True}).json()
    assert (again["active"], again["disabled_reason"]) == (True, "")

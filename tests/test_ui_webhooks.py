"""Webhook pages (R31): admins register, see the secret once, ping, read deliveries."""

from __future__ import annotations

import pytest

from compliance.models import WebhookDelivery, WebhookEndpoint


@pytest.fixture(autouse=True)
def _loopback(settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]


def test_admin_registers_sees_the_secret_once_and_pings(client, admin_user):
    client.force_login(admin_user)
    response = client.post(
        "/webhooks/",
        {"url": "http://127.0.0.1:9/hook", "description": "SIEM", "events": ["signoff.decided"]},
        follow=True,
    )
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.events == ["signoff.decided"] and endpoint.description == "SIEM"
    assert endpoint.secret in response.content.decode()
    again = client.get(f"/webhooks/{endpoint.pk}/").content.decode()
    assert endpoint.secret not in again and "Signing secret" not in again

    client.post(f"/webhooks/{endpoint.pk}/test/")
    assert WebhookDelivery.objects.get().event == "ping"
    page = client.get(f"/webhooks/{endpoint.pk}/").content.decode()
    assert "ping" in page and "not yet attempted" in page

    old = endpoint.secret
    shown = client.post(f"/webhooks/{endpoint.pk}/rotate-secret/", follow=True).content.decode()
    endpoint.refresh_from_db()
    assert endpoint.secret != old and endpoint.secret in shown


def test_a_private_url_is_a_form_error_and_nothing_is_saved(client, admin_user, settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    client.force_login(admin_user)
    response = client.post("/webhooks/", {"url": "http://10.0.0.5/hook"})
    assert response.status_code == 400
    assert "loopback, link-local or private" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize("who", ["staff", "auditor"])
def test_only_admins(client, who, staff, auditor):
    client.force_login({"staff": staff, "auditor": auditor}[who])
    assert client.get("/webhooks/").status_code == 403
    assert client.post("/webhooks/", {"url": "http://127.0.0.1:9/x"}).status_code == 403
    assert not WebhookEndpoint.objects.exists()

"""R31: an endpoint disabled after its last failed delivery is the ``webhook_disabled``
alert, in ``GET /api/v1/alerts/``, on the dashboard and in every admin's sweep digest,
until an admin re-enables it. (The delivery path that disables it is tested in
test_notifications_webhooks.py; here it is disabled by the same service.)"""

from __future__ import annotations

import pytest
from django.core import mail

from compliance import services
from compliance.models import Reminder
from compliance.notifications.sweep import run_sweep
from compliance.services.webhooks import disable_failed_endpoint
from tests.api_support import API, client_for, results

pytestmark = pytest.mark.django_db
URL = "http://127.0.0.1:9/hook"


@pytest.fixture
def endpoint(settings, admin_user):
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    settings.SITE_URL = "https://clearance.example"
    endpoint, _secret = services.create_webhook(actor=admin_user, url=URL, description="SIEM")
    return endpoint


def _disable_after_failures(endpoint):
    return disable_failed_endpoint(endpoint, reason="3 attempts of ping failed; last: HTTP 503")


def _alerts(user) -> list[dict]:
    resp = client_for(user).get(f"{API}/alerts/")
    assert resp.status_code == 200, resp.content
    return [a for a in results(resp) if a["kind"] == "webhook_disabled"]


def test_a_failed_endpoint_is_an_alert_until_re_enabled(endpoint, admin_user, auditor):
    assert _alerts(admin_user) == []
    _disable_after_failures(endpoint)
    expected = [
        {
            "kind": "webhook_disabled",
            "webhook": endpoint.pk,
            "detail": f"webhook {URL} was disabled after its last failed delivery (3 attempts "
            "of ping failed; last: HTTP 503); re-enable it once the receiver is fixed",
        }
    ]
    assert _alerts(admin_user) == expected
    assert _alerts(auditor) == expected  # alerts are readable by every role, as R16's
    services.update_webhook(endpoint, actor=admin_user, active=True, reason="receiver fixed")
    assert _alerts(admin_user) == []


def test_an_endpoint_an_admin_switched_off_raises_no_alert(endpoint, admin_user):
    services.update_webhook(endpoint, actor=admin_user, active=False, reason="maintenance")
    assert _alerts(admin_user) == []


def test_the_alert_goes_to_every_admin_in_the_sweep_digest(endpoint, admin_user, admin2, staff):
    _disable_after_failures(endpoint)
    mail.outbox.clear()
    run_sweep()
    bodies = {m.to[0]: m.body for m in mail.outbox}
    assert set(bodies) == {admin_user.email, admin2.email}  # admins only
    for body in bodies.values():
        assert f"webhook {URL} was disabled after its last failed delivery" in body
        assert f"https://clearance.example/webhooks/{endpoint.pk}/" in body
    keys = [i["key"] for i in Reminder.objects.get(recipient=admin_user).items]
    assert keys == [f"alert:webhook_disabled:{endpoint.pk}"]

    services.update_webhook(endpoint, actor=admin_user, active=True)
    mail.outbox.clear()
    run_sweep()
    assert all("was disabled after" not in m.body for m in mail.outbox)


def test_the_dashboard_shows_it_with_a_link_to_the_endpoint(client, endpoint, admin_user):
    _disable_after_failures(endpoint)
    client.force_login(admin_user)
    page = client.get("/").content.decode()
    assert f"webhook {URL} was disabled after its last failed delivery" in page
    assert f'href="/webhooks/{endpoint.pk}/"' in page

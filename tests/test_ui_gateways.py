"""Gateway pages (R25–R30): admins register a gateway and see its token once; the request
page says when its access changes were enforced; the release page lists each gateway."""

from __future__ import annotations

from datetime import timedelta

import time_machine

from compliance import clock, services
from compliance.models import Gateway
from compliance.selectors import access_revision
from tests import factories
from tests.helpers import directive, limited


def test_admin_registers_a_gateway_on_the_page(client, admin_user, auditor):
    client.force_login(admin_user)
    response = client.post("/gateways/register/", {"name": "gw-us-east"})
    assert response.status_code == 201
    page = response.content.decode()
    assert "Gateway gw-us-east registered" in page and "shown this once" in page
    assert Gateway.objects.filter(name="gw-us-east").exists()
    again = client.get("/gateways/").content.decode()
    assert "gw-us-east" in again and "shown this once" not in again
    assert client.post("/gateways/register/", {"name": "gw-us-east"}).status_code == 400
    client.force_login(auditor)
    assert client.get("/gateways/").status_code == 200
    assert client.post("/gateways/register/", {"name": "gw-2"}).status_code == 403


def test_a_gateway_user_gets_no_page(client, admin_user):
    gateway, _token = services.create_gateway(actor=admin_user, name="gw-us-east")
    client.force_login(gateway.user)
    for url in ("/", "/releases/", "/gateways/", "/requests/"):
        assert client.get(url).status_code == 403, url


def test_request_and_release_pages_say_enforced(client, agencies, staff, admin_user):
    release = services.submit_release(
        factories.make_release(staff, slug="atlas-1", agencies=agencies), actor=staff
    )
    release = limited(release, staff, admin_user)
    east, _ = services.create_gateway(actor=admin_user, name="gw-us-east")
    west, _ = services.create_gateway(actor=admin_user, name="gw-eu-west")
    received = clock.now().replace(hour=22, minute=21, second=0, microsecond=0) - timedelta(days=1)
    day = f"{received.day} {received:%b %Y}"  # the lines are dated: changes can span days
    req = directive(staff, agencies[1], "suspend_access", [release], received_at=received)
    with time_machine.travel(received + timedelta(minutes=19), tick=False):
        services.transition_release(release, to="suspended", actor=staff, reason="directive")
    revision = access_revision()
    with time_machine.travel(received + timedelta(minutes=19, seconds=2), tick=False):
        services.record_receipt(east, actor=east.user, revision=revision)
    client.force_login(staff)
    page = client.get(f"/requests/{req.pk}/").content.decode()
    assert "enforced by 1/2 gateways so far, waiting for gw-eu-west" in page
    services.record_receipt(east, actor=east.user, revision=revision)  # seen now (a heartbeat)
    states = client.get("/releases/atlas-1/").content.decode()
    assert "gw-us-east: enforcing" in states
    assert "gw-eu-west: behind by" in states
    assert (
        f"Latest access change {day}, 22:40 UTC (revision {revision}): enforced by 1/2 "
        "gateways so far, waiting for gw-eu-west"
    ) in states
    with time_machine.travel(received + timedelta(minutes=19, seconds=3), tick=False):
        services.record_receipt(west, actor=west.user, revision=revision)
    page = client.get(f"/requests/{req.pk}/").content.decode()
    assert (
        f"atlas-1: received {day}, 22:21 UTC · suspended {day}, 22:40 UTC · "
        f"enforced by 2/2 gateways {day}, 22:40:03 UTC"
    ) in page
    assert "Time to enforce: 19 min (1,143 s) after it was received" in page
    states = client.get("/releases/atlas-1/").content.decode()
    assert (
        f"Latest access change {day}, 22:40 UTC (revision {revision}): enforced by 2/2 "
        f"gateways {day}, 22:40:03 UTC"
    ) in states


def test_the_dashboard_shows_gateway_alerts(client, admin_user, settings):
    settings.GATEWAY_SILENT_SECONDS = 0
    services.create_gateway(actor=admin_user, name="gw-us-east")
    client.force_login(admin_user)
    page = client.get("/").content.decode()
    assert "gateway gw-us-east has not been seen since never" in page
    assert 'href="/gateways/">Open gateways' in page

"""clients/gateway.py as a separate process against a live ASGI server (uvicorn) on
PostgreSQL: a suspension reaches it and it denies within a second, its receipt arrives and
makes the change enforced; a cut stream is resumed by Last-Event-ID without missing a
change; without word from Clearance it fails closed after --max-stale."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import urllib.request

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from compliance import clock, services
from compliance.audit.verify import verify_chain
from compliance.enforcement import gateway_alerts, lag_limit, release_enforcement
from compliance.models import Gateway
from compliance.selectors import access_revision
from tests import factories
from tests.api_support import limited_release
from tests.asgi_support import ROOT, LiveASGI, free_port, wait_for_port
from tests.helpers import general

User = get_user_model()
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
MAX_STALE = 3


def wait_until(predicate, timeout: float, step: float = 0.05) -> float:
    """Seconds until ``predicate()`` held; fails after ``timeout``."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"not within {timeout} s")
        time.sleep(step)
    return time.monotonic() - start


def seconds_since(moment: float, predicate, timeout: float, step: float = 0.02) -> float:
    """Seconds from ``moment`` (monotonic) until ``predicate()`` held, its own time
    included; fails after ``timeout``."""
    wait_until(predicate, timeout, step)
    return time.monotonic() - moment


class GatewayProcess:
    """The gateway as a process; its log lines (stderr) are kept, so a test can wait for
    what it did (``wait_log``) instead of guessing how long that takes."""

    def __init__(self, url: str, token: str, name: str) -> None:
        self.port = free_port()
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "clients" / "gateway.py"),
                "--url",
                url,
                "--token",
                token,
                "--name",
                name,
                "--listen",
                f"127.0.0.1:{self.port}",
                "--max-stale",
                str(MAX_STALE),
                "--report-every",
                "1",
            ],
            stderr=subprocess.PIPE,
            text=True,
        )
        threading.Thread(target=self._read_log, daemon=True).start()
        wait_for_port(self.port, 30)

    def _read_log(self) -> None:
        for line in self.process.stderr:
            sys.stderr.write(line)  # still shown with the test's output
            self.lines.append(line)

    def wait_log(self, text: str, timeout: float, after: int = 0) -> int:
        """Waits for a log line containing ``text`` among the lines from ``after`` on;
        returns the number of lines read by then."""
        wait_until(lambda: any(text in line for line in self.lines[after:]), timeout)
        return len(self.lines)

    def answer(self, partner: int, release: str) -> dict:
        url = f"http://127.0.0.1:{self.port}/allowed?partner={partner}&release={release}"
        with urllib.request.urlopen(url, timeout=5) as response:
            return json.loads(response.read())

    def allowed(self, partner: int, release: str) -> bool:
        return self.answer(partner, release)["allowed"]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)
        self.process.stderr.close()


@pytest.fixture
def world():
    for role in ("staff", "admin", "gateway"):
        Group.objects.get_or_create(name=role)
    staff = factories.UserFactory(username="sam", role="staff")
    admin = factories.UserFactory(username="ada", role="admin")
    admin2 = factories.UserFactory(username="alan", role="admin")
    agencies = [factories.AgencyFactory(code=c) for c in ("DOC", "ONCD")]
    partner = factories.PartnerFactory(country="US")
    atlas = limited_release(staff, admin2, agencies, slug="atlas-1", partner=partner)
    wide = []
    for slug in ("g-1", "g-2"):
        release = services.submit_release(
            factories.make_release(staff, slug=slug, agencies=agencies), actor=staff
        )
        wide.append(general(release, staff))
    gateway, token = services.create_gateway(actor=admin, name="gw-us-east")
    return staff, partner.pk, atlas, wide, token


def test_reference_gateway_enforces_resumes_and_fails_closed(world):
    staff, partner, atlas, (g1, g2), token = world
    server = LiveASGI(STREAM_HEARTBEAT_SECONDS="0.5").start()
    gateway = GatewayProcess(server.url, token, "gw-us-east")
    try:
        wait_until(lambda: gateway.allowed(partner, "atlas-1"), 30)
        assert gateway.allowed(partner, "g-2") and not gateway.allowed(partner + 1, "atlas-1")
        # Subscribed (the server answers the stream only once the subscription is in): from
        # here on, a commit is pushed to it. Before, a change would reach it by the catch-up
        # of a stream still connecting, which a loaded machine may take more than 1 s to do.
        gateway.wait_log("stream connected", 30)

        # A suspension: denied within a second of its commit, receipt reported, the change
        # enforced.
        committed: list[float] = []
        with transaction.atomic():
            services.transition_release(atlas, to="suspended", actor=staff, reason="BIS directive")
            transaction.on_commit(lambda: committed.append(time.monotonic()))
        revision = access_revision()
        deny = seconds_since(committed[0], lambda: not gateway.allowed(partner, "atlas-1"), 1.0)
        assert deny < 1.0
        wait_until(lambda: Gateway.objects.get().applied_revision >= revision, 10)
        enforcement = release_enforcement(atlas)
        assert enforcement["revision"] == revision and enforcement["pending"] == []
        assert enforcement["enforced_at"] is not None
        assert verify_chain()["ok"] is True

        # The stream is cut; a change is committed meanwhile; the gateway resumes from
        # its Last-Event-ID and misses nothing.
        server.stop()
        services.transition_release(g2, to="suspended", actor=staff, reason="while down")
        missed = access_revision()
        server.start()  # meanwhile it failed closed (stale); fresh again once resumed
        # Until it reconnects it may answer from what it had (within --max-stale) or fail
        # closed; once resumed it has the change committed while it was cut off.
        answers: list[dict] = []
        wait_until(
            lambda: (
                answers.append(gateway.answer(partner, "g-2"))
                or (answers[-1]["revision"] >= missed)
            ),
            30,
        )
        # The first answer at or past the missed revision (allowed, revision and staleness
        # read together): the change made while it was cut off is in, and it is current.
        assert answers[-1] == {
            "allowed": False,
            "revision": answers[-1]["revision"],
            "stale": False,
        }
        assert answers[-1]["revision"] >= missed

        # Clearance goes away: after --max-stale the gateway denies everything.
        server.stop()
        wait_until(lambda: gateway.answer(partner, "g-1")["stale"], MAX_STALE + 3)
        assert gateway.answer(partner, "g-1") == {
            "allowed": False,
            "revision": gateway.answer(partner, "g-1")["revision"],
            "stale": True,
        }
    finally:
        gateway.stop()
        server.stop()


def test_an_access_change_that_alters_no_answer_is_reported_and_lags_no_gateway(world):
    """R30: a partner approved on a suspended release changes no answer (nobody may use
    it), so no feed entry differs; the stream still announces its revision, the gateway
    reports it, the change counts as enforced (R29) and no gateway lags on it."""
    staff, _partner, atlas, _wide, token = world
    services.transition_release(atlas, to="suspended", actor=staff, reason="BIS directive")
    entry = services.propose_allowlist_entry(
        atlas, actor=staff, partner=factories.PartnerFactory(country="US")
    )
    server = LiveASGI(STREAM_HEARTBEAT_SECONDS="0.5").start()
    gateway = GatewayProcess(server.url, token, "gw-us-east")
    try:
        gateway.wait_log("stream connected", 30)
        wait_until(lambda: Gateway.objects.get().applied_revision > 0, 10)
        services.decide_allowlist_entry(
            entry, actor=User.objects.get(username="alan"), decision="approved"
        )
        revision = access_revision()
        assert release_enforcement(atlas)["revision"] == revision  # an access change (R29)
        wait_until(lambda: Gateway.objects.get().applied_revision >= revision, 10)
        enforcement = release_enforcement(atlas)
        assert enforcement["pending"] == [] and enforcement["enforced_at"] is not None
        later = clock.now() + 2 * lag_limit()
        assert [a for a in gateway_alerts(later) if a["kind"] == "gateway_lagging"] == []
        assert not gateway.allowed(entry.partner_id, "atlas-1")  # still suspended

        # The same while the gateway is cut off: its catch-up brings no entry, but says an
        # access change is in it, and the gateway reports it once reconnected.
        another = services.propose_allowlist_entry(
            atlas, actor=staff, partner=factories.PartnerFactory(country="US")
        )
        server.stop()
        services.decide_allowlist_entry(
            another, actor=User.objects.get(username="alan"), decision="approved"
        )
        missed = access_revision()
        server.start()
        wait_until(lambda: Gateway.objects.get().applied_revision >= missed, 30)
        assert release_enforcement(atlas)["revision"] == missed
        assert release_enforcement(atlas)["pending"] == []
    finally:
        gateway.stop()
        server.stop()

"""R27 stream under a real ASGI server (uvicorn subprocess) on PostgreSQL: a commit reaches a
connected subscriber within 1 s, heartbeats, Last-Event-ID resume, and many idle subscribers
held without a thread or a database connection each."""

from __future__ import annotations

import time

import pytest
from django.contrib.auth.models import Group
from django.db import connection

from compliance import services
from compliance.api.auth import issue_token
from compliance.selectors import access_revision
from tests import factories
from tests.api_support import limited_release
from tests.asgi_support import LIVE_DB_POOL, SSE, LiveASGI

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
IDLE_SUBSCRIBERS = 200  # make bench holds 1,000 (docs/benchmarks.md)


@pytest.fixture
def people():
    for role in ("staff", "admin", "auditor", "gateway"):
        Group.objects.get_or_create(name=role)
    staff = factories.UserFactory(username="sam", role="staff")
    admin = factories.UserFactory(username="ada", role="admin")
    admin2 = factories.UserFactory(username="alan", role="admin")
    agencies = [factories.AgencyFactory(code=c) for c in ("DOC", "ONCD")]
    release = limited_release(staff, admin2, agencies, slug="atlas-1")
    gateway, token = services.create_gateway(actor=admin, name="gw-us-east")
    return staff, admin, release, token


@pytest.fixture
def server():
    live = LiveASGI(STREAM_HEARTBEAT_SECONDS="0.5").start()
    yield live
    live.stop()


def _backends(application_name: str) -> int:
    """The live server's database sessions (not autovacuum's, nor this test's own)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name = %s",
            [application_name],
        )
        return cursor.fetchone()[0]


def test_a_commit_reaches_the_subscriber_within_a_second_and_heartbeats_flow(people, server):
    staff, admin, release, token = people
    stream = SSE(server.url, token)
    assert stream.status == 200
    [(kind, ident, data)] = stream.until("revision")
    # A first connection (no Last-Event-ID): nothing to report yet but the revision.
    assert (kind, ident, data) == (
        "revision",
        access_revision(),
        {"revision": ident, "access_changed": False},
    )
    assert stream.next_event()[0] == "comment"  # a heartbeat within the shortened interval

    services.transition_release(release, to="suspended", actor=staff, reason="directive")
    committed = time.monotonic()
    events = stream.until("revision")
    elapsed = time.monotonic() - committed
    revision = access_revision()
    assert events == [
        (
            "release",
            revision,
            {
                "release": "atlas-1",
                "status": "suspended",
                "open_to": "nobody",
                "us_only": False,
                "allowed_partners": [],
            },
        ),
        ("revision", revision, {"revision": revision, "access_changed": True}),
    ]
    assert elapsed < 1.0, elapsed
    stream.close()


def _word(revision: int, *, access_changed: bool) -> tuple:
    """A batch's closing ``event: revision``, as the stream reader returns it."""
    return ("revision", revision, {"revision": revision, "access_changed": access_changed})


def _catch_up(server, token, last_event_id: int) -> list[tuple]:
    """The events of a stream resumed after ``last_event_id``, up to its first batch's end."""
    stream = SSE(server.url, token, last_event_id=last_event_id)
    try:
        return stream.until("revision")
    finally:
        stream.close()


def test_resume_with_last_event_id_and_refusals(people, server):
    staff, admin, release, token = people
    before = access_revision()
    services.transition_release(release, to="suspended", actor=staff, reason="directive")
    services.update_release(release, actor=staff, description="no access change")
    stream = SSE(server.url, token, last_event_id=before)
    events = stream.until("revision")
    assert [(k, d.get("release")) for k, _i, d in events] == [
        ("release", "atlas-1"),
        ("revision", None),
    ]
    assert events[-1][1] == access_revision() and events[-1][2]["access_changed"] is True
    stream.close()
    same = SSE(server.url, token, query=f"?since={before}")
    assert [k for k, _i, _d in same.until("revision")] == ["release", "revision"]
    same.close()
    # Only writes that change no access since then: nothing to report on resuming.
    after = access_revision()
    services.update_release(release, actor=staff, description="still no access change")
    assert _catch_up(server, token, after) == [_word(access_revision(), access_changed=False)]
    # An access change that alters no entry, committed while cut off (a partner approved on
    # the suspended release): the catch-up has no entry but says so, for the receipt.
    entry = services.propose_allowlist_entry(
        release, actor=staff, partner=factories.PartnerFactory(country="US")
    )
    cut_off = access_revision()
    services.decide_allowlist_entry(entry, actor=admin, decision="approved")
    assert _catch_up(server, token, cut_off) == [_word(access_revision(), access_changed=True)]
    assert SSE(server.url, None).status == 401
    assert SSE(server.url, "not-a-token").status == 401
    nobody = factories.UserFactory(username="nora")
    assert SSE(server.url, issue_token(nobody)).status == 403
    assert SSE(server.url, token, query="?since=abc").status == 400


def test_idle_subscribers_hold_no_thread_and_no_connection_each(people, server):
    staff, admin, release, token = people
    first = SSE(server.url, token)
    first.until("revision")
    threads = server.threads()
    streams = [SSE(server.url, token) for _ in range(IDLE_SUBSCRIBERS)]
    for s in streams:
        s.until("revision")
    assert server.threads() <= threads + 2, (threads, server.threads())
    # At most the server's pool (it may grow to its size meanwhile) and the hub's LISTEN.
    assert _backends(server.application_name) <= int(LIVE_DB_POOL) + 1, (
        "a database connection per subscriber"
    )
    services.transition_release(release, to="suspended", actor=staff, reason="directive")
    committed = time.monotonic()
    for s in streams:
        assert s.until("revision")[0][2]["status"] == "suspended"
    assert time.monotonic() - committed < 5
    for s in [first, *streams]:
        s.close()

"""DB_POOL under the ASGI server (issue 15): uvicorn runs each request's sync code in a thread
of its own, so without a pool nearly every request opens a PostgreSQL connection; with
``DB_POOL=N`` the server reuses at most N, also when more requests run at once than it has
connections (they wait for one), and answers as before."""

from __future__ import annotations

import http.client
import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.contrib.auth.models import Group
from django.db import connection

from compliance import services
from tests import factories
from tests.asgi_support import LiveASGI

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
SEQUENTIAL, CONCURRENT, AT_ONCE = 24, 24, 8


def _sessions() -> int:
    """Sessions ever opened on the test database (PostgreSQL's own count)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        return cursor.fetchone()[0]


def _opened_since(before: int, at_least: int | None) -> int:
    """Sessions opened since ``before``: PostgreSQL counts a session a moment after its
    start, later on a busy machine. With ``at_least``, wait (up to 15 s) until that many
    are counted; else give late counts 3 s to arrive (they can only add)."""
    deadline = time.monotonic() + (15 if at_least is not None else 3)
    while True:
        opened = _sessions() - before
        if (at_least is not None and opened >= at_least) or time.monotonic() > deadline:
            return opened
        time.sleep(0.1)


def _evaluate(url: str, token: str, partner: int) -> tuple[int, dict]:
    conn = http.client.HTTPConnection(url.split("//", 1)[1], timeout=30)
    body = {
        "subject": {"type": "partner", "id": str(partner)},
        "resource": {"type": "release", "id": "r-draft"},
        "action": {"name": "use"},
    }
    conn.request(
        "POST",
        "/access/v1/evaluation",
        body=json.dumps(body),
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
    )
    response = conn.getresponse()
    answer = (response.status, json.loads(response.read()))
    conn.close()
    return answer


@pytest.mark.parametrize(("pool", "pooled"), [("2", True), ("0", False)])
def test_the_asgi_server_reuses_at_most_db_pool_connections(pool, pooled):
    for role in ("staff", "admin", "gateway"):
        Group.objects.get_or_create(name=role)
    staff = factories.UserFactory(username="sam", role="staff")
    admin = factories.UserFactory(username="ada", role="admin")
    factories.make_release(staff, slug="r-draft", agencies=[factories.AgencyFactory(code="DOC")])
    partner = factories.PartnerFactory(country="US").pk
    _gateway, token = services.create_gateway(actor=admin, name="gw-us-east")
    server = LiveASGI(DB_POOL=pool).start()
    try:
        assert _evaluate(server.url, token, partner)[0] == 200  # the pool opens
        time.sleep(1.5)  # PostgreSQL counts a session within a second of its start
        before = _sessions()
        answers = [_evaluate(server.url, token, partner) for _ in range(SEQUENTIAL)]
        with ThreadPoolExecutor(AT_ONCE) as pool_of_clients:
            answers += pool_of_clients.map(
                lambda _i: _evaluate(server.url, token, partner), range(CONCURRENT)
            )
        opened = _opened_since(before, at_least=None if pooled else SEQUENTIAL)
    finally:
        server.stop()
    assert {status for status, _ in answers} == {200}
    assert {(a["decision"], a["context"]["reason"]) for _, a in answers} == {
        (False, "not_released")
    }
    if pooled:  # (the pool's own two, should PostgreSQL count them late)
        assert opened <= int(pool), f"{opened} new connections for {len(answers)} requests"
    else:  # the control: what the pool saves, so the check above can fail
        assert opened >= SEQUENTIAL, opened

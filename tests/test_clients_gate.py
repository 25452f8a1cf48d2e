"""clients/clearance_gate.py as a pipeline runs it: a real subprocess against a live server."""

from __future__ import annotations

import hashlib
import http.server
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from compliance.api.auth import issue_token
from tests.asgi_support import free_port
from tests.helpers import at_status

GATE = Path(__file__).resolve().parent.parent / "clients" / "clearance_gate.py"
WEIGHTS = b"reviewed weights"
DIGEST = "sha256:" + hashlib.sha256(WEIGHTS).hexdigest()

pytestmark = pytest.mark.django_db(transaction=True)


def gate(url: str, token: str, *args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(GATE), "--url", url, *args],
        env={"CLEARANCE_TOKEN": token, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def world(staff, admin_user, auditor, agencies):
    at_status("limited", staff, admin_user, agencies, artifact_digest=DIGEST)
    return issue_token(auditor)


def test_allowed_with_the_reviewed_artifact(live_server, world, tmp_path):
    artifact = tmp_path / "model.safetensors"
    artifact.write_bytes(WEIGHTS)
    run = gate(
        live_server.url, world, "--release", "frontier-1", "--stage", "limited",
        "--artifact", str(artifact),
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("ALLOWED: frontier-1 @ limited (status limited, revision ")


def test_refused_with_every_blocker_in_words(live_server, world):
    run = gate(live_server.url, world, "--release", "frontier-1", "--stage", "general")
    assert run.returncode == 1, run.stderr
    assert run.stderr.splitlines()[1:] == [
        "  - the release is limited: it is not released at the general stage",
        "  - the release names its reviewed digest: pass --digest or --artifact",
    ]


def test_wrong_digest_is_refused(live_server, world):
    run = gate(
        live_server.url, world, "--release", "frontier-1", "--stage", "limited",
        "--digest", "sha256:" + "0" * 64,
    )  # fmt: skip
    assert run.returncode == 1
    assert run.stderr.splitlines()[1:] == [
        "  - the artifact's digest is not the one the agencies reviewed"
    ]


def test_a_refused_token_or_unknown_release_cannot_tell(live_server, world):
    bad_token = gate(
        live_server.url,
        "not-a-token",
        "--release",
        "frontier-1",
        "--stage",
        "limited",
        "--digest",
        DIGEST,
    )
    assert bad_token.returncode == 2 and "HTTP 401" in bad_token.stderr
    unknown = gate(
        live_server.url, world, "--release", "nope", "--stage", "limited", "--digest", DIGEST
    )
    assert unknown.returncode == 2 and "HTTP 404" in unknown.stderr


def test_server_stopped_fails_closed(db):
    run = gate(f"http://127.0.0.1:{free_port()}", "t", "--release", "r", "--stage", "general",
               "--retries", "1")  # fmt: skip
    assert run.returncode == 2
    assert "CANNOT TELL (failing closed): Clearance is unreachable" in run.stderr


class _Answer500(http.server.BaseHTTPRequestHandler):
    calls = 0

    def do_GET(self):  # noqa: N802 (http.server's name)
        type(self).calls += 1
        self.send_response(503)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_server_errors_are_retried_then_fail_closed(db):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Answer500)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        run = gate(url, "t", "--release", "r", "--stage", "general", "--retries", "1")
    finally:
        server.shutdown()
    assert run.returncode == 2 and "HTTP 503" in run.stderr
    assert _Answer500.calls == 2


def test_a_server_that_never_answers_times_out_closed(db):
    with socket.socket() as listener:  # accepts connections (backlog) and never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        run = gate(url, "t", "--release", "r", "--stage", "general", "--timeout", "0.5",
                   "--retries", "0")  # fmt: skip
    assert run.returncode == 2 and "unreachable" in run.stderr

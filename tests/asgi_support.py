"""A real ASGI server (uvicorn, a subprocess) on the test database, and a small SSE reader:
the stream and the reference gateway are tested against what production runs."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_database_url() -> str:
    db = settings.DATABASES["default"]
    auth = db.get("USER") or "postgres"
    if db.get("PASSWORD"):
        auth += f":{db['PASSWORD']}"
    return (
        f"postgres://{auth}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"
    )


def wait_for_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), 0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on {port}")


# The live server's connection pool (DB_POOL, as production's ASGI server runs): at most this
# many PostgreSQL connections per live server, plus the stream's LISTEN connection.
LIVE_DB_POOL = "4"


class LiveASGI:
    """``uvicorn config.asgi:application`` on the test database; start, stop, restart. Its
    database connections carry ``application_name`` ``clearance-live-<port>``."""

    def __init__(self, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.application_name = f"clearance-live-{self.port}"
        self.env = {
            **os.environ,
            "DATABASE_URL": f"{test_database_url()}?application_name={self.application_name}",
            "DJANGO_SETTINGS_MODULE": "config.test_settings",
            "DB_POOL": LIVE_DB_POOL,
            "CLEARANCE_LIVE_SERVER": "1",
            **env,
        }
        self.process: subprocess.Popen | None = None

    def start(self) -> LiveASGI:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "config.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            cwd=ROOT,
            env=self.env,
        )
        wait_for_port(self.port)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None

    def threads(self) -> int:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(
            next(line.split()[1] for line in status.splitlines() if line.startswith("Threads:"))
        )


class SSE:
    """One stream connection; ``next_event()`` returns (event, id, data) or ("comment", …)."""

    def __init__(
        self,
        url: str,
        token: str | None,
        *,
        last_event_id: int | None = None,
        query: str = "",
        timeout: float = 10,
    ) -> None:
        host_port = url.split("//", 1)[1]
        self.conn = http.client.HTTPConnection(host_port, timeout=timeout)
        headers = {"Accept": "text/event-stream"}
        if token:
            headers["Authorization"] = f"Token {token}"
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        self.conn.request("GET", "/api/v1/entitlements/stream/" + query, headers=headers)
        self.response = self.conn.getresponse()
        self.status = self.response.status

    def next_event(self) -> tuple[str, int | None, object]:
        kind, ident, data = "message", None, []
        while True:
            line = self.response.readline().decode().rstrip("\r\n")
            if line.startswith(":"):
                return "comment", None, line
            if line == "" and (data or kind != "message"):
                return kind, ident, json.loads("\n".join(data)) if data else None
            field, _, value = line.partition(": ")
            if field == "event":
                kind = value
            elif field == "id":
                ident = int(value)
            elif field == "data":
                data.append(value)

    def until(self, kind: str) -> list:
        """Every event up to and including the next one of ``kind`` (comments skipped)."""
        out = []
        while True:
            event = self.next_event()
            if event[0] == "comment":
                continue
            out.append(event)
            if event[0] == kind:
                return out

    def close(self) -> None:
        self.conn.close()

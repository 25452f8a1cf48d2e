#!/usr/bin/env python3
"""Clearance reference gateway (R25–R30): standard library only, no Django.

It keeps the entitlement feed in memory (a snapshot, then the Server-Sent Events stream,
resumed with ``Last-Event-ID`` after any cut), answers ``allowed(partner, release)`` from
memory, reports a receipt after applying each change (and every ``--report-every`` seconds,
so Clearance sees it alive), and FAILS CLOSED: after ``--max-stale`` seconds without word
from Clearance (an event or a heartbeat comment), every answer is "no".

    python clients/gateway.py --url http://127.0.0.1:8000 --token TOKEN --name gw-us-east \\
        [--listen 127.0.0.1:9100] [--max-stale 30] [--report-every 30]

With ``--listen``, it answers ``GET /allowed?partner=<id>&release=<slug>`` with
``{"allowed", "revision", "stale"}`` (what a model-serving proxy would ask it in-process)."""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def log(message: str) -> None:
    print(f"gateway: {message}", file=sys.stderr, flush=True)


class Gateway:
    def __init__(self, url: str, token: str, name: str, *, max_stale: float, report_every: float):
        self.url = url.rstrip("/")
        self.token = token
        self.name = name
        self.max_stale = max_stale
        self.report_every = report_every
        self.lock = threading.Lock()
        self.entries: dict[str, dict] = {}
        self.revision = 0  # everything up to it is applied
        self.reported = -1
        self.last_word = float("-inf")  # monotonic time of the last word from Clearance
        self.ready = False
        self.wake = threading.Event()  # a change was applied: the reporter sends its receipt

    # --- decisions ---------------------------------------------------------------------

    def stale(self) -> bool:
        return time.monotonic() - self.last_word > self.max_stale

    def allowed(self, partner: int, release: str) -> bool:
        """From memory only: a registered partner is allowed iff it is in the release's
        ``allowed_partners``. Unknown release, not yet loaded, or stale: no."""
        return self.decide(partner, release)["allowed"]

    def decide(self, partner: int, release: str) -> dict:
        """``{"allowed", "revision", "stale"}``, all three read at one moment (under the
        lock: never a revision from after the answer, nor a staleness from before it)."""
        with self.lock:
            stale = self.stale()
            entry = self.entries.get(release)
            allowed = (
                self.ready
                and not stale
                and entry is not None
                and partner in entry["allowed_partners"]
            )
            return {"allowed": allowed, "revision": self.revision, "stale": stale}

    # --- talking to Clearance -------------------------------------------------------------

    def _request(self, method: str, path: str, body: dict | None = None, timeout: float = 10):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Authorization", f"Token {self.token}")
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=timeout) as response:
            return json.loads(response.read() or b"null")

    def load_snapshot(self) -> None:
        feed = self._request("GET", "/api/v1/entitlements/")
        with self.lock:
            self.entries = {e["release"]: e for e in feed["releases"]}
            self.revision = feed["revision"]
            self.last_word = time.monotonic()
            self.ready = True
        log(f"snapshot at revision {feed['revision']} ({len(self.entries)} releases)")

    def report(self, force: bool = False) -> None:
        """POST the receipt; ``force`` re-sends the last one (Clearance then only notes that
        it saw us: no history row)."""
        with self.lock:
            revision = self.reported if force and self.reported >= 0 else self.revision
        if revision == self.reported and not force:
            return
        try:
            self._request(
                "POST",
                f"/api/v1/gateways/{urllib.parse.quote(self.name)}/receipts/",
                {"revision": revision},
                timeout=5,
            )
            self.reported = revision
            log(f"receipt: enforcing revision {revision}")
        except (OSError, urllib.error.URLError) as exc:
            log(f"receipt for revision {revision} not delivered ({exc}); will retry")

    def stream_once(self) -> None:
        """One connection to the stream, until it ends or breaks."""
        parsed = urllib.parse.urlsplit(self.url)
        conn_class = (
            http.client.HTTPSConnection if parsed.scheme == "https" else http.client.HTTPConnection
        )
        conn = conn_class(parsed.hostname, parsed.port, timeout=max(self.max_stale, 5))
        with self.lock:
            since = self.revision
        try:
            conn.request(
                "GET",
                (parsed.path.rstrip("/") or "") + "/api/v1/entitlements/stream/",
                headers={
                    "Authorization": f"Token {self.token}",
                    "Accept": "text/event-stream",
                    "Last-Event-ID": str(since),
                },
            )
            response = conn.getresponse()
            if response.status != 200:
                raise OSError(f"stream answered {response.status}")
            log(f"stream connected, resuming after revision {since}")
            self._read_events(response)
        finally:
            conn.close()

    def _read_events(self, response) -> None:
        event, data = "message", []
        pending: list[dict] = []
        caught_up = False  # the first batch is the catch-up after connecting
        while True:
            raw = response.readline()
            if not raw:
                raise OSError("stream ended")
            line = raw.decode("utf-8").rstrip("\r\n")
            if line.startswith(":"):
                if not pending:  # a heartbeat between batches: Clearance is there
                    self._heard()
                continue
            if line == "":
                if event == "release" and data:
                    pending.append(json.loads("\n".join(data)))
                elif event == "revision" and data:
                    # Fresh only once a whole batch is applied (``_apply`` notes the word
                    # with it): after a reconnect the replayed changes come first, and until
                    # they are in, the old entries must not be answered as current (that
                    # would fail open).
                    word = json.loads("\n".join(data))
                    # Clearance says whether an access change is in the batch's range (an
                    # older server: every batch after the catch-up is one).
                    announced = word.get("access_changed", caught_up)
                    self._apply(pending, word["revision"], announced=announced)
                    pending, caught_up = [], True
                event, data = "message", []
                continue
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "event":
                event = value
            elif field == "data":
                data.append(value)

    def _heard(self) -> None:
        with self.lock:
            self.last_word = time.monotonic()

    def _apply(self, entries: list[dict], revision: int, announced: bool = False) -> None:
        """A whole batch (and the word from Clearance it is), then (from the reporter
        thread) the receipt: only what is applied is reported. A batch Clearance marks as
        an access change (``announced``) is reported even with no entry in it (a partner
        approved on a suspended release), or Clearance would count this gateway as lagging.
        A revision that brought no access change is not reported on its own (e.g. our own
        last receipt, which is a write too): that would write a receipt per receipt."""
        with self.lock:
            for entry in entries:
                self.entries[entry["release"]] = entry
            self.revision = max(self.revision, revision)
            self.last_word = time.monotonic()  # with the batch: one answer sees both
        if entries:
            log(f"applied {len(entries)} change(s) at revision {revision}")
        if entries or announced or self.reported < 0:
            # The receipt goes from the reporter thread: while Clearance is busy answering
            # it, the stream thread goes on reading and applying the next changes.
            self.wake.set()

    # --- loops ---------------------------------------------------------------------------

    def run_stream(self) -> None:
        while True:
            try:
                if not self.ready:
                    self.load_snapshot()
                self.stream_once()
            except (OSError, ValueError, urllib.error.URLError, http.client.HTTPException) as exc:
                log(f"no stream ({exc}); retrying in 1 s")
            time.sleep(1)

    def run_reporter(self) -> None:
        """The receipt of each applied change as soon as it is applied (several applied
        meanwhile: one receipt for the newest), and every ``--report-every`` seconds the
        last one again. ``report`` reads the revision after the wake-up is cleared, so a
        change applied in between is in this receipt or wakes the next."""
        while True:
            woken = self.wake.wait(self.report_every)
            self.wake.clear()
            if woken:
                self.report()
            elif self.ready:
                self.report(force=True)


def serve(gateway: Gateway, listen: str) -> None:
    host, _, port = listen.rpartition(":")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            url = urllib.parse.urlsplit(self.path)
            query = urllib.parse.parse_qs(url.query)
            if url.path != "/allowed":
                self.send_error(404)
                return
            try:
                partner = int(query["partner"][0])
                release = query["release"][0]
            except (KeyError, ValueError, IndexError):
                self.send_error(400, "partner (an id) and release (a slug) are required")
                return
            body = json.dumps(gateway.decide(partner, release)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format, *args):  # quiet: one line per decision is noise
            pass

    server = ThreadingHTTPServer((host or "127.0.0.1", int(port)), Handler)
    log(f"answering GET http://{host or '127.0.0.1'}:{port}/allowed?partner=&release=")
    server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="Clearance, e.g. http://127.0.0.1:8000")
    parser.add_argument("--token", required=True, help="the gateway's API token")
    parser.add_argument("--name", required=True, help="the gateway's name in Clearance")
    parser.add_argument("--max-stale", type=float, default=30.0, help="fail closed after (s)")
    parser.add_argument("--report-every", type=float, default=30.0, help="receipt period (s)")
    parser.add_argument("--listen", default=None, help="HOST:PORT for GET /allowed")
    args = parser.parse_args(argv)
    gateway = Gateway(
        args.url, args.token, args.name, max_stale=args.max_stale, report_every=args.report_every
    )
    threading.Thread(target=gateway.run_stream, name="stream", daemon=True).start()
    threading.Thread(target=gateway.run_reporter, name="reporter", daemon=True).start()
    try:
        if args.listen:
            serve(gateway, args.listen)
        else:
            threading.Event().wait()
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Issue 16 benchmark, in one process on PostgreSQL, every figure from the same run:

- the emitting service call (``record_request``, which emits ``request.recorded``) with 10
  subscribed endpoints vs with none, in alternating blocks: the added latency (goal < 10% of
  the call; delivery is after commit, the hand-off on the outbox's publisher thread);
- then 1,000 events × 10 endpoints = 10,000 deliveries by ``deliver_due()`` to a real HTTP
  receiver on loopback (a threaded server answering 204): deliveries per second, the
  fan-out of the pending events, signing and the HTTP round trip included.

    .venv/bin/python -m benchmarks.webhooks [--db postgres://…/bench_webhooks]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/bench_webhooks"
ENDPOINTS = 10
EVENTS = 1000
BLOCK = 50


class Sink(BaseHTTPRequestHandler):
    received = 0
    lock = threading.Lock()

    def do_POST(self):  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with Sink.lock:
            Sink.received += 1
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def setup_django(db: str) -> None:
    from benchmarks.run import recreate_database

    recreate_database(db)
    os.environ.update(
        DATABASE_URL=db,
        DEBUG="1",
        LOG_LEVEL="WARNING",
        CELERY_BROKER_FOLDER=tempfile.mkdtemp(prefix="bench-broker-"),
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        DJANGO_SETTINGS_MODULE="config.settings",
    )
    # The broker the publisher thread hands deliveries to: Redis when BENCH_REDIS_URL names
    # one (as in production), else the zero-setup filesystem broker.
    os.environ.pop("REDIS_URL", None)
    if os.environ.get("BENCH_REDIS_URL"):
        os.environ["REDIS_URL"] = os.environ["BENCH_REDIS_URL"]
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", "--noinput", verbosity=0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", default=os.environ.get("BENCH_WEBHOOKS_DB", DEFAULT_DB))
    parser.add_argument("--events", type=int, default=EVENTS)
    args = parser.parse_args()
    setup_django(args.db)

    from django.conf import settings

    from compliance import services
    from compliance.models import PendingWebhookEvent, WebhookDelivery
    from compliance.notifications import webhooks
    from tests.factories import AgencyFactory, UserFactory

    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    server = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    admin = UserFactory(username="bench-admin", role="admin")
    staff = UserFactory(username="bench-staff", role="staff")
    agency = AgencyFactory(code="DOC", name="Department of Commerce")
    endpoints = [
        services.create_webhook(actor=admin, url=url, description=f"sink {i}")[0]
        for i in range(ENDPOINTS)
    ]

    def subscribe(active: bool) -> None:  # through the service, as an admin would
        for i, endpoint in enumerate(endpoints):
            endpoints[i] = services.update_webhook(endpoint, actor=admin, active=active)

    def call(i: int) -> float:
        start = time.perf_counter()
        services.record_request(
            actor=staff, agency=agency, reference=f"R-{i}", kind="information_request"
        )
        return (time.perf_counter() - start) * 1000

    # Alternate blocks without and with the subscribers, so drift hits both alike.
    quiet, subscribed = [], []
    for i in range(20):  # warm-up
        call(-1 - i)
    n = 0
    while len(subscribed) < args.events:
        subscribe(False)
        quiet += [call(n + k) for k in range(BLOCK)]
        n += BLOCK
        subscribe(True)
        subscribed += [call(n + k) for k in range(BLOCK)]
        n += BLOCK
    # Deliveries owed: those written, and those the pending events will fan out to.
    queued = WebhookDelivery.objects.count() + sum(
        len(e) for e in PendingWebhookEvent.objects.values_list("endpoints", flat=True)
    )

    start = time.perf_counter()
    delivered = 0
    while True:
        done = webhooks.deliver_due()
        if not done:
            break
        delivered += done
    elapsed = time.perf_counter() - start
    server.shutdown()

    q, s = statistics.median(quiet), statistics.median(subscribed)
    out = {
        "endpoints": ENDPOINTS,
        "events": len(subscribed),
        "deliveries_queued": queued,
        "deliveries_delivered": delivered,
        "receiver_got": Sink.received,
        "delivery_seconds": round(elapsed, 2),
        "deliveries_per_second": round(delivered / elapsed, 1),
        "call_ms_no_endpoints_p50": round(q, 3),
        "call_ms_10_endpoints_p50": round(s, 3),
        "added_latency_ratio": round((s - q) / q, 3),
    }
    out["goal_added_latency_under_10pct"] = out["added_latency_ratio"] < 0.10
    json.dump(out, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()

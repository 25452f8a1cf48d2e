"""The in-process steps of ``make bench``, each run by benchmarks/run.py as its own process:

    python -m benchmarks.steps <step> --out result.json

with DATABASE_URL pointing at the benchmark database. A step prints progress on stderr and
writes its figures as JSON. No timing here is ever asserted: they are reported."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import override_settings  # noqa: E402

from compliance.audit.context import system_actor  # noqa: E402
from compliance.models import (  # noqa: E402
    AllowlistEntry,
    AllowlistStatus,
    Release,
    ReleaseStatus,
    SignOff,
    SignOffStatus,
)

BENCH_USER = "bench-reader"


def log(msg: str) -> None:
    print(f"  [{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def bench_user(role: str = "staff"):
    User = get_user_model()
    user = User.objects.filter(username=BENCH_USER).first()
    if user is None:
        with system_actor("make_bench"):
            user = User(username=BENCH_USER, email="bench@lab.example")
            user.set_unusable_password()
            user.save()
            user.groups.add(Group.objects.get(name=role))
    return user


# --- HTTP targets ------------------------------------------------------------------------
def step_targets(args) -> dict:
    """A token for the load generator and the objects the endpoints are asked about."""
    from knox.models import AuthToken

    user = bench_user()
    _, token = AuthToken.objects.create(user=user)
    entry = (
        AllowlistEntry.objects.filter(
            status=AllowlistStatus.APPROVED, release__status=ReleaseStatus.LIMITED
        )
        .select_related("release")
        .order_by("release_id", "id")
        .first()
    )
    gated = (
        Release.objects.filter(status=ReleaseStatus.IN_REVIEW)
        .order_by("-review_round", "id")
        .first()
    )
    if entry is None or gated is None:
        raise SystemExit("the benchmark database has no limited release with an approved partner")
    return {
        "token": token,
        "access": {"release": entry.release.slug, "partner": entry.partner_id},
        "gate": {"release": gated.slug, "round": gated.review_round},
    }


# --- service write with and without history ----------------------------------------------
def step_write(args) -> dict:
    """decide_signoff (R9) with history (and the audit chain, when present) vs with
    simple-history switched off (SIMPLE_HISTORY_ENABLED=False), interleaved one by one so
    both see the same database, cache and machine load."""
    from compliance.services import decide_signoff

    actor = bench_user()
    n = args.n
    pending = list(
        SignOff.objects.filter(
            status=SignOffStatus.PENDING, release__status=ReleaseStatus.IN_REVIEW
        )
        .filter(round=django.db.models.F("release__review_round"))
        .order_by("id")
        .values_list("id", flat=True)[: 2 * n + 20]
    )
    if len(pending) < 2 * n + 20:
        raise SystemExit(f"need {2 * n + 20} pending sign-offs, found {len(pending)}")
    timings = {"with_history": [], "without_history": []}

    def decide(pk: int) -> float:
        so = SignOff.objects.get(pk=pk)
        t0 = time.perf_counter()
        decide_signoff(so, actor=actor, decision="approved", evidence="make bench")
        return time.perf_counter() - t0

    warm = pending[:20]
    for pk in warm[:10]:
        decide(pk)
    with override_settings(SIMPLE_HISTORY_ENABLED=False):
        for pk in warm[10:]:
            decide(pk)
    rest = pending[20:]
    for i in range(n):
        timings["with_history"].append(decide(rest[2 * i]))
        with override_settings(SIMPLE_HISTORY_ENABLED=False):
            timings["without_history"].append(decide(rest[2 * i + 1]))
    out = {"n": n}
    for key, values in timings.items():
        out[key] = {
            "median_ms": round(statistics.median(values) * 1000, 3),
            "mean_ms": round(statistics.fmean(values) * 1000, 3),
            "p90_ms": round(statistics.quantiles(values, n=10)[-1] * 1000, 3),
        }
    out["ratio_median"] = round(
        out["with_history"]["median_ms"] / out["without_history"]["median_ms"], 3
    )
    out["ratio_mean"] = round(out["with_history"]["mean_ms"] / out["without_history"]["mean_ms"], 3)
    out["chain"] = audit_chain_present()
    return out


def audit_chain_present() -> bool:
    from django.apps import apps

    try:
        apps.get_model("compliance", "AuditRecord")
    except LookupError:
        return False
    return True


# --- query counts -------------------------------------------------------------------------
# Every GET list/detail endpoint of SPEC "The REST API"; {release}, {partner}… are filled in
# from the data. /audit/verify/ and /audit/export/ read the whole log by design (step 5).
QUERY_ENDPOINTS = [
    ("agencies/", "list"),
    ("agencies/{agency}/", "detail"),
    ("partners/", "list"),
    ("partners/{partner}/", "detail"),
    ("releases/", "list"),
    ("releases/{release}/", "detail"),
    ("releases/{release}/gate/", "detail"),
    ("releases/{release}/access/?partner={partner}", "detail"),
    ("releases/{release}/history/", "list"),
    ("releases/{release}/allowlist/", "list"),
    ("signoffs/", "list"),
    ("signoffs/?release={release}", "list"),
    ("signoffs/{signoff}/", "detail"),
    ("requests/", "list"),
    ("requests/{request}/", "detail"),
    ("audit/", "list"),
    ("audit/?model=release&object_id={release_id}", "list"),
    ("reminders/", "list"),
]


def _query_user():
    """An admin reads every endpoint (the audit log and the reminder log included)."""
    from knox.models import AuthToken

    User = get_user_model()
    user = User.objects.filter(username="bench-admin").first()
    if user is None:
        with system_actor("make_bench"):
            user = User(username="bench-admin", email="bench-admin@lab.example")
            user.set_unusable_password()
            user.save()
            user.groups.add(Group.objects.get(name="admin"))
    _, token = AuthToken.objects.create(user=user)
    return user, token


def count_queries(client, url: str) -> tuple[int, int]:
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    return response.status_code, len(ctx.captured_queries)


def measure_endpoints(client, ids: dict, *, page2: bool = False) -> dict:
    out = {}
    for pattern, kind in QUERY_ENDPOINTS:
        url = "/api/v1/" + pattern.format(**ids)
        status, n = count_queries(client, url)
        entry = {"status": status, "queries": n}
        if page2 and kind == "list":
            sep = "&" if "?" in url else "?"
            status2, n2 = count_queries(client, f"{url}{sep}page=2")
            entry["page2"] = n2 if status2 == 200 else f"HTTP {status2}"
        out[pattern] = entry
    return out


class SmallWorld:
    """A small data set made through the services (real history), grown from 1 to 100 rows
    of every kind; the focal release collects 1, then 100 allowlist entries, requests and
    history records."""

    def __init__(self):
        from compliance import services
        from compliance.models import Agency

        self.services = services
        User = get_user_model()
        with system_actor("make_bench"):
            self.staff = User.objects.create(username="q-staff")
            self.staff.groups.add(Group.objects.get(name="staff"))
            self.admin = User.objects.create(username="q-admin")
            self.admin.groups.add(Group.objects.get(name="admin"))
        self.agencies = [
            services.create_agency(actor=self.admin, code=code, name=code)
            for code in ("CAISI", "DOC", "ONCD", "OSTP")
        ]
        assert Agency.objects.count() == 4
        self.releases, self.partners, self.requests = [], [], []

    def grow(self, n: int) -> None:
        s = self.services
        for i in range(len(self.releases), n):
            partner = s.create_partner(actor=self.admin, name=f"Partner {i}", country="US")
            release = s.create_release(actor=self.staff, slug=f"q-{i:03d}", name=f"Q {i}")
            release = s.submit_release(release, actor=self.staff, reason="ready")
            for so in SignOff.objects.filter(release=release, stage="limited"):
                s.decide_signoff(so, actor=self.staff, decision="approved", evidence="letter")
            focal = self.releases[0] if self.releases else release
            entry = s.propose_allowlist_entry(focal, actor=self.staff, partner=partner)
            if i < 20:  # the cap (20) bounds approvals; the rest stay proposed
                s.decide_allowlist_entry(entry, actor=self.admin, decision="approved")
            if not self.releases:
                s.transition_release(release, to="limited", actor=self.staff, reason="preview")
            req = s.record_request(
                actor=self.staff,
                agency=self.agencies[i % 4],
                reference=f"Q-{i:03d}",
                kind="information_request",
                releases=[focal],
            )
            self.releases.append(release)
            self.partners.append(partner)
            self.requests.append(req)

    def ids(self) -> dict:
        focal = Release.objects.get(pk=self.releases[0].pk)
        return {
            "agency": self.agencies[0].code,
            "partner": self.partners[0].pk,
            "release": focal.slug,
            "release_id": focal.pk,
            "signoff": SignOff.objects.filter(release=focal).order_by("id").first().pk,
            "request": self.requests[0].pk,
        }


def scale_ids() -> dict:
    from compliance.models import Agency, GovernmentRequest

    entry = (
        AllowlistEntry.objects.filter(
            status=AllowlistStatus.APPROVED, release__status=ReleaseStatus.LIMITED
        )
        .order_by("release_id", "id")
        .first()
    )
    release = entry.release
    return {
        "agency": Agency.objects.order_by("code").first().code,
        "partner": entry.partner_id,
        "release": release.slug,
        "release_id": release.pk,
        "signoff": SignOff.objects.filter(release=release).order_by("id").first().pk,
        "request": GovernmentRequest.objects.order_by("id").first().pk,
    }


def step_queries(args) -> dict:
    """Queries per request of every GET endpoint at 1 row, at 100 rows (and page 2) in a small
    database made through the services, then at full scale in the benchmark database."""
    from django.db import connections
    from django.test import Client

    settings_db = connections.databases["default"]
    _, token = _query_user()
    client = Client(HTTP_AUTHORIZATION=f"Token {token}", HTTP_HOST="127.0.0.1")
    world = SmallWorld()
    world.grow(1)
    small = measure_endpoints(client, world.ids())
    log("1 row measured; growing to 100")
    world.grow(100)
    large = measure_endpoints(client, world.ids(), page2=True)
    scale = {}
    if args.scale_url:
        import environ

        connections.close_all()
        settings_db.update(environ.Env.db_url_config(args.scale_url))
        connection.close()
        _, token = _query_user()
        client = Client(HTTP_AUTHORIZATION=f"Token {token}", HTTP_HOST="127.0.0.1")
        scale = measure_endpoints(client, scale_ids())
    rows = []
    for pattern, kind in QUERY_ENDPOINTS:
        a, b = small[pattern], large[pattern]
        c = scale.get(pattern)
        ok = a["status"] == b["status"] == 200 and (c is None or c["status"] == 200)
        counts = [a["queries"], b["queries"]]
        if kind == "list" and isinstance(b.get("page2"), int):
            counts.append(b["page2"])
        if c is not None:
            counts.append(c["queries"])
        rows.append(
            {
                "name": pattern,
                "kind": kind,
                "status_ok": ok,
                "small": a["queries"],
                "large": b["queries"],
                "page2": b.get("page2", "—"),
                "scale": c["queries"] if c else "—",
                "constant": ok and len(set(counts)) == 1,
                "note": ""
                if ok
                else f"HTTP {a['status']}/{b['status']}" + (f"/{c['status']}" if c else ""),
            }
        )
    return {
        "how": "Queries per request (Django test client with the API token, "
        "`CaptureQueriesContext`), on a fresh database filled through the services with 1, "
        "then 100 rows of every kind (the release asked about then has 100 allowlist "
        "entries, requests and history records; lists are paginated by 50, so 'page 2' is "
        "the second page), and on the seeded benchmark database ('full scale').",
        "endpoints": rows,
    }


# --- reminder sweep ------------------------------------------------------------------------
class SMTPCounter:
    """A local aiosmtpd server that counts connections and messages (nothing is relayed)."""

    def __init__(self):
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import SMTP

        counter = self
        self.connections = 0
        self.messages = 0
        self.recipients = 0

        class CountingSMTP(SMTP):
            def connection_made(self, transport):
                counter.connections += 1
                super().connection_made(transport)

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                counter.messages += 1
                counter.recipients += len(envelope.rcpt_tos)
                return "250 OK"

        class CountingController(Controller):
            def factory(self):
                return CountingSMTP(self.handler, **self.SMTP_kwargs)

        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.controller = CountingController(Handler(), hostname="127.0.0.1", port=self.port)

    def __enter__(self):
        self.controller.start()
        # Controller.start() makes one connection of its own to check the server is up.
        self.baseline = self.connections
        return self

    def __exit__(self, *exc):
        self.controller.stop()


def step_sweep(args) -> dict:
    """One ``run_sweep`` over a database seeded with ``seed_scale --all-due``: every release
    in review with its 8 sign-offs pending and due within the lead time."""
    try:
        from compliance.notifications.sweep import run_sweep
    except ImportError:
        return {"skipped": "the reminder sweep (compliance.notifications.sweep) is not merged"}
    from django.test.utils import CaptureQueriesContext

    from compliance.notifications import sweep as sweep_module

    now = django.utils.timezone.now()
    due = sweep_module.due_signoffs(now)
    due_requests = sweep_module.due_requests(now)
    due_items = len(due) + len(due_requests)
    del due, due_requests
    with SMTPCounter() as smtp:
        with (
            override_settings(
                EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
                EMAIL_HOST="127.0.0.1",
                EMAIL_PORT=smtp.port,
                EMAIL_USE_TLS=False,
                EMAIL_HOST_USER="",
                EMAIL_HOST_PASSWORD="",
            ),
            system_actor("send_reminders"),
            CaptureQueriesContext(connection) as queries,
        ):
            t0 = time.perf_counter()
            result = run_sweep(now=now)
            seconds = time.perf_counter() - t0
        connections_used = smtp.connections - smtp.baseline
    data = result.as_dict()
    n_queries = len(queries.captured_queries)
    return {
        "how": "`run_sweep()` (what `send_reminders` and the beat task run) in one process "
        "against a database seeded with `seed_scale --all-due`, mail to a local aiosmtpd "
        "server that counts connections; queries counted with `CaptureQueriesContext`. "
        "'Bounded' means no statement per item: at most 50 + 10 per digest (recipients are "
        "people) + 1 per 1,000 items; the most repeated statements are in the JSON.",
        "due_items": due_items,
        "items": data["items"],
        "seconds": round(seconds, 2),
        "queries": n_queries,
        "queries_per_item": round(n_queries / max(1, data["items"]), 4),
        # Bounded: a few statements per digest (recipients are people, not items) and per
        # batch of 1,000 items, never one per item.
        "queries_bounded": n_queries <= 50 + 10 * data["digests"] + data["items"] // 1000,
        "query_shapes": query_shapes(queries.captured_queries),
        "smtp_connections": connections_used,
        "emails": smtp.messages,
        "digests": data["digests"],
        "reminded": data["reminded"],
        "note": f"{data['digests']} digests for {data['reminded']} (item, recipient) pairs",
    }


def query_shapes(captured: list[dict], top: int = 8) -> list[list]:
    """The most repeated statements (literals stripped): where a per-item query would show."""
    import re
    from collections import Counter

    shapes = Counter(
        re.sub(r"\b\d+\b|'[^']*'", "?", q["sql"])[:90] for q in captured if q.get("sql")
    )
    return [[n, shape] for shape, n in shapes.most_common(top)]


# --- audit verify and export ---------------------------------------------------------------
def step_audit_rows(args) -> dict:
    """How many ledger entries there are (the figure verify/export are divided by)."""
    try:
        from compliance.models.audit import AuditRecord
    except ImportError:
        return {"skipped": "the audit ledger (compliance.models.audit) is not merged"}
    return {"rows": AuditRecord.objects.count()}


STEPS = {
    "targets": step_targets,
    "write": step_write,
    "queries": step_queries,
    "sweep": step_sweep,
    "audit-rows": step_audit_rows,
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("step", choices=sorted(STEPS))
    parser.add_argument("--out", required=True)
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--scale-url", default="")
    args = parser.parse_args()
    assert connection.vendor == "postgresql", "make bench runs on PostgreSQL"
    result = STEPS[args.step](args)
    Path(args.out).write_text(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()

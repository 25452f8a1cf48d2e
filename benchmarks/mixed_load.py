"""Mixed load (issue 13, "Tests that must exist"): reads and writes from 30+ concurrent real
HTTP clients against gunicorn on PostgreSQL; afterwards 0 responses >= 500, 0 rule
violations and ``verify_audit`` ok.

The driver lives here and is shared by the CI test (tests/test_load_mixed.py, ~15 s,
``LOAD_SECONDS`` lengthens it) and ``make bench`` (60 s, this module's ``main``)::

    .venv/bin/python -m benchmarks.mixed_load [--db postgres://…/bench_mixed_load]
        [--seconds 60] [--clients 32]

The bench recreates its own database (``bench_mixed_load`` by default), starts gunicorn
(2 sync workers, as ``make bench``'s other steps) and writes its figures to its own section of
docs/benchmarks.md.

Workload (every client a thread with its own keep-alive ``requests`` session, staff or
admin token, picking kinds at random by weight):

- reads: gate, access check, release / request / sign-off / allowlist lists, audit log,
  entitlement feed;
- writes: sign-off decisions, allowlist proposals and decisions (approve, reject, revoke),
  government request records and status moves, submissions, transitions (limited, general,
  suspended).

Rule checks afterwards (from the database and its history, so they hold for every moment of
the run, not only its end):

- four-eyes: no allowlist entry was ever approved by its proposer;
- partner cap: no release ever had more approved entries than its cap;
- the "blocked" releases carry a binding ``postpone_release`` directive from before the load
  (never closed by it): none of them ever became ``limited`` or ``general``;
- no sign-off was decided twice (at most one move out of ``pending``);
- every 409 answer listed at least one blocker, each with a ``kind``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from itertools import pairwise
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
AGENCIES = ("DOC", "ONCD")
RELEASES = 8  # ordinary releases the load moves through their states
BLOCKED = 2  # releases under a binding postpone_release directive for the whole run
PARTNERS = 8
PARTNER_CAP = 3  # below the partner count, so approvals contend for the cap
BLOCKING_DIRECTIVE = "postpone_release"

# (kind, weight): about half the requests read.
KINDS = [
    ("read_gate", 10),
    ("read_access", 8),
    ("read_lists", 8),
    ("read_audit", 4),
    ("read_entitlements", 4),
    ("decide", 14),
    ("allowlist_propose", 6),
    ("allowlist_decide", 14),  # admins only (a third of the clients)
    ("request_record", 4),
    ("request_status", 4),
    ("submit", 6),
    ("transition", 10),
]

HEADING = "## Mixed load: reads and writes from 30+ clients (issue 13)"
# what a staff client does instead of the kinds only admins (and auditors) may do
STAFF_INSTEAD = {"allowlist_decide": "allowlist_propose", "read_audit": "read_gate"}


# --- seeding (over HTTP, so the test and the bench seed alike) ----------------------------
class Api:
    """One client's keep-alive session; every call returns ``(status, json or None)``."""

    def __init__(self, base: str, token: str):
        self.base = base.rstrip("/") + "/api/v1"
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Token {token}"

    def call(self, method: str, path: str, body: dict | None = None, **params):
        response = self.session.request(
            method, self.base + path, json=body, params=params or None, timeout=60
        )
        try:
            data = response.json()
        except ValueError:
            data = None
        return response.status_code, data


def _ok(outcome, *expected):
    status, data = outcome
    assert status in expected, (status, data)
    return data


def seed(base: str, tokens: dict[str, list[str]]) -> dict:
    """Agencies, partners, releases (submitted: round 1 open) and the blocked releases with
    their binding directive, made through the API by an admin and a staff member."""
    admin, staff = Api(base, tokens["admin"][0]), Api(base, tokens["staff"][0])
    tag = uuid.uuid4().hex[:6]
    for code in AGENCIES:
        if admin.call("GET", f"/agencies/{code}/")[0] == 404:
            _ok(
                admin.call(
                    "POST",
                    "/agencies/",
                    {"code": code, "name": f"Agency {code}", "contact_email": f"{code}@gov.test"},
                ),
                201,
            )
    partners = [
        _ok(
            admin.call(
                "POST",
                "/partners/",
                {
                    "name": f"Load partner {tag} {i}",
                    "country": "US" if i % 4 else "GB",
                    "contact_email": f"p{i}@partner.test",
                },
            ),
            201,
        )["id"]
        for i in range(PARTNERS)
    ]
    releases, blocked = [], []
    for i in range(RELEASES + BLOCKED):
        slug = f"load-{tag}-{i}"
        body = {
            "slug": slug,
            "name": f"Load {tag} {i}",
            "required_agencies": list(AGENCIES),
            "partner_cap": PARTNER_CAP,
        }
        _ok(admin.call("POST", "/releases/", body), 201)  # the cap is an admin's to set
        _ok(staff.call("POST", f"/releases/{slug}/submit/", {}), 200)
        (blocked if i >= RELEASES else releases).append(slug)
    directives = [
        _ok(
            staff.call(
                "POST",
                "/requests/",
                {
                    "agency": AGENCIES[0],
                    "reference": f"HOLD-{tag}-{slug}",
                    "kind": BLOCKING_DIRECTIVE,
                    "binding": True,
                    "releases": [slug],
                    "summary": "Postpone until further notice",
                },
            ),
            201,
        )["id"]
        for slug in blocked
    ]
    return {
        "tag": tag,
        "partners": partners,
        "releases": releases,
        "blocked": blocked,
        "directives": directives,
    }


# --- the load -----------------------------------------------------------------------------
class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.status: dict[str, Counter] = defaultdict(Counter)
        self.server_errors: list = []
        self.bad_409: list = []
        self.crashes: list = []

    def record(self, kind: str, status: int, data, seconds: float, what: str) -> None:
        with self.lock:
            self.latency[kind].append(seconds)
            self.status[kind][status] += 1
            if status >= 500:
                self.server_errors.append((what, status, str(data)[:300]))
            if status == 409:
                blockers = (data or {}).get("blockers") if isinstance(data, dict) else None
                if not blockers or not all(isinstance(b, dict) and b.get("kind") for b in blockers):
                    self.bad_409.append((what, str(data)[:300]))


class Client:
    """One concurrent user: a role, a token, a random stream of kinds."""

    def __init__(self, base, role, token, world, stats, rng):
        self.api, self.role, self.world, self.stats, self.rng = (
            Api(base, token),
            role,
            world,
            stats,
            rng,
        )

    def send(self, kind, method, path, body=None, **params):
        started = time.perf_counter()
        status, data = self.api.call(method, path, body, **params)
        self.stats.record(kind, status, data, time.perf_counter() - started, f"{method} {path}")
        return status, data

    def slug(self, blocked_share=0.2):
        w = self.world
        pool = w["blocked"] if self.rng.random() < blocked_share else w["releases"]
        return self.rng.choice(pool)

    # reads
    def read_gate(self):
        self.send("read_gate", "GET", f"/releases/{self.slug()}/gate/")

    def read_access(self):
        partner = self.rng.choice(self.world["partners"])
        self.send("read_access", "GET", f"/releases/{self.slug()}/access/", partner=partner)

    def read_lists(self):
        choice = self.rng.randrange(4)
        if choice == 0:
            self.send("read_lists", "GET", "/releases/")
        elif choice == 1:
            self.send("read_lists", "GET", "/requests/")
        elif choice == 2:
            self.send("read_lists", "GET", "/signoffs/", release=self.slug())
        else:
            self.send("read_lists", "GET", f"/releases/{self.slug()}/allowlist/")

    def read_audit(self):
        model = self.rng.choice(["release", "signoff", "allowlistentry", "governmentrequest"])
        self.send("read_audit", "GET", "/audit/", model=model)

    def read_entitlements(self):
        self.send("read_entitlements", "GET", "/entitlements/")

    # writes
    def decide(self):
        status, data = self.send(
            "read_lists", "GET", "/signoffs/", release=self.slug(), status="pending"
        )
        pending = (data or {}).get("results") or [] if status == 200 else []
        if not pending:
            return
        signoff = self.rng.choice(pending)
        if self.rng.random() < 0.05:
            body = {"decision": "rejected", "evidence": "", "reason": "load: concerns"}
        else:
            body = {"decision": "approved", "evidence": "load evidence"}
        self.send("decide", "POST", f"/signoffs/{signoff['id']}/decide/", body)

    def allowlist_propose(self):
        partner = self.rng.choice(self.world["partners"])
        self.send(
            "allowlist_propose", "POST", f"/releases/{self.slug()}/allowlist/", {"partner": partner}
        )

    def allowlist_decide(self):
        status, data = self.send("read_lists", "GET", f"/releases/{self.slug()}/allowlist/")
        entries = (data or {}).get("results") or [] if status == 200 else []
        proposed = [e for e in entries if e.get("status") == "proposed"]
        approved = [e for e in entries if e.get("status") == "approved"]
        roll = self.rng.random()
        if approved and roll < 0.15:
            entry = self.rng.choice(approved)
            self.send(
                "allowlist_decide",
                "POST",
                f"/allowlist/{entry['id']}/revoke/",
                {"reason": "load: revoked"},
            )
        elif proposed:
            entry = self.rng.choice(proposed)
            decision = "rejected" if roll > 0.9 else "approved"
            body = {"decision": decision, "reason": "load: decided"}
            self.send("allowlist_decide", "POST", f"/allowlist/{entry['id']}/decide/", body)

    def request_record(self):
        kind = self.rng.choice(["information_request", "review_request", "vet_users"])
        body = {
            "agency": self.rng.choice(AGENCIES),
            "reference": f"LOAD-{uuid.uuid4().hex[:10]}",
            "kind": kind,
            "binding": kind == "vet_users" and self.rng.random() < 0.3,
            "releases": [self.slug(0)],
            "summary": "load",
        }
        self.send("request_record", "POST", "/requests/", body)

    def request_status(self):
        status, data = self.send("read_lists", "GET", "/requests/")
        found = (data or {}).get("results") or [] if status == 200 else []
        if not found:
            return
        request = self.rng.choice(found)
        to = self.rng.choice(["acknowledged", "complied", "contested", "closed"])
        if request["id"] in self.world["directives"] and to == "closed":
            to = "acknowledged"  # the blocked releases' directive stays in force
        self.send("request_status", "POST", f"/requests/{request['id']}/status/", {"status": to})

    def submit(self):
        self.send("submit", "POST", f"/releases/{self.slug()}/submit/", {})

    def transition(self):
        to = self.rng.choice(["limited", "general", "general", "suspended"])
        body = {"to": to, "reason": "load: suspended"} if to == "suspended" else {"to": to}
        self.send("transition", "POST", f"/releases/{self.slug(0.35)}/transition/", body)

    def run(self, until: float) -> None:
        names = [k for k, _ in KINDS]
        weights = [w for _, w in KINDS]
        while time.monotonic() < until:
            kind = self.rng.choices(names, weights)[0]
            if self.role != "admin":  # R14 decisions and the audit log are not staff's
                kind = STAFF_INSTEAD.get(kind, kind)
            try:
                getattr(self, kind)()
            except Exception as exc:  # noqa: BLE001 - counted, reported by the caller
                with self.stats.lock:
                    self.stats.crashes.append((kind, repr(exc)[:300]))


def run_load(
    base: str,
    tokens: dict[str, list[str]],
    world: dict,
    *,
    seconds: float,
    clients: int = 32,
    seed_value: int = 13,
) -> dict:
    """``clients`` threads, alternating staff and admin tokens, for ``seconds``; returns the
    figures (see ``summarise``)."""
    stats = Stats()
    until = time.monotonic() + seconds
    threads = []
    for i in range(clients):
        role = "admin" if i % 3 == 2 else "staff"
        pool = tokens[role]
        client = Client(
            base, role, pool[i % len(pool)], world, stats, random.Random(seed_value + i)
        )
        threads.append(threading.Thread(target=client.run, args=(until,), daemon=True))
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=seconds + 120)
    elapsed = time.monotonic() - started
    stuck = sum(t.is_alive() for t in threads)
    return summarise(stats, elapsed, clients, stuck)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def summarise(stats: Stats, elapsed: float, clients: int, stuck: int) -> dict:
    kinds = {}
    totals = Counter()
    for kind in sorted(stats.latency):
        lat, codes = stats.latency[kind], stats.status[kind]
        buckets = Counter()
        for code, n in codes.items():
            buckets[
                "5xx" if code >= 500 else "409" if code == 409 else "4xx" if code >= 400 else "2xx"
            ] += n
        totals.update(buckets)
        kinds[kind] = {
            "requests": len(lat),
            "per_s": round(len(lat) / elapsed, 1),
            "p50_ms": round(statistics.median(lat) * 1000, 1),
            "p99_ms": round(_pct(lat, 0.99) * 1000, 1),
            **{b: buckets.get(b, 0) for b in ("2xx", "4xx", "409", "5xx")},
        }
    every = [x for v in stats.latency.values() for x in v]
    return {
        "seconds": round(elapsed, 1),
        "clients": clients,
        "stuck_clients": stuck,
        "requests": len(every),
        "per_s": round(len(every) / elapsed, 1) if elapsed else 0,
        "p50_ms": round(statistics.median(every) * 1000, 1) if every else 0,
        "p99_ms": round(_pct(every, 0.99) * 1000, 1),
        "counts": {b: totals.get(b, 0) for b in ("2xx", "4xx", "409", "5xx")},
        "kinds": kinds,
        "server_errors": stats.server_errors[:20],
        "bad_409": stats.bad_409[:20],
        "crashes": stats.crashes[:20],
    }


# --- rule checks afterwards (needs Django set up on the same database) --------------------
def rule_violations(world: dict) -> list[str]:
    """Every rule the load could have broken, checked over the whole history of the run's
    objects; an empty list when all held."""
    from compliance.models import AllowlistEntry, GovernmentRequest, Release, SignOff

    slugs = world["releases"] + world["blocked"]
    found: list[str] = []
    releases = {r.pk: r for r in Release.objects.filter(slug__in=slugs)}
    for entry in AllowlistEntry.history.filter(release_id__in=releases, status="approved"):
        if entry.decided_by_id == entry.proposed_by_id:
            found.append(f"four-eyes: entry {entry.id} approved by its proposer")
    # the approved count of a release after each allowlist change, in history order
    approved: dict[int, dict[int, bool]] = defaultdict(dict)
    for h in AllowlistEntry.history.filter(release_id__in=releases).order_by("history_id"):
        approved[h.release_id][h.id] = h.status == "approved"
        count = sum(approved[h.release_id].values())
        cap = releases[h.release_id].partner_cap
        if count > cap:
            found.append(f"partner cap: {releases[h.release_id].slug} had {count} > {cap}")
    for release in releases.values():
        if release.slug in world["blocked"]:
            live = Release.history.filter(id=release.pk, status__in=["limited", "general"])
            if live.exists():
                found.append(f"directive: {release.slug} went live under a binding directive")
    held = GovernmentRequest.objects.filter(pk__in=world["directives"])
    if held.exclude(status="closed").count() != len(world["directives"]):
        found.append("directive: a blocking directive was closed by the load")
    for signoff in SignOff.objects.filter(release_id__in=releases):
        statuses = list(
            SignOff.history.filter(id=signoff.pk)
            .order_by("history_id")
            .values_list("status", flat=True)
        )
        decided = sum(1 for a, b in pairwise(statuses) if a == "pending" and b != a)
        if decided > 1:
            found.append(f"decided twice: sign-off {signoff.pk} ({statuses})")
    return found


# --- make bench ---------------------------------------------------------------------------
def write_section(result: dict, command: str) -> None:
    c = result["counts"]
    goals = [
        ("0 responses ≥ 500", c["5xx"] == 0 and not result["crashes"]),
        ("0 rule violations", not result["violations"]),
        ("every 409 lists its blockers", not result["bad_409"]),
        ("verify_audit ok", result["verify_audit_ok"]),
        ("30+ concurrent clients", result["clients"] >= 30),
    ]
    lines = [
        HEADING,
        "",
        f"Command: `{command}` (part of `make bench`; the CI version is "
        "`tests/test_load_mixed.py`, same driver, ~15 s). gunicorn, 2 sync workers, on "
        f"PostgreSQL; {result['clients']} client threads (staff and admin tokens), "
        f"{result['seconds']} s, measured {result['measured_at']}.",
        "",
        f"All requests: {result['requests']} ({result['per_s']} req/s), p50 "
        f"{result['p50_ms']} ms, p99 {result['p99_ms']} ms; 2xx {c['2xx']}, 4xx {c['4xx']}, "
        f"409 {c['409']}, 5xx {c['5xx']}.",
        "",
        "| kind | requests | req/s | p50 ms | p99 ms | 2xx | 4xx | 409 | 5xx |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for kind, k in result["kinds"].items():
        lines.append(
            f"| {kind} | {k['requests']} | {k['per_s']} | {k['p50_ms']} | {k['p99_ms']} | "
            f"{k['2xx']} | {k['4xx']} | {k['409']} | {k['5xx']} |"
        )
    lines += [
        "",
        "Shares of the run's own total throughput, side by side: reads "
        f"{result['read_share']:.0%}, writes {1 - result['read_share']:.0%}. "
        "409s are the rules refusing (cap full, sign-offs missing, already decided, "
        "the directive in force…), as intended; the other 4xx are 400s of allowlist proposals "
        "of a partner already on that release (unique per release and partner). Latency is "
        "mostly queueing: 32 clients share 2 sync workers on a 2-core machine that other "
        "work shares too, so compare figures only within one run.",
        "",
        "| goal | met |",
        "|---|---|",
        *[f"| {name} | {'yes' if ok else 'NO'} |" for name, ok in goals],
    ]
    DOC.write_text(replace_section(DOC.read_text(encoding="utf-8"), lines), encoding="utf-8")


def replace_section(text: str, lines: list[str]) -> str:
    """This benchmark's ``## `` section (by its heading, up to the next one) replaced, or
    appended; every other section as it was (benchmarks/run.py keeps ``## `` sections too)."""
    out, skipping, done = [], False, False
    for line in text.rstrip("\n").splitlines():
        if line.startswith("## "):
            skipping = line == HEADING
            if skipping and not done:
                out += [*lines, ""]
                done = True
        if not skipping:
            out.append(line)
    if not done:
        out += ["", *lines]
    return "\n".join(out).rstrip("\n") + "\n"


ROLES = ("staff", "admin")


def _token(username: str, role: str) -> str:
    import io

    from django.core.management import call_command

    out = io.StringIO()
    call_command("add_user", username, "--role", role, "--token", stdout=out)
    return out.getvalue().strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="postgres://postgres@127.0.0.1:5432/bench_mixed_load")
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("LOAD_SECONDS", 60)))
    parser.add_argument("--clients", type=int, default=32)
    args = parser.parse_args()

    from benchmarks.run import PY, gunicorn_server, log, manage, recreate_database, server_env

    env = {**server_env(args.db), "REDIS_URL": "", "LOG_LEVEL": "ERROR"}
    recreate_database(args.db)
    manage(env, "migrate", "--noinput")
    manage(env, "createcachetable")
    os.environ.update(env)  # this process reads the same database (tokens, rule checks)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    tokens = {role: [_token(f"load-{role}-{i}", role) for i in range(3)] for role in ROLES}
    with gunicorn_server(env) as base:
        world = seed(base, tokens)
        log(f"mixed load: {args.clients} clients for {args.seconds} s")
        result = run_load(base, tokens, world, seconds=args.seconds, clients=args.clients)
    print(json.dumps(result, indent=2), flush=True)
    verify = subprocess.run(
        [PY, "manage.py", "verify_audit"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    result["violations"] = rule_violations(world)
    result["verify_audit_ok"] = verify.returncode == 0 and json.loads(verify.stdout)["ok"]
    reads = sum(k["requests"] for n, k in result["kinds"].items() if n.startswith("read"))
    result["read_share"] = reads / max(1, result["requests"])
    result["measured_at"] = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(json.dumps({k: result[k] for k in ("violations", "verify_audit_ok")}), flush=True)
    write_section(result, f"{Path(PY).name} -m benchmarks.mixed_load --seconds {args.seconds:g}")
    failed = result["counts"]["5xx"] or result["violations"] or not result["verify_audit_ok"]
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

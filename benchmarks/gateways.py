"""Issue 15 benchmarks against one live uvicorn server (config.asgi:application) on
PostgreSQL, every figure from the same run:

- a single AuthZEN evaluation vs the token-authenticated no-op view (``_bench/bare-auth/``):
  median latency of sequential keep-alive requests, ratio of throughputs (goal ≥ 0.9×);
- a batch of 100 evaluations vs one single evaluation (goal ≤ 3× its latency);
- 1,000 idle entitlement-stream subscribers (an in-process asyncio pool of raw HTTP/1.1
  connections speaking the stream's protocol: GET with the gateway token, reading the SSE
  bytes): the server's extra RSS (goal < 200 MB) and thread count (goal: no thread each);
- propagation, commit → gateway decision, with 100 subscribed reference gateways: the real
  ``clients/gateway.py`` ``Gateway`` class (its own stream thread, receipts and
  ``allowed()``), 10 instances in each of 10 worker processes (100 Python processes do
  not fit 2 cores); each gateway has its own token and record. The driver flips a partner's
  country through the API (an R29 access change on a US-only release) and times from the
  API's answer (the commit) to the moment each gateway's ``allowed()`` gives the new answer
  (checked right after it applies the change): p50 / p99 over
  ``--changes`` × 100 (goal p99 ≤ 1 s).

    .venv/bin/python -m benchmarks.gateways [--db postgres://…/bench_gateways]
        [--only cost profile idle propagation] [--changes 20] [--gateways 100]
        [--per-process 10] [--db-pool 8]

The server runs with ``DB_POOL=--db-pool`` (README: the ASGI server's connection pool);
``profile`` takes the single evaluation apart (benchmarks/views.py ``eval-*``).

Prints the results as JSON. It recreates its own database (``bench_gateways`` by default).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import os
import queue
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from benchmarks.run import (
    PY,
    ROOT,
    free_port,
    log,
    manage,
    recreate_database,
    server_env,
)

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/bench_gateways"
REQUESTS = 300
SUBSCRIBERS = 1000


def proc_status(pid: int) -> dict:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return {"rss_mb": int(fields["VmRSS"].split()[0]) / 1024, "threads": int(fields["Threads"])}


@contextlib.contextmanager
def uvicorn_server(env: dict):
    port = free_port()
    cmd = [
        str(Path(PY).parent / "uvicorn"),
        "config.asgi:application",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    log("$ " + " ".join(cmd[1:]))
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)
    try:
        for _ in range(300):
            if proc.poll() is not None:
                raise RuntimeError("uvicorn exited at start-up")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/api/v1/_bench/bare/")
                conn.getresponse().read()
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError("uvicorn did not answer within 30 s")
        yield port, proc
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def timed(port: int, token: str, targets: dict, n: int) -> dict:
    """n rounds; in each, one request to every target (interleaved, so the machine's load
    hits them alike), each target on its own keep-alive connection: median and p99 (ms)."""
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    conns = {name: http.client.HTTPConnection("127.0.0.1", port, timeout=30) for name in targets}
    latencies: dict[str, list[float]] = {name: [] for name in targets}
    for i in range(n + 20):
        for name, (method, path, body) in targets.items():
            payload = json.dumps(body) if body is not None else None
            start = time.perf_counter()
            conns[name].request(method, path, body=payload, headers=headers)
            resp = conns[name].getresponse()
            data = resp.read()
            if resp.status != 200:
                raise RuntimeError(f"{path}: {resp.status} {data[:200]!r}")
            if i >= 20:  # the first rounds warm the connections and the caches
                latencies[name].append((time.perf_counter() - start) * 1000)
    out = {}
    for name, values in latencies.items():
        values.sort()
        out[name] = {
            "p50_ms": round(statistics.median(values), 3),
            "p99_ms": round(values[int(len(values) * 0.99) - 1], 3),
            "rps": round(1000 / statistics.mean(values), 1),
        }
    return out


async def idle_subscribers(port: int, token: str, n: int, hold: float) -> int:
    """n stream connections held open (reading whatever the server sends); how many got
    a 200 text/event-stream answer."""

    async def one() -> bool:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            (
                "GET /api/v1/entitlements/stream/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Authorization: Token {token}\r\nAccept: text/event-stream\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 60)
        ok = head.startswith(b"HTTP/1.1 200") and b"text/event-stream" in head
        return ok, reader, writer

    results = []
    for start in range(0, n, 100):  # open in waves of 100: the listen backlog is finite
        results += await asyncio.gather(*(one() for _ in range(min(100, n - start))))
    await asyncio.sleep(hold)
    ok = sum(1 for r in results if r[0])
    for _ok, _reader, writer in results:
        writer.close()
    return ok


# --- Propagation --------------------------------------------------------------------------


def worker(config: dict) -> None:
    """One worker process: ``config["gateways"]`` reference gateways (``clients/gateway.py``'s
    class, each with its stream thread), printing one JSON line per applied revision:
    ``{"i", "t" (CLOCK_MONOTONIC, shared by every process of the machine), "allowed"}``."""
    sys.path.insert(0, str(ROOT / "clients"))
    from gateway import Gateway  # noqa: PLC0415 - clients/ is not a package

    out_lock = threading.Lock()
    partner, release = config["partner"], config["release"]

    class TimedGateway(Gateway):
        index = -1
        noted = False

        def _apply(self, entries: list[dict], revision: int) -> None:
            super()._apply(entries, revision)
            if entries or not self.noted:  # a batch is applied: what allowed() says now
                self.noted = True
                answer = self.allowed(partner, release)
                line = json.dumps({"i": self.index, "t": time.monotonic(), "allowed": answer})
                with out_lock:
                    sys.stdout.write(line + "\n")
                    sys.stdout.flush()

    for index, name, token in config["gateways"]:
        gw = TimedGateway(config["url"], token, name, max_stale=60, report_every=3600)
        gw.index = index
        threading.Thread(target=gw.run_stream, name=f"stream-{name}", daemon=True).start()
        threading.Thread(target=gw.run_reporter, name=f"report-{name}", daemon=True).start()
    threading.Event().wait()


def api(port: int, token: str, method: str, path: str, body: dict | None = None) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    if resp.status >= 300:
        raise RuntimeError(f"{method} {path}: {resp.status} {data[:300]!r}")
    return json.loads(data or b"null")


def pick_target(port: int, token: str) -> tuple[int, str, str]:
    """A US partner allowed on a US-only release (moving it abroad denies it)."""
    feed = api(port, token, "GET", "/api/v1/entitlements/")
    for entry in feed["releases"]:
        if entry["us_only"] and entry["allowed_partners"]:
            pid = entry["allowed_partners"][0]
            country = api(port, token, "GET", f"/api/v1/partners/{pid}/")["country"]
            return pid, entry["release"], country
    raise RuntimeError("seed_demo has no US-only release with an allowed partner")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q * len(ordered)) - 1))]


def propagation(port: int, env: dict, token: str, args) -> dict:
    partner, release, home = pick_target(port, token)
    gateways = []
    for i in range(args.gateways):
        made = api(port, token, "POST", "/api/v1/gateways/", {"name": f"bench-gw-{i:03d}"})
        gateways.append((i, made["name"], made["token"]))
    events: queue.Queue = queue.Queue()
    procs = []
    url = f"http://127.0.0.1:{port}"
    for start in range(0, args.gateways, args.per_process):
        config = {
            "url": url,
            "partner": partner,
            "release": release,
            "gateways": gateways[start : start + args.per_process],
        }
        proc = subprocess.Popen(
            [PY, "-m", "benchmarks.gateways", "worker", json.dumps(config)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        procs.append(proc)
        threading.Thread(target=_pump, args=(proc, events), daemon=True).start()
    try:
        return _measure(port, token, partner, release, home, events, args)
    finally:
        for proc in procs:
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            proc.wait(timeout=15)


def _pump(proc, events: queue.Queue) -> None:
    for line in proc.stdout:
        events.put(json.loads(line))


def _wait_all(events: queue.Queue, n: int, expected: bool, since: float, timeout: float):
    """The first time (after ``since``) each of n gateways answered ``expected``."""
    first: dict[int, float] = {}
    deadline = time.monotonic() + timeout
    while len(first) < n:
        try:
            ev = events.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            break
        if ev["t"] >= since and ev["allowed"] is expected and ev["i"] not in first:
            first[ev["i"]] = ev["t"]
    return first


class CommitClock:
    """The moment each ledger entry commits: the driver LISTENs on the channel the ledger's
    trigger notifies (migration 0011; PostgreSQL delivers a NOTIFY only at commit), as the
    server's stream hub does, and notes when each ``seq`` arrives."""

    def __init__(self, db_url: str):
        import psycopg  # noqa: PLC0415 - only the benchmark driver needs it

        self.db_url = db_url
        self.conn = psycopg.connect(db_url, autocommit=True)
        self.conn.execute("LISTEN clearance_revision")
        self.times: dict[int, float] = {}
        self.changed = threading.Condition()
        threading.Thread(target=self._listen, daemon=True).start()

    def _listen(self) -> None:
        for note in self.conn.notifies():
            with self.changed:
                self.times[int(note.payload)] = time.monotonic()
                self.changed.notify_all()

    def committed(self, seq: int, timeout: float = 30) -> float:
        with self.changed:
            self.changed.wait_for(lambda: seq in self.times, timeout)
            return self.times[seq]

    def partner_seq(self, partner: int) -> int:
        """The ledger entry of the partner's newest change (the one just committed)."""
        with psycopg_cursor(self.db_url) as cur:
            cur.execute(
                "SELECT max(seq) FROM compliance_auditrecord WHERE model = 'partner'"
                " AND object_id = %s",
                [str(partner)],
            )
            return cur.fetchone()[0]


@contextlib.contextmanager
def psycopg_cursor(db_url: str):
    import psycopg  # noqa: PLC0415

    with psycopg.connect(db_url, autocommit=True) as conn, conn.cursor() as cur:
        yield cur


def _stats(values: list[float], prefix: str = "") -> dict:
    return {
        f"{prefix}p50_ms": round(statistics.median(values), 1),
        f"{prefix}p99_ms": round(percentile(values, 0.99), 1),
        f"{prefix}max_ms": round(max(values), 1),
        f"{prefix}min_ms": round(min(values), 1),
    }


def _measure(port, token, partner, release, home, events, args) -> dict:
    clock = CommitClock(args.db)
    ready = _wait_all(events, args.gateways, True, 0, 120)
    if len(ready) < args.gateways:
        raise RuntimeError(f"only {len(ready)} of {args.gateways} gateways started")
    time.sleep(2)  # let the start-up receipts settle
    from_commit: list[float] = []
    from_answer: list[float] = []
    from_sent: list[float] = []
    missed = 0
    per_change = []
    for k in range(args.changes):
        country = "GB" if k % 2 == 0 else home
        expected = country == home
        sent = time.monotonic()
        path = f"/api/v1/partners/{partner}/"
        api(port, token, "PATCH", path, {"country": country, "reason": f"bench change {k}"})
        answered = time.monotonic()
        committed = clock.committed(clock.partner_seq(partner))
        first = _wait_all(events, args.gateways, expected, sent, 30)
        missed += args.gateways - len(first)
        lat = [(t - committed) * 1000 for t in first.values()]
        from_commit += lat
        from_answer += [(t - answered) * 1000 for t in first.values()]
        from_sent += [(t - sent) * 1000 for t in first.values()]
        per_change.append(
            {
                "write_ms": round((answered - sent) * 1000, 1),
                "commit_to_answer_ms": round((answered - committed) * 1000, 1),
                "slowest_gateway_ms": round(max(lat), 1) if lat else None,
            }
        )
        time.sleep(args.pause)
    return {
        "partner": partner,
        "release": release,
        "gateways": args.gateways,
        "processes": -(-args.gateways // args.per_process),
        "changes": args.changes,
        "decisions": len(from_commit),
        "missed": missed,
        # commit (the NOTIFY at commit) → each gateway's allowed() gives the new answer:
        **_stats(from_commit),
        # the API's answer → the same: the API answers after the commit, sometimes after
        # the gateways already have it (negative), when the server is busy with receipts.
        **_stats(from_answer, "from_answer_"),
        # the PATCH sent → the same: an upper bound, the write's own queueing included.
        **_stats(from_sent, "from_sent_"),
        "per_change": per_change,
    }


def seed(env: dict) -> dict:
    manage(env, "migrate", "--noinput")
    manage(env, "seed_demo")
    token = manage(env, "add_user", "bench-admin", "--role", "admin", "--token").stdout.strip()
    gw = manage(env, "add_user", "bench-gw", "--role", "gateway", "--token").stdout.strip()
    return {"admin": token, "gateway": gw}


def cost(port: int, token: str, requests: int) -> dict:
    single = {
        "subject": {"type": "partner", "id": "1"},
        "resource": {"type": "release", "id": "frontier-2"},
        "action": {"name": "use"},
    }
    batch = {
        "evaluations": [
            {"subject": {"type": "partner", "id": str(1 + i % 5)}, "resource": single["resource"]}
            for i in range(100)
        ],
        "action": {"name": "use"},
    }
    return timed(
        port,
        token,
        {
            "noop": ("GET", "/api/v1/_bench/bare-auth/", None),
            "single": ("POST", "/access/v1/evaluation", single),
            # The batch endpoint with one entry: the snapshot-transaction path (BEGIN, SET
            # TRANSACTION, four reads, COMMIT) the single evaluation took before issue 15's
            # second pass, measured side by side.
            "batch1": ("POST", "/access/v1/evaluations", {"evaluations": [single]}),
            "batch100": ("POST", "/access/v1/evaluations", batch),
        },
        requests,
    )


def profile(port: int, token: str, requests: int, db_url: str) -> dict:
    """What the single evaluation pays that the no-op does not, step by step
    (benchmarks/views.py ``eval-*``): the POST with its JSON body, the body checked as an
    evaluation, one more round trip (``SELECT 1``), the evaluation's read on its own, and
    the endpoint; plus how many PostgreSQL sessions the server opened per request."""
    single = {
        "subject": {"type": "partner", "id": "1"},
        "resource": {"type": "release", "id": "frontier-2"},
        "action": {"name": "use"},
    }
    targets = {
        "noop": ("GET", "/api/v1/_bench/bare-auth/", None),
        "body": ("POST", "/api/v1/_bench/eval-body/", single),
        "parsed": ("POST", "/api/v1/_bench/eval-parsed/", single),
        "round_trip": ("GET", "/api/v1/_bench/eval-round-trip/", None),
        "read": ("GET", "/api/v1/_bench/eval-read/", None),
        "single": ("POST", "/access/v1/evaluation", single),
    }
    before = _sessions(db_url)
    out = timed(port, token, targets, requests)
    time.sleep(1.5)  # PostgreSQL counts a session within a second
    sent = (requests + 20) * len(targets)
    out["sessions_per_request"] = round((_sessions(db_url) - before) / sent, 3)
    noop = out["noop"]["p50_ms"]
    out["extra_ms_vs_noop"] = {k: round(out[k]["p50_ms"] - noop, 3) for k in targets}
    return {"profile": out}


def _sessions(db_url: str) -> int:
    with psycopg_cursor(db_url) as cur:
        cur.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        return cur.fetchone()[0]


def idle(port: int, proc, token: str, subscribers: int) -> dict:
    before = proc_status(proc.pid)
    ok = asyncio.run(idle_subscribers(port, token, subscribers, 3.0))
    during = proc_status(proc.pid)
    return {
        "connected": ok,
        "rss_before_mb": round(before["rss_mb"], 1),
        "rss_during_mb": round(during["rss_mb"], 1),
        "extra_rss_mb": round(during["rss_mb"] - before["rss_mb"], 1),
        "threads_before": before["threads"],
        "threads_during": during["threads"],
    }


def goals(out: dict, args) -> dict:
    verdicts = {}
    if "single" in out:
        out["ratios"] = {
            "single_vs_noop_throughput": round(out["noop"]["p50_ms"] / out["single"]["p50_ms"], 3),
            "batch100_vs_single_latency": round(
                out["batch100"]["p50_ms"] / out["single"]["p50_ms"], 3
            ),
        }
        out["ratios"]["batch1_vs_noop_throughput"] = round(
            out["noop"]["p50_ms"] / out["batch1"]["p50_ms"], 3
        )
        verdicts["single ≥ 0.9× no-op"] = out["ratios"]["single_vs_noop_throughput"] >= 0.9
        verdicts["batch of 100 ≤ 3× single"] = out["ratios"]["batch100_vs_single_latency"] <= 3
    if "idle" in out:
        verdicts["1,000 idle: extra RSS < 200 MB"] = out["idle"]["extra_rss_mb"] < 200
        verdicts["1,000 idle: no thread each"] = (
            out["idle"]["threads_during"] - out["idle"]["threads_before"] < args.subscribers / 10
        )
    if "propagation" in out:
        prop = out["propagation"]
        verdicts["propagation p99 ≤ 1 s"] = prop["missed"] == 0 and prop["p99_ms"] <= 1000
        verdicts["propagation p99 ≤ 1 s, from the API's answer"] = (
            prop["missed"] == 0 and prop["from_answer_p99_ms"] <= 1000
        )
    return verdicts


PARTS = ("cost", "profile", "idle", "propagation")


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "worker":
        worker(json.loads(sys.argv[2]))
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", default=os.environ.get("BENCH_GATEWAYS_DB", DEFAULT_DB))
    parser.add_argument("--only", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument("--requests", type=int, default=REQUESTS)
    parser.add_argument("--subscribers", type=int, default=SUBSCRIBERS)
    parser.add_argument("--changes", type=int, default=20)
    parser.add_argument("--gateways", type=int, default=100)
    parser.add_argument("--per-process", type=int, default=10)
    parser.add_argument("--pause", type=float, default=1.0, help="seconds between changes")
    parser.add_argument(
        "--db-pool",
        default="8",
        help="DB_POOL of the server (README: set for the ASGI server); 0: no pool",
    )
    args = parser.parse_args()
    recreate_database(args.db)
    env = server_env(args.db)
    seed_env = dict(env)
    env["DB_POOL"] = args.db_pool
    tokens = seed(seed_env)
    out: dict = {
        "requests": args.requests,
        "subscribers": args.subscribers,
        "db_pool": args.db_pool,
        "load_average_start": os.getloadavg(),
    }
    with uvicorn_server(env) as (port, proc):
        if "cost" in args.only:
            out.update(cost(port, tokens["admin"], args.requests))
        if "profile" in args.only:
            out.update(profile(port, tokens["admin"], args.requests, args.db))
        if "idle" in args.only:
            out["idle"] = idle(port, proc, tokens["gateway"], args.subscribers)
        if "propagation" in args.only:
            out["propagation"] = propagation(port, env, tokens["admin"], args)
    out["load_average_end"] = os.getloadavg()
    out["goals"] = goals(out, args)
    json.dump(out, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()

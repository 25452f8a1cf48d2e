"""Issue 15 benchmarks against one live uvicorn server (config.asgi:application) on
PostgreSQL, every figure from the same run:

- a single AuthZEN evaluation vs the token-authenticated no-op view (``_bench/bare-auth/``):
  median latency of sequential keep-alive requests, ratio of throughputs (goal ≥ 0.9×);
- a batch of 100 evaluations vs one single evaluation (goal ≤ 3× its latency);
- 1,000 idle entitlement-stream subscribers (an in-process asyncio pool of raw HTTP/1.1
  connections speaking the stream's protocol: GET with the gateway token, reading the SSE
  bytes): the server's extra RSS (goal < 200 MB) and thread count (goal: no thread each).

    .venv/bin/python -m benchmarks.gateways [--db postgres://…/bench_gateways]

Prints the results as JSON. It recreates its own database (``bench_gateways`` by default).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
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


def seed(env: dict) -> dict:
    manage(env, "migrate", "--noinput")
    manage(env, "seed_demo")
    token = manage(env, "add_user", "bench-admin", "--role", "admin", "--token").stdout.strip()
    gw = manage(env, "add_user", "bench-gw", "--role", "gateway", "--token").stdout.strip()
    return {"admin": token, "gateway": gw}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", default=os.environ.get("BENCH_GATEWAYS_DB", DEFAULT_DB))
    parser.add_argument("--requests", type=int, default=REQUESTS)
    parser.add_argument("--subscribers", type=int, default=SUBSCRIBERS)
    args = parser.parse_args()
    recreate_database(args.db)
    env = server_env(args.db)
    tokens = seed(env)
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
    out: dict = {"requests": args.requests, "subscribers": args.subscribers}
    with uvicorn_server(env) as (port, proc):
        tok = tokens["admin"]
        out.update(
            timed(
                port,
                tok,
                {
                    "noop": ("GET", "/api/v1/_bench/bare-auth/", None),
                    "single": ("POST", "/access/v1/evaluation", single),
                    "batch100": ("POST", "/access/v1/evaluations", batch),
                },
                args.requests,
            )
        )
        before = proc_status(proc.pid)
        ok = asyncio.run(idle_subscribers(port, tokens["gateway"], args.subscribers, 3.0))
        during = proc_status(proc.pid)
        out["idle"] = {
            "connected": ok,
            "rss_before_mb": round(before["rss_mb"], 1),
            "rss_during_mb": round(during["rss_mb"], 1),
            "extra_rss_mb": round(during["rss_mb"] - before["rss_mb"], 1),
            "threads_before": before["threads"],
            "threads_during": during["threads"],
        }
    out["ratios"] = {
        "single_vs_noop_throughput": round(out["noop"]["p50_ms"] / out["single"]["p50_ms"], 3),
        "batch100_vs_single_latency": round(out["batch100"]["p50_ms"] / out["single"]["p50_ms"], 3),
    }
    out["goals"] = {
        "single ≥ 0.9× no-op": out["ratios"]["single_vs_noop_throughput"] >= 0.9,
        "batch of 100 ≤ 3× single": out["ratios"]["batch100_vs_single_latency"] <= 3,
        "1,000 idle: extra RSS < 200 MB": out["idle"]["extra_rss_mb"] < 200,
        "1,000 idle: no thread each": out["idle"]["threads_during"] - out["idle"]["threads_before"]
        < args.subscribers / 10,
    }
    json.dump(out, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()

"""`make bench`: Clearance at scale on PostgreSQL, against a real server (issue 8).

    .venv/bin/python benchmarks/run.py [--releases N] [--duration S] [--reuse] [--only STEP…]

1. creates (or, with --reuse, keeps) the database BENCH_DATABASE_URL
   (default postgres://postgres@127.0.0.1:5432/clearance_bench), migrates it and seeds it with
   ``seed_scale`` (~1,000,000 history rows by default);
2. starts gunicorn (2 sync workers) on a free loopback port against it, DEBUG off, with a
   generated SECRET_KEY, and loads it with wrk (bounded in time): the access check and the gate
   against a bare Django JSON view on the same server, in the same run;
3. runs the in-process steps (benchmarks/steps.py): query counts, the service write with and
   without history, the reminder sweep, verify/export of the audit log;
4. writes benchmarks/results/<timestamp>.json, benchmarks/results/latest.json and
   docs/benchmarks.md (table, the exact command, machine facts, each target met or missed).

Nothing here asserts a timing; the figures are reported against the issue's targets."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
DOC = ROOT / "docs" / "benchmarks.md"
FINDINGS = ROOT / "benchmarks" / "findings.md"
PY = sys.executable
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/clearance_bench"
STEP_NAMES = ("seed", "http", "queries", "write", "sweep", "audit", "audit_speed")

TARGETS = {
    "access": 0.6,  # access check ≥ 0.6× the bare view
    "gate": 0.4,  # gate ≥ 0.4× the bare view
    "write": 2.0,  # history write ≤ 2× the plain write
    "sweep_seconds": 30.0,
    "audit_rows_per_s": 100_000,
    "audit_rss_mb": 150,
}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# --- environment -------------------------------------------------------------------------
def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        log("wrk is missing: installing the Debian package")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=False, env=env)
        if not shutil.which("wrk"):
            subprocess.run(["apt-get", "update", "-q"], check=True, env=env)
            subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True, env=env)
        found = shutil.which("wrk")
    if not found:
        sys.exit(
            "FATAL: make bench needs the load generator wrk. Install it "
            "(Debian/Ubuntu: sudo apt-get install wrk) and run make bench again."
        )
    return found


def server_env(db_url: str) -> dict:
    return {
        **os.environ,
        "DATABASE_URL": db_url,
        "DEBUG": "0",
        "SECRET_KEY": os.environ.get("BENCH_SECRET_KEY") or secrets.token_urlsafe(50),
        "SECURE_SSL_REDIRECT": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "CLEARANCE_BENCH": "1",
        "LOG_LEVEL": "WARNING",
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "PYTHONPATH": str(ROOT),
    }


def with_db(url: str, name: str) -> str:
    p = urlparse(url)
    return urlunparse(p._replace(path="/" + name))


def db_name(url: str) -> str:
    return urlparse(url).path.lstrip("/")


def psql(admin_url: str, sql: str) -> str:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        cur = conn.execute(sql)
        return cur.fetchone()[0] if cur.description else ""


def recreate_database(url: str) -> None:
    import psycopg
    from psycopg import sql as pgsql

    name = db_name(url)
    with psycopg.connect(with_db(url, "postgres"), autocommit=True) as conn:
        conn.execute(
            pgsql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(pgsql.Identifier(name))
        )
        conn.execute(pgsql.SQL("CREATE DATABASE {}").format(pgsql.Identifier(name)))


def database_exists(url: str) -> bool:
    import psycopg

    with psycopg.connect(with_db(url, "postgres"), autocommit=True) as conn:
        return bool(
            conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db_name(url)]).fetchone()
        )


def manage(env: dict, *args: str, timeout: float | None = None) -> subprocess.CompletedProcess:
    cmd = [PY, "manage.py", *args]
    log("$ " + " ".join(shlex.quote(a) for a in cmd))
    return subprocess.run(
        cmd,
        cwd=ROOT,
        env=env,
        check=True,
        timeout=timeout,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def run_step(env: dict, step: str, *extra: str, timeout: float = 900) -> dict:
    """One in-process step (benchmarks/steps.py) in its own process; returns its JSON and the
    child's peak RSS."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        out = Path(f.name)
    cmd = [PY, "-m", "benchmarks.steps", step, "--out", str(out), *extra]
    log("$ " + " ".join(cmd[1:]))
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
    try:
        _, status, usage = wait4(proc, timeout)
    except TimeoutError:
        proc.kill()
        proc.wait()
        raise
    if status != 0:
        raise RuntimeError(f"step {step} failed with status {status}")
    result = json.loads(out.read_text())
    out.unlink()
    result.setdefault("_process", {})["peak_rss_mb"] = round(usage.ru_maxrss / 1024, 1)
    return result


def wait4(proc: subprocess.Popen, timeout: float):
    """os.wait4 with a deadline: the child's exit status and its own resource usage."""
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return pid, proc.returncode, usage
        if time.monotonic() > deadline:
            raise TimeoutError(f"{proc.args} ran longer than {timeout}s")
        time.sleep(0.05)


def machine_facts(db_url: str) -> dict:
    mem_kb = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    cpu = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    wrk_version = "wrk not installed (no HTTP step)"
    if shutil.which("wrk"):
        wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True)
        wrk_version = wrk.stdout.split("\n")[0]
    import django
    import gunicorn

    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "postgresql": psql(db_url, "SHOW server_version"),
        "python": platform.python_version(),
        "django": django.get_version(),
        "gunicorn": gunicorn.__version__,
        "wrk": wrk_version.strip(),
        "os": platform.platform(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


# --- 1. seed -----------------------------------------------------------------------------
def step_seed(args, env: dict) -> dict:
    url = env["DATABASE_URL"]
    if args.reuse and database_exists(url):
        log(f"--reuse: keeping {db_name(url)}")
        manage(env, "migrate", "--noinput", "-v0")
        return {"reused": True, **count_history(env)}
    log(f"creating database {db_name(url)}")
    recreate_database(url)
    t0 = time.monotonic()
    manage(env, "migrate", "--noinput", "-v0")
    migrate_s = time.monotonic() - t0
    t0 = time.monotonic()
    cmd = ["-m", "benchmarks.seed_scale"] + (
        ["--releases", str(args.releases)] if args.releases else []
    )
    proc = subprocess.Popen(
        [PY, *cmd],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    log("$ python " + " ".join(cmd))
    lines = []
    for line in proc.stdout:
        lines.append(line.rstrip())
        print("    " + line.rstrip(), flush=True)
    if proc.wait() != 0:
        raise RuntimeError("seed_scale failed")
    seed_s = time.monotonic() - t0
    psql(url, "VACUUM ANALYZE")
    return {
        "reused": False,
        "command": "python " + " ".join(cmd),
        "migrate_seconds": round(migrate_s, 1),
        "seed_seconds": round(seed_s, 1),
        "output": lines[-1] if lines else "",
        **count_history(env),
    }


def count_history(env: dict) -> dict:
    code = (
        "import json; from benchmarks.seed_scale import history_models;"
        "from compliance.models import Release;"
        "print(json.dumps({'history_rows': {m.__name__: m.objects.count() for m in history_models()},"
        "'releases': Release.objects.count()}))"
    )
    out = subprocess.run(
        [PY, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    data = json.loads(out.strip().splitlines()[-1])
    data["history_rows_total"] = sum(data["history_rows"].values())
    return data


# --- 2. HTTP -----------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def gunicorn_server(env: dict):
    port = free_port()
    cmd = [
        str(Path(PY).parent / "gunicorn"),
        "config.wsgi:application",
        "--workers",
        "2",
        "--bind",
        f"127.0.0.1:{port}",
        "--chdir",
        str(ROOT),
        "--log-level",
        "warning",
        "--timeout",
        "60",
    ]
    log("$ " + " ".join(cmd[1:]))
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            if proc.poll() is not None:
                raise RuntimeError("gunicorn exited at start-up")
            try:
                urllib.request.urlopen(base + "/api/v1/_bench/bare/", timeout=2).read()
                break
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.1)
        else:
            raise RuntimeError("gunicorn did not answer within 20 s")
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def parse_wrk(text: str) -> dict:
    def ms(value: str) -> float:
        m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value)
        return float(m.group(1)) * UNITS[m.group(2)]

    out = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))}
    for pct in ("50", "99"):
        m = re.search(rf"^\s+{pct}(?:\.0+)?%\s+(\S+)", text, re.M)
        out[f"p{pct}_ms"] = round(ms(m.group(1)), 3)
    m = re.search(r"(\d+) requests in", text)
    out["requests"] = int(m.group(1))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    out["non_2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    out["socket_errors"] = sum(int(x) for x in m.groups()) if m else 0
    return out


def wrk(url: str, *, duration: int, threads: int, connections: int, token: str | None) -> dict:
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration}s",
        "--latency",
        "--timeout",
        "10s",
    ]
    if token:
        cmd += ["-H", f"Authorization: Token {token}"]
    cmd.append(url)
    text = subprocess.run(
        cmd, capture_output=True, text=True, check=True, timeout=duration + 30
    ).stdout
    return parse_wrk(text)


def probe(url: str, token: str | None) -> tuple[int, str]:
    req = urllib.request.Request(url, headers={"Authorization": f"Token {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read(300).decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(300).decode(errors="replace")


def step_http(args, env: dict) -> dict:
    targets = run_step(env, "targets")
    token = targets["token"]
    acc, gate = targets["access"], targets["gate"]
    endpoints = {
        "bare": ("/api/v1/_bench/bare/", None),
        "bare_drf": ("/api/v1/_bench/bare-drf/", None),
        "bare_token": ("/api/v1/_bench/bare-auth/", token),
        "access": (f"/api/v1/releases/{acc['release']}/access/?partner={acc['partner']}", token),
        "gate": (f"/api/v1/releases/{gate['release']}/gate/", token),
    }
    shape = {"threads": args.threads, "connections": args.connections, "duration_s": args.duration}
    out = {"shape": shape, "rounds": args.rounds, "endpoints": {}}
    with gunicorn_server(env) as base:
        live = {}
        for name, (path, tok) in endpoints.items():
            status, body = probe(base + path, tok)
            out["endpoints"][name] = {
                "path": path,
                "token": bool(tok),
                "probe_status": status,
                "probe_body": body[:200],
                "rounds": [],
            }
            if status == 200:
                live[name] = (path, tok)
            else:
                log(f"{name}: {path} answers {status}: not measured")
        for _name, (path, tok) in live.items():  # warm both workers' caches and connections
            wrk(
                base + path,
                duration=2,
                threads=args.threads,
                connections=args.connections,
                token=tok,
            )
        for r in range(args.rounds):
            for name, (path, tok) in live.items():
                res = wrk(
                    base + path,
                    duration=args.duration,
                    threads=args.threads,
                    connections=args.connections,
                    token=tok,
                )
                log(
                    f"round {r + 1} {name}: {res['rps']:.0f} req/s, p50 {res['p50_ms']} ms, "
                    f"p99 {res['p99_ms']} ms, non-2xx {res['non_2xx']}"
                )
                out["endpoints"][name]["rounds"].append(res)
    for data in out["endpoints"].values():
        rounds = data["rounds"]
        if rounds:
            data["rps"] = round(sum(x["rps"] for x in rounds) / len(rounds), 1)
            data["p50_ms"] = round(sorted(x["p50_ms"] for x in rounds)[len(rounds) // 2], 3)
            data["p99_ms"] = round(max(x["p99_ms"] for x in rounds), 3)
            data["errors"] = sum(x["non_2xx"] + x["socket_errors"] for x in rounds)
    bare = out["endpoints"]["bare"].get("rps")
    out["ratios"] = {
        name: round(data["rps"] / bare, 3)
        for name, data in out["endpoints"].items()
        if bare and data.get("rps") and name != "bare"
    }
    out["targets_used"] = {"access": acc, "gate": gate}
    return out


# --- 3.–5. in-process steps ----------------------------------------------------------------
def step_queries(args, env: dict) -> dict:
    small = with_db(env["DATABASE_URL"], db_name(env["DATABASE_URL"]) + "_queries")
    recreate_database(small)
    small_env = {**env, "DATABASE_URL": small}
    manage(small_env, "migrate", "--noinput", "-v0")
    result = run_step(small_env, "queries", "--scale-url", env["DATABASE_URL"])
    return result


def step_write(args, env: dict) -> dict:
    return run_step(env, "write", "--n", str(args.writes))


def step_sweep(args, env: dict) -> dict:
    """A database of its own where every release is in review with its sign-offs due:
    ``--sweep-items`` due sign-offs (8 per release), then one sweep."""
    url = with_db(env["DATABASE_URL"], db_name(env["DATABASE_URL"]) + "_sweep")
    sweep_env = {**env, "DATABASE_URL": url}
    releases = max(1, args.sweep_items // 8)
    recreate_database(url)
    manage(sweep_env, "migrate", "--noinput", "-v0")
    t0 = time.monotonic()
    seed_cmd = [PY, "-m", "benchmarks.seed_scale", "--all-due", "--releases", str(releases), "-q"]
    log("$ " + " ".join(shlex.quote(a) for a in seed_cmd))
    subprocess.run(seed_cmd, cwd=ROOT, env=sweep_env, check=True)
    seeded = round(time.monotonic() - t0, 1)
    psql(url, "VACUUM ANALYZE")
    result = run_step(sweep_env, "sweep")
    result["seed_seconds"] = seeded
    result["seed_command"] = f"python -m benchmarks.seed_scale --all-due --releases {releases}"
    return result


def timed_command(env: dict, *args: str, timeout: float = 900) -> dict:
    """A management command in its own process: wall time and the child's peak RSS."""
    cmd = [PY, "manage.py", *args]
    log("$ " + " ".join(shlex.quote(a) for a in cmd[1:]))
    t0 = time.monotonic()
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    _, status, usage = wait4(proc, timeout)
    seconds = time.monotonic() - t0
    output = proc.stdout.read().decode(errors="replace")
    return {
        "exit_status": status,
        "seconds": round(seconds, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "output_tail": output.strip().splitlines()[-3:],
    }


def step_audit(args, env: dict) -> dict:
    rows = run_step(env, "audit-rows")
    if rows.get("skipped"):
        return rows
    n = rows["rows"]
    out_dir = Path(tempfile.mkdtemp(prefix="clearance-bench-"))
    commands = {
        "verify_audit": ["verify_audit"],
        "export_audit --format csv": [
            "export_audit",
            "--format",
            "csv",
            "--output",
            str(out_dir / "audit.csv"),
        ],
        "export_audit --format jsonl": [
            "export_audit",
            "--format",
            "jsonl",
            "--output",
            str(out_dir / "audit.jsonl"),
        ],
    }
    results = {}
    for name, cmd in commands.items():
        res = timed_command(env, *cmd)
        res["rows"] = n
        res["rows_per_s"] = int(n / res["seconds"]) if res["seconds"] else 0
        if cmd[-1].endswith((".csv", ".jsonl")):
            path = Path(cmd[-1])
            res["file_mb"] = round(path.stat().st_size / 1e6, 1) if path.exists() else None
            path.unlink(missing_ok=True)
        if res["exit_status"] != 0:
            res["note"] = (
                "exit status " + str(res["exit_status"]) + ": " + " ".join(res["output_tail"])
            )
        results[name] = res
    shutil.rmtree(out_dir, ignore_errors=True)
    return {
        "how": "Each command in its own process (`manage.py …`), wall time from start to exit "
        "(Django start-up included), peak RSS of that process from `wait4()`'s rusage.",
        "commands": results,
    }


def _audit_speed():
    if str(ROOT) not in sys.path:  # run as benchmarks/run.py: the package is one level up
        sys.path.insert(0, str(ROOT))
    from benchmarks import audit_speed

    return audit_speed


def step_audit_speed(args, env: dict) -> dict:
    """Issue 18, item 7: verify and export, the implementation before it vs today's, side by
    side (benchmarks/audit_speed.py)."""
    audit_speed = _audit_speed()
    out_dir = Path(tempfile.mkdtemp(prefix="clearance-bench-"))
    try:
        return audit_speed.measure(env, out_dir, log=log)
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)


STEPS = {
    "seed": step_seed,
    "http": step_http,
    "queries": step_queries,
    "write": step_write,
    "sweep": step_sweep,
    "audit": step_audit,
    "audit_speed": step_audit_speed,
}


# --- report --------------------------------------------------------------------------------
def verdict(met) -> str:
    return "—" if met is None else ("**met**" if met else "**missed**")


def assess(results: dict) -> list[dict]:
    rows = []
    http = results.get("http") or {}
    eps = http.get("endpoints", {})
    ratios = http.get("ratios", {})
    for name, label, target in (
        ("access", "access check vs bare view (req/s ratio)", TARGETS["access"]),
        ("gate", "gate vs bare view (req/s ratio)", TARGETS["gate"]),
    ):
        value = ratios.get(name)
        note = ""
        if value is None:
            note = (
                f"not measured: {eps[name]['path']} answered HTTP {eps[name]['probe_status']}"
                if name in eps
                else "not run"
            )
        rows.append(
            {
                "measure": label,
                "target": f"≥ {target}×",
                "value": f"{value}×" if value is not None else "—",
                "met": None if value is None else value >= target,
                "note": note,
            }
        )
    q = results.get("queries")
    if q:
        bad = [e for e in q.get("endpoints", []) if e.get("status_ok") and not e.get("constant")]
        measured = [e for e in q.get("endpoints", []) if e.get("status_ok")]
        rows.append(
            {
                "measure": "query counts independent of page and data size",
                "target": "same count at 1, 100 rows and full scale",
                "value": f"{len(measured) - len(bad)}/{len(measured)} endpoints constant",
                "met": (not bad) if measured else None,
                "note": ", ".join(e["name"] for e in bad) or q.get("note", ""),
            }
        )
    w = results.get("write")
    if w:
        rows.append(
            {
                "measure": "decide_signoff with history"
                + (" and chain" if w.get("chain") else "")
                + " vs without (median time ratio)",
                "target": f"≤ {TARGETS['write']}×",
                "value": f"{w['ratio_median']}×",
                "met": w["ratio_median"] <= TARGETS["write"],
                "note": f"{w['with_history']['median_ms']} ms vs "
                f"{w['without_history']['median_ms']} ms (n={w['n']} each)",
            }
        )
    s = results.get("sweep")
    if s:
        if s.get("skipped"):
            rows.append(
                {
                    "measure": "reminder sweep over 100k due items",
                    "target": "< 30 s, one SMTP connection",
                    "value": "—",
                    "met": None,
                    "note": s["skipped"],
                }
            )
        else:
            met = (
                s["seconds"] < TARGETS["sweep_seconds"]
                and s["smtp_connections"] == 1
                and s.get("queries_bounded", False)
            )
            rows.append(
                {
                    "measure": f"reminder sweep over {s['due_items']} due items",
                    "target": "< 30 s, bounded queries, 1 SMTP connection",
                    "value": f"{s['seconds']} s, {s['queries']} queries, "
                    f"{s['smtp_connections']} SMTP connection(s)",
                    "met": met,
                    "note": s.get("note", ""),
                }
            )
    a = results.get("audit")
    if a:
        if a.get("skipped"):
            rows.append(
                {
                    "measure": "verify_audit / export over the full history",
                    "target": "≥ 100k rows/s, peak RSS < 150 MB",
                    "value": "—",
                    "met": None,
                    "note": a["skipped"],
                }
            )
        else:
            for name, data in a["commands"].items():
                met = (
                    data["rows_per_s"] >= TARGETS["audit_rows_per_s"]
                    and data["peak_rss_mb"] < TARGETS["audit_rss_mb"]
                )
                rows.append(
                    {
                        "measure": f"{name} over {data['rows']} rows",
                        "target": "≥ 100k rows/s, peak RSS < 150 MB",
                        "value": f"{data['rows_per_s']:,} rows/s, {data['peak_rss_mb']} MB",
                        "met": met,
                        "note": data.get("note", ""),
                    }
                )
    return rows


def page2_cell(value) -> str:
    # A list that fits on one page has no page 2 (HTTP 404): say so rather than show an error.
    return "one page" if value == "HTTP 404" else str(value)


def render(results: dict) -> str:
    m = results["machine"]
    lines = [
        "# Benchmarks",
        "",
        "Generated by `make bench` (benchmarks/run.py); figures from the run of "
        f"{results['timestamp']} (JSON: `benchmarks/results/{results['file']}`). "
        "Throughput is shown as a ratio to a bare Django JSON view served by the same gunicorn in "
        "the same run, so the figures compare across machines. Performance is shown here, never "
        "asserted by a timed unit test.",
        "",
        "## Targets",
        "",
        "| measure | target | result | verdict | notes |",
        "|---|---|---|---|---|",
    ]
    for row in results["assessment"]:
        lines.append(
            f"| {row['measure']} | {row['target']} | {row['value']} | {verdict(row['met'])} "
            f"| {row['note']} |"
        )
    lines += ["", "## How it was run", "", "```", results["command"], "```", ""]
    lines += [
        f"- machine: {m['nproc']} cores ({m['cpu']}), {m['memory_gb']} GB RAM, {m['os']}",
        f"- PostgreSQL {m['postgresql']}, Python {m['python']}, Django {m['django']}, "
        f"gunicorn {m['gunicorn']} (2 sync workers), {m['wrk']}",
        f"- load average at start: {m['load_average_at_start']} (the load generator shares the "
        "machine with the server)",
        f"- whole run: {results.get('total_seconds')} s; per step: "
        + ", ".join(f"{k} {v} s" for k, v in results.get("step_seconds", {}).items()),
    ]
    seed = results.get("seed")
    if seed:
        lines.append(
            f"- data: {seed.get('releases')} releases, {seed.get('history_rows_total'):,} history "
            "records ("
            + ", ".join(f"{k}: {v:,}" for k, v in seed["history_rows"].items())
            + ")"
            + (
                f"; seeded in {seed['seed_seconds']} s (`{seed['command']}`)"
                if not seed.get("reused")
                else "; reused database"
            )
        )
    http = results.get("http")
    if http:
        sh = http["shape"]
        lines += [
            "",
            "## 1. Access check and gate vs the bare view",
            "",
            f"wrk `-t{sh['threads']} -c{sh['connections']} -d{sh['duration_s']}s --latency`, "
            f"{http['rounds']} rounds per endpoint, interleaved; req/s is the mean of the "
            "rounds, p50 the median, p99 the worst round.",
            "",
            "| endpoint | path | auth | req/s | ratio to bare | p50 ms | p99 ms | errors |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for name, d in http["endpoints"].items():
            if "rps" in d:
                lines.append(
                    f"| {name} | `{d['path']}` | {'token' if d['token'] else 'none'} | "
                    f"{d['rps']:.0f} | {http['ratios'].get(name, 1.0)}× | {d['p50_ms']} | "
                    f"{d['p99_ms']} | {d['errors']} |"
                )
            else:
                lines.append(
                    f"| {name} | `{d['path']}` | {'token' if d['token'] else 'none'} | "
                    f"not measured (HTTP {d['probe_status']}) | | | | |"
                )
        lines += [
            "",
            "`bare_drf` is the same answer through a DRF view with no authentication (the "
            "framework's own cost); `bare_token` adds the API's token authentication and role "
            "permission (the share of an endpoint's cost that is authentication).",
        ]
    q = results.get("queries")
    if q:
        lines += [
            "",
            "## 2. Query counts per request",
            "",
            q.get("how", ""),
            "",
            "| endpoint | 1 row | 100 rows | page 2 | full scale | constant |",
            "|---|---|---|---|---|---|",
        ]
        for e in q.get("endpoints", []):
            lines.append(
                f"| `{e['name']}` | {e.get('small', '—')} | {e.get('large', '—')} | "
                f"{page2_cell(e.get('page2', '—'))} | {e.get('scale', '—')} | "
                f"{'yes' if e.get('constant') else ('no' if e.get('status_ok') else e.get('note', '—'))} |"
            )
    w = results.get("write")
    if w:
        lines += [
            "",
            "## 3. Service write with and without history",
            "",
            f"`decide_signoff` (approve) on {w['n']} pending current-round sign-offs each, "
            "interleaved one by one, on the seeded database; 'without' is the same call "
            "with `SIMPLE_HISTORY_ENABLED=False`"
            + (
                " (which also skips the audit chain, written per history record)."
                if w.get("chain")
                else "."
            ),
            "",
            "| variant | median ms | mean ms | p90 ms |",
            "|---|---|---|---|",
        ]
        for key in ("with_history", "without_history"):
            d = w[key]
            lines.append(
                f"| {key.replace('_', ' ')} | {d['median_ms']} | {d['mean_ms']} | {d['p90_ms']} |"
            )
        lines.append(
            f"\nRatio (median): **{w['ratio_median']}×**; ratio (mean): {w['ratio_mean']}×."
        )
    s = results.get("sweep")
    if s and not s.get("skipped"):
        lines += [
            "",
            "## 4. Reminder sweep",
            "",
            s.get("how", ""),
            "",
            "| due items | seconds | queries | SMTP connections | e-mails |",
            "|---|---|---|---|---|",
            f"| {s['due_items']} | {s['seconds']} | {s['queries']} | {s['smtp_connections']} | {s.get('emails', '—')} |",
        ]
    a = results.get("audit")
    if a and not a.get("skipped"):
        lines += [
            "",
            "## 5. Audit verify and export",
            "",
            a.get("how", ""),
            "",
            "| command | rows | seconds | rows/s | peak RSS MB |",
            "|---|---|---|---|---|",
        ]
        for name, d in a["commands"].items():
            lines.append(
                f"| `{name}` | {d['rows']:,} | {d['seconds']} | {d['rows_per_s']:,} | {d['peak_rss_mb']} |"
            )
    failed = {k: v["error"] for k, v in results.items() if isinstance(v, dict) and "error" in v}
    if failed:
        lines += [
            "",
            "Steps that failed in this run: "
            + "; ".join(f"{k}: `{v}`" for k, v in failed.items())
            + ".",
        ]
    skipped = results.get("not_run")
    if skipped:
        lines += ["", "Not run in this invocation: " + ", ".join(skipped) + "."]
    if FINDINGS.exists():
        lines += ["", FINDINGS.read_text().strip()]
    section = _audit_speed().render_section(results)
    if section:
        lines += ["", section.rstrip("\n")]
    return "\n".join(lines) + "\n"


def command_line() -> str:
    """The command as it was run (make bench runs this script with no arguments)."""
    env = ""
    if os.environ.get("BENCH_DATABASE_URL"):
        env = f"BENCH_DATABASE_URL={os.environ['BENCH_DATABASE_URL']} "
    if not sys.argv[1:]:
        return env + "make bench"
    return env + ".venv/bin/python benchmarks/run.py " + " ".join(sys.argv[1:])


def kept_sections(rendered: str) -> str:
    """The sections of docs/benchmarks.md that other benchmark scripts or their authors own
    (every ``## `` section whose heading this script does not render), kept on a re-render."""
    old = DOC.read_text() if DOC.exists() else ""
    ours = {line for line in rendered.splitlines() if line.startswith("## ")}
    kept, keep = [], False
    for line in old.splitlines():
        if line.startswith("## "):
            keep = line not in ours
        if keep:
            kept.append(line)
    return ("\n\n" + "\n".join(kept) + "\n") if kept else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--releases",
        type=int,
        default=None,
        help="seed_scale size (default: seed_scale's, ~1,000,000 history rows)",
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep an existing benchmark database instead of re-seeding it",
    )
    parser.add_argument("--only", nargs="+", choices=STEP_NAMES, help="run only these steps")
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run (10)")
    parser.add_argument("--rounds", type=int, default=3, help="wrk runs per endpoint (3)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--writes", type=int, default=200, help="decide_signoff calls per variant")
    parser.add_argument(
        "--sweep-items", type=int, default=100_000, help="due sign-offs for the sweep step (100000)"
    )
    parser.add_argument("--no-doc", action="store_true", help="do not rewrite docs/benchmarks.md")
    parser.add_argument(
        "--render",
        metavar="RESULTS_JSON",
        help="only rewrite docs/benchmarks.md from a results file (e.g. after editing "
        "benchmarks/findings.md)",
    )
    args = parser.parse_args()
    if args.render:
        DOC.write_text(render(json.loads(Path(args.render).read_text())))
        log(f"wrote {DOC.relative_to(ROOT)} from {args.render}")
        return

    db_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB)
    if not db_url.startswith(("postgres://", "postgresql://")):
        sys.exit("FATAL: BENCH_DATABASE_URL must be a PostgreSQL URL")
    env = server_env(db_url)
    steps = list(args.only or STEP_NAMES)
    if "http" in steps:  # the load generator is needed by the HTTP step only
        ensure_wrk()
    if "seed" not in steps and not database_exists(db_url):
        sys.exit(f"FATAL: {db_name(db_url)} does not exist: run without --only (or include seed)")
    started = time.monotonic()
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    results: dict = {
        "timestamp": stamp,
        "file": f"{stamp}.json",
        "command": command_line(),
        "database": urlparse(db_url)._replace(netloc=urlparse(db_url).hostname or "").geturl(),
        "machine": machine_facts(with_db(db_url, "postgres")),
        "not_run": [s for s in STEP_NAMES if s not in steps],
    }
    for name in STEP_NAMES:
        if name not in steps:
            continue
        log(f"== {name}")
        t0 = time.monotonic()
        try:
            results[name] = STEPS[name](args, env)
        except Exception as exc:  # a failed step is reported, the others still run
            log(f"{name} FAILED: {exc!r}")
            results[name] = {"error": repr(exc)}
        results.setdefault("step_seconds", {})[name] = round(time.monotonic() - t0, 1)
    results["total_seconds"] = round(time.monotonic() - started, 1)
    results["assessment"] = assess(
        {k: v for k, v in results.items() if not (isinstance(v, dict) and "error" in v)}
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    text = json.dumps(results, indent=2, default=str)
    (RESULTS / results["file"]).write_text(text)
    (RESULTS / "latest.json").write_text(text)
    if not args.no_doc:
        DOC.parent.mkdir(exist_ok=True)
        rendered = render(results)
        DOC.write_text(rendered.rstrip("\n") + kept_sections(rendered))
        log(f"wrote {DOC.relative_to(ROOT)}")
    log(f"wrote benchmarks/results/{results['file']} ({results['total_seconds']} s in all)")
    if not args.only:  # the evidence benchmarks (R37–R39) write their own section
        subprocess.run([PY, "benchmarks/evidence.py"], cwd=ROOT, check=False)
    for row in results["assessment"]:
        log(f"{row['measure']}: {row['value']} (target {row['target']}) {verdict(row['met'])}")


if __name__ == "__main__":
    main()

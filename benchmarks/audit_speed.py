"""Audit verify and export, old vs new side by side (issue 18, item 7), for ``make bench``.

    python -m benchmarks.audit_speed child verify|csv|jsonl fast|copy1|python|reference [FILE]
        one measurement, in this process: prints {"rows", "seconds", "ok"} as JSON
    python -m benchmarks.audit_speed doc RESULTS_JSON
        rewrite only this section of docs/benchmarks.md from a results file
    python -m benchmarks.audit_speed pairs csv jsonl [--rounds N]
        only the pairs of these measures (DATABASE_URL's database), N rounds interleaved:
        prints the results as JSON

``measure(env)`` (called by benchmarks/run.py's audit step) runs every pair in its own
child process, wall time from start to exit, peak RSS from ``wait4()``: "fast" is what
``verify_audit`` and ``export_audit`` run today, "reference" the implementation before issue
18 (``verify.verify_chain_reference``, ``export.iter_export_reference``), kept in the code as the definition the fast paths are
tested against. For the exports "python" is the Python writer that PostgreSQL's COPY replaced
(``export.iter_export_blocks``, still the SQLite path). Nothing here asserts a timing."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
HEADING = "## Audit verify and export speed (issue 18, item 7)"
GOAL_ROWS_PER_S = 150_000
GOAL_RSS_MB = 150
LIMITS = """What limits it (measured while building it, per phase, one process, on the seeded \
database): the SQL parts are small (the window over the ledger's links about 1 s, the live \
tables' comparison about 2.5–3 s, where the original per-chunk comparison took 21 s); the \
rest is Python per row, about 18 µs of CPU per ledger entry for the scan (two SHA-256 over \
canonical JSON, each history row made JSON-ready, the entry's columns compared) plus \
PostgreSQL sending two rows per entry (history row and entry, and the m2m rows). At 150,000 \
rows/s a 2-core machine has about 13 µs of CPU per row for everything, database included: \
with the chain's format kept byte for byte (no stored hash changes) and both cores used \
(`--workers 2`), this is out of reach here, and the machine was shared besides. The exports \
come from COPY (`export_copy`): PostgreSQL writes whole lines, `changes` as its jsonb \
text, in two streams on one snapshot; about 8–9.5 µs of PostgreSQL CPU and under 3 µs of \
client CPU per line under this load, so the goal needs both cores free. What would reach the goal: a versioned chain format whose canonical bytes can be \
produced by the database itself (or a compiled encoder), and verifying only what was \
appended since a signed checkpoint (`--since-checkpoint`, issue 18 item 6, branch tlog)."""

PAIRS = [
    ("verify", "reference"),
    ("verify", "fast"),
    ("csv", "reference"),
    ("csv", "python"),
    ("csv", "fast"),
    ("jsonl", "reference"),
    ("jsonl", "python"),
    ("jsonl", "fast"),
]
EXPORT_IMPLS = ("reference", "python", "fast")


def child(what: str, impl: str, path: str | None) -> dict:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    django.setup()
    from compliance.audit import verify
    from compliance.models.audit import AuditRecord

    t0 = time.monotonic()
    if what == "verify":
        if impl in ("fast", "python"):  # what verify_audit runs (its default --workers)
            from compliance.audit import scan

            # "python": the scan before the database wrote the canonical bytes (issue 18)
            scan.IN_DATABASE = impl == "fast"
            result = verify.verify_chain(workers=min(2, os.cpu_count() or 1))
        else:
            result = verify.verify_chain_reference()
        return {"rows": result["checked"], "ok": result["ok"], "seconds": time.monotonic() - t0}
    records = AuditRecord.objects.order_by("-seq")
    backend = _backend_cpu()
    result = _export(what, impl, path, records)
    result["db_cpu_seconds"] = round(_backend_cpu() - backend, 2)
    result["seconds"] = time.monotonic() - t0
    return result


def _backend_cpu() -> float:
    """CPU seconds of this process's PostgreSQL backend so far (the server on this machine):
    the COPY moves the work there, so the client's CPU alone would flatter it."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:  # a server on another machine
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _export(what: str, impl: str, path: str, records) -> dict:
    from compliance.audit import export
    from compliance.models.audit import AuditRecord

    if impl in ("fast", "copy1"):  # what export_audit runs: COPY, bytes passed through
        from compliance.audit import export_copy

        if impl == "copy1":  # one COPY stream instead of two
            export_copy.STREAMS = 1
        stats: dict = {}
        with open(path, "wb") as handle:
            for block in export.export_bytes(records, what, stats):
                handle.write(block)
        return {"rows": stats["rows"], "ok": True}
    writer = export.iter_export_blocks if impl == "python" else export.iter_export_reference
    with open(path, "w", encoding="utf-8", newline="") as handle:
        for text in writer(records, what):
            handle.write(text)
    return {"rows": AuditRecord.objects.count(), "ok": True}


def _run(env: dict, what: str, impl: str, out_dir: Path) -> dict:
    path = out_dir / f"audit-{impl}.{what}"
    cmd = [sys.executable, "-m", "benchmarks.audit_speed", "child", what, impl, str(path)]
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    _pid, status, usage = os.wait4(proc.pid, 0)
    seconds = time.monotonic() - t0
    out = json.loads(proc.stdout.read().strip().splitlines()[-1]) if status == 0 else {}
    res = {
        "exit_status": status,
        "seconds": round(seconds, 2),
        "inner_seconds": round(out.get("seconds", 0), 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        # CPU of the command's processes (its workers included), not of PostgreSQL: less
        # sensitive than wall time to other jobs on a shared machine.
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
        "rows": out.get("rows"),
        "ok": out.get("ok"),
        "db_cpu_seconds": out.get("db_cpu_seconds"),
    }
    res["rows_per_s"] = int(res["rows"] / seconds) if res["rows"] else 0
    if path.exists():
        res["file_mb"] = round(path.stat().st_size / 1e6, 1)
        res["sha256"] = _file_digest(path)
        path.unlink()
    return res


def _file_digest(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def measure(
    env: dict, out_dir: Path, log=print, whats=("verify", "csv", "jsonl"), rounds: int = 1
) -> dict:
    """Every pair of ``whats``, ``rounds`` times interleaved (A, B, A, B): ``runs`` holds the
    last round, ``rounds`` all of them."""
    every: list[dict] = []
    for number in range(rounds):
        results: dict = {}
        for what, impl in PAIRS:
            if what in whats:
                log(f"audit speed: {what} ({impl}), round {number + 1}")
                results[f"{what}:{impl}"] = _run(env, what, impl, out_dir)
        every.append(results)
    summary = {}
    for what in whats:
        ref, fast = results[f"{what}:reference"], results[f"{what}:fast"]
        summary[what] = {
            "speedup": round(ref["seconds"] / fast["seconds"], 2) if fast["seconds"] else None,
            "cpu_speedup": round(ref["cpu_seconds"] / fast["cpu_seconds"], 2)
            if fast.get("cpu_seconds")
            else None,
            "same_file": len({results[f"{what}:{i}"].get("sha256") for i in EXPORT_IMPLS}) == 1
            if what != "verify"
            else None,
            "same_answer": ref.get("rows") == fast.get("rows") and ref.get("ok") == fast.get("ok"),
            "met": fast["rows_per_s"] >= GOAL_ROWS_PER_S and fast["peak_rss_mb"] < GOAL_RSS_MB,
        }
    return {
        "how": "Each run in its own child process (`python -m benchmarks.audit_speed child WHAT "
        "IMPL FILE`), wall time from start to exit (Django start-up included), peak RSS of that "
        "process from `wait4()`; reference and fast one after the other in the same run, on the "
        "same database.",
        "runs": results,
        "rounds": every,
        "summary": summary,
    }


def render_section(results: dict) -> str:
    a = results.get("audit_speed")
    if not a:
        return ""
    lines = [
        HEADING,
        "",
        "Goal: full `verify_audit` and exports (CSV, JSONL) ≥ 150,000 rows/s at ~1M rows on this "
        "2-core machine, peak RSS < 150 MB. " + a["how"],
        "",
        "```",
        results.get("command", ""),
        "```",
        "",
        "| what | implementation | rows | seconds | rows/s | peak RSS MB | speed-up "
        "| client CPU s | CPU speed-up | goal |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for what in ("verify", "csv", "jsonl"):
        s = a["summary"][what]
        for impl in ("reference", "fast") if what == "verify" else EXPORT_IMPLS:
            r = a["runs"][f"{what}:{impl}"]
            speed = f"{s['speedup']}×" if impl == "fast" else "1×" if impl == "reference" else ""
            cpu_speed = f"{s.get('cpu_speedup')}×" if impl == "fast" else speed
            goal = ("**met**" if s["met"] else "**missed**") if impl == "fast" else ""
            rows = f"{r['rows']:,}" if r["rows"] else "—"
            lines.append(
                f"| {what} | {impl} | {rows} | {r['seconds']} | {r['rows_per_s']:,} "
                f"| {r['peak_rss_mb']} | {speed} | {r.get('cpu_seconds', '—')} | {cpu_speed} "
                f"| {goal} |"
            )
    same = [w for w in ("csv", "jsonl") if a["summary"][w]["same_file"]]
    load = results.get("machine", {}).get("load_average_at_start")
    lines += [
        "",
        f"Same file both ways (sha256): {', '.join(same) or 'none'}; same verify answer: "
        f"{'yes' if a['summary']['verify']['same_answer'] else 'NO'}. Load average when the "
        f"run started: {load} (other jobs shared the 2 cores; the ratios, measured one after "
        "the other in the same run, are the figures that compare).",
        "",
        LIMITS,
    ]
    return "\n".join(lines) + "\n"


def splice(doc: str, section: str) -> str:
    """``doc`` with this section replaced (or appended): other sections are left as they are."""
    pattern = re.compile(re.escape(HEADING) + r"\n.*?(?=\n## |\Z)", re.S)
    if pattern.search(doc):
        return pattern.sub(lambda _m: section.rstrip("\n"), doc).rstrip("\n") + "\n"
    return doc.rstrip("\n") + "\n\n" + section


def main(argv: list[str]) -> int:
    if argv[:1] == ["child"]:
        what, impl = argv[1], argv[2]
        print(json.dumps(child(what, impl, argv[3] if len(argv) > 3 else None)))
        return 0
    if argv[:1] == ["verify"]:  # verify only: IMPL... in turn, e.g. python fast python fast
        env = {**os.environ}
        out = Path(os.environ.get("TMPDIR", "/tmp"))
        load = os.getloadavg()
        runs = []
        for impl in argv[1:]:
            runs.append(
                {"impl": impl, "load_before": os.getloadavg(), **_run(env, "verify", impl, out)}
            )
            print(json.dumps(runs[-1]), flush=True)
        print(json.dumps({"load_average_at_start": load, "runs": runs}))
        return 0
    if argv[:1] == ["pairs"]:
        import argparse

        parser = argparse.ArgumentParser(prog="audit_speed pairs")
        parser.add_argument("whats", nargs="+", choices=("verify", "csv", "jsonl"))
        parser.add_argument("--rounds", type=int, default=1)
        options = parser.parse_args(argv[1:])
        whats, rounds = options.whats, options.rounds
        out_dir = Path(tempfile.mkdtemp(prefix="clearance-bench-"))
        started = {"load_average_at_start": [round(x, 2) for x in os.getloadavg()]}
        try:
            results = measure(dict(os.environ), out_dir, whats=whats, rounds=rounds)
        finally:
            shutil.rmtree(out_dir, ignore_errors=True)
        finished = {"load_average_at_end": [round(x, 2) for x in os.getloadavg()]}
        print(json.dumps({**started, **finished, **results}, indent=1))
        return 0
    if argv[:1] == ["doc"]:
        results = json.loads(Path(argv[1]).read_text())
        DOC.write_text(splice(DOC.read_text(), render_section(results)))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

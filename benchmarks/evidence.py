"""Evidence benchmarks (R37–R39), run by ``make bench`` (benchmarks/run.py calls it last) or
alone:

    .venv/bin/python benchmarks/evidence.py [--documents-mb 200] [--records 1000]

On its own database (BENCH_EVIDENCE_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/clearance_bench_evidence, recreated) and a throwaway
MEDIA_ROOT:

1. upload and download of a 25 MB file through the whole Django stack (multipart parsing,
   hashing, type detection, storage; the download streamed) vs a plain file copy of the
   same bytes, side by side in one run: ratios of throughput;
2. the evidence pack of a release with ~1,000 audit records and 200 MB of documents, built in
   its own process (wall time, peak RSS; goal < 150 MB), then checked with
   clients/verify_pack.py.

Writes benchmarks/results/evidence-latest.json and the "## Evidence" section of
docs/benchmarks.md (replacing its own section only). No timing is asserted."""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.run import recreate_database, wait4  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "evidence-latest.json"
DOC = ROOT / "docs" / "benchmarks.md"
PY = sys.executable
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/clearance_bench_evidence"
MB = 1024 * 1024
BEGIN, END = "<!-- evidence-bench:begin -->", "<!-- evidence-bench:end -->"
RSS_GOAL_MB = 150


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] evidence: {msg}", flush=True)


# --- in the child processes (Django set up) -----------------------------------------------


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def child_seed(args) -> dict:
    """A release with ``records`` audit records, ``documents_mb`` MB of documents linked."""
    _setup()
    from compliance import services
    from compliance.models import AuditRecord
    from tests.evidence_support import upload
    from tests.factories import AgencyFactory, UserFactory

    staff = UserFactory(username="bench-staff", role="staff")
    agency = AgencyFactory(code="DOC")
    release = services.create_release(
        actor=staff, slug="bench-pack", name="Bench pack", required_agencies=[agency]
    )
    docs = max(1, args.documents_mb)  # 1 MB each
    for i in range(docs):
        data = b"%PDF-1.4\n" + i.to_bytes(8, "big") + os.urandom(MB - 17)
        services.upload_evidence(
            actor=staff,
            file=upload(f"letter-{i}.pdf", data),
            title=f"Letter {i}",
            kind="agency_letter",
            releases=[release],
        )
    i = 0
    while AuditRecord.objects.filter(model="release").count() + 2 * docs < args.records:
        services.update_release(release, actor=staff, description=f"revision {i}")
        release.refresh_from_db()
        i += 1
    return {"documents": docs, "records": AuditRecord.objects.count()}


def child_http(args) -> dict:
    """25 MB up and down through the Django stack vs shutil.copyfile."""
    _setup()
    from django.test import Client

    from tests.factories import UserFactory

    user = UserFactory(username="bench-uploader", role="staff")
    client = Client()
    client.force_login(user)
    folder = Path(tempfile.mkdtemp(prefix="clearance-bench-ev-"))
    size = 25 * MB
    runs = []
    for i in range(3):
        src = folder / f"in-{i}.pdf"
        src.write_bytes(b"%PDF-1.4\n" + i.to_bytes(8, "big") + os.urandom(size - 17))
        t0 = time.perf_counter()
        shutil.copyfile(src, folder / f"copy-{i}.pdf")
        copy_s = time.perf_counter() - t0
        with src.open("rb") as fh:
            t0 = time.perf_counter()
            response = client.post(
                "/api/v1/evidence/", {"file": fh, "title": f"bench {i}", "kind": "other"}
            )
            upload_s = time.perf_counter() - t0
        assert response.status_code == 201, response.content[:500]
        doc = response.json()["id"]
        t0 = time.perf_counter()
        got = client.get(f"/api/v1/evidence/{doc}/file/")
        with (folder / f"out-{i}.pdf").open("wb") as out:
            for chunk in got.streaming_content:
                out.write(chunk)
        download_s = time.perf_counter() - t0
        runs.append({"copy_s": copy_s, "upload_s": upload_s, "download_s": download_s})
    shutil.rmtree(folder)
    best = {k: min(r[k] for r in runs) for k in runs[0]}
    return {
        "size_mb": 25,
        "copy_mb_s": round(25 / best["copy_s"], 1),
        "upload_mb_s": round(25 / best["upload_s"], 1),
        "download_mb_s": round(25 / best["download_s"], 1),
        "upload_vs_copy": round(best["copy_s"] / best["upload_s"], 3),
        "download_vs_copy": round(best["copy_s"] / best["download_s"], 3),
        "runs": runs,
    }


def child_pack(args) -> dict:
    _setup()
    from compliance.audit import pack
    from compliance.models import Release
    from tests.factories import UserFactory

    release = Release.objects.get(slug="bench-pack")
    auditor = UserFactory(username="bench-auditor", role="auditor")
    t0 = time.perf_counter()
    size = 0
    with open(args.out_zip, "wb") as out:
        for chunk in pack.evidence_pack(
            subject={"type": "release", "slug": release.slug, "id": release.pk},
            records=pack.release_pack_records(release),
            documents=pack.release_documents(release),
            actor=auditor,
        ):
            out.write(chunk)
            size += len(chunk)
    return {"seconds": round(time.perf_counter() - t0, 2), "zip_mb": round(size / MB, 1)}


CHILDREN = {"seed": child_seed, "http": child_http, "pack": child_pack}


# --- the parent -----------------------------------------------------------------------------


def run_child(env: dict, name: str, *extra: str) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        out = Path(f.name)
    cmd = [PY, str(Path(__file__).resolve()), "--child", name, "--child-out", str(out), *extra]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
    _, status, usage = wait4(proc, 1800)
    if status != 0:
        raise RuntimeError(f"evidence bench step {name} failed ({status})")
    result = json.loads(out.read_text())
    out.unlink()
    result["peak_rss_mb"] = round(usage.ru_maxrss / 1024, 1)
    return result


def section(r: dict) -> str:
    h, p = r["http"], r["pack"]
    rss_ok = "met" if p["peak_rss_mb"] < RSS_GOAL_MB else "NOT met"
    return f"""{BEGIN}
## Evidence (R37–R39)

Command: `{r["command"]}` (also run by `make bench`), {r["when"]}, {r["machine"]}.
Own database `clearance_bench_evidence`, documents in a throwaway folder (FileSystemStorage).
Upload and download go through the whole Django stack in process (Django's test client:
no socket), each the best of 3 runs beside a copy of the same file in the same run (the copy
reads from the page cache).

| what | figure | vs plain file copy (1.0 = as fast) |
|---|---|---|
| plain `shutil.copyfile`, 25 MB | {h["copy_mb_s"]} MB/s | 1.0 |
| upload 25 MB (`POST /api/v1/evidence/`, multipart, hash, type check, store) | {h["upload_mb_s"]} MB/s | {h["upload_vs_copy"]} |
| download 25 MB (`GET /api/v1/evidence/{{id}}/file/`, streamed) | {h["download_mb_s"]} MB/s | {h["download_vs_copy"]} |

| evidence pack (`GET /releases/{{slug}}/evidence-pack/` body, built in its own process) | figure | goal |
|---|---|---|
| audit records in the pack / documents | {r["seed"]["pack_records"]} records, {r["seed"]["documents"]} documents ({r["seed"]["documents"]} MB) | 1,000 records, 200 MB |
| time to build and write the zip ({p["zip_mb"]} MB) | {p["seconds"]} s | — |
| peak RSS of the process building it | {p["peak_rss_mb"]} MB | < {RSS_GOAL_MB} MB: **{rss_ok}** |
| `clients/verify_pack.py` on it | exit {r["verify"]["exit"]}, {r["verify"]["seconds"]} s, {r["verify"]["peak_rss_mb"]} MB peak RSS | exit 0 |

The pack streams: documents are read and written 1 MB at a time, records in keyset chunks
of the ledger, so memory does not grow with the documents' size. The checkpoint is the
transparency log's own (signed once per tree size) and each record's inclusion proof is
read from its stored tree (`compliance/audit/pack_log.py`).
{END}
"""


def write_section(text: str) -> None:
    doc = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    if BEGIN in doc and END in doc:
        head, _, rest = doc.partition(BEGIN)
        _, _, tail = rest.partition(END + "\n")
        doc = head + text + tail
    else:
        doc = doc.rstrip("\n") + "\n\n" + text
    DOC.write_text(doc)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--documents-mb", type=int, default=200)
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--child", choices=sorted(CHILDREN))
    parser.add_argument("--child-out")
    parser.add_argument("--out-zip")
    args = parser.parse_args()
    if args.child:
        result = CHILDREN[args.child](args)
        Path(args.child_out).write_text(json.dumps(result))
        return

    db = os.environ.get("BENCH_EVIDENCE_DATABASE_URL", DEFAULT_DB)
    media = Path(tempfile.mkdtemp(prefix="clearance-bench-media-"))
    sys.path.insert(0, str(ROOT))
    from compliance.audit.notes import generate_key

    private, verifier = generate_key("clearance.bench/audit")
    env = {
        **os.environ,
        "DATABASE_URL": db,
        "MEDIA_ROOT": str(media),
        "SECRET_KEY": "bench-only-secret",
        "DEBUG": "0",
        "AUDIT_SIGNING_KEY": private,
        "EVIDENCE_S3_BUCKET": "",
        "ALLOWED_HOSTS": "testserver,127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "0",
    }
    log(f"recreating {db}")
    recreate_database(db)
    subprocess.run([PY, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    results: dict = {
        "command": "python benchmarks/evidence.py "
        f"--documents-mb {args.documents_mb} --records {args.records}",
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}",
    }
    log("25 MB upload/download vs copy")
    results["http"] = run_child(env, "http")
    log(f"seeding a release with {args.records} records and {args.documents_mb} MB")
    results["seed"] = run_child(
        env, "seed", "--documents-mb", str(args.documents_mb), "--records", str(args.records)
    )
    zip_path = media / "pack.zip"
    log("building the pack")
    results["pack"] = run_child(env, "pack", "--out-zip", str(zip_path))
    with zipfile_records(zip_path) as n:
        results["seed"]["pack_records"] = n
    log("verify_pack")
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [PY, "clients/verify_pack.py", str(zip_path), "--verifier-key", verifier],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    _, status, usage = wait4(proc, 900)
    results["verify"] = {
        "exit": status,
        "seconds": round(time.monotonic() - t0, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
    }
    shutil.rmtree(media)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))
    write_section(section(results))
    log(f"wrote {DOC.relative_to(ROOT)} and {RESULTS.relative_to(ROOT)}")
    print(json.dumps({k: results[k] for k in ("http", "seed", "pack", "verify")}, indent=2))


class zipfile_records:
    """The number of lines of records.jsonl in a pack."""

    def __init__(self, path: Path):
        self.path = path

    def __enter__(self) -> int:
        import zipfile

        with zipfile.ZipFile(self.path) as archive, archive.open("records.jsonl") as f:
            return sum(1 for _ in f)

    def __exit__(self, *exc) -> None:
        return None


if __name__ == "__main__":
    main()

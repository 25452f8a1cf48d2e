"""R24: the audit log exported as CSV or JSON lines, streamed in constant memory, each line
carrying its chain hash so the file can be checked offline."""

from __future__ import annotations

import csv
import hashlib
import http.client
import io
import json
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.http import StreamingHttpResponse

from compliance.audit.chain import GENESIS_HASH, entry_hash, jsonable
from compliance.audit.export import CSV_COLUMNS, export_bytes, iter_export
from compliance.audit.ledger import entry_of
from compliance.audit.log import audit_records
from compliance.audit.offline import parse_csv_row, verify_file, verify_lines
from compliance.models import AuditRecord
from compliance.services.users import issue_token
from tests import factories
from tests.asgi_support import LiveASGI
from tests.audit_helpers import head

pytestmark = pytest.mark.postgres

SEEDED = 10_000
EXPORT_URL = "/api/v1/audit/export/"


def seed_ledger(n: int, reason: str = "") -> None:
    """``n`` well-chained ledger entries in one INSERT batch (export does not read history
    tables, so these need none; the ledger is not a tracked model)."""
    last = AuditRecord.objects.order_by("-seq").first()
    seq, prev = (last.seq, last.hash) if last else (0, GENESIS_HASH)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    rows = []
    for i in range(n):
        seq += 1
        record = AuditRecord(
            seq=seq,
            model="release",
            history_table="seed",
            history_id=seq,
            object_id=str(i % 50),
            object_repr=f"seeded-{i % 50}",
            action="changed",
            actor="sam" if i % 2 else "system:send_reminders",
            user_id=None,
            at=start + timedelta(seconds=i),
            reason=f'reason {i}, with "quotes"\nand a newline{reason}',
            changes=[{"field": "status", "old": "draft", "new": "in_review"}],
            content_digest="c" * 64,
            prev_hash=prev,
        )
        record.hash = entry_hash(entry_of(record))
        prev = record.hash
        rows.append(record)
    AuditRecord.objects.bulk_create(rows, batch_size=2000)


@pytest.fixture
def seeded(agencies, staff):
    factories.make_release(staff, agencies=agencies[:1])  # a few real entries first
    seed_ledger(SEEDED)
    return head()


def _consume_peak(queryset) -> tuple[int, int]:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        lines = total = 0
        for text in iter_export(queryset, "jsonl"):
            lines += 1
            total += len(text)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return lines, peak


def test_export_memory_does_not_grow_with_rows(seeded):
    small_lines, small_peak = _consume_peak(AuditRecord.objects.filter(seq__lte=2000))
    big_lines, big_peak = _consume_peak(AuditRecord.objects.all())
    assert (small_lines, big_lines) == (2000, seeded)
    # 5× the rows, about the same peak: one chunk of rows is alive at a time.
    assert big_peak < small_peak * 1.5, (small_peak, big_peak)


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_api_export_of_a_filter_that_matches_nothing_is_empty(client, auditor, seeded, fmt):
    # An unknown release makes the filter ``none()``: no SQL at all (schemathesis found a
    # 500 here once the export ran its rows' SQL on a cursor of its own).
    client.force_login(auditor)
    response = client.get(EXPORT_URL, {"format": fmt, "release": "no-such-release"})
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode()
    rows = body.splitlines()[1:] if fmt == "csv" else body.splitlines()  # CSV: header only
    assert rows == []


def test_api_export_jsonl_streams_valid_lines(client, auditor, seeded):
    client.force_login(auditor)
    response = client.get(EXPORT_URL, {"format": "jsonl"})
    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse) and response.streaming
    assert response["Content-Type"] == "application/x-ndjson"
    assert response["Content-Disposition"].startswith('attachment; filename="clearance-audit-')
    lines = [json.loads(b) for b in b"".join(response.streaming_content).splitlines()]
    assert len(lines) == seeded
    assert [line["seq"] for line in lines] == list(range(1, seeded + 1))
    assert set(lines[-1]) == {
        "id", "seq", "model", "object_id", "object_repr", "action", "user", "at", "reason",
        "changes", "history_table", "history_id", "user_id", "content_digest", "prev_hash",
        "hash",
    }  # fmt: skip
    assert verify_lines(lines) == {
        "ok": True,
        "checked": seeded,
        "broken": None,
        "contiguous": True,
        "first_seq": 1,
        "last_seq": seeded,
        "last_hash": AuditRecord.objects.get(seq=seeded).hash,
    }


def test_api_export_csv_parses_and_filters(client, admin_user, seeded):
    client.force_login(admin_user)
    response = client.get(EXPORT_URL, {"format": "csv", "user": "sam", "action": "changed"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    text = b"".join(response.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    expected = audit_records(user="sam", action="changed")
    assert len(rows) == expected.count() == SEEDED // 2 + 1
    assert tuple(rows[0]) == CSV_COLUMNS
    assert {r["user"] for r in rows} == {"sam"} and {r["action"] for r in rows} == {"changed"}
    seeded_row = next(r for r in rows if r["history_table"] == "seed")
    assert "\n" in seeded_row["reason"] and '"quotes"' in seeded_row["reason"]
    assert json.loads(seeded_row["changes"]) == [
        {"field": "status", "old": "draft", "new": "in_review"}
    ]
    # A filtered export still checks line by line; links where seq is consecutive.
    result = verify_lines(parse_csv_row(r) for r in rows)
    assert (result["ok"], result["contiguous"]) == (True, False)


def test_export_bad_input_is_400(client, auditor, db):
    client.force_login(auditor)
    response = client.get(EXPORT_URL, {"format": "xml", "action": "edited", "since": "yesterday"})
    assert response.status_code == 400
    assert set(response.json()) == {"format", "action", "since"}


def test_export_permissions(client, staff, db):
    assert client.get(EXPORT_URL, {"format": "csv"}).status_code in (401, 403)
    client.force_login(staff)
    assert client.get(EXPORT_URL, {"format": "csv"}).status_code == 403


def test_export_command_and_offline_check(seeded, tmp_path, capsys):
    out = tmp_path / "audit.jsonl"
    call_command("export_audit", "--format", "jsonl", "--output", str(out))
    assert verify_file(str(out))["ok"] is True
    call_command("verify_export", str(out))
    assert json.loads(capsys.readouterr().out)["checked"] == seeded

    # Forge one line's reason: its hash no longer matches.
    lines = out.read_text().splitlines()
    forged = json.loads(lines[100])
    forged["reason"] = "nothing to see"
    lines[100] = json.dumps(forged)
    out.write_text("\n".join(lines) + "\n")
    with pytest.raises(CommandError):
        call_command("verify_export", str(out))
    result = json.loads(capsys.readouterr().out)
    assert result["broken"] == {
        "line": 101,
        "seq": 101,
        "problem": "hash_mismatch",
        "detail": "the line's fields do not match its hash",
    }
    # Drop a line: the next one no longer links.
    del lines[100]
    out.write_text("\n".join(lines) + "\n")
    result = verify_file(str(out))
    assert result["ok"] is True and result["contiguous"] is False  # a gap, as a filter makes
    lines = [json.loads(x) for x in lines]
    lines[100]["seq"] = 101  # …but renumbering to hide the gap breaks its hash
    assert verify_lines(lines)["broken"]["problem"] == "hash_mismatch"


def test_export_command_csv_with_filters(seeded, tmp_path):
    out = tmp_path / "audit.csv"
    call_command(
        "export_audit", "--format", "csv", "--output", str(out), "--model", "release",
        "--since", "2026-01-01T00:00:00+00:00", "--until", "2026-01-01T00:01:40+00:00",
    )  # fmt: skip
    rows = list(csv.DictReader(out.open()))
    assert [int(r["seq"]) for r in rows] == list(range(seeded - SEEDED + 1, seeded - SEEDED + 101))
    assert verify_file(str(out))["ok"] is True
    with pytest.raises(CommandError, match="bad filter"):
        call_command("export_audit", "--format", "csv", "--output", str(out), "--model", "nope")


def test_canonical_time_is_utc_iso():
    assert jsonable(datetime(2026, 1, 1, 12, tzinfo=UTC)) == "2026-01-01T12:00:00+00:00"


def _peak_rss_kb(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM")))


@pytest.mark.django_db(transaction=True)
def test_api_export_streams_under_the_asgi_server(auditor):
    """Under uvicorn (what production runs) the export is sent block by block from an async
    iterator: the server's peak memory grows by a small part of the file. (Django's ASGI
    handler reads a sync iterator whole first: it grew by more than the file.)"""
    seed_ledger(60_000, reason="x" * 600)
    token = issue_token(auditor)
    server = LiveASGI().start()

    def export(query: str) -> tuple[int, str]:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
        conn.request("GET", f"{EXPORT_URL}?{query}", headers={"Authorization": f"Token {token}"})
        response = conn.getresponse()
        assert response.status == 200
        size, digest = 0, hashlib.sha256()
        while block := response.read(1 << 16):
            size += len(block)
            digest.update(block)
        conn.close()
        return size, digest.hexdigest()

    try:
        export("format=jsonl&action=created")  # warm: code loaded, connection open
        before = _peak_rss_kb(server.process.pid)
        size, digest = export("format=jsonl")
        grown = _peak_rss_kb(server.process.pid) - before
    finally:
        server.stop()
    expected = b"".join(export_bytes(AuditRecord.objects.all(), "jsonl"))
    assert (size, digest) == (len(expected), hashlib.sha256(expected).hexdigest())
    assert size > 50_000_000
    assert grown * 1024 < size / 3, (grown, size)

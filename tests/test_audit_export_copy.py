"""The export written by PostgreSQL (``export_copy``, one COPY) is byte for byte the export
the Python writers make (``iter_export_blocks``) and the dict-per-row definition
(``iter_export_reference``): on real history and hostile seeded rows (quotes, commas, CR, LF,
control characters, non-ASCII, formula triggers, every shape of ``changes``), under every
filter, and for any text hypothesis finds. ``verify_export`` checks the files it writes."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import tracemalloc

import pytest
from django.core.management import call_command
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compliance.audit import export_copy
from compliance.audit.chain import entry_hash
from compliance.audit.export import export_bytes, iter_export_blocks, iter_export_reference
from compliance.audit.export_copy import copy_writes_lines
from compliance.audit.ledger import entry_of
from compliance.audit.log import audit_records
from compliance.audit.offline import parse_csv_row
from compliance.models import AuditRecord
from tests import factories
from tests.audit_helpers import head

pytestmark = pytest.mark.postgres

FORMATS = ("csv", "jsonl")
# Every kind of text a cell can hold, NUL excepted (PostgreSQL text cannot hold it).
HOSTILE = [
    'a "quoted", comma',
    "line\nbreak\r\n",
    "bare\rCR",
    "=cmd|' /C calc'!A0",
    "+1",
    "-2",
    "@SUM(A1)",
    "\tTAB first",
    "\rCR first",
    "'quote first",
    "é ü ß \u2028 \U0001f600 中文",
    "\x01\x07\x08\x0b\x0c\x1b\x1f\x7f controls",
    'back\\slash \\" \\n',
    "",
    " leading space",
    "plain",
]
CHANGES = [
    [],
    [{"field": "status", "old": "draft", "new": "in_review"}],
    [{"field": "round", "old": 1, "new": 2}, {"field": "due", "old": None, "new": True}],
    [{"field": "agencies", "old": [], "new": ["DOC", "ONCD.gov", "a,b"]}],
    [{"field": "partners", "old": [1, 2], "new": [-3, 2**63, 10**30]}],
    [{"field": "x", "old": "é\n\"'", "new": ["[{", "}]", "1.5"]}],
    [{"field": "nested", "old": {"b": 1, "aa": [{"z": None, "y": "é"}]}, "new": {}}],
    [{"field": "float", "old": 1.5, "new": 100.0}],
    [{"field": "mixed", "old": ["v1.2", 3], "new": [[1, "a"], []]}],
    [{"field": "extra", "old": 1, "new": 2, "why": "more keys"}],
    [{"old": 1, "new": 2}],
    ["not an object", 7],
    {"an": "object"},
    "a string",
]


def _seed(n: int) -> tuple[int, int]:
    """``n`` chained ledger rows after the head, cycling through every hostile text and every
    shape of ``changes``: (first seq, last seq)."""
    last = AuditRecord.objects.order_by("-seq").first()
    seq, prev = (last.seq, last.hash) if last else (0, "0" * 64)
    first = seq + 1
    base = dt.datetime(2026, 3, 29, 0, 59, 59, tzinfo=dt.UTC)
    rows = []
    for i in range(n):
        seq += 1
        pick = HOSTILE[i % len(HOSTILE)]
        record = AuditRecord(
            seq=seq,
            model=("release", "signoff", "governmentrequest")[i % 3],
            history_table=HOSTILE[(i + 5) % len(HOSTILE)] or "t",
            history_id=-i if i % 4 == 0 else i,
            object_id=str(i % 7) if i % 2 else pick,
            object_repr=HOSTILE[(i + 1) % len(HOSTILE)],
            action=("created", "changed", "deleted")[i % 3],
            actor=("sam", "system:send_reminders", HOSTILE[(i + 2) % len(HOSTILE)])[i % 3],
            user_id=None if i % 3 else i,
            # whole seconds every other row (no fraction in ISO 8601), years before 1000 too
            at=(base if i % 5 else base.replace(year=987))
            + dt.timedelta(seconds=i, microseconds=(i % 2) * 7919 * i),
            reason=HOSTILE[(i + 3) % len(HOSTILE)],
            changes=CHANGES[i % len(CHANGES)],
            content_digest=HOSTILE[(i + 4) % len(HOSTILE)],
            prev_hash=prev,
        )
        record.hash = prev = entry_hash(entry_of(record))
        rows.append(record)
    AuditRecord.objects.bulk_create(rows)
    return first, seq


# ``changes`` no Python value writes, as JSON text: numbers Python re-formats (1.50 → 1.5,
# 100.00 → 100.0) and a JSON null (Django would store SQL NULL for None).
RAW_CHANGES = ['[{"field": "amount", "new": 1.50, "old": [100.00, 2.0, 1e2]}]', "null"]


def _insert_raw(texts: list[str]) -> list[int]:
    """Chained rows whose ``changes`` column is each JSON text, written by SQL: their seqs."""
    last = AuditRecord.objects.order_by("-seq").first()
    seqs = []
    for text in texts:
        with connection.cursor() as cursor:  # the value as the column gives it back
            cursor.execute("SELECT %s::jsonb::text", [text])
            stored = cursor.fetchone()[0]
        record = AuditRecord(
            seq=last.seq + 1,
            model="release",
            history_table="raw",
            history_id=last.seq + 1,
            object_id="1",
            object_repr="raw changes",
            action="changed",
            actor="sam",
            user_id=None,
            at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
            reason="",
            changes=json.loads(stored),
            content_digest="d" * 64,
            prev_hash=last.hash,
        )
        record.hash = entry_hash(entry_of(record))
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO compliance_auditrecord (seq, model, history_table, history_id,"
                " object_id, object_repr, action, actor, user_id, at, reason, changes,"
                " content_digest, prev_hash, hash)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, NULL, %s, '', %s::jsonb, %s, %s, %s)",
                [
                    record.seq, record.model, record.history_table, record.history_id,
                    record.object_id, record.object_repr, record.action, record.actor,
                    record.at, text, record.content_digest, record.prev_hash, record.hash,
                ],
            )  # fmt: skip
        seqs.append(record.seq)
        last = record
    return seqs


def _python(queryset, fmt) -> bytes:
    return "".join(iter_export_blocks(queryset, fmt)).encode("utf-8")


def _reference(queryset, fmt) -> bytes:
    return "".join(iter_export_reference(queryset, fmt)).encode("utf-8")


def _copy(queryset, fmt, stats=None) -> bytes:
    return b"".join(export_bytes(queryset, fmt, stats))


BLOCK = 64


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch):
    """Blocks of 64 sequence numbers: a few hundred rows cross several of them."""
    monkeypatch.setattr(export_copy, "BLOCK", BLOCK)


@pytest.fixture
def world(agencies, staff):
    """Real history (a release through the services, its hostile name) followed by 4.5
    blocks of hostile seeded rows, and rows whose changes only SQL can write."""
    release = factories.make_release(
        staff, slug="frontier-1", agencies=agencies[:2], name='=HYPERLINK("x"), "Frontier"\n'
    )
    first, last = _seed(BLOCK * 4 + BLOCK // 2 + 17)
    return {"release": release, "seeded": (first, last), "raw": _insert_raw(RAW_CHANGES)}


def test_copy_is_the_path_on_postgresql(db):
    assert copy_writes_lines()


@pytest.mark.parametrize("fmt", FORMATS)
def test_whole_log_is_byte_identical(world, fmt):
    everything = audit_records()
    stats: dict = {}
    copied = _copy(everything, fmt, stats)
    assert copied == _python(everything, fmt) == _reference(everything, fmt)
    assert stats == {"rows": head()}
    assert b"\x00" not in copied
    # changes as jsonb writes them (keys shorter first, numbers as numeric spells them),
    # whichever way the column was written, and the same JSON values as the rows hold
    quote = '""' if fmt == "csv" else '"'
    for text in (
        "{q}new{q}: 1.50, {q}old{q}: [100.00, 2.0, 100], {q}field{q}: {q}amount{q}",
        "{q}old{q}: {{{q}b{q}: 1, {q}aa{q}: [{{{q}y{q}: {q}é{q}, {q}z{q}: null}}]}}",
        "{q}new{q}: [-3, 9223372036854775808, 1000000000000000000000000000000], {q}old{q}: [1, 2]",
        "[{{{q}new{q}: {q}in_review{q}, {q}old{q}: {q}draft{q}, {q}field{q}: {q}status{q}}}]",
    ):
        assert text.format(q=quote).encode() in copied
    stored = dict(AuditRecord.objects.values_list("seq", "changes"))
    assert {line["seq"]: line["changes"] for line in _parsed(copied, fmt)} == stored


def _parsed(data: bytes, fmt: str) -> list[dict]:
    text = data.decode("utf-8")
    if fmt == "jsonl":
        return [json.loads(line) for line in text.split("\n") if line]  # not splitlines: U+2028
    return [parse_csv_row(row) for row in csv.DictReader(io.StringIO(text, newline=""))]


FILTERS = [
    {"model": "signoff"},
    {"model": "release", "object_id": "frontier-1"},
    {"model": "release", "object_id": "3"},
    {"user": "sam"},
    {"user": HOSTILE[0]},
    {"since": "2026-03-29T01:00:30+00:00"},
    {"until": "2026-03-29T01:10:00+00:00"},
    {"since": "0987-03-29T01:00:00+00:00", "until": "2026-03-29T01:00:10+00:00"},
    {"action": "deleted"},
    {"release": "frontier-1"},
    {"release": "no-such-release"},
    {"q": "quoted"},
    {"q": "CR"},
    {"o": "at"},
    {"o": "-at"},
    {"model": "signoff", "user": "system:send_reminders", "action": "changed", "q": "a"},
]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    "filters", FILTERS, ids=lambda f: ",".join(f"{k}={v!r}" for k, v in f.items())
)
def test_every_filter_is_byte_identical(world, filters, fmt):
    records = audit_records(**filters)
    stats: dict = {}
    copied = _copy(records, fmt, stats)
    assert copied == _python(records, fmt) == _reference(records, fmt)
    assert stats["rows"] == records.count()
    if filters != {"release": "no-such-release"}:
        assert stats["rows"] > 0, "a filter that selects nothing proves little"


@pytest.mark.parametrize("fmt", FORMATS)
def test_command_writes_the_same_file_and_it_verifies(world, fmt, tmp_path):
    out = tmp_path / f"audit.{fmt}"
    err = io.StringIO()
    call_command("export_audit", "--format", fmt, "--output", str(out), stderr=err)
    assert out.read_bytes() == _python(AuditRecord.objects.all(), fmt)
    assert err.getvalue().strip() == f"wrote {head()} records to {out}"
    stdout = io.StringIO()
    call_command("verify_export", str(out), stdout=stdout)
    result = json.loads(stdout.getvalue())
    assert (result["ok"], result["checked"], result["contiguous"]) == (True, head(), True)
    assert result["last_hash"] == AuditRecord.objects.get(seq=head()).hash


TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))
JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), TEXT),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(TEXT, inner, max_size=4)),
    max_leaves=12,
)
ROW = st.fixed_dictionaries(
    {
        "model": TEXT.map(lambda s: s[:64]),
        "history_table": TEXT,
        "history_id": st.integers(min_value=-(2**63), max_value=2**63 - 1),
        "object_id": TEXT.map(lambda s: s[:64]),
        "object_repr": TEXT.map(lambda s: s[:200]),
        "action": TEXT.map(lambda s: s[:8]),
        "actor": TEXT.map(lambda s: s[:150]),
        "user_id": st.none() | st.integers(min_value=-(2**63), max_value=2**63 - 1),
        "at": st.datetimes(
            min_value=dt.datetime(1, 1, 2),
            max_value=dt.datetime(9999, 12, 30),
            timezones=st.just(dt.UTC),
        ),
        "reason": TEXT,
        "changes": st.one_of(
            st.lists(st.fixed_dictionaries({"field": TEXT, "old": JSON, "new": JSON}), max_size=4),
            JSON.filter(lambda value: value is not None),  # None: SQL NULL (RAW_CHANGES has it)
        ),
        "content_digest": TEXT.map(lambda s: s[:64]),
        "prev_hash": TEXT.map(lambda s: s[:64]),
    }
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=st.lists(ROW, min_size=1, max_size=8))
def test_any_text_and_any_changes_are_byte_identical(db, rows):
    start = head()
    records = []
    for i, row in enumerate(rows, start=start + 1):
        # (history_table, history_id) is unique: the table's name ends with the row's seq; the
        # hash is hex (the database makes its Merkle leaf from it)
        row = dict(row)
        table = f"{row.pop('history_table')[:80]}#{i}"
        records.append(AuditRecord(seq=i, hash=f"{i:064x}", history_table=table, **row))
    AuditRecord.objects.bulk_create(records)
    new = AuditRecord.objects.filter(seq__gt=start)
    for fmt in FORMATS:
        assert _copy(new, fmt) == _reference(new, fmt)


def test_copy_export_memory_does_not_grow_with_rows(db):
    _seed(BLOCK * 40)

    def peak(queryset) -> tuple[int, int]:
        tracemalloc.start()
        try:
            total = sum(len(block) for block in export_bytes(queryset, "jsonl"))
            return total, tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    small_bytes, small_peak = peak(AuditRecord.objects.filter(seq__lte=BLOCK * 8))
    big_bytes, big_peak = peak(AuditRecord.objects.all())
    assert big_bytes > 4 * small_bytes
    # five times the bytes, about the same peak: one block alive at a time
    assert big_peak < small_peak * 1.5, (small_peak, big_peak)


# --- two streams (outside a caller's transaction: these tests commit) ----------------------


@pytest.fixture
def two_streams(monkeypatch):
    """Two streams from 100 entries on (blocks of 64): the second half is a few blocks."""
    monkeypatch.setattr(export_copy, "SPLIT_MIN", 100)
    ran = []
    run = export_copy._SecondHalf.run

    def counted(self):
        ran.append(self.stats)
        run(self)

    monkeypatch.setattr(export_copy._SecondHalf, "run", counted)
    return ran


def _one_stream(queryset, fmt) -> bytes:
    export_copy.STREAMS, streams = 1, export_copy.STREAMS
    try:
        return _copy(queryset, fmt)
    finally:
        export_copy.STREAMS = streams


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("fmt", FORMATS)
def test_two_streams_write_the_same_bytes(two_streams, fmt):
    _seed(BLOCK * 9 + 5)
    for filters in ({}, {"model": "signoff"}, {"user": "sam", "q": "a"}):
        records = audit_records(**filters)
        stats: dict = {}
        copied = _copy(records, fmt, stats)
        assert stats["rows"] == records.count() > 0
        assert copied == _one_stream(records, fmt) == _python(records, fmt)
    assert len(two_streams) == 3 and all(s["rows"] > 0 for s in two_streams)


@pytest.mark.django_db(transaction=True)
def test_the_second_stream_reads_the_first_streams_snapshot(two_streams, monkeypatch):
    """An entry appended (and committed) after the export began is in neither half, though
    the second half's last block would hold its seq."""
    _seed(BLOCK * 4 + 3)
    before = AuditRecord.objects.count()
    run = export_copy._SecondHalf.run

    def append_then_run(self):
        _append_after(AuditRecord.objects.order_by("-seq").first())  # this thread's connection
        connection.close()
        run(self)

    monkeypatch.setattr(export_copy._SecondHalf, "run", append_then_run)
    stats: dict = {}
    copied = _copy(AuditRecord.objects.all(), "jsonl", stats)
    assert stats["rows"] == before == AuditRecord.objects.count() - 1
    assert copied.count(b"\n") == before
    late = AuditRecord.objects.order_by("-seq").first().seq  # in the last block (seq 1 on)
    assert (late - 1) // BLOCK == (late - 2) // BLOCK


def _append_after(last: AuditRecord) -> None:
    record = AuditRecord(
        seq=last.seq + 1, model="release", history_table="late", history_id=last.seq + 1,
        object_id="1", object_repr="late", action="changed", actor="sam", user_id=None,
        at=last.at, reason="", changes=[], content_digest="d" * 64, prev_hash=last.hash,
    )  # fmt: skip
    record.hash = entry_hash(entry_of(record))
    record.save(force_insert=True)

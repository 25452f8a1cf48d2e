"""The fast part of ``verify_audit`` (issue 18, item 7): find the smallest ``seq`` whose
entry the record-by-record check (``verify._check``) would reject, without walking the
ledger in sequence order. ``verify`` then re-checks that one entry the original way.

- gaps and links: one SQL statement, a window over the whole ledger (``first_link_problem``);
- entries naming a history table that is not tracked (``history_missing``);
- per history table (``scan_table``): the history rows, their m2m history rows and the
  table's ledger entries, all three in ``history_id`` order, merged in one pass; each entry
  is recomputed as ``_check`` does (``snapshot_columns``: its content digest and columns; then
  its own hash). An entry without its history row is ``history_missing``; a history row
  without an entry is a ``ledger_missing`` candidate (the earliest by history_date wins).

Rows are plain dicts read in chunks (server-side cursors on PostgreSQL): no model instance
and never more than a chunk per stream in memory. A table can be scanned in ``history_id``
ranges (``lo`` ≤ id < ``hi``), which is how ``parallel`` shares the work among processes."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

from django.db import connection

from compliance.audit.chain import GENESIS_HASH, entry_hash, jsonable
from compliance.audit.ledger import snapshot_columns
from compliance.audit.registry import Tracked, tracked_models
from compliance.models.audit import AuditRecord

CHUNK = 5000
LEDGER_COLUMNS = (
    "seq",
    "model",
    "history_table",
    "history_id",
    "object_id",
    "object_repr",
    "action",
    "actor",
    "user_id",
    "at",
    "reason",
    "changes",
    "content_digest",
    "prev_hash",
    "hash",
)


@dataclass(frozen=True)
class TableScan:
    entries: int  # ledger entries of this table (range) seen
    first_bad: int | None  # the smallest seq that fails a check
    unchained: tuple | None  # (history_date, table, model, history_id) of the earliest orphan


@dataclass(frozen=True)
class Scan:
    entries: int
    first_bad: int | None
    unchained: tuple | None


def _min(*values):
    present = [v for v in values if v is not None]
    return min(present) if present else None


def first_link_problem() -> int | None:
    """The smallest seq that does not follow its predecessor (seq + 1, prev_hash = hash; the
    first entry: seq 1 and the genesis hash)."""
    table = connection.ops.quote_name(AuditRecord._meta.db_table)
    sql = (
        "SELECT seq FROM (SELECT seq, prev_hash, LAG(seq) OVER w AS pseq,"
        " LAG(hash) OVER w AS phash FROM " + table + " WINDOW w AS (ORDER BY seq)) AS walk"
        " WHERE seq <> COALESCE(pseq, 0) + 1 OR prev_hash <> COALESCE(phash, %s)"
        " ORDER BY seq LIMIT 1"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [GENESIS_HASH])
        row = cursor.fetchone()
    return row[0] if row else None


def untracked_entry() -> int | None:
    """The smallest seq of an entry whose history table is not tracked (history_missing)."""
    rows = AuditRecord.objects.exclude(history_table__in=list(tracked_models()))
    return rows.order_by("seq").values_list("seq", flat=True).first()


def _stream(queryset, columns, lo, hi, order) -> Iterator[dict]:
    if lo is not None:
        queryset = queryset.filter(history_id__gte=lo)
    if hi is not None:
        queryset = queryset.filter(history_id__lt=hi)
    return queryset.order_by(*order).values(*columns).iterator(chunk_size=CHUNK)


class _M2MRows:
    """One m2m history table, read alongside its history rows (both by history_id)."""

    def __init__(self, m, lo, hi):
        self.name = m.name
        rows = _stream(
            m.history_model.objects, m.attnames, lo, hi, ("history_id", "m2m_history_id")
        )
        self.rows = rows
        self.head = next(rows, None)

    def take(self, history_id: int) -> list[dict]:
        out = []
        while self.head is not None and self.head["history_id"] <= history_id:
            if self.head["history_id"] == history_id:
                out.append(jsonable(self.head))
            self.head = next(self.rows, None)
        return out


def _entry_fails(tracked: Tracked, snap: dict, entry: dict) -> bool:
    """``verify._check`` from its snapshot on: content digest, columns, then the hash."""
    expected = snapshot_columns(tracked, snap)
    if any(entry[key] != value for key, value in expected.items()):
        return True
    return entry_hash(entry) != entry["hash"]


def scan_table(tracked: Tracked, lo: int | None = None, hi: int | None = None) -> TableScan:
    history = _stream(tracked.history_model.objects, tracked.attnames, lo, hi, ("history_id",))
    m2m = [_M2MRows(m, lo, hi) for m in tracked.m2m]
    ledger = _stream(
        AuditRecord.objects.filter(history_table=tracked.table),
        LEDGER_COLUMNS,
        lo,
        hi,
        ("history_id",),
    )
    entry = next(ledger, None)
    entries, first_bad, orphan = 0, None, None
    for row in history:
        history_id = row["history_id"]
        while entry is not None and entry["history_id"] < history_id:  # no history row
            entries, first_bad = entries + 1, _min(first_bad, entry["seq"])
            entry = next(ledger, None)
        snap = {"fields": jsonable(row), "m2m": {m.name: m.take(history_id) for m in m2m}}
        if entry is None or entry["history_id"] != history_id:
            key = (row["history_date"], history_id)
            orphan = key if orphan is None or key < orphan else orphan
            continue
        entries += 1
        if _entry_fails(tracked, snap, entry):
            first_bad = _min(first_bad, entry["seq"])
        entry = next(ledger, None)
    if entry is not None:  # entries past the last history row: none of them has its row
        for left in itertools.chain([entry], ledger):
            entries, first_bad = entries + 1, _min(first_bad, left["seq"])
    unchained = None if orphan is None else (orphan[0], tracked.table, tracked.name, orphan[1])
    return TableScan(entries, first_bad, unchained)


def tasks() -> list[tuple[str, int | None, int | None]]:
    """(history table, lo, hi): every table whole (see ``parallel`` for ranges)."""
    return [(table, None, None) for table in sorted(tracked_models())]


def combine(scans: list[TableScan], first_link: int | None, untracked: int | None) -> Scan:
    entries = AuditRecord.objects.count()
    first_bad = _min(first_link, untracked, *(s.first_bad for s in scans))
    unchained = _min(*(s.unchained for s in scans))
    return Scan(entries, first_bad, unchained)


def scan_chain() -> Scan:
    """Every check of the walk in sequence order, in one process (see ``parallel`` for
    several)."""
    tables = tracked_models()
    scans = [scan_table(tables[table], lo, hi) for table, lo, hi in tasks()]
    return combine(scans, first_link_problem(), untracked_entry())

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
from psycopg.types.datetime import TimestamptzLoader

from compliance.audit.chain import _PLAIN, ENTRY_KEYS, GENESIS_HASH, jsonable, sha256_plain
from compliance.audit.ledger import snapshot_columns
from compliance.audit.registry import Tracked, tracked_models
from compliance.models.audit import AuditRecord

CHUNK = 5000
LEDGER_COLUMNS = (*ENTRY_KEYS, "hash")  # seq first, history_id fourth, the hash last


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


def _stream(queryset, columns, lo, hi, order) -> Iterator[tuple]:
    """``queryset.values_list(*columns)`` in ``order``, lo ≤ history_id < hi."""
    if lo is not None:
        queryset = queryset.filter(history_id__gte=lo)
    if hi is not None:
        queryset = queryset.filter(history_id__lt=hi)
    queryset = queryset.order_by(*order)
    if connection.vendor == "postgresql":
        return _pg_stream(queryset, columns)
    return queryset.values_list(*columns).iterator(chunk_size=CHUNK)


_cursor_names = itertools.count()


def _pg_stream(queryset, columns) -> Iterator[tuple]:
    """The same rows as ``queryset.values_list(*columns)``, read by a server-side cursor with
    psycopg's own (C) loaders: Django's time zone loader parses every timestamp in Python,
    psycopg's gives the same instant (the connection's zone is UTC) several times faster.
    Fields with converters (JSONField) still get Django's, value by value."""
    model = queryset.model
    cols = [model._meta.get_field(name).get_col(model._meta.db_table) for name in columns]
    sql, params = queryset.values_list(*columns).query.sql_with_params()
    converters = [
        (i, [*connection.ops.get_db_converters(col), *col.get_db_converters(connection)], col)
        for i, col in enumerate(cols)
    ]
    converters = [(i, funcs, col) for i, funcs, col in converters if funcs]
    connection.ensure_connection()
    cursor = connection.connection.cursor(name=f"clearance_scan_{next(_cursor_names)}")
    cursor.adapters.register_loader("timestamptz", TimestamptzLoader)
    try:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(CHUNK):
            if not converters:
                yield from rows
                continue
            for row in rows:
                row = list(row)
                for i, funcs, col in converters:
                    for func in funcs:
                        row[i] = func(row[i], col, connection)
                yield tuple(row)
    finally:
        cursor.close()


def _plain(columns: tuple[str, ...], row: tuple) -> dict:
    """``jsonable(dict(zip(columns, row)))`` in one pass."""
    return {c: v if type(v) in _PLAIN else jsonable(v) for c, v in zip(columns, row, strict=True)}


class _M2MRows:
    """One m2m history table, read alongside its history rows (both by history_id)."""

    def __init__(self, m, lo, hi):
        self.name = m.name
        self.columns = m.attnames
        self.key = m.attnames.index("history_id")
        order = ("history_id", "m2m_history_id")
        self.rows = _stream(m.history_model.objects, m.attnames, lo, hi, order)
        self.head = next(self.rows, None)

    def take(self, history_id: int) -> list[dict]:
        out = []
        key, head = self.key, self.head
        while head is not None and head[key] <= history_id:
            if head[key] == history_id:
                out.append(_plain(self.columns, head))
            head = next(self.rows, None)
        self.head = head
        return out


_AT = {name: i for i, name in enumerate(LEDGER_COLUMNS)}


def _entry_fails(tracked: Tracked, snap: dict, entry: tuple) -> bool:
    """``verify._check`` from its snapshot on: content digest, columns, then the hash
    (``entry_hash`` of the ledger row: ``_plain`` is the ``jsonable`` it starts with)."""
    expected = snapshot_columns(tracked, snap, plain=True)
    if any(entry[_AT[key]] != value for key, value in expected.items()):
        return True
    return sha256_plain(_plain(ENTRY_KEYS, entry[:-1])) != entry[-1]


def scan_table(tracked: Tracked, lo: int | None = None, hi: int | None = None) -> TableScan:
    columns = tracked.attnames
    key, date = columns.index("history_id"), columns.index("history_date")
    history = _stream(tracked.history_model.objects, columns, lo, hi, ("history_id",))
    m2m = [_M2MRows(m, lo, hi) for m in tracked.m2m]
    ledger = _stream(
        AuditRecord.objects.filter(history_table=tracked.table),
        LEDGER_COLUMNS,
        lo,
        hi,
        ("history_id",),
    )
    entry = next(ledger, None)  # a tuple of LEDGER_COLUMNS: seq first, history_id fourth
    entries, first_bad, orphan = 0, None, None
    for row in history:
        history_id = row[key]
        while entry is not None and entry[3] < history_id:  # no history row
            entries, first_bad = entries + 1, _min(first_bad, entry[0])
            entry = next(ledger, None)
        # What ``registry.snapshots`` returns for this row: JSON-ready already.
        snap = {"fields": _plain(columns, row), "m2m": {m.name: m.take(history_id) for m in m2m}}
        if entry is None or entry[3] != history_id:
            orphan = _min(orphan, (row[date], history_id))
            continue
        entries += 1
        if _entry_fails(tracked, snap, entry):
            first_bad = _min(first_bad, entry[0])
        entry = next(ledger, None)
    if entry is not None:  # entries past the last history row: none of them has its row
        for left in itertools.chain([entry], ledger):
            entries, first_bad = entries + 1, _min(first_bad, left[0])
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

"""The fast part of ``verify_audit`` (issue 18, item 7): find every ``seq`` whose entry the
record-by-record check (``verify._check``) may reject, without walking the ledger in
sequence order. ``verify`` then re-checks those candidates, smallest first, the original
way; the first it rejects is the answer.

- gaps and links: one SQL statement, a window over the whole ledger (``first_link_problem``);
- entries naming a history table that is not tracked (``history_missing``);
- per history table (``scan_table``), on PostgreSQL (``sql_scan_table``): the database
  joins the table's ledger entries with their history rows and m2m history rows,
  recomputes each entry's content digest and own hash (``sha256()`` over the canonical
  bytes that ``pgcanonical`` writes in SQL), compares the columns the history row
  determines, and returns only the seqs where anything differs or could not be written
  exactly (a superset of those that fail), the smallest seq of an entry whose history row
  is gone, and the earliest history row without an entry (``ledger_missing``);
- elsewhere (SQLite, or a column type ``pgcanonical`` does not write:
  ``python_scan_table``): the history rows, their m2m history rows and the table's ledger
  entries, all three in ``history_id`` order, merged in one pass in Python, each entry
  recomputed as ``_check`` does; there the smallest failing seq is exact.

Python-side rows are plain tuples read in chunks (server-side cursors on PostgreSQL): no
model instance and never more than a chunk per stream in memory. A table can be scanned in
``history_id`` ranges (``lo`` ≤ id < ``hi``), which is how ``parallel`` shares the work among
processes (each with its own database connection, so on PostgreSQL its own backend)."""

from __future__ import annotations

import itertools
import multiprocessing
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

from django.db import connection, connections, transaction
from django.db.models import Count, Max, Min
from psycopg.types.datetime import TimestamptzLoader

from compliance.audit import pgcanonical
from compliance.audit.chain import _PLAIN, ENTRY_KEYS, GENESIS_HASH, jsonable, sha256_plain
from compliance.audit.ledger import column_converters, snapshot_columns
from compliance.audit.pgcanonical import Unsupported, q
from compliance.audit.registry import Tracked, tracked_models
from compliance.models.audit import AuditRecord

CHUNK = 5000
LEDGER_COLUMNS = (*ENTRY_KEYS, "hash")  # seq first, history_id fourth, the hash last


@dataclass(frozen=True)
class TableScan:
    entries: int  # ledger entries of this table (range) seen
    first_bad: int | None  # the smallest seq that fails a check
    unchained: tuple | None  # (history_date, table, model, history_id) of the earliest orphan
    # The seqs that may fail, smallest first (the SQL scan: a superset of those that fail,
    # from the smallest on); ``complete``: no candidate beyond these (else only the first
    # ``LIMIT`` are listed).
    candidates: tuple[int, ...] = ()
    complete: bool = True


@dataclass(frozen=True)
class Scan:
    entries: int
    first_bad: int | None
    unchained: tuple | None
    candidates: tuple[int, ...] = ()  # the seqs that may fail, smallest first
    # None: every seq that may fail is a candidate; else only those up to this seq are (a
    # table had more candidates than were listed).
    horizon: int | None = None


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
    converters = column_converters(cols, connection)
    memo: dict[int, dict] = {i: {} for i, _funcs, _col in converters}
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
                    row[i] = _convert(memo[i], row[i], funcs, col)
                yield tuple(row)
    finally:
        cursor.close()


def _convert(memo: dict, raw, funcs, col):
    """Django's converters of one value (JSONField: json.loads of the column's text), once
    per distinct text: a pure function of it, and nothing here changes the value it returns
    (``jsonable`` builds new lists and dicts)."""
    if not isinstance(raw, str):
        for func in funcs:
            raw = func(raw, col, connection)
        return raw
    try:
        return memo[raw]
    except KeyError:
        pass
    value = raw
    for func in funcs:
        value = func(value, col, connection)
    if len(memo) >= 4096:
        memo.clear()
    memo[raw] = value
    return value


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
    """One history table (range): in PostgreSQL when it can write the table's canonical
    bytes (``pgcanonical``), else row by row here."""
    if connection.vendor == "postgresql" and IN_DATABASE:
        try:
            return sql_scan_table(tracked, lo, hi)
        except Unsupported:
            pass
    return python_scan_table(tracked, lo, hi)


def python_scan_table(tracked: Tracked, lo: int | None = None, hi: int | None = None) -> TableScan:
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
    return TableScan(entries, first_bad, unchained, () if first_bad is None else (first_bad,))


IN_DATABASE = True  # False: every table row by row in Python (the benchmark's "before")
LIMIT = 100  # candidates listed per table (range): more than that, and the walk decides


def sql_scan_table(tracked: Tracked, lo: int | None = None, hi: int | None = None) -> TableScan:
    """``python_scan_table`` in three statements: PostgreSQL recomputes every entry's content
    digest (from the history row and its m2m history rows) and own hash, compares the columns
    the history row determines, and returns the seqs where anything differs or could not be
    written (the candidates, which ``verify`` checks the original way), the smallest seq of
    an entry whose history row is gone, and the earliest history row without an entry."""
    sql = _scan_sql(tracked)
    params = {
        "table": tracked.table,
        "lo": lo if lo is not None else -(2**63),
        "hi": hi if hi is not None else 2**63 - 1,
        "limit": LIMIT + 1,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql["candidates"], params)
        candidates = [row[0] for row in cursor.fetchall()]
        cursor.execute(sql["missing"], params)
        missing, entries = cursor.fetchone()
        cursor.execute(sql["orphan"], params)
        orphan = cursor.fetchone()
    complete = len(candidates) <= LIMIT
    candidates = sorted({*candidates[:LIMIT], *([missing] if missing is not None else [])})
    unchained = None if orphan is None else (orphan[0], tracked.table, tracked.name, orphan[1])
    first_bad = candidates[0] if candidates else None
    return TableScan(entries, first_bad, unchained, tuple(candidates), complete)


@cache
def _scan_sql(tracked: Tracked) -> dict[str, str]:
    ledger, hist = q(AuditRecord._meta.db_table), q(tracked.table)
    in_range = "{hid} >= %(lo)s AND {hid} < %(hi)s"
    joins, m2m = pgcanonical.m2m_aggregates(tracked, in_range)
    digest = pgcanonical.hex_sha256(pgcanonical.snapshot_json(tracked, m2m))
    own_hash = pgcanonical.hex_sha256(pgcanonical.entry_json("a", "a.changes_bytes"))
    differs = (
        f"a.content_digest IS DISTINCT FROM {digest} OR {pgcanonical.columns_differ(tracked)}"
        f" OR a.hash IS DISTINCT FROM {own_hash}"
        f" OR NOT COALESCE({pgcanonical.faithful('a.changes_bytes', 'a.changes')}, false)"
    )
    for guard in pgcanonical.json_guards(tracked.history_model, tracked.attnames, "h"):
        differs += f" OR NOT COALESCE({guard}, false)"
    # The changes' bytes once per entry, in a subquery (OFFSET 0: not inlined into both uses);
    # the candidates in a MATERIALIZED CTE, planned for every row (hash joins), not for the
    # first few that LIMIT would favour (index-ordered nested loops).
    entries = (
        f"(SELECT a.*, {pgcanonical.changes_json('a.changes')} AS changes_bytes FROM {ledger} a"
        " WHERE a.history_table = %(table)s AND "
        + in_range.format(hid="a.history_id")
        + " OFFSET 0) AS a"
    )
    return {
        "candidates": (
            f"WITH bad AS MATERIALIZED (SELECT a.seq FROM {entries}"
            f" JOIN {hist} h ON h.history_id = a.history_id"
            + "".join(joins)
            + " WHERE "
            + in_range.format(hid="h.history_id")
            + f" AND ({differs})) SELECT seq FROM bad ORDER BY seq LIMIT %(limit)s"
        ),
        "missing": (
            f"SELECT MIN(a.seq) FILTER (WHERE NOT EXISTS (SELECT 1 FROM {hist} h"
            f" WHERE h.history_id = a.history_id)), COUNT(*) FROM {ledger} a"
            " WHERE a.history_table = %(table)s AND " + in_range.format(hid="a.history_id")
        ),
        "orphan": (
            f"SELECT h.history_date, h.history_id FROM {hist} h WHERE "
            + in_range.format(hid="h.history_id")
            + f" AND NOT EXISTS (SELECT 1 FROM {ledger} a WHERE a.history_table = %(table)s"
            " AND a.history_id = h.history_id) ORDER BY h.history_date, h.history_id LIMIT 1"
        ),
    }


def tasks(workers: int = 1) -> list[tuple[str, int | None, int | None]]:
    """(history table, lo, hi), largest first: every table whole, or with several workers the
    large ones cut into ``history_id`` ranges (each range merges its own rows and entries)."""
    tables = tracked_models()
    if workers <= 1:
        return [(table, None, None) for table in sorted(tables)]
    out = []
    for table in sorted(tables):
        bounds = tables[table].history_model.objects.aggregate(
            lo=Min("history_id"), hi=Max("history_id"), n=Count("history_id")
        )
        if not bounds["n"]:
            continue
        pieces = max(1, min(4 * workers, bounds["n"] // PIECE))
        step = (bounds["hi"] - bounds["lo"]) // pieces + 1
        for i in range(pieces):
            lo = bounds["lo"] + i * step
            out.append((bounds["n"] // pieces, table, lo, lo + step))
    out.sort(key=lambda task: -task[0])
    return [(table, lo, hi) for _n, table, lo, hi in out]


def combine(scans: list[TableScan], first_link: int | None, untracked: int | None) -> Scan:
    entries = AuditRecord.objects.count()
    first_bad = _min(first_link, untracked, *(s.first_bad for s in scans))
    unchained = _min(*(s.unchained for s in scans))
    found = {first_link, untracked, *(seq for s in scans for seq in s.candidates)} - {None}
    horizon = _min(*(s.candidates[-1] for s in scans if not s.complete))
    return Scan(entries, first_bad, unchained, tuple(sorted(found)), horizon)


def scan_chain(workers: int = 1) -> Scan:
    """Every check of the walk in sequence order: in this process, or (PostgreSQL, inside
    the caller's REPEATABLE READ transaction) shared among ``workers`` forked processes."""
    if workers > 1 and connection.vendor == "postgresql":
        return _parallel_scan(workers)
    tables = tracked_models()
    scans = [scan_table(tables[table], lo, hi) for table, lo, hi in tasks()]
    return combine(scans, first_link_problem(), untracked_entry())


# --- several processes -------------------------------------------------------------------
# The parent exports its snapshot (pg_export_snapshot); each worker is forked, opens its own
# connection (the parent's stays untouched: the child keeps the inherited one referenced and
# never closes it) and reads every range in a transaction on that same snapshot, so all of
# them see exactly what the parent sees. Ranges are independent: each merges its own history
# rows, m2m rows and entries; links between entries are checked by the parent's window query.
PIECE = 50_000
_SNAPSHOT_ID = re.compile(r"^[0-9A-F]+-[0-9A-F]+(-[0-9]+)?$")
_inherited: list = []
_set_snapshot: str | None = None


def set_snapshot_sql(snapshot: str) -> str:
    """``SET TRANSACTION SNAPSHOT`` of an id that ``pg_export_snapshot()`` returned (checked:
    the statement takes no parameter, so the id is written into it). Also the export's second
    stream (``export_copy``)."""
    if not _SNAPSHOT_ID.match(snapshot):
        raise ValueError(f"unexpected snapshot id {snapshot!r}")
    return f"SET TRANSACTION SNAPSHOT '{snapshot}'"


def _parallel_scan(workers: int) -> Scan:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_export_snapshot()")
        snapshot = cursor.fetchone()[0]
    work = tasks(workers)
    context = multiprocessing.get_context("fork")
    with context.Pool(workers, initializer=_worker_start, initargs=(snapshot,)) as pool:
        pending = pool.map_async(_worker_scan, work, chunksize=1)
        first_link, untracked = first_link_problem(), untracked_entry()  # meanwhile, here
        scans = pending.get()
    return combine(scans, first_link, untracked)


def _worker_start(snapshot: str) -> None:
    global _set_snapshot
    _set_snapshot = set_snapshot_sql(snapshot)
    for alias in connections:
        _inherited.append(connections[alias])  # the parent's: kept alive, never closed here
        connections[alias] = connections.create_connection(alias)


def _worker_scan(task: tuple[str, int | None, int | None]) -> TableScan:
    table, lo, hi = task
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        cursor.execute(_set_snapshot)
        return scan_table(tracked_models()[table], lo, hi)


def live_suspect(tracked: Tracked, compared: list[str]):
    """PostgreSQL: the smallest primary key of a live row that its latest history record may
    not explain, or None: one statement compares every live row with its object's latest
    history record (each compared column as text: where ``verify._first_unexplained`` sees a
    difference the texts differ too) and its m2m sets. ``verify`` checks the rows from that
    key on the original way, which names the problem (and goes on past a false alarm)."""
    qn = connection.ops.quote_name
    live, hist = tracked.model._meta, tracked.history_model._meta
    pk = qn(live.get_field(tracked.pk_attname).column)
    hpk = qn(hist.get_field(tracked.pk_attname).column)
    differs = [
        f"l.{qn(live.get_field(n).column)}::text IS DISTINCT FROM h.{qn(hist.get_field(n).column)}::text"
        for n in compared
    ]
    for m in tracked.m2m:
        through, mhist = m.through._meta, m.history_model._meta
        target = qn(through.get_field(m.target_attname).column)
        source = qn(through.get_field(m.source_attname).column)
        htarget = qn(mhist.get_field(m.target_attname).column)
        differs.append(
            f"(SELECT array_agg(t.{target} ORDER BY t.{target}) FROM {qn(through.db_table)} t"
            f" WHERE t.{source} = l.{pk}) IS DISTINCT FROM"
            f" (SELECT array_agg(r.{htarget} ORDER BY r.{htarget}) FROM {qn(mhist.db_table)} r"
            " WHERE r.history_id = h.history_id)"
        )
    sql = (
        f"WITH latest AS (SELECT {hpk} AS pk, MAX(history_id) AS hid FROM {qn(hist.db_table)}"
        f" GROUP BY {hpk}) SELECT MIN(l.{pk}) FROM {qn(live.db_table)} l"
        f" LEFT JOIN latest ON latest.pk = l.{pk}"
        f" LEFT JOIN {qn(hist.db_table)} h ON h.history_id = latest.hid"
        " WHERE h.history_id IS NULL OR h.history_type = '-' OR "
        + " OR ".join(differs or ["false"])
    )
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone()[0]

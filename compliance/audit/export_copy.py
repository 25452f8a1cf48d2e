"""The export's lines written by PostgreSQL (issue 18, item 7): one ``COPY (SELECT …) TO
STDOUT`` whose rows are blocks of whole lines, so Python reads no row as Python values and
passes the bytes through.

The bytes are those of the Python writers in ``export.py`` (and so of the dict-per-row
definition, ``iter_export_reference``); tests/test_audit_export_copy.py proves the files
byte-identical on hostile values and every filter. How each part is made:

- a text as a JSON string: ``to_json(text)``, which escapes exactly as ``json.dumps(...,
  ensure_ascii=False)`` (``\\"``, ``\\\\``, ``\\b \\f \\n \\r \\t``, other controls as
  ``\\u00XX`` in lower-case hex, everything else as it is);
- ``at``: ``jsonable(at)``, ISO 8601 in UTC with microseconds only when not zero;
- ``changes``: the column's own jsonb text (``compliance/audit/jsonbtext.py``: keys shorter
  first, numbers as numeric spells them), which the Python writer writes the same way;
- CSV cells: ``neutralise_cell`` (a leading ``= + - @``, tab, CR or quote gets a quote), then
  quoted as ``csv.writer`` quotes (a cell holding ``,``, ``"``, CR or LF; quotes doubled),
  lines ending in CRLF.

Blocks: one row of the COPY per ``BLOCK`` sequence numbers (a range of the primary key, read
by index whatever the filter), its lines aggregated in seq order: a few hundred COPY rows for a
million lines, one block in memory at a time on either side. (One CopyData message per line
costs the client about 2 µs a line in psycopg, more than the whole block path; measured in
docs/benchmarks.md.)"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Iterator

from django.core.exceptions import EmptyResultSet
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL

from compliance.audit.csvcells import FORMULA_TRIGGERS, QUOTE
from compliance.audit.log import EXPORT_FIELDS
from compliance.audit.pgcanonical import utc_time_text
from compliance.audit.scan import set_snapshot_sql

BLOCK = 500  # sequence numbers per COPY row (its lines are in memory at once, per stream)

# jsonable(at): "YYYY-MM-DDTHH:MM:SS[.ffffff]+00:00", as the chain's SQL writes it.
_AT = utc_time_text('"at"')


def _json(column: str) -> str:
    return f'to_json("{column}")::text'


# The code points a neutralised cell starts with (all ASCII: ``ascii()`` of the text's first
# character, 0 for an empty one, is cheaper than comparing ``left(text, 1)`` with each).
_TRIGGERS = ", ".join(str(ord(c)) for c in (*FORMULA_TRIGGERS, QUOTE))


def _cell(value: str) -> str:
    """``neutralise_cell`` then csv.writer's minimal quoting, of the text ``value``."""
    neutral = f"CASE WHEN ascii({value}) IN ({_TRIGGERS}) THEN '''' || {value} ELSE {value} END"
    return (
        f"CASE WHEN strpos({value}, ',') > 0 OR strpos({value}, '\"') > 0"
        f" OR strpos({value}, E'\\r') > 0 OR strpos({value}, E'\\n') > 0"
        f" THEN '\"' || replace({neutral}, '\"', '\"\"') || '\"' ELSE {neutral} END"
    )


def _column_cell(column: str) -> str:
    return _cell(f'"{column}"')


# ``changes`` as a CSV cell. The ledger's (a list of {field, new, old}) holds a quote and
# starts with "[": quoted, never neutralised, its text made once; anything else as any cell.
_CHANGES_CELL = (
    """CASE WHEN ("changes" -> 0) ? 'field' THEN '"' || replace("changes"::text, '"', '""')"""
    f""" || '"' ELSE {_cell('"changes"::text')} END"""
)

# The lines, as the arguments of one concat(): a JSON line's keys in sorted order, the CSV
# cells in CSV_COLUMNS order.
PARTS = {
    "jsonl": (
        """'{"action": '""", _json("action"),
        """', "at": "'""", _AT,
        """'", "changes": '""", '"changes"::text',
        """', "content_digest": '""", _json("content_digest"),
        """', "hash": '""", _json("hash"),
        """', "history_id": '""", '"history_id"::text',
        """', "history_table": '""", _json("history_table"),
        """', "id": '""", '"seq"::text',
        """', "model": '""", _json("model"),
        """', "object_id": '""", _json("object_id"),
        """', "object_repr": '""", _json("object_repr"),
        """', "prev_hash": '""", _json("prev_hash"),
        """', "reason": '""", _json("reason"),
        """', "seq": '""", '"seq"::text',
        """', "user": '""", _json("actor"),
        """', "user_id": '""", """coalesce("user_id"::text, 'null')""",
        """E'}\\n'""",
    ),
    "csv": (
        '"seq"::text', "','", '"seq"::text', "','",
        *(
            part
            for c in ("model", "object_id", "object_repr", "action", "actor")
            for part in (_column_cell(c), "','")
        ),
        _AT, "','", _column_cell("reason"), "','", _CHANGES_CELL, "','",
        _column_cell("history_table"), "','", '"history_id"::text', "','",
        """coalesce("user_id"::text, '')""", "','",
        _column_cell("content_digest"), "','", _column_cell("prev_hash"), "','",
        _column_cell("hash"), "E'\\r\\n'",
    ),
}  # fmt: skip


def _statement(queryset: QuerySet, fmt: str, span: tuple[int, int] | None = None):
    """The COPY of ``queryset``'s lines in ``fmt``: rows (block start, lines, bytes), over the
    blocks starting in ``span`` (first, last; all of them when None). Its parameters are
    bound by psycopg on the client (COPY takes none on the server)."""
    rows = (
        queryset.order_by()
        .filter(seq__gte=RawSQL("lo.start", ()), seq__lt=RawSQL(f"lo.start + {BLOCK}", ()))
        .values_list(*EXPORT_FIELDS)
    )
    inner, params = rows.query.sql_with_params()  # EmptyResultSet: a filter matching nothing
    first, last = _BOUNDS if span is None else (int(span[0]), int(span[1]))
    return _COPY.format(
        inner=inner,
        columns=", ".join(f'"{name}"' for name in EXPORT_FIELDS),
        line=f"concat({', '.join(PARTS[fmt])})",
        first=first,
        last=last,
        block=BLOCK,
    ), params


_BOUNDS = (
    """(SELECT coalesce(min("seq"), 1) FROM "compliance_auditrecord")""",
    """(SELECT coalesce(max("seq"), 0) FROM "compliance_auditrecord")""",
)

# One row per block of BLOCK sequence numbers that holds a line: its lines in seq order.
_COPY = """COPY (
SELECT lo.start, b.n, b.body
FROM generate_series({first}, {last}, {block}) AS lo(start)
CROSS JOIN LATERAL (
  SELECT count(*) AS n, string_agg({line}, '' ORDER BY "seq") AS body
  FROM ({inner}) AS c({columns})
) AS b
WHERE b.n > 0
) TO STDOUT (FORMAT binary)"""


def _copy_rows(cursor, sql: str, params, stats: dict) -> Iterator[bytes]:
    """The bodies of the COPY's rows, each block after the one before (else an error)."""
    last = None
    with cursor.copy(sql, params) as copy:
        # the body is text; in binary COPY its bytes are the UTF-8 text itself, read as is
        copy.set_types(["int8", "int8", "bytea"])
        for start, rows, body in copy.rows():
            if last is not None and start <= last:  # a block out of order: never a wrong file
                raise RuntimeError(f"export block {start} after {last}")
            last = start
            stats["rows"] += rows
            yield body


def copy_blocks(queryset: QuerySet, fmt: str, stats: dict) -> Iterator[bytes]:
    """The lines of ``queryset`` (any order: the export is in seq order) as bytes, one block
    per COPY row; ``stats["rows"]`` counts them. With ``STREAMS`` = 2, outside any caller's
    transaction, on a log of at least ``SPLIT_MIN`` entries: two streams (``_two_streams``)."""
    try:
        sql, params = _statement(queryset, fmt)
    except EmptyResultSet:
        return
    if STREAMS > 1 and not connection.in_atomic_block:
        yield from _two_streams(queryset, fmt, stats, (sql, params))
        return
    connection.ensure_connection()
    with connection.connection.cursor() as cursor:
        yield from _copy_rows(cursor, sql, params, stats)


# --- two streams ---------------------------------------------------------------------------
# Both cores write lines: this connection exports its snapshot (REPEATABLE READ, so its own
# COPY reads that snapshot too) and copies the first half of the blocks to the output, while a
# thread's own connection, on the same snapshot, copies the second half into a temporary file
# (constant memory), appended once the first half is out. Same bytes as one stream.
STREAMS = 2
SPLIT_MIN = 50_000  # entries: below this one stream (a second connection costs more)
SPOOL = 1 << 20


def _two_streams(queryset: QuerySet, fmt: str, stats: dict, whole: tuple) -> Iterator[bytes]:
    """``copy_blocks`` on two streams; ``whole``: the one-stream statement, for a small log."""
    with transaction.atomic(), connection.cursor() as django_cursor:
        django_cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        django_cursor.execute(
            'SELECT pg_export_snapshot(), min("seq"), max("seq") FROM "compliance_auditrecord"'
        )
        snapshot, low, high = django_cursor.fetchone()
        with connection.connection.cursor() as cursor:
            if low is None or high - low < SPLIT_MIN:
                yield from _copy_rows(cursor, *whole, stats)
                return
            # the second half starts at a block boundary of the first
            middle = low + (high - low) // 2 // BLOCK * BLOCK
            second = _SecondHalf(queryset, fmt, snapshot, (middle, high))
            second.start()
            try:
                span = (low, middle - 1)
                yield from _copy_rows(cursor, *_statement(queryset, fmt, span), stats)
            except BaseException:  # the first half failed, or the reader went away
                second.join()
                second.spool.close()
                raise
            second.join()
    yield from second.replay(stats)


class _SecondHalf(threading.Thread):
    """The second half's COPY on its own connection and the exported snapshot, spooled to a
    temporary file."""

    def __init__(self, queryset: QuerySet, fmt: str, snapshot: str, span: tuple[int, int]):
        super().__init__(name="export-second-half", daemon=True)
        self.set_snapshot = set_snapshot_sql(snapshot)
        self.statement = _statement(queryset, fmt, span)
        self.spool = tempfile.TemporaryFile()
        self.stats = {"rows": 0}
        self.error: BaseException | None = None

    def run(self) -> None:
        own = connections.create_connection(DEFAULT_DB_ALIAS)  # this thread's, closed here
        try:
            own.ensure_connection()
            raw = own.connection  # in autocommit mode: the transaction is begun by hand
            raw.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            raw.execute(self.set_snapshot)
            with raw.cursor() as cursor:
                for body in _copy_rows(cursor, *self.statement, self.stats):
                    self.spool.write(body)
            raw.execute("COMMIT")
        except BaseException as exc:  # re-raised by the generator (replay)
            self.error = exc
        finally:
            own.close()

    def replay(self, stats: dict) -> Iterator[bytes]:
        with self.spool:
            if self.error is not None:
                raise RuntimeError("the export's second stream failed") from self.error
            stats["rows"] += self.stats["rows"]
            self.spool.seek(0)
            while chunk := self.spool.read(SPOOL):
                yield chunk


def copy_writes_lines() -> bool:
    """PostgreSQL with UTF-8 text (its bytes are the file's bytes)."""
    if connection.vendor != "postgresql":
        return False
    connection.ensure_connection()
    return connection.connection.info.parameter_status("server_encoding") == "UTF8"

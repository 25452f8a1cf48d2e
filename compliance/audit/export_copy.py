"""The export's lines written by PostgreSQL (issue 18, item 7): one ``COPY (SELECT line
... ORDER BY seq) TO STDOUT (FORMAT binary)``, one row per line, whose bytes Python copies to
the output without reading them as values.

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

Order and speed: ``ORDER BY seq`` over the primary key's index (sorting is switched off for
the statement: a million lines sorted would spill to disk), read by ``WORKERS`` parallel
workers besides the backend itself (Gather Merge keeps the order), so both cores write lines.
Each line is one CopyData message (the protocol sends one per row): 6 bytes of binary framing
then the line, which is all Python looks at; a block of lines is yielded at a time, so memory
stays constant on either side."""

from __future__ import annotations

from collections.abc import Iterator

from django.core.exceptions import EmptyResultSet
from django.db import connection, transaction
from django.db.models import QuerySet

from compliance.audit.csvcells import FORMULA_TRIGGERS, QUOTE
from compliance.audit.log import EXPORT_FIELDS
from compliance.audit.pgcanonical import utc_time_text

BLOCK = 1000  # lines per block yielded
WORKERS = 1  # parallel workers besides the backend (2 cores: the backend and one worker)

# jsonable(at): "YYYY-MM-DDTHH:MM:SS[.ffffff]+00:00", as the chain's SQL writes it.
_AT = utc_time_text('"at"')


def _json(column: str) -> str:
    return f'to_json("{column}")::text'


_TRIGGERS = ", ".join(
    "E'\\t'" if c == "\t" else "E'\\r'" if c == "\r" else f"'{c}'"
    for c in (*FORMULA_TRIGGERS, QUOTE * 2)
)


def _cell(value: str) -> str:
    """``neutralise_cell`` then csv.writer's minimal quoting, of the text ``value``."""
    neutral = f"CASE WHEN left({value}, 1) IN ({_TRIGGERS}) THEN '''' || {value} ELSE {value} END"
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


def _statement(queryset: QuerySet, fmt: str) -> tuple[str, tuple]:
    """The COPY of ``queryset``'s lines in ``fmt``, one row per line, in seq order. Its
    parameters are bound by psycopg on the client (COPY takes none on the server)."""
    rows = queryset.order_by().values_list(*EXPORT_FIELDS)
    inner, params = rows.query.sql_with_params()  # EmptyResultSet: a filter matching nothing
    return _COPY.format(
        inner=inner,
        columns=", ".join(f'"{name}"' for name in EXPORT_FIELDS),
        line=f"concat({', '.join(PARTS[fmt])})",
    ), params


_COPY = """COPY (
SELECT {line} FROM ({inner}) AS c({columns}) ORDER BY "seq"
) TO STDOUT (FORMAT binary)"""

# For the COPY alone (then put back): parallel workers over the primary key's index, and no
# sort (a seq scan then a sort of a million lines would spill to disk).
_SETTINGS = {
    "enable_sort": "off",
    "parallel_setup_cost": "0",
    "parallel_tuple_cost": "0",
    "min_parallel_index_scan_size": "0",
}

_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
_HEADER = len(_SIGNATURE) + 8  # flags and header extension length (both 0)
_ROW = b"\x00\x01"  # one field
_TRAILER = b"\xff\xff"


def copy_blocks(queryset: QuerySet, fmt: str, stats: dict) -> Iterator[bytes]:
    """The lines of ``queryset`` (any order: the export is in seq order) as bytes, ``BLOCK``
    lines at a time; ``stats["rows"]`` counts them."""
    try:
        sql, params = _statement(queryset, fmt)
    except EmptyResultSet:
        return
    settings = {**_SETTINGS, "max_parallel_workers_per_gather": str(WORKERS)}
    # SET LOCAL: gone when the transaction ends (or its savepoint rolls back); put back by
    # hand for a caller's own transaction
    with transaction.atomic(), connection.connection.cursor() as cursor:
        before = _set(cursor, settings)
        yield from _lines(cursor, sql, params, stats)
        _set(cursor, before)


def _set(cursor, settings: dict) -> dict:
    """Each setting set for this transaction (``set_config``); returns them as they were."""
    names = list(settings)
    cursor.execute(
        "SELECT " + ", ".join("current_setting(%s), set_config(%s, %s, true)" for _ in names),
        [v for name in names for v in (name, name, settings[name])],
    )
    row = cursor.fetchone()
    return dict(zip(names, row[::2], strict=True))


def _lines(cursor, sql: str, params, stats: dict) -> Iterator[bytes]:
    """Each row's line (after its 6 bytes of framing), ``BLOCK`` lines joined at a time."""
    block: list = []
    with cursor.copy(sql, params) as copy:
        rows = iter(copy)
        first = next(rows, b"")
        if bytes(first[: len(_SIGNATURE)]) != _SIGNATURE:
            raise RuntimeError("not a binary COPY")
        for data in _chain(first[_HEADER:], rows):
            if data[:2] != _ROW:
                if bytes(data) == _TRAILER:  # the end (read on, so the COPY completes)
                    continue
                raise RuntimeError("a COPY row that is not one field")
            block.append(data[6:])
            if len(block) >= BLOCK:
                stats["rows"] += len(block)
                yield b"".join(block)
                block = []
    if block:
        stats["rows"] += len(block)
        yield b"".join(block)


def _chain(first, rest) -> Iterator:
    yield first
    yield from rest


def copy_writes_lines() -> bool:
    """PostgreSQL with UTF-8 text (its bytes are the file's bytes)."""
    if connection.vendor != "postgresql":
        return False
    connection.ensure_connection()
    return connection.connection.info.parameter_status("server_encoding") == "UTF8"

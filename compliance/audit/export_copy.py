"""The export's lines written by PostgreSQL (issue 18, item 7): one ``COPY (SELECT …) TO
STDOUT`` whose rows are blocks of lines, so Python reads no row as Python values.

The bytes are those of the Python writers in ``export.py`` (and so of the dict-per-row
definition, ``iter_export_reference``); tests/test_audit_export_copy.py proves the files
byte-identical on hostile values and every filter. How each part is made:

- a text as a JSON string: ``to_json(text)``, which escapes exactly as ``json.dumps(...,
  ensure_ascii=False)`` (``\\"``, ``\\\\``, ``\\b \\f \\n \\r \\t``, other controls as
  ``\\u00XX`` in lower-case hex, everything else as it is);
- ``at``: ``jsonable(at)``, ISO 8601 in UTC with microseconds only when not zero;
- CSV cells: ``neutralise_cell`` (a leading ``= + - @``, tab, CR or quote gets a quote), then
  quoted as ``csv.writer`` quotes (a cell holding ``,``, ``"``, CR or LF; quotes doubled),
  lines ending in CRLF;
- ``changes`` (``json.dumps(changes, ensure_ascii=False, sort_keys=True)``) by Python: jsonb
  orders keys by length, not by name, and re-ordering them in SQL cost PostgreSQL about 30 µs
  of CPU per row (measured: docs/benchmarks.md). Each line carries the column's JSON text
  between two NUL bytes (which no PostgreSQL text can hold); ``changes_text`` writes it.

Blocks: one row of the COPY per ``BLOCK`` sequence numbers (a range of the primary key, read
by index whatever the filter), its lines aggregated in seq order: a few hundred COPY rows for a
million lines, one block in memory at a time on either side."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL

from compliance.audit.csvcells import FORMULA_TRIGGERS, QUOTE, neutralise_cell
from compliance.audit.log import EXPORT_FIELDS
from compliance.audit.pgcanonical import utc_time_text

BLOCK = 2000
MARK = b"\x00"
_dumps = orjson.dumps
_loads = orjson.loads

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


# Each line as (before changes, after changes), the keys of a JSON line in sorted
# order and the CSV cells in CSV_COLUMNS order.
PARTS = {
    "jsonl": (
        f"""'{{"action": ' || {_json("action")} || ', "at": "' || {_AT} || '", "changes": '""",
        " || ".join(
            (
                f"""', "content_digest": ' || {_json("content_digest")}""",
                f"""', "hash": ' || {_json("hash")}""",
                """', "history_id": ' || "history_id\"""",
                f"""', "history_table": ' || {_json("history_table")}""",
                """', "id": ' || "seq\"""",
                f"""', "model": ' || {_json("model")}""",
                f"""', "object_id": ' || {_json("object_id")}""",
                f"""', "object_repr": ' || {_json("object_repr")}""",
                f"""', "prev_hash": ' || {_json("prev_hash")}""",
                f"""', "reason": ' || {_json("reason")}""",
                """', "seq": ' || "seq\"""",
                f"""', "user": ' || {_json("actor")}""",
                """', "user_id": ' || coalesce("user_id"::text, 'null') || E'}\\n'""",
            )
        ),
    ),
    "csv": (
        " || ',' || ".join(
            (
                '"seq"::text',
                '"seq"::text',
                *(
                    _column_cell(c)
                    for c in ("model", "object_id", "object_repr", "action", "actor")
                ),
                _AT,
                _column_cell("reason"),
            )
        )
        + " || ','",
        "',' || "
        + " || ',' || ".join(
            (
                _column_cell("history_table"),
                '"history_id"::text',
                "coalesce(\"user_id\"::text, '')",
                *(_column_cell(c) for c in ("content_digest", "prev_hash", "hash")),
            )
        )
        + " || E'\\r\\n'",
    ),
}


def _statement(queryset: QuerySet, fmt: str) -> tuple[str, tuple]:
    """The COPY of ``queryset``'s lines in ``fmt``: rows (block start, lines, bytes). Its
    parameters are bound by psycopg on the client (COPY takes none on the server)."""
    before, after = PARTS[fmt]
    rows = (
        queryset.order_by()
        .filter(seq__gte=RawSQL("lo.start", ()), seq__lt=RawSQL(f"lo.start + {BLOCK}", ()))
        .values_list(*EXPORT_FIELDS)
    )
    inner, params = rows.query.sql_with_params()  # EmptyResultSet: a filter matching nothing
    return _COPY.format(
        inner=inner,
        columns=", ".join(f'"{name}"' for name in EXPORT_FIELDS),
        line=_LINE.format(before=before, after=after),
        block=BLOCK,
    ), params


# Each line: its text up to ``changes``, NUL, the column's JSON text, NUL, the rest.
_LINE = """convert_to({before}, 'UTF8') || '\\x00'::bytea || convert_to("changes"::text, 'UTF8')
 || '\\x00'::bytea || convert_to({after}, 'UTF8')"""

# One row per block of BLOCK sequence numbers that holds a line.
_COPY = """COPY (
SELECT lo.start, b.n, b.body
FROM generate_series(
  (SELECT coalesce(min("seq"), 1) FROM "compliance_auditrecord"),
  (SELECT coalesce(max("seq"), 0) FROM "compliance_auditrecord"), {block}) AS lo(start)
CROSS JOIN LATERAL (
  SELECT count(*) AS n, string_agg({line}, ''::bytea ORDER BY "seq") AS body
  FROM ({inner}) AS c({columns})
) AS b
WHERE b.n > 0
) TO STDOUT (FORMAT binary)"""


def copy_blocks(queryset: QuerySet, fmt: str, stats: dict) -> Iterator[bytes]:
    """The lines of ``queryset`` (any order: the export is in seq order) as bytes, one block
    per COPY row; ``stats["rows"]`` counts them."""
    try:
        sql, params = _statement(queryset, fmt)
    except EmptyResultSet:
        return
    connection.ensure_connection()
    last = None
    with connection.connection.cursor() as cursor, cursor.copy(sql, params) as copy:
        copy.set_types(["int8", "int8", "bytea"])
        for start, rows, body in copy.rows():
            if last is not None and start <= last:  # a block out of order: never a wrong file
                raise RuntimeError(f"export block {start} after {last}")
            last = start
            stats["rows"] += rows
            yield _fill(body, fmt)


def _fill(body: bytes, fmt: str) -> bytes:
    """``body`` with each ``NUL <changes JSON text> NUL`` replaced by what the Python writer
    makes of that text (``export._changes``; for CSV, as its cell)."""
    parts = body.split(MARK)
    cell = fmt == "csv"
    parts[1::2] = [changes_text(text, cell) for text in parts[1::2]]
    return b"".join(parts)


def changes_text(text: bytes, cell: bool = False) -> bytes:
    """``json.dumps(json.loads(text), ensure_ascii=False, sort_keys=True)`` (``export._changes``)
    as UTF-8; with ``cell``, as csv.writer writes it after ``neutralise_cell``. A list of
    ``{field, new, old}`` whose values are scalars or lists of scalars (what the ledger
    writes) is written here from orjson's strings; anything else by ``export._changes``."""
    out = _common_changes(text)
    if out is None:
        from compliance.audit.export import _changes

        out = _changes(text.decode("utf-8")).encode("utf-8")
        if cell:
            return _csv_cell(neutralise_cell(out.decode("utf-8"))).encode("utf-8")
    if cell:  # starts with "[": no formula; it holds a quote unless it is "[]"
        return b'"' + out.replace(b'"', b'""') + b'"' if b'"' in out else out
    return out


def _csv_cell(text: str) -> str:
    from compliance.audit.export import _csv_text

    return _csv_text([[text, ""]])[:-3]  # the cell, without ",\r\n"


_SCALARS = (str, int, bool, type(None))
_ITEM_KEYS = {"field", "new", "old"}


def _value(value) -> bytes | None:
    kind = type(value)
    if kind is str or kind is bool or value is None or (kind is int and -(2**63) <= value < 2**64):
        return _dumps(value)
    if kind is list and all(type(v) in _SCALARS for v in value):
        parts = [_value(v) for v in value]
        if None not in parts:
            return b"[" + b", ".join(parts) + b"]"
    return None  # a float, a dict, a nested list, a huge int: the general path


def _common_changes(text: bytes) -> bytes | None:
    try:
        changes = _loads(text)
    except ValueError:  # orjson refuses (an int beyond 64 bits, deep nesting)
        return None
    if type(changes) is not list:
        return None
    items = []
    for item in changes:
        if type(item) is not dict or item.keys() != _ITEM_KEYS:
            return None
        field, new, old = _value(item["field"]), _value(item["new"]), _value(item["old"])
        if field is None or new is None or old is None:
            return None
        items.append(b'{"field": ' + field + b', "new": ' + new + b', "old": ' + old + b"}")
    return b"[" + b", ".join(items) + b"]"


def copy_writes_lines() -> bool:
    """PostgreSQL with UTF-8 text (its bytes are the file's bytes)."""
    if connection.vendor != "postgresql":
        return False
    connection.ensure_connection()
    return connection.connection.info.parameter_status("server_encoding") == "UTF8"

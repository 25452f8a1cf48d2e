"""Streamed export of the audit log (R24) as CSV or JSON lines, in constant memory.

The ledger is read in keyset chunks (``seq > last ORDER BY seq LIMIT CHUNK``): no OFFSET,
no server-side cursor to hold open, never the whole log in memory. Lines come in chain
order (oldest first) and each carries ``seq``, ``prev_hash`` and ``hash``, so the file can
be checked offline with ``compliance.audit.offline`` (``python -m compliance.audit.offline
FILE``).

A line is ``json.dumps(export_row(row), ensure_ascii=False, sort_keys=True)`` (JSON lines)
or ``csv.DictWriter`` over the same dict (CSV), but for ``changes``, which is written as
PostgreSQL writes its jsonb column (``jsonbtext.jsonb_text``: keys shorter first, numbers as
numeric spells them; the same JSON values as any other spelling): so that on PostgreSQL the
lines come whole from one COPY (``export_copy``), the column's text passed through.

Speed (issue 18, item 7): rows are read as tuples (``values_list``), and each line is
written from a fixed template instead of building a dict per row and encoding it (strings
through orjson, which escapes exactly as json.dumps with ensure_ascii=False; ``changes``
once per distinct text) and as ``csv.writer`` for CSV (one ``writerows`` per chunk). ``iter_export_blocks`` yields one text block per chunk (the API
and the command write those); ``iter_export`` one line at a time, as before.
tests/test_audit_export_speed.py proves the bytes equal to the dict-per-row definition."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

import orjson
from django.db.models import QuerySet, TextField
from django.db.models.functions import Cast

from compliance.audit.chain import jsonable
from compliance.audit.csvcells import neutralise_cell
from compliance.audit.export_copy import copy_blocks, copy_writes_lines
from compliance.audit.jsonbtext import jsonb_text
from compliance.audit.log import CSV_COLUMNS, EXPORT_FIELDS, export_row
from compliance.audit.paging import keyset_chunks, plain_rows
from compliance.models.audit import AuditRecord

CHUNK = 1000
FORMATS = ("csv", "jsonl")
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}


def iter_rows(queryset: QuerySet[AuditRecord], chunk: int = CHUNK) -> Iterator[dict]:
    """The export's ledger columns (EXPORT_FIELDS) as plain rows: no model instance per entry."""
    for rows in keyset_chunks(queryset.values(*EXPORT_FIELDS), "seq", chunk):
        yield from rows


_CHANGES_AT = EXPORT_FIELDS.index("changes")
# ``changes`` read as its JSON text: decoded (and re-encoded) once per distinct text.
_COLUMNS = tuple(
    Cast("changes", output_field=TextField()) if name == "changes" else name
    for name in EXPORT_FIELDS
)


def _tuple_chunks(queryset: QuerySet[AuditRecord], chunk: int) -> Iterator[list[tuple]]:
    """EXPORT_FIELDS tuples (seq first, ``changes`` as text) in seq order, ``chunk`` per
    keyset query."""
    rows_qs = queryset.order_by("seq").values_list(*_COLUMNS)
    last = None
    while True:
        page = rows_qs if last is None else rows_qs.filter(seq__gt=last)
        rows = plain_rows(page[:chunk])
        if not rows:
            return
        yield rows
        last = rows[-1][0]


_dumps = orjson.dumps
_encoded: dict[str | None, str] = {}
CACHE = 4096


def _changes(text: str | None) -> str:
    """The column's JSON text as jsonb's text (``jsonbtext.jsonb_text``: what PostgreSQL's
    COPY writes): a pure function of the text, so repeated texts (a status going from
    pending to approved, ...) are written once."""
    out = _encoded.get(text)
    if out is None:
        if len(_encoded) >= CACHE:
            _encoded.clear()
        out = _encoded[text] = jsonb_text(text)
    return out


def _text(value: str) -> bytes:
    """A JSON string as json.dumps(ensure_ascii=False) writes it, as UTF-8."""
    try:
        return _dumps(value)
    except TypeError:  # not a str after all (a column that holds something else)
        return json.dumps(value, ensure_ascii=False).encode("utf-8")


def _json_value(value) -> bytes:
    if value is None:
        return b"null"
    if type(value) is int:
        return str(value).encode()
    return json.dumps(value, ensure_ascii=False, sort_keys=True).encode("utf-8")


def _jsonl_line(row: tuple) -> bytes:
    """``json.dumps(export_row(row), ensure_ascii=False, sort_keys=True) + "\n"``, its keys
    in sorted order: action, at, changes, content_digest, hash, history_id, history_table,
    id, model, object_id, object_repr, prev_hash, reason, seq, user, user_id."""
    (seq, model, object_id, object_repr, action, actor, at, reason, changes, table, hid,
     user_id, digest, prev_hash, hash_) = row  # fmt: skip
    at = jsonable(at)
    seq_text = str(seq).encode() if type(seq) is int else _json_value(seq)
    return b"".join(
        (
            b'{"action": ', _text(action),
            b', "at": ', _text(at),
            b', "changes": ', _changes(changes).encode("utf-8"),
            b', "content_digest": ', _text(digest),
            b', "hash": ', _text(hash_),
            b', "history_id": ', _json_value(hid),
            b', "history_table": ', _text(table),
            b', "id": ', seq_text,
            b', "model": ', _text(model),
            b', "object_id": ', _text(object_id),
            b', "object_repr": ', _text(object_repr),
            b', "prev_hash": ', _text(prev_hash),
            b', "reason": ', _text(reason),
            b', "seq": ', seq_text,
            b', "user": ', _text(actor),
            b', "user_id": ', _json_value(user_id),
            b"}\n",
        )
    )  # fmt: skip


def _csv_row(row: tuple) -> list:
    """The CSV_COLUMNS cells of one row, as the DictWriter of ``export_row`` wrote them."""
    (seq, model, object_id, object_repr, action, actor, at, reason, changes, table, hid,
     user_id, digest, prev_hash, hash_) = row  # fmt: skip
    cells = [
        seq, seq, model, object_id, object_repr, action, actor, jsonable(at), reason,
        _changes(changes), table, hid, "" if user_id is None else user_id, digest,
        prev_hash, hash_,
    ]  # fmt: skip
    # Text a spreadsheet would run as a formula is neutralised (OWASP; csvcells.py).
    return [neutralise_cell(cell) for cell in cells]


def _csv_text(rows: list[list]) -> str:
    buffer = io.StringIO()
    # RFC 4180 line ends, as the reference: a field holding a bare CR is quoted too.
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}")


def iter_export_blocks(
    queryset: QuerySet[AuditRecord], fmt: str, chunk: int = 2 * CHUNK, stats: dict | None = None
) -> Iterator[str]:
    """The export as text blocks: the CSV header, then one block of lines per chunk.
    ``stats["rows"]``, when given, counts the records written."""
    _check_format(fmt)
    stats = {} if stats is None else stats
    stats["rows"] = 0
    if fmt == "csv":
        yield _csv_text([list(CSV_COLUMNS)])
    for rows in _tuple_chunks(queryset, chunk):
        stats["rows"] += len(rows)
        if fmt == "csv":
            yield _csv_text([_csv_row(row) for row in rows])
        else:
            yield b"".join([_jsonl_line(row) for row in rows]).decode("utf-8")


def export_bytes(
    queryset: QuerySet[AuditRecord], fmt: str, stats: dict | None = None
) -> Iterator[bytes]:
    """The export as bytes, in blocks: what the command, the API and the page send. On
    PostgreSQL the lines come whole from one COPY (``export_copy``); elsewhere (SQLite) from
    the Python writers above. The same bytes either way. ``stats["rows"]`` as above."""
    _check_format(fmt)
    stats = {} if stats is None else stats
    if not copy_writes_lines():
        for text in iter_export_blocks(queryset, fmt, stats=stats):
            yield text.encode("utf-8")
        return
    stats["rows"] = 0
    if fmt == "csv":
        yield _csv_text([list(CSV_COLUMNS)]).encode("utf-8")
    yield from copy_blocks(queryset, fmt, stats)


def iter_export(queryset: QuerySet[AuditRecord], fmt: str, chunk: int = CHUNK) -> Iterator[str]:
    """Text lines of the export (header first for CSV)."""
    _check_format(fmt)
    if fmt == "csv":
        yield _csv_text([list(CSV_COLUMNS)])
        for rows in _tuple_chunks(queryset, chunk):
            for row in rows:
                yield _csv_text([_csv_row(row)])
        return
    for rows in _tuple_chunks(queryset, chunk):
        for row in rows:
            yield _jsonl_line(row).decode("utf-8")


def _reference_rows(queryset: QuerySet[AuditRecord], chunk: int) -> Iterator[dict]:
    """``iter_rows``, with ``changes`` as jsonb's text of the column's text."""
    columns = [name for name in EXPORT_FIELDS if name != "changes"]
    texts = queryset.values(*columns, changes_text=Cast("changes", output_field=TextField()))
    for rows in keyset_chunks(texts, "seq", chunk):
        for row in rows:
            row["changes"] = jsonb_text(row.pop("changes_text"))
            yield row


_PLACE = ', "changes": null'


def iter_export_reference(
    queryset: QuerySet[AuditRecord], fmt: str, chunk: int = CHUNK
) -> Iterator[str]:
    """The export as a dict per row, encoded whole: the definition the fast writers are
    tested against, and the benchmark's "before". ``changes`` is jsonb's text, put in the
    place json.dumps gives the key (``, "changes": `` only occurs there: inside a JSON
    string every quote is escaped)."""
    _check_format(fmt)
    if fmt == "jsonl":
        for row in _reference_rows(queryset, chunk):
            line = export_row(row)
            text = json.dumps({**line, "changes": None}, ensure_ascii=False, sort_keys=True)
            yield text.replace(_PLACE, ', "changes": ' + line["changes"], 1) + "\n"
        return
    buffer = io.StringIO()
    # RFC 4180 line ends: a field holding a bare CR is quoted too (with "\n" it was not, and
    # a reader split the row there).
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\r\n")

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writeheader()
    yield flush()
    for row in _reference_rows(queryset, chunk):
        line = export_row(row)
        line["user_id"] = "" if line["user_id"] is None else line["user_id"]
        writer.writerow({k: neutralise_cell(v) for k, v in line.items()})
        yield flush()

"""Streamed export of the audit log (R24) as CSV or JSON lines, in constant memory.

The ledger is read in keyset chunks (``seq > last ORDER BY seq LIMIT CHUNK``): no OFFSET,
no server-side cursor to hold open, never the whole log in memory. Lines come in chain
order (oldest first) and each carries ``seq``, ``prev_hash`` and ``hash``, so the file can
be checked offline with ``compliance.audit.offline`` (``python -m compliance.audit.offline
FILE``)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

from django.db.models import QuerySet

from compliance.audit.csvcells import neutralise_cell
from compliance.audit.log import EXPORT_FIELDS, export_row
from compliance.audit.paging import keyset_chunks
from compliance.models.audit import AuditRecord

CHUNK = 1000
FORMATS = ("csv", "jsonl")
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}
CSV_COLUMNS = (
    "seq",
    "id",
    "model",
    "object_id",
    "object_repr",
    "action",
    "user",
    "at",
    "reason",
    "changes",
    "history_table",
    "history_id",
    "user_id",
    "content_digest",
    "prev_hash",
    "hash",
)


def iter_rows(queryset: QuerySet[AuditRecord], chunk: int = CHUNK) -> Iterator[dict]:
    """The export's ledger columns (EXPORT_FIELDS) as plain rows: no model instance per entry."""
    for rows in keyset_chunks(queryset.values(*EXPORT_FIELDS), "seq", chunk):
        yield from rows


def iter_export(queryset: QuerySet[AuditRecord], fmt: str, chunk: int = CHUNK) -> Iterator[str]:
    """Text lines of the export (header first for CSV)."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}")
    if fmt == "jsonl":
        for row in iter_rows(queryset, chunk):
            yield json.dumps(export_row(row), ensure_ascii=False, sort_keys=True) + "\n"
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
    for row in iter_rows(queryset, chunk):
        line = export_row(row)
        line["changes"] = json.dumps(line["changes"], ensure_ascii=False, sort_keys=True)
        line["user_id"] = "" if line["user_id"] is None else line["user_id"]
        writer.writerow({k: neutralise_cell(v) for k, v in line.items()})
        yield flush()

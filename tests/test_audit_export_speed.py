"""The fast export writers (issue 18, item 7) write exactly the bytes of the dict-per-row
definition (``json.dumps(export_row(row), ensure_ascii=False, sort_keys=True)``, and
``csv.DictWriter`` over the same dict, ``changes`` in both spelled as jsonb's text of the
value), for any text, any changes and every column type."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compliance.audit.chain import GENESIS_HASH, entry_hash
from compliance.audit.csvcells import neutralise_cell
from compliance.audit.export import (
    CSV_COLUMNS,
    _csv_row,
    _csv_text,
    _jsonl_line,
    iter_export,
    iter_export_blocks,
    iter_export_reference,
)
from compliance.audit.jsonbtext import value_text
from compliance.audit.ledger import entry_of
from compliance.audit.log import EXPORT_FIELDS, export_row
from compliance.models import AuditRecord

TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), TEXT),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(TEXT, inner, max_size=4)),
    max_leaves=12,
)
CHANGES = st.lists(st.fixed_dictionaries({"field": TEXT, "old": JSON, "new": JSON}), max_size=4)
ROWS = st.tuples(
    st.integers(min_value=1, max_value=2**62),  # seq
    TEXT,  # model
    TEXT,  # object_id
    TEXT,  # object_repr
    TEXT,  # action
    TEXT,  # actor
    st.datetimes(timezones=st.just(dt.UTC)),  # at
    TEXT,  # reason
    CHANGES,
    TEXT,  # history_table
    st.integers(min_value=-(2**63), max_value=2**63),  # history_id
    st.none() | st.integers(min_value=-(2**63), max_value=2**63),  # user_id
    TEXT,  # content_digest
    TEXT,  # prev_hash
    TEXT,  # hash
)


def _reference_jsonl(row: tuple) -> str:
    """The line's dict encoded whole, ``changes`` as jsonb writes the value (its text put
    where json.dumps puts the key, which no escaped string can imitate)."""
    line = export_row(dict(zip(EXPORT_FIELDS, row, strict=True)))
    text = json.dumps({**line, "changes": None}, ensure_ascii=False, sort_keys=True)
    assert text.count(', "changes": null') == 1
    return text.replace(', "changes": null', ', "changes": ' + value_text(line["changes"]))


def _reference_csv(row: tuple) -> str:
    buffer = io.StringIO()
    # As iter_export_reference writes CSV: RFC 4180 line ends, formula cells neutralised.
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    line = export_row(dict(zip(EXPORT_FIELDS, row, strict=True)))
    line["changes"] = value_text(line["changes"])
    line["user_id"] = "" if line["user_id"] is None else line["user_id"]
    writer.writerow({k: neutralise_cell(v) for k, v in line.items()})
    return buffer.getvalue()


CHANGES_AT = EXPORT_FIELDS.index("changes")


def _as_read(row: tuple, spaced: bool) -> tuple:
    """The row as the export reads it: ``changes`` as the column's JSON text (jsonb's own
    text has spaces after , and :; any JSON text decodes the same)."""
    separators = (", ", ": ") if spaced else (",", ":")
    text = json.dumps(row[CHANGES_AT], separators=separators, ensure_ascii=not spaced)
    return (*row[:CHANGES_AT], text, *row[CHANGES_AT + 1 :])


@settings(max_examples=300, deadline=None)
@given(ROWS, st.booleans())
def test_jsonl_line_is_the_definition(row, spaced):
    expected = _reference_jsonl(row) + "\n"
    assert _jsonl_line(_as_read(row, spaced)).decode("utf-8") == expected
    assert _jsonl_line(_as_read(row, spaced)).decode("utf-8") == expected  # cached text


@settings(max_examples=300, deadline=None)
@given(ROWS, st.booleans())
def test_csv_row_is_the_definition(row, spaced):
    assert _csv_text([_csv_row(_as_read(row, spaced))]) == _reference_csv(row)


def _seed(n: int) -> None:
    prev, rows = GENESIS_HASH, []
    odd = ['a "quoted", comma', "line\nbreak\r\n", "=cmd|' /C calc'!A0", "é\u2028\U0001f600", ""]
    for seq in range(1, n + 1):
        record = AuditRecord(
            seq=seq,
            model="release",
            history_table="seed",
            history_id=seq,
            object_id=str(seq % 7),
            object_repr=odd[seq % len(odd)],
            action="changed",
            actor="sam",
            user_id=None if seq % 3 else seq,
            at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=seq * 7919),
            reason=odd[(seq + 1) % len(odd)],
            changes=[{"field": "x", "old": odd[seq % 5], "new": [seq, None, {"b": 1, "a": "é"}]}],
            content_digest="c" * 64,
            prev_hash=prev,
        )
        record.hash = prev = entry_hash(entry_of(record))
        rows.append(record)
    AuditRecord.objects.bulk_create(rows)


@pytest.mark.postgres
@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_blocks_lines_and_definition_agree_across_chunks(db, fmt):
    _seed(2345)
    everything = AuditRecord.objects.all()
    reference = "".join(iter_export_reference(everything, fmt))
    assert "".join(iter_export(everything, fmt, chunk=500)) == reference
    stats: dict = {}
    assert "".join(iter_export_blocks(everything, fmt, chunk=700, stats=stats)) == reference
    assert stats == {"rows": 2345}
    filtered = AuditRecord.objects.filter(object_id="3")
    assert "".join(iter_export_blocks(filtered, fmt, chunk=50)) == "".join(
        iter_export_reference(filtered, fmt)
    )

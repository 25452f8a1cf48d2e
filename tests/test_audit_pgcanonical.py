"""PostgreSQL writes the chain's canonical bytes (``compliance.audit.pgcanonical``) exactly
as ``chain.canonical`` does, on every column type of every history table and of the
ledger, and over a whole demo chain row by row; where its JSON rule is not exact, the
entry becomes a candidate (digest differs or ``faithful`` fails), never a pass (issue 18,
item 7)."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from django.core.management import call_command
from django.db import connection, models
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compliance.audit import pgcanonical
from compliance.audit.chain import canonical, jsonable
from compliance.audit.ledger import entry_of
from compliance.audit.registry import snapshots, tracked_models
from compliance.models import AuditRecord

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

# PostgreSQL text holds every character but NUL; lone surrogates are not UTF-8.
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))
ZONES = st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=5, minutes=30))])
TIMES = st.datetimes(
    min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30), timezones=ZONES
)
JSON_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), TEXT
)
JSON = st.recursive(
    JSON_SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(TEXT, inner, max_size=4)),
    max_leaves=12,
)


def _columns():
    """(table, field) for every column of every history table (m2m history tables too)."""
    out = []
    for table, tracked in sorted(tracked_models().items()):
        models_ = [(table, tracked.history_model, tracked.attnames)]
        models_ += [
            (m.history_model._meta.db_table, m.history_model, m.attnames) for m in tracked.m2m
        ]
        for name, model, attnames in models_:
            fields = {f.attname: f for f in model._meta.concrete_fields}
            out += [(name, fields[a]) for a in attnames]
    ledger = {f.attname: f for f in AuditRecord._meta.concrete_fields}
    out += [("compliance_auditrecord", ledger[a]) for a in ledger if a != "changes"]
    return out


def _kind(field: models.Field) -> str:
    target = field.target_field if field.is_relation else field
    if isinstance(target, models.JSONField):
        return "json"
    return target.get_internal_type()


def _strategy(field: models.Field):
    target = field.target_field if field.is_relation else field
    kind = target.get_internal_type()
    if kind in ("BigIntegerField", "BigAutoField", "PositiveBigIntegerField"):
        values = st.integers(-(2**63) + 1, 2**63 - 1)
    elif kind in pgcanonical._INTEGER:
        values = st.integers(-(2**31), 2**31 - 1)
    elif kind == "BooleanField":
        values = st.booleans()
    elif kind in pgcanonical._TEXT:
        values = TEXT
    elif kind == "DateTimeField":
        values = TIMES
    elif kind == "DateField":
        values = st.dates(max_value=dt.date(9999, 12, 31))
    else:
        raise AssertionError(f"no strategy for {field} ({kind}): add one")
    return st.one_of(st.none(), values) if field.null else values


def _sql_bytes(expression: str, value, db_type: str) -> bytes:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {expression.replace('{x}', f'(%(v)s::{db_type})')}", {"v": value})
        text = cursor.fetchone()[0]
    return None if text is None else text.encode("utf-8")


COLUMNS = _columns()
SQL_TYPES = {
    **dict.fromkeys(pgcanonical._TEXT, "text"),
    "BooleanField": "boolean",
    "DateTimeField": "timestamptz",
    "DateField": "date",
    "integer": "bigint",
}


def test_every_column_has_a_rule():
    """A new column type fails here (and its table would be scanned in Python)."""
    kinds = {_kind(f) for _t, f in COLUMNS}
    assert kinds >= {"IntegerField", "BooleanField", "CharField", "DateTimeField", "json"}
    for table, field in COLUMNS:
        assert pgcanonical.column_json(field, "x"), (table, field)


@pytest.mark.parametrize(
    ("table", "field"),
    [c for c in COLUMNS if _kind(c[1]) != "json"],
    ids=[f"{t}.{f.attname}" for t, f in COLUMNS if _kind(f) != "json"],
)
def test_column_bytes_equal_the_definition(table, field):
    db_type = SQL_TYPES[_kind(field) if _kind(field) in SQL_TYPES else "integer"]
    expression = pgcanonical.column_json(field, "{x}")

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(_strategy(field))
    def check(value):
        assert _sql_bytes(expression, value, db_type) == canonical(jsonable(value))

    check()


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(JSON)
def test_json_bytes_equal_the_definition_or_are_a_candidate(value):
    """A JSON column (and each change's old/new): the bytes are ``canonical``'s of what
    Django reads back, or they are not and the entry is a candidate; and on what the chain
    holds (scalars and lists of them, integers only, no ``", "`` in a string) exact."""
    stored = json.dumps(value)
    loaded = json.loads(_text("%(v)s::jsonb::text", stored))  # what Django reads back
    expected = canonical(jsonable(loaded))
    written = _sql_bytes(pgcanonical.jsonb_json("{x}"), stored, "jsonb")
    guard = _text(
        pgcanonical.faithful(pgcanonical.jsonb_json("%(v)s::jsonb"), "%(v)s::jsonb"), stored
    )
    if _plain(loaded):
        assert written == expected and guard
    if guard and written == expected:  # a pass: the stored value is the bytes' JSON
        assert json.loads(written) == jsonable(loaded)


def _text(sql: str, value):
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + sql, {"v": value})
        return cursor.fetchone()[0]


def _plain(value) -> bool:
    """Scalars and lists of scalars, integers only, no ``", "`` in a string."""

    def scalar(v):
        return v is None or isinstance(v, bool | int) or (isinstance(v, str) and ", " not in v)

    return scalar(value) or (isinstance(value, list) and all(scalar(v) for v in value))


CHANGE = st.fixed_dictionaries({"field": TEXT, "old": JSON, "new": JSON})


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(CHANGE, max_size=pgcanonical.SLOTS + 2))
def test_changes_bytes_equal_the_definition_or_are_a_candidate(changes):
    stored = json.dumps(changes)
    loaded = json.loads(_text("%(v)s::jsonb::text", stored))
    expected = canonical(jsonable(loaded))
    written = _sql_bytes(pgcanonical.changes_json("{x}"), stored, "jsonb")
    guard = _text(
        pgcanonical.faithful(pgcanonical.changes_json("%(v)s::jsonb"), "%(v)s::jsonb"), stored
    )
    exact = len(loaded) <= pgcanonical.SLOTS and all(
        _plain(c["old"]) and _plain(c["new"]) for c in loaded
    )
    if exact:
        assert written == expected and guard
    # The soundness the scan relies on: bytes that pass the guard and equal a canonical
    # text mean the stored value is that text's JSON (so the Python check passes too).
    if guard and written == expected:
        assert json.loads(written) == jsonable(loaded)


@pytest.mark.parametrize(
    "changes",
    [
        [{"field": "a", "new": 1, "old": None, "extra": 2}],  # a fourth key
        [{"field": "a", "new": 1}],  # a missing key
        [{"field": "a", "new": 1, "old": 2}] * (pgcanonical.SLOTS + 1),  # beyond the slots
        [{"field": "a", "new": ["x, y"], "old": []}],  # ", " inside a list's string
        {"field": "a"},  # not a list
    ],
)
def test_changes_that_cannot_be_written_are_candidates(changes):
    stored = json.dumps(changes)
    written = _sql_bytes(pgcanonical.changes_json("{x}"), stored, "jsonb")
    guard = _text(
        pgcanonical.faithful(pgcanonical.changes_json("%(v)s::jsonb"), "%(v)s::jsonb"), stored
    )
    assert not guard or written != canonical(changes)


def test_the_whole_demo_chain_row_by_row():
    """Every history snapshot and every ledger entry of the demo data: the database's bytes
    are ``canonical``'s (so the scan finds no candidate), table by table."""
    call_command("seed_demo", "--with-demo-users", stdout=io.StringIO())
    seen = 0
    for table, tracked in tracked_models().items():
        joins, m2m = pgcanonical.m2m_aggregates(tracked, "true")
        sql = (
            f"SELECT h.history_id, {pgcanonical.snapshot_json(tracked, m2m)} FROM {table} h"
            + "".join(joins)
        )
        with connection.cursor() as cursor:
            cursor.execute(sql)
            written = dict(cursor.fetchall())
        python = snapshots(tracked, list(written))
        assert {k: v.encode() for k, v in written.items()} == {
            k: canonical(s) for k, s in python.items()
        }, table
        seen += len(written)
    entry = pgcanonical.entry_json("a", pgcanonical.changes_json("a.changes"))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT a.seq, {entry} FROM compliance_auditrecord a")
        written = dict(cursor.fetchall())
    records = {r.seq: r for r in AuditRecord.objects.all()}
    assert {k: v.encode() for k, v in written.items()} == {
        k: canonical(entry_of(r)) for k, r in records.items()
    }
    assert seen == len(records) > 100

"""The chain's canonical bytes written by PostgreSQL itself (issue 18, item 7).

``chain.canonical`` defines the bytes (JSON with sorted keys, no whitespace, UTF-8, times
as ISO 8601 in UTC, as ``jsonable`` makes them). This module builds SQL expressions that
write the same bytes from a history row (with its m2m history rows) and from a ledger row,
so that ``scan`` can recompute both SHA-256 digests of every entry in the database (the
built-in ``sha256()``) and read back only the entries whose recomputed digests or columns
differ. The chain's format does not change: no stored hash, no export and no offline
verifier is affected.

Each column is written by its type (the history tables hold integers, booleans, text,
times, dates and JSON):

- integers and booleans: their text (``true``/``false``), ``null`` for NULL;
- text: ``to_json(text)``, whose escapes (``\\"``, ``\\\\``, ``\\b \\f \\n \\r \\t``,
  ``\\u00xx`` for the other controls, everything else as UTF-8) are Python's
  ``json.dumps(..., ensure_ascii=False)`` escapes;
- times: ``"YYYY-MM-DDTHH:MM:SS[.ffffff]+00:00"`` in UTC (``datetime.isoformat``: no
  fraction when the microseconds are 0);
- dates: ``"YYYY-MM-DD"``;
- JSON (``jsonb``, and the ledger's ``changes``): see ``jsonb_json`` and ``changes_json``.

Why an entry the database passes would pass the Python check too: the columns' bytes equal
``canonical``'s (tests/test_audit_pgcanonical.py proves it with hypothesis, column type by
column type of every history table, and row by row over a whole demo chain). JSON is
written by a cheaper rule that equals ``canonical`` on what the chain holds (scalars, lists
of them) but not on everything; where it is not exact the digest differs and the entry is a
*candidate*, which ``verify`` checks the original way in Python. Where the rule could lose
something (``changes_json`` writes three keys of each element), ``faithful`` also requires
the written text to parse back to exactly the stored JSON value: equal digests then mean
the stored value is the JSON of the bytes the chain recorded, which is what the Python
check accepts. Nothing the database cannot write exactly is ever a pass."""

from __future__ import annotations

from django.db import connection, models

from compliance.audit.chain import ENTRY_KEYS
from compliance.audit.registry import Tracked

ACTION_SQL = "CASE {t} WHEN '+' THEN 'created' WHEN '~' THEN 'changed' WHEN '-' THEN 'deleted' END"

_INTEGER = frozenset(
    {
        "AutoField",
        "BigAutoField",
        "SmallAutoField",
        "IntegerField",
        "BigIntegerField",
        "SmallIntegerField",
        "PositiveIntegerField",
        "PositiveBigIntegerField",
        "PositiveSmallIntegerField",
    }
)
_TEXT = frozenset({"CharField", "TextField", "SlugField", "EmailField", "URLField"})


class Unsupported(Exception):
    """A column whose canonical bytes this module does not write (the table is then
    scanned in Python)."""


def q(name: str) -> str:
    return connection.ops.quote_name(name)


def text_json(x: str) -> str:
    return f"COALESCE(to_json(({x})::text)::text, 'null')"


def plain_json(x: str) -> str:
    return f"COALESCE(({x})::text, 'null')"


def utc_time_text(x: str) -> str:
    """``jsonable``'s text of a time: ISO 8601 in UTC, microseconds only when not zero,
    ``+00:00`` (also the audit export's ``at``, compliance/audit/export_copy.py)."""
    u = f"(({x}) AT TIME ZONE 'UTC')"
    return (
        f"""(to_char({u}, CASE WHEN date_trunc('second', {u}) = {u}"""
        """ THEN 'YYYY-MM-DD"T"HH24:MI:SS' ELSE 'YYYY-MM-DD"T"HH24:MI:SS.US' END)"""
        """ || '+00:00')"""
    )


def time_json(x: str) -> str:
    return f"""COALESCE('"' || {utc_time_text(x)} || '"', 'null')"""


def date_json(x: str) -> str:
    return f"""COALESCE('"' || to_char({x}, 'YYYY-MM-DD') || '"', 'null')"""


SLOTS = 20  # changes written element by element up to this many (more: a candidate)


def jsonb_json(j: str) -> str:
    """A jsonb value's bytes: its jsonb text, where arrays lose the space after each comma.
    That is ``canonical``'s bytes for scalars (strings are escaped as ``to_json`` does,
    integers are digits) and for arrays of them; not for an object (jsonb orders keys by
    length first and writes ``": "``), a fractional number (``jsonable`` makes it a string)
    or a string holding ``", "``: then the digest differs or ``faithful`` fails, and the
    entry is a candidate, never a pass."""
    return f"CASE jsonb_typeof({j}) WHEN 'array' THEN replace(({j})::text, ', ', ',') ELSE ({j})::text END"


def changes_json(c: str) -> str:
    """The bytes of an entry's ``changes``: a list of ``{"field", "new", "old"}`` objects
    (``ledger.changes_between``), written element by element (no set-returning function per
    entry: ten times cheaper). Only those three keys of the first ``SLOTS`` elements are
    written, so ``faithful`` must hold too: a fourth key, a missing one or a longer list
    makes it fail."""
    items = []
    for i in range(SLOTS):
        e = f"({c} -> {i})"
        items.append(
            f"CASE WHEN jsonb_array_length({c}) > {i} THEN"
            f""" '{{"field":' || ({e} -> 'field')::text"""
            f""" || ',"new":' || {jsonb_json(f"({e} -> 'new')")}"""
            f""" || ',"old":' || {jsonb_json(f"({e} -> 'old')")} || '}}' END"""
        )
    written = "'[' || concat_ws(',', " + ", ".join(items) + ") || ']'"
    return f"CASE WHEN jsonb_typeof({c}) = 'array' THEN {written} END"


def faithful(text_sql: str, jsonb_sql: str) -> str:
    """The written bytes are JSON whose value is exactly the column's: nothing was left
    out or changed (then equal digests prove what the Python check would: see the module
    docstring)."""
    return f"({text_sql})::jsonb IS NOT DISTINCT FROM {jsonb_sql}"


def column_json(field: models.Field, x: str) -> str:
    """The canonical bytes of one column (SQL expression ``x``) of ``field``."""
    if field.is_relation:
        field = field.target_field
    kind = field.get_internal_type()
    if isinstance(field, models.JSONField):
        if field.decoder is not None:
            raise Unsupported(f"{field} has a JSON decoder")
        return jsonb_json(x)
    if field.get_db_converters(connection) or connection.ops.get_db_converters(
        field.get_col(field.model._meta.db_table)
    ):
        raise Unsupported(f"{field} converts its values when read")
    if kind in _INTEGER or kind == "BooleanField":
        return plain_json(x)
    if kind in _TEXT:
        return text_json(x)
    if kind == "DateTimeField":
        return time_json(x)
    if kind == "DateField":
        return date_json(x)
    raise Unsupported(f"{field} ({kind})")


def object_json(pairs: list[tuple[str, str]]) -> str:
    """``{"key":<bytes>,...}`` from (key, SQL bytes), keys sorted as ``sort_keys`` does."""
    parts = []
    for i, (key, sql) in enumerate(sorted(pairs)):
        lead = ("{" if i == 0 else ",") + f'"{key}":'
        parts.append(f"'{lead}' || {sql}")
    return " || ".join(parts) + " || '}'" if parts else "'{}'"


def row_json(model: type[models.Model], attnames, alias: str) -> str:
    fields = {f.attname: f for f in model._meta.concrete_fields}
    return object_json(
        [
            (name, column_json(fields[name], f"{alias}.{q(fields[name].column)}"))
            for name in attnames
        ]
    )


def json_guards(model: type[models.Model], attnames, alias: str) -> list[str]:
    """``faithful`` for each JSON column of ``model`` (``jsonb_json`` drops the space after
    every comma of an array, a string's included)."""
    fields = {f.attname: f for f in model._meta.concrete_fields}
    out = []
    for name in attnames:
        if isinstance(fields[name], models.JSONField):
            x = f"{alias}.{q(fields[name].column)}"
            out.append(faithful(jsonb_json(x), x))
    return out


def hex_sha256(text_sql: str) -> str:
    return f"encode(sha256(convert_to({text_sql}, 'UTF8')), 'hex')"


def entry_json(alias: str, changes: str) -> str:
    """A ledger row's canonical bytes (``chain.entry_hash``: every key of ENTRY_KEYS), its
    ``changes`` written by the SQL expression ``changes`` (``changes_json``)."""
    from compliance.models.audit import AuditRecord

    fields = {f.attname: f for f in AuditRecord._meta.concrete_fields}
    pairs = []
    for key in ENTRY_KEYS:
        x = f"{alias}.{q(fields[key].column)}"
        pairs.append((key, changes if key == "changes" else column_json(fields[key], x)))
    return object_json(pairs)


def m2m_aggregates(tracked: Tracked, where: str) -> tuple[list[str], list[tuple[str, str]]]:
    """For each tracked m2m field: a LEFT JOIN of its history rows aggregated per
    history_id (as ``registry.snapshots``: rows in m2m_history_id order) and its bytes."""
    joins, pairs = [], []
    for n, m in enumerate(tracked.m2m):
        meta = m.history_model._meta
        rows = row_json(m.history_model, m.attnames, "r")
        order = q(meta.get_field("m2m_history_id").column)
        hid = q(meta.get_field("history_id").column)
        joins.append(
            f" LEFT JOIN (SELECT r.{hid} AS hid, string_agg({rows}, ',' ORDER BY r.{order})"
            f" AS b, count(*) AS n, count({rows}) AS ok FROM {q(meta.db_table)} r"
            f" WHERE {where.format(hid=f'r.{hid}')} GROUP BY r.{hid}) m{n} ON m{n}.hid = h.history_id"
        )
        pairs.append(
            (
                m.name,
                f"CASE WHEN m{n}.n IS NULL THEN '[]' WHEN m{n}.n = m{n}.ok"
                f" THEN '[' || m{n}.b || ']' END",
            )
        )
    return joins, pairs


def snapshot_json(tracked: Tracked, m2m_pairs: list[tuple[str, str]]) -> str:
    """A history row's snapshot bytes: ``{"fields": {...}, "m2m": {...}}``."""
    fields = row_json(tracked.history_model, tracked.attnames, "h")
    return object_json([("fields", fields), ("m2m", object_json(m2m_pairs))])


def columns_differ(tracked: Tracked) -> str:
    """``ledger.snapshot_columns`` but the digest, compared in SQL (h: history, a: ledger)."""
    meta = tracked.history_model._meta
    pk = q(meta.get_field(tracked.pk_attname).column)
    col = {n: f"h.{q(meta.get_field(n).column)}" for n in tracked.attnames}
    checks = [
        f"a.model IS DISTINCT FROM '{tracked.name}'",
        f"a.history_table IS DISTINCT FROM '{tracked.table}'",
        f"a.object_id IS DISTINCT FROM (h.{pk})::text",
        "a.action IS DISTINCT FROM " + ACTION_SQL.format(t=col["history_type"]),
        f"a.actor IS DISTINCT FROM COALESCE(NULLIF({col['history_actor']}, ''), 'system')",
        f"a.user_id IS DISTINCT FROM {col['history_user_id']}",
        f"a.at IS DISTINCT FROM {col['history_date']}",
        f"a.reason IS DISTINCT FROM COALESCE({col['history_change_reason']}, '')",
    ]
    return " OR ".join(checks)

"""A JSON text written as PostgreSQL writes ``jsonb`` (its ``::text``): the export's
``changes`` (issue 18, item 7), so that PostgreSQL's COPY sends the column's own text and the
Python writer (SQLite, and its tested twin on PostgreSQL) writes the very same bytes.

jsonb's text, as ``jsonb_out`` writes it (PostgreSQL 15, src/backend/utils/adt/jsonb.c):

- an object's keys shorter first (by UTF-8 length), then by their bytes; a repeated key keeps
  its last value; ``{"k": v, "k2": v2}`` (``": "`` and ``", "``), ``{}`` when empty;
- an array ``[a, b]``, ``[]`` when empty;
- a string escaped as ``to_json`` (and ``json.dumps(..., ensure_ascii=False)``) escapes:
  ``\\" \\\\ \\b \\f \\n \\r \\t``, other controls as ``\\u00XX``, everything else as it is;
- a number as ``numeric`` writes it: the literal's digits in fixed point, its scale kept
  (``1.50`` stays ``1.50``, ``1e2`` is ``100``, ``1.5e-3`` is ``0.0015``), no negative zero;
- ``true``, ``false``, ``null``.

Values are the same JSON values as any other spelling of the text (``json.loads`` of either
gives equal Python values); only key order, spacing and the spelling of numbers are jsonb's.
tests/test_audit_jsonbtext.py checks ``jsonb_text`` against PostgreSQL's own ``::jsonb::text``.
No Django here: the offline tools may use it."""

from __future__ import annotations

import json
from decimal import Decimal

_string = json.JSONEncoder(ensure_ascii=False).encode


def _key(name: str) -> tuple[int, bytes]:
    raw = name.encode("utf-8")
    return len(raw), raw


def _number(value: Decimal) -> str:
    if value.is_zero():
        value = value.copy_abs()
    return format(value, "f")


def _write(value, out: list) -> None:
    kind = type(value)
    if kind is str:
        out.append(_string(value))
    elif kind is dict:
        out.append("{")
        for i, name in enumerate(sorted(value, key=_key)):
            out.append(", " if i else "")
            out.append(_string(name))
            out.append(": ")
            _write(value[name], out)
        out.append("}")
    elif kind is list:
        out.append("[")
        for i, item in enumerate(value):
            out.append(", " if i else "")
            _write(item, out)
        out.append("]")
    elif kind is Decimal:
        out.append(_number(value))
    elif kind is float:  # from a Python value (``value_text``), or NaN/Infinity read back
        out.append(
            _number(Decimal(repr(value)))
            if value == value and abs(value) != float("inf")
            else json.dumps(value)
        )
    elif kind is int:  # a bool is not an int here (type(), not isinstance)
        out.append(str(value))
    else:
        out.append(json.dumps(value))  # True, False, None


def jsonb_text(text: str | None) -> str:
    """``text`` (any JSON text; None is SQL NULL, written ``null``) as jsonb's text."""
    if text is None:
        return "null"
    out: list = []
    _write(json.loads(text, parse_float=Decimal, parse_int=Decimal), out)
    return "".join(out)


def value_text(value) -> str:
    """A JSON-ready Python value as jsonb's text of ``json.dumps(value)``: what PostgreSQL
    stores for it when Django writes it (a float's ``repr`` read as a numeric)."""
    out: list = []
    _write(value, out)
    return "".join(out)

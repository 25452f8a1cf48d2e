"""``jsonbtext`` writes exactly PostgreSQL's ``::jsonb::text`` of any JSON text (key order,
spacing, numbers as numeric spells them), and values that are the same JSON values as the
text it read: the export's ``changes`` (issue 18, item 7) depend on both."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compliance.audit.jsonbtext import jsonb_text, value_text

KEY = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=6)
# A JSON number literal as anyone may spell it: signs, zeros, fractions, exponents.
NUMBER = st.from_regex(
    r"-?(0|[1-9][0-9]{0,25})(\.[0-9]{1,12})?([eE][+-]?[0-9]{1,2})?", fullmatch=True
)


class Raw(str):
    """A number literal kept as written."""


LEAF = st.one_of(st.none(), st.booleans(), KEY, NUMBER.map(Raw))
TREE = st.recursive(
    LEAF,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.lists(st.tuples(KEY, inner), max_size=5)
    ),
    max_leaves=14,
)


def _spell(value, spaced: bool, ascii_only: bool) -> str:
    """``value`` as a JSON text; a list of pairs is an object (repeated keys possible)."""
    comma, colon = (", ", ": ") if spaced else (",", ":")
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, list) and value and all(isinstance(v, tuple) for v in value):
        return (
            "{"
            + comma.join(
                json.dumps(k, ensure_ascii=ascii_only) + colon + _spell(v, spaced, ascii_only)
                for k, v in value
            )
            + "}"
        )
    if isinstance(value, list):
        return "[" + comma.join(_spell(v, spaced, ascii_only) for v in value) + "]"
    return json.dumps(value, ensure_ascii=ascii_only)


def _jsonb(text: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s::jsonb::text", [text])
        return cursor.fetchone()[0]


@pytest.mark.postgres
@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(TREE, st.booleans(), st.booleans())
def test_jsonb_text_is_postgresqls_own(db, value, spaced, ascii_only):
    text = _spell(value, spaced, ascii_only)
    assert jsonb_text(text) == _jsonb(text)
    parse = {"parse_float": Decimal, "parse_int": Decimal}
    assert json.loads(jsonb_text(text), **parse) == json.loads(text, **parse)


@pytest.mark.postgres
@pytest.mark.parametrize(
    "text",
    [
        "null", "[]", "{}", '""', "-0", "-0.0", "1e2", "1.50", "1E-5", "0.000", "1.5e-3",
        "123456789012345678901234567890", '{"bb": 1, "a": 2, "ab": 3, "é": 4, "z": 5}',
        '{"k": 1, "k": 2}', '[{"field": "status", "old": "draft", "new": "in_review"}]',
        '["\\u00e9\\n\\t\\"\\\\\\u001f\\u007f\\u2028"]', '{"\\u00e9": [], "e": {}}',
    ],
)  # fmt: skip
def test_the_shapes_that_matter(db, text):
    assert jsonb_text(text) == _jsonb(text)


JSON_VALUE = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(), KEY,
        st.floats(allow_nan=False, allow_infinity=False),
    ),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEY, inner, max_size=4)),
    max_leaves=12,
)  # fmt: skip


@pytest.mark.postgres
@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(JSON_VALUE)
def test_value_text_is_what_postgresql_stores_for_a_python_value(db, value):
    """What Django stores for a value (``json.dumps``), read back as jsonb's text (a float
    such as 6.671450650429614e+16 comes back as numeric's digits, 66714506504296140: the
    column's text, which the export wrote before through ``json.loads`` too)."""
    assert value_text(value) == _jsonb(json.dumps(value)) == jsonb_text(json.dumps(value))

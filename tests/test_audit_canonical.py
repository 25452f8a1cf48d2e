"""The fast canonical JSON (orjson) writes exactly the bytes of the definition
(``json.dumps(jsonable(v), sort_keys=True, separators=(",", ":"), ensure_ascii=False)``) for
every value type the chain holds, so no existing hash changes (issue 18, item 7)."""

from __future__ import annotations

import datetime as dt
import decimal
import io
import json
import uuid

import pytest
from django.core.management import call_command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compliance.audit.chain import canonical, canonical_reference, entry_hash
from compliance.audit.export import iter_export
from compliance.audit.ledger import entry_of, snapshot_columns
from compliance.audit.offline import verify_lines
from compliance.audit.registry import snapshots, tracked_models
from compliance.models import AuditRecord

# Every character but lone surrogates (which neither form can encode as UTF-8): controls,
# DEL, U+2028/2029, the BMP's end and the non-BMP planes (emoji, U+10FFFF) included.
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
ZONES = st.sampled_from(
    [
        None,
        dt.UTC,
        dt.timezone(dt.timedelta(hours=5, minutes=30)),
        dt.timezone(-dt.timedelta(hours=8)),
    ]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),  # beyond 64 bits too: orjson refuses those, the fallback writes them
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    TEXT,
    st.datetimes(timezones=ZONES),
    st.dates(),
    st.times(),
    st.timedeltas(),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.uuids(),
    st.binary(max_size=16),
    st.binary(max_size=16).map(memoryview),
)
KEYS = st.one_of(TEXT, st.integers(), st.uuids(), st.dates())
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.lists(inner, max_size=5).map(tuple),
        st.dictionaries(KEYS, inner, max_size=5),
    ),
    max_leaves=30,
)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(VALUES)
def test_canonical_equals_the_definition_on_every_type(value):
    assert canonical(value) == canonical_reference(value)


@settings(max_examples=50, deadline=None)
@given(st.dictionaries(TEXT, VALUES, max_size=14))
def test_canonical_equals_the_definition_on_entry_shaped_dicts(entry):
    entry["changes"] = [{"field": k, "old": v, "new": None} for k, v in entry.items()]
    assert canonical(entry) == canonical_reference(entry)


@pytest.mark.parametrize(
    "value",
    [
        2**64,  # beyond orjson's ints: the definition's fallback
        -(2**63) - 1,
        [
            [
                [
                    [
                        [
                            [
                                [
                                    [
                                        [
                                            [
                                                [
                                                    [
                                                        [
                                                            [
                                                                [
                                                                    [
                                                                        [
                                                                            [
                                                                                [
                                                                                    [
                                                                                        [
                                                                                            [
                                                                                                [
                                                                                                    [
                                                                                                        [
                                                                                                            [
                                                                                                                [
                                                                                                                    [
                                                                                                                        [
                                                                                                                            [
                                                                                                                                [
                                                                                                                                    [
                                                                                                                                        [
                                                                                                                                            [
                                                                                                                                                [
                                                                                                                                                    [
                                                                                                                                                        [
                                                                                                                                                            [
                                                                                                                                                                [
                                                                                                                                                                    [
                                                                                                                                                                        [
                                                                                                                                                                            [
                                                                                                                                                                                [
                                                                                                                                                                                    [
                                                                                                                                                                                        [
                                                                                                                                                                                            [
                                                                                                                                                                                                [
                                                                                                                                                                                                    [
                                                                                                                                                                                                        [
                                                                                                                                                                                                            [
                                                                                                                                                                                                                [
                                                                                                                                                                                                                    [
                                                                                                                                                                                                                        [
                                                                                                                                                                                                                            [
                                                                                                                                                                                                                                [
                                                                                                                                                                                                                                    [
                                                                                                                                                                                                                                        [
                                                                                                                                                                                                                                            [
                                                                                                                                                                                                                                                [
                                                                                                                                                                                                                                                    [
                                                                                                                                                                                                                                                        [
                                                                                                                                                                                                                                                            [
                                                                                                                                                                                                                                                                [
                                                                                                                                                                                                                                                                    [
                                                                                                                                                                                                                                                                        0
                                                                                                                                                                                                                                                                    ]
                                                                                                                                                                                                                                                                ]
                                                                                                                                                                                                                                                            ]
                                                                                                                                                                                                                                                        ]
                                                                                                                                                                                                                                                    ]
                                                                                                                                                                                                                                                ]
                                                                                                                                                                                                                                            ]
                                                                                                                                                                                                                                        ]
                                                                                                                                                                                                                                    ]
                                                                                                                                                                                                                                ]
                                                                                                                                                                                                                            ]
                                                                                                                                                                                                                        ]
                                                                                                                                                                                                                    ]
                                                                                                                                                                                                                ]
                                                                                                                                                                                                            ]
                                                                                                                                                                                                        ]
                                                                                                                                                                                                    ]
                                                                                                                                                                                                ]
                                                                                                                                                                                            ]
                                                                                                                                                                                        ]
                                                                                                                                                                                    ]
                                                                                                                                                                                ]
                                                                                                                                                                            ]
                                                                                                                                                                        ]
                                                                                                                                                                    ]
                                                                                                                                                                ]
                                                                                                                                                            ]
                                                                                                                                                        ]
                                                                                                                                                    ]
                                                                                                                                                ]
                                                                                                                                            ]
                                                                                                                                        ]
                                                                                                                                    ]
                                                                                                                                ]
                                                                                                                            ]
                                                                                                                        ]
                                                                                                                    ]
                                                                                                                ]
                                                                                                            ]
                                                                                                        ]
                                                                                                    ]
                                                                                                ]
                                                                                            ]
                                                                                        ]
                                                                                    ]
                                                                                ]
                                                                            ]
                                                                        ]
                                                                    ]
                                                                ]
                                                            ]
                                                        ]
                                                    ]
                                                ]
                                            ]
                                        ]
                                    ]
                                ]
                            ]
                        ]
                    ]
                ]
            ]
        ],
        {"\U0010ffff": 1, "\uffff": 2, "é": 3, "e": 4, "\x00": 5, "\u2028": 6},
        decimal.Decimal("1.10"),
        dt.datetime(2026, 1, 2, 3, 4, 5, 0, tzinfo=dt.UTC),
        dt.datetime(2026, 1, 2, 3, 4, 5, 7, tzinfo=dt.timezone(dt.timedelta(hours=-3))),
        uuid.UUID(int=1),
        float("nan"),
        1e16,
    ],
)
def test_canonical_edge_cases(value):
    assert canonical(value) == canonical_reference(value)


def test_deep_nesting_falls_back_to_the_definition():
    value: list = []
    for _ in range(300):  # deeper than orjson writes
        value = [value]
    assert canonical(value) == canonical_reference(value)


def test_surrogates_fail_alike():
    with pytest.raises(UnicodeEncodeError):
        canonical_reference("\ud800")
    with pytest.raises(UnicodeEncodeError):
        canonical("\ud800")


@pytest.mark.postgres
def test_the_whole_demo_chain_hashes_the_same(db):
    """Every entry and every history snapshot of the demo data: same bytes both ways, and the
    stored hashes (written before this change on a fresh chain, by the same code paths)
    still recompute."""
    call_command("seed_demo", "--with-demo-users", stdout=io.StringIO())
    tables = tracked_models()
    records = list(AuditRecord.objects.order_by("seq"))
    assert len(records) > 50
    for record in records:
        entry = entry_of(record)
        assert canonical(entry) == canonical_reference(entry)
        assert entry_hash(entry) == record.hash
        snap = snapshots(tables[record.history_table], [record.history_id])[record.history_id]
        assert canonical(snap) == canonical_reference(snap)
        assert snapshot_columns(tables[record.history_table], snap)["content_digest"] == (
            record.content_digest
        )
    # and the export of the demo chain checks offline (hash recomputed from each line)
    lines = "".join(iter_export(AuditRecord.objects.all(), "jsonl")).splitlines()
    assert len(lines) == len(records)
    result = verify_lines(json.loads(line) for line in lines)
    assert (result["ok"], result["checked"]) == (True, len(records))

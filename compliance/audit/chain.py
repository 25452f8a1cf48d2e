"""The hash chain's canonical form. Pure Python (no Django), so ``compliance.audit.offline``
can check an exported file on a machine without the application.

    content_digest = sha256(canonical({"fields": <history row>, "m2m": {<field>: [<rows>]}}))
    hash           = sha256(canonical({<every key in ENTRY_KEYS>}))   # includes prev_hash

canonical() is JSON with sorted keys, no whitespace, UTF-8, times as ISO 8601 in UTC.

The bytes are those of ``json.dumps(jsonable(v), sort_keys=True, separators=(",", ":"),
ensure_ascii=False)`` (``canonical_reference``, the definition). ``canonical`` writes them
with orjson, which gives the same bytes for what ``jsonable`` returns (str, int, bool, None,
lists, dicts with str keys: no floats, times or decimals are left by then), and falls back
to the definition for anything orjson refuses (an int beyond 64 bits, nesting deeper than
255). tests/test_audit_canonical.py proves the two equal with hypothesis over every value
type and over a whole demo chain. Without orjson installed, the definition is used."""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
import uuid
from typing import Any

try:
    import orjson
except ImportError:  # pragma: no cover - orjson is a dependency; the definition still works
    orjson = None

GENESIS_HASH = "0" * 64
ENTRY_KEYS = (
    "seq",
    "model",
    "history_table",
    "history_id",
    "object_id",
    "object_repr",
    "action",
    "actor",
    "user_id",
    "at",
    "reason",
    "changes",
    "content_digest",
    "prev_hash",
)


_PLAIN = frozenset({str, int, bool, type(None)})


def jsonable(value: Any) -> Any:
    """A JSON value that survives a database round trip unchanged."""
    # Fast path for what history rows and ledger entries are made of (verify and the seed
    # run this on every value of a million rows); anything else takes the general path.
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is dict:
        return {
            (k if type(k) is str else str(k)): (v if type(v) in _PLAIN else jsonable(v))
            for k, v in value.items()
        }
    if kind is list:
        return [v if type(v) in _PLAIN else jsonable(v) for v in value]
    return _jsonable(value)


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC)
        return value.isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value.total_seconds())
    if isinstance(value, decimal.Decimal | uuid.UUID | float):
        return str(value)
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return str(value)  # e.g. a django-countries Country


def canonical_reference(value: Any) -> bytes:
    """The definition of the canonical form (the chain's bytes since its first entry)."""
    return json.dumps(
        jsonable(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")


if orjson is not None:
    _SORT_KEYS = orjson.OPT_SORT_KEYS
    _dumps = orjson.dumps

    def canonical(value: Any) -> bytes:
        plain = jsonable(value)
        try:
            return _dumps(plain, option=_SORT_KEYS)
        except TypeError:  # orjson.JSONEncodeError: a huge int, deep nesting, ...
            return json.dumps(
                plain, sort_keys=True, separators=(",", ":"), ensure_ascii=False
            ).encode("utf-8")

else:  # pragma: no cover
    canonical = canonical_reference


def sha256(value: Any) -> str:
    return hashlib.sha256(canonical(value)).hexdigest()


def sha256_plain(value: Any) -> str:
    """``sha256(value)`` for a value that ``jsonable`` already returned (so it returns it
    unchanged): the canonical bytes without walking the value a second time."""
    if orjson is not None:
        try:
            return hashlib.sha256(_dumps(value, option=_SORT_KEYS)).hexdigest()
        except TypeError:
            pass
    return sha256(value)


def content_digest(snapshot: dict) -> str:
    """Digest of one history row and its m2m history rows (see ``snapshot`` in registry)."""
    return sha256(snapshot)


def entry_hash(entry: dict) -> str:
    """The chain hash of a ledger entry given as a dict with (at least) ENTRY_KEYS."""
    return sha256({key: entry[key] for key in ENTRY_KEYS})

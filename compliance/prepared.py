"""Hand-written statements that PostgreSQL plans once per connection (issue 15).

PostgreSQL spends more planning a short hand-written read (~1 ms) than running it (~0.2 ms):
a connection that runs one a second time prepares it (a session-level PREPARE, which a
rollback does not undo) and from then on only EXECUTEs it. Not on the first run: a
connection used once (under the ASGI server without ``DB_POOL``, nearly every request's:
docs/benchmarks.md) would only pay one more round trip. The sets hold driver connections
weakly (a closed one leaves them); a pooled connection keeps its prepared statements, as
Django's pool resets nothing but an open transaction. Not for a transaction-pooling proxy
between Django and PostgreSQL (none is used)."""

from __future__ import annotations

import weakref
from collections.abc import Callable

from django.db import connection

# sql(arg): the statement, with arg(n) spelling its n-th parameter (from 1).
Statement = Callable[[Callable[[int], str]], str]

_SEEN: dict[str, weakref.WeakSet] = {}
_PREPARED: dict[str, weakref.WeakSet] = {}


def fetch_all(name: str, sql: Statement, params: list) -> list[tuple]:
    """The rows of ``sql`` with ``params``; on PostgreSQL, from the connection's second run
    on, through the prepared statement ``name`` (``PREPARE`` once, then ``EXECUTE``)."""
    with connection.cursor() as cursor:
        raw = connection.connection
        seen = _SEEN.setdefault(name, weakref.WeakSet())
        if connection.vendor != "postgresql" or raw not in seen:
            cursor.execute(sql(lambda n: "%s"), params)
            if connection.vendor == "postgresql":
                seen.add(raw)
            return cursor.fetchall()
        prepared = _PREPARED.setdefault(name, weakref.WeakSet())
        if raw not in prepared:
            cursor.execute(f"PREPARE {name} AS " + sql(lambda n: f"${n}"))
            prepared.add(raw)
        cursor.execute(f"EXECUTE {name}({', '.join(['%s'] * len(params))})", params)
        return cursor.fetchall()

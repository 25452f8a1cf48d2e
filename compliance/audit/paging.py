"""Keyset walks. ``keyset_page``: the audit log newest first, one implementation for the API
(``/api/v1/audit/``, a release's history) and the audit page (``/audit/``).
``keyset_chunks``: a whole table in key order, chunk by chunk, for the export (the ledger by
seq) and ``verify_audit`` (the ledger by seq, then every live table by primary key).

A page costs an index range scan however deep it is, where OFFSET would read and discard
every earlier row. ``count`` is exact: for the unfiltered log it is the head's sequence
number (gap-free by construction, checked by verify), otherwise a COUNT(*) over the
filtered set, which an index on each filter keeps to an index-only scan of the matching
rows (see docs/audit.md). Cursors: ``b<seq>`` = older than seq, ``a<seq>`` = newer."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from django.core.exceptions import EmptyResultSet, ValidationError
from django.db import connection
from django.db.models import F, QuerySet
from psycopg.types.datetime import TimestamptzLoader

from compliance.models.audit import AuditRecord

PAGE_SIZE = 50
SMALL_SET = 20_000
MAX_PAGE_SIZE = 500


@dataclass(frozen=True)
class KeysetPage:
    count: int
    rows: list[AuditRecord]
    older: str | None  # the cursor of the next (older) page, if any
    newer: str | None  # the cursor of the previous (newer) page, if any
    oldest_first: bool = False

    @property
    def forward(self) -> str | None:
        """The cursor of the page after this one in reading order."""
        return self.newer if self.oldest_first else self.older

    @property
    def back(self) -> str | None:
        """The cursor of the page before this one in reading order."""
        return self.older if self.oldest_first else self.newer


def page_size(value) -> int:
    """A ``page_size`` parameter (empty: the default); ValidationError when out of range."""
    try:
        size = int(value or PAGE_SIZE)
        if not 1 <= size <= MAX_PAGE_SIZE:
            raise ValueError
    except ValueError:
        raise ValidationError(
            {"page_size": [f"Must be an integer from 1 to {MAX_PAGE_SIZE}."]}
        ) from None
    return size


# What a cursor looks like (the schema declares it): a direction and a sequence number that
# fits PostgreSQL's bigint. int() alone takes " 1", "+1", "-1", "١" and 10**30 (a 500).
CURSOR_PATTERN = r"^[ab][0-9]{1,18}$"
_CURSOR = re.compile(CURSOR_PATTERN, re.ASCII)


def parse_cursor(cursor: str | None) -> tuple[str, int]:
    """``""`` → the newest page; ``b<seq>`` / ``a<seq>``; ValidationError otherwise."""
    if not cursor:
        return "", 0
    if not _CURSOR.fullmatch(cursor):
        raise ValidationError({"cursor": ["Invalid cursor."]})
    return cursor[0], int(cursor[1:])


def keyset_page(
    queryset: QuerySet[AuditRecord],
    *,
    cursor: str | None = None,
    size: int = PAGE_SIZE,
    unfiltered: bool = False,
    oldest_first: bool = False,
) -> KeysetPage:
    """One page of ``queryset`` (newest first; with ``oldest_first`` the same walk read from
    the start of the log: ``?o=at``) in a fixed number of queries."""
    if oldest_first:
        page = keyset_page(queryset, cursor=cursor or "a0", size=size, unfiltered=unfiltered)
        return KeysetPage(page.count, page.rows[::-1], page.older, page.newer, oldest_first=True)
    direction, seq = parse_cursor(cursor)
    if unfiltered:
        count = AuditRecord.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    else:
        count = queryset.count()
    # A small filtered set far from the head of the log: reading the primary key backwards
    # would skip most of the log to find it. Ordering by an expression makes PostgreSQL
    # take the filter's own index and sort the few matches instead.
    key = F("seq") if unfiltered or count > SMALL_SET else F("seq") + 0
    if direction == "a":
        rows = list(queryset.filter(seq__gt=seq).order_by(key.asc())[: size + 1])
        more_newer, rows = len(rows) > size, rows[:size]
        rows.reverse()
        more_older = bool(rows) and queryset.filter(seq__lt=rows[-1].seq).exists()
    else:
        page = queryset.filter(seq__lt=seq) if direction == "b" else queryset
        rows = list(page.order_by(key.desc())[: size + 1])
        more_older, rows = len(rows) > size, rows[:size]
        more_newer = (
            bool(direction) and bool(rows) and queryset.filter(seq__gt=rows[0].seq).exists()
        )
    return KeysetPage(
        count=count,
        rows=rows,
        older=f"b{rows[-1].seq}" if more_older else None,
        newer=f"a{rows[0].seq}" if more_newer and rows else None,
    )


def plain_rows(queryset: QuerySet) -> list[tuple]:
    """``list(queryset)`` of a ``values_list`` whose columns need no Django converter (ints,
    text, timestamps: cast JSON to text first). On PostgreSQL it runs the same SQL on a
    cursor with psycopg's own C timestamp loader instead of Django's Python one (the same
    instants: the connection's zone is UTC), several times faster per row."""
    if connection.vendor != "postgresql":
        return list(queryset)
    try:
        sql, params = queryset.query.sql_with_params()
    except EmptyResultSet:  # a filter that can match nothing (e.g. ``__in=[]``): no query
        return []
    connection.ensure_connection()
    with connection.connection.cursor() as cursor:
        cursor.adapters.register_loader("timestamptz", TimestamptzLoader)
        cursor.execute(sql, params)
        return cursor.fetchall()


def keyset_chunks(queryset: QuerySet, key: str, size: int) -> Iterator[list]:
    """The rows of ``queryset`` (instances or ``values()`` dicts) in ``key`` order, ``size``
    per query: a keyset walk (``key > last ORDER BY key LIMIT size``), so the millionth
    chunk costs what the first does and only one chunk is ever in memory."""
    queryset = queryset.order_by(key)
    last = None
    while True:
        page = queryset if last is None else queryset.filter(**{f"{key}__gt": last})
        rows = list(page[:size])
        if not rows:
            return
        yield rows
        last = rows[-1][key] if isinstance(rows[-1], dict) else getattr(rows[-1], key)

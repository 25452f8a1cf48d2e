"""Helpers for the audit tests: read the ledger since a point, tamper past the triggers."""

from __future__ import annotations

from contextlib import contextmanager

from django.db import connection

from compliance.audit.chain import jsonable
from compliance.models import AuditRecord


def head() -> int:
    return AuditRecord.objects.order_by("-seq").values_list("seq", flat=True).first() or 0


def entries_since(seq: int) -> list[tuple]:
    """(model, object_repr, action, actor, reason, changes) of every entry after ``seq``."""
    return [
        (r.model, r.object_repr, r.action, r.actor, r.reason, r.changes)
        for r in AuditRecord.objects.filter(seq__gt=seq).order_by("seq")
    ]


def iso(value) -> str:
    return jsonable(value)


@contextmanager
def triggers_disabled():
    """What an attacker with superuser rights could do: bypass the append-only triggers for
    the current transaction (PostgreSQL only)."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL session_replication_role = origin")

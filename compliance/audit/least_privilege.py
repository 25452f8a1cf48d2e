"""Least privilege in PostgreSQL (issue 18 item 5).

The role that owns a table can disable or drop its triggers, so the append-only triggers
(R22) protect nothing against it. Migrations run as the owner; the application runs as a
**runtime role** made here, which owns nothing and holds only what the app needs:

- SELECT, INSERT on every append-only table (history tables, the ledger, the tree nodes,
  checkpoints, cosignatures, verifications): no UPDATE, DELETE or TRUNCATE at all, so no
  trigger is even reached (and the triggers honour no setting: ``pgtrigger.ignore`` skips
  nothing, ``compliance.models.base.AppendOnlySql``);
- SELECT, INSERT, UPDATE, DELETE on the other tables (never TRUNCATE, REFERENCES, TRIGGER);
- USAGE, SELECT on the sequences; CONNECT; USAGE (not CREATE) on the schema.

Not being the owner, it cannot ALTER TABLE … DISABLE TRIGGER, DROP TRIGGER, or replace the
trigger functions; ``session_replication_role`` needs a superuser. Run the command again
after every migration (new tables get their grants)."""

from __future__ import annotations

import pgtrigger
from django.db import connection

from compliance.models.base import APPEND_ONLY

APPEND_ONLY_PRIVILEGES = "SELECT, INSERT"
TABLE_PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE"


def append_only_tables() -> set[str]:
    return {
        model._meta.db_table for model, trigger in pgtrigger.registered() if trigger in APPEND_ONLY
    }


def _tables(cursor) -> list[str]:
    cursor.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename"
    )
    return [row[0] for row in cursor.fetchall()]


def grant_runtime_role(name: str, *, password: str | None = None) -> dict:
    """Create (or update) the runtime role ``name`` and set its grants exactly; returns
    ``{"role", "append_only", "read_write"}`` (table names). PostgreSQL only, run as the
    tables' owner."""
    if connection.vendor != "postgresql":
        raise RuntimeError("the runtime role is a PostgreSQL feature (SQLite has no roles)")
    protected = append_only_tables()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [name])
        verb = "ALTER" if cursor.fetchone() else "CREATE"
        role = connection.ops.quote_name(name)
        options = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"
        cursor.execute(f"{verb} ROLE {role} WITH {options}")
        if password is not None:
            cursor.execute(f"ALTER ROLE {role} WITH PASSWORD %s", [password])
        cursor.execute("SELECT current_database(), current_schema()")
        database, schema = (connection.ops.quote_name(v) for v in cursor.fetchone())
        cursor.execute(f"GRANT CONNECT ON DATABASE {database} TO {role}")
        cursor.execute(f"REVOKE CREATE ON SCHEMA {schema} FROM {role}")
        cursor.execute(f"GRANT USAGE ON SCHEMA {schema} TO {role}")
        cursor.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {role}")
        tables = _tables(cursor)
        for table in tables:
            privileges = APPEND_ONLY_PRIVILEGES if table in protected else TABLE_PRIVILEGES
            cursor.execute(f"GRANT {privileges} ON {connection.ops.quote_name(table)} TO {role}")
        cursor.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {role}")
    return {
        "role": name,
        "append_only": sorted(t for t in tables if t in protected),
        "read_write": sorted(t for t in tables if t not in protected),
    }

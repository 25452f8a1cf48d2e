"""R22: PostgreSQL refuses UPDATE, DELETE and TRUNCATE on every history table and on the
audit ledger. Row triggers catch UPDATE/DELETE, a statement trigger catches TRUNCATE.

Only a superuser can bypass them (``SET session_replication_role = replica``), which the
application's database role must not be; the test suite's flush does exactly that (see
tests/conftest.py), production code never does. A new tracked model needs its history
tables added here (tests/test_audit_append_only.py fails until they are)."""

from django.db import migrations

FUNCTION = "clearance_refuse_history_change"
# The chain head under the chain lock, in one round trip. A VOLATILE PL/pgSQL function
# takes a fresh snapshot per statement, so the SELECT sees whatever the previous lock
# holder committed (a plain "SELECT lock, head" statement would read a stale snapshot).
HEAD_FUNCTION = "clearance_audit_chain_head"
CHAIN_LOCK_KEY = 0x434C5241  # compliance.audit.ledger.CHAIN_LOCK_KEY
TABLES = [
    "compliance_auditrecord",
    "compliance_historicalagency",
    "compliance_historicalallowlistentry",
    "compliance_historicalgovernmentrequest",
    "compliance_historicalgovernmentrequest_releases",
    "compliance_historicalpartner",
    "compliance_historicalrelease",
    "compliance_historicalrelease_required_agencies",
    "compliance_historicalsignoff",
    "compliance_historicaluser",
    "compliance_historicaluser_groups",
]


def install(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return  # SQLite is the zero-setup default: no triggers there.
    schema_editor.execute(
        f"""
        CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'Clearance audit history is append-only: % on % refused',
                TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
        END
        $$;
        """,
        params=None,  # the body's % are PL/pgSQL placeholders, not driver parameters
    )
    schema_editor.execute(
        f"""
        CREATE OR REPLACE FUNCTION {HEAD_FUNCTION}() RETURNS TABLE(seq bigint, hash varchar)
        LANGUAGE plpgsql VOLATILE AS $$
        BEGIN
            PERFORM pg_advisory_xact_lock({CHAIN_LOCK_KEY});
            RETURN QUERY SELECT a.seq, a.hash FROM compliance_auditrecord a
                ORDER BY a.seq DESC LIMIT 1;
        END
        $$;
        """,
        params=None,
    )
    for table in TABLES:
        schema_editor.execute(
            f'CREATE TRIGGER clearance_append_only BEFORE UPDATE OR DELETE ON "{table}" '
            f"FOR EACH ROW EXECUTE FUNCTION {FUNCTION}()"
        )
        schema_editor.execute(
            f'CREATE TRIGGER clearance_append_only_truncate BEFORE TRUNCATE ON "{table}" '
            f"FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}()"
        )


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f'DROP TRIGGER IF EXISTS clearance_append_only ON "{table}"')
        schema_editor.execute(f'DROP TRIGGER IF EXISTS clearance_append_only_truncate ON "{table}"')
    schema_editor.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}()")
    schema_editor.execute(f"DROP FUNCTION IF EXISTS {HEAD_FUNCTION}()")


class Migration(migrations.Migration):
    dependencies = [("compliance", "0005_audit_ledger")]
    operations = [migrations.RunPython(install, uninstall)]

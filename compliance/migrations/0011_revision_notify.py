"""R27: every committed ledger entry is announced on the PostgreSQL channel
``clearance_revision`` (payload: its seq). NOTIFY is transactional: listeners hear it only
when, and right after, the writing transaction commits, whichever process or code path
wrote it; a rolled-back write announces nothing. SQLite has no such thing: the stream
polls there (compliance/streams/hub.py)."""

from django.db import migrations

CHANNEL = "clearance_revision"  # compliance.streams.hub.CHANNEL
FUNCTION = "clearance_announce_revision"


def install(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"""
        CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('{CHANNEL}', NEW.seq::text);
            RETURN NULL;
        END
        $$;
        """,
        params=None,
    )
    schema_editor.execute(
        f"CREATE TRIGGER {FUNCTION} AFTER INSERT ON compliance_auditrecord "
        f"FOR EACH ROW EXECUTE FUNCTION {FUNCTION}()"
    )


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP TRIGGER IF EXISTS {FUNCTION} ON compliance_auditrecord")
    schema_editor.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}()")


class Migration(migrations.Migration):
    dependencies = [("compliance", "0010_gateway_role")]
    operations = [migrations.RunPython(install, uninstall)]

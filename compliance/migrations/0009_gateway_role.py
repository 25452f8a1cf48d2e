"""The ``gateway`` role (a Django group, like the others: SPEC "Who uses it"), and the
gateway history table made append-only and indexed like every other history table
(migrations 0006 and 0007)."""

from django.db import migrations

TABLE = "compliance_historicalgateway"
FUNCTION = "clearance_refuse_history_change"  # migration 0006


def create_role(apps, schema_editor):
    apps.get_model("auth", "Group").objects.get_or_create(name="gateway")


def drop_role(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name="gateway").delete()


def protect(apps, schema_editor):
    qn = schema_editor.quote_name
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {qn(TABLE + '_obj_hist')} ON {qn(TABLE)} (id, history_id)"
    )
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"CREATE TRIGGER clearance_append_only BEFORE UPDATE OR DELETE ON {qn(TABLE)} "
        f"FOR EACH ROW EXECUTE FUNCTION {FUNCTION}()"
    )
    schema_editor.execute(
        f"CREATE TRIGGER clearance_append_only_truncate BEFORE TRUNCATE ON {qn(TABLE)} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}()"
    )


def unprotect(apps, schema_editor):
    qn = schema_editor.quote_name
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP TRIGGER IF EXISTS clearance_append_only ON {qn(TABLE)}")
        schema_editor.execute(
            f"DROP TRIGGER IF EXISTS clearance_append_only_truncate ON {qn(TABLE)}"
        )
    schema_editor.execute(f"DROP INDEX IF EXISTS {qn(TABLE + '_obj_hist')}")


class Migration(migrations.Migration):
    dependencies = [
        ("compliance", "0008_gateways"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]
    operations = [
        migrations.RunPython(create_role, drop_role),
        migrations.RunPython(protect, unprotect),
    ]

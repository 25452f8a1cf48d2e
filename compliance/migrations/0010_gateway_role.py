"""The ``gateway`` role (a Django group, like the others: SPEC "Who uses it"), and the
(object id, history_id) index on the gateway history table, as migration 0007 gave every
other history table. (Its append-only triggers are declared: migration 0009.)"""

from django.db import migrations

TABLE = "compliance_historicalgateway"


def create_role(apps, schema_editor):
    apps.get_model("auth", "Group").objects.get_or_create(name="gateway")


def drop_role(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name="gateway").delete()


def create_index(apps, schema_editor):
    qn = schema_editor.quote_name
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {qn(TABLE + '_obj_hist')} ON {qn(TABLE)} (id, history_id)"
    )


def drop_index(apps, schema_editor):
    schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(TABLE + '_obj_hist')}")


class Migration(migrations.Migration):
    dependencies = [
        ("compliance", "0009_gateways"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]
    operations = [
        migrations.RunPython(create_role, drop_role),
        migrations.RunPython(create_index, drop_index),
    ]

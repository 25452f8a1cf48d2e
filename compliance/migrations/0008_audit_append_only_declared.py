"""R22 declared, not hand-listed: the append-only triggers of every history table and of the
ledger now come from ``compliance.models.base.APPEND_ONLY`` (django-pgtrigger), generated
by makemigrations for each model simple-history creates. First this drops the triggers and
the refusing function that 0006 wrote by hand over a fixed list of tables (reversed, it puts
them back). 0006's ``clearance_audit_chain_head()`` (the ledger's chain lock) stays as is."""

import pgtrigger.compiler
import pgtrigger.migrations
from django.db import migrations

# What 0006_audit_append_only installed, frozen here so that this migration stays reversible.
OLD_FUNCTION = "clearance_refuse_history_change"
OLD_TABLES = [
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


def drop_hand_written(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in OLD_TABLES:
        schema_editor.execute(f'DROP TRIGGER IF EXISTS clearance_append_only ON "{table}"')
        schema_editor.execute(f'DROP TRIGGER IF EXISTS clearance_append_only_truncate ON "{table}"')
    schema_editor.execute(f"DROP FUNCTION IF EXISTS {OLD_FUNCTION}()")


def restore_hand_written(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"""
        CREATE OR REPLACE FUNCTION {OLD_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'Clearance audit history is append-only: % on % refused',
                TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
        END
        $$;
        """,
        params=None,
    )
    for table in OLD_TABLES:
        schema_editor.execute(
            f'CREATE TRIGGER clearance_append_only BEFORE UPDATE OR DELETE ON "{table}" '
            f"FOR EACH ROW EXECUTE FUNCTION {OLD_FUNCTION}()"
        )
        schema_editor.execute(
            f'CREATE TRIGGER clearance_append_only_truncate BEFORE TRUNCATE ON "{table}" '
            f"FOR EACH STATEMENT EXECUTE FUNCTION {OLD_FUNCTION}()"
        )


class Migration(migrations.Migration):

    dependencies = [
        ('compliance', '0007_history_object_index'),
    ]

    operations = [
        migrations.RunPython(drop_hand_written, restore_hand_written),
        pgtrigger.migrations.AddTrigger(
            model_name='auditrecord',
            trigger=pgtrigger.compiler.Trigger(name='append_only', sql=pgtrigger.compiler.UpsertTriggerSql(func="RAISE EXCEPTION 'Clearance audit history is append-only: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='2033ecccec130d55bd764110bc4e7f344ecb6249', operation='UPDATE OR DELETE', pgid='pgtrigger_append_only_7ca3e', table='compliance_auditrecord', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='auditrecord',
            trigger=pgtrigger.compiler.Trigger(name='append_only_truncate', sql=pgtrigger.compiler.UpsertTriggerSql(func="RAISE EXCEPTION 'Clearance audit history is append-only: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='1fd9d9039cfb5fd2edc13d1b18d70769bfca7810', level='STATEMENT', operation='TRUNCATE', pgid='pgtrigger_append_only_truncate_a1557', table='compliance_auditrecord', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='historicalagency',
            trigger=pgtrigger.compiler.Trigger(name='append_only', sql=pgtrigger.compiler.UpsertTriggerSql(func="RAISE EXCEPTION 'Clearance audit history is append-only: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='ef3b0863e06911ddb5071d9baa28a45c9d8fec13', operation='UPDATE OR DELETE', pgid='pgtrigger_append_only_e4211', table='compliance_historicalagency', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='historicalagency',
            trigger=pgtrigger.compiler.Trigger(name='append_only_truncate', sql=pgtrigger.compiler.UpsertTriggerSql(func="RAISE EXCEPTION 'Clearance audit history is append-only: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='422ffc4eeb8edca147e0078f1bb1f034daa9b242', level='STATEMENT', operation='TRUNCATE', pgid='pgtrigger_append_only_truncate_9fcd3', table='compliance_historicalagency', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='historicalallowlistentry',
            trigger=pgtrigger.compiler.Trigger(name='append_only', sql=pgtrigger.compiler.UpsertTriggerSql(func="RAISE EXCEPTION 'Clearance audit history is append-only: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='38e4af7e5c2d2eab5010f6c8a1b4fc706bedf324', operation='UPDATE OR DELETE', pgid='pgtrigger_append_only_088cb', table='compliance_historicalallowlistentry', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='historicalallowlistentry',
            trigger=pgtrigger.compiler.Trigger(name='append_only_truncate', sql=pgtrigger.compiler.UpsertTriggerSql(func="RAISE EXCEPTION 'Clearance audit history is append-only: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='2637a013b218bf367e69a6893a4df77000df9bf7', level='STATEMENT', operation='TRUNCATE', pgid='pgtrigger_append_only_truncate_08420', table='compliance_historicalallowlistentry', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='historicalgovernmentrequest',
            trigger=pgtrigger.compiler.Trigger(name='append_only', sql=pgtrigger.compiler.UpsertTriggerSql(func="RAISE EXCEPTION 'Clearance audit history is append-only: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='d570f8ff03bcfbcfdaac89df387c37a7ac550f4e', operation='UPDATE OR DELETE', pgid='pgtrigger_append_only_97f41', table='compliance_historicalgovernmentrequest', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='historicalgovernmentrequest',
            trigger=pgtrigger.compiler.Trigger(name='append_only_truncate', sql=pgtrigger.compiler.UpsertTriggerSql(func="RAISE EXCEPTION 'Clearance audit history is append-only: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='605facddc9ebc32e0de42884dd9520ac3f90d70a', level='STATEMENT', operation='TRUNCATE', pgid='pgtrigger_append_only_truncate_46cb5', table='compliance_historicalgovernmentrequest', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='historicalgovernmentrequest_releases',
            trigger=pgtrigger.compiler.Trigger(name='append_only', sql=pgtrigger.compiler.UpsertTriggerSql(func="RAISE EXCEPTION 'Clearance audit history is append-only: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='3a557c907ced5cac3f24b6ac7832ab940d549d2f', operation='UPDATE OR DELETE', pgid='pgtrigger_append_only_d0560', table='compliance_historicalgovernmentrequest_releases', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='historicalgovernmentrequest_releases',
            trigger=pgtrigger.compiler.Trigger(name='append_only_truncate', sql=pgtrigger.compiler.UpsertTriggerSql(func="RAISE EXCEPTION 'Clearance audit history is append-only: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='f7dec75c17f82b36c11bbd059882ec721038fb7b', level='STATEMENT', operation='TRUNCATE', pgid='pgtrigger_append_only_truncate_6fd61', table='compliance_historicalgovernmentrequest_releases', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='historicalpartner',
            trigger=pgtrigger.compiler.Trigger(name='append_only', sql=pgtrigger.compiler.UpsertTriggerSql(func="RAISE EXCEPTION 'Clearance audit history is append-only: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='608b59423d9ec0204c9a3f473ddd3aed01d6ce2e', operation='UPDATE OR DELETE', pgid='pgtrigger_append_only_5a130', table='compliance_historicalpartner', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='historicalpartner',
            trigger=pgtrigger.compiler.Trigger(name='append_only_truncate', sql=pgtrigger.compiler.UpsertTriggerSql(func="RAISE EXCEPTION 'Clearance audit history is append-only: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='5918dd70fb92e241d0b1d61c32f8e7922d38bdf0', level='STATEMENT', operation='TRUNCATE', pgid='pgtrigger_append_only_truncate_88c5e', table='compliance_historicalpartner', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='historicalrelease',
            trigger=pgtrigger.compiler.Trigger(name='append_only', sql=pgtrigger.compiler.UpsertTriggerSql(func="RAISE EXCEPTION 'Clearance audit history is append-only: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='24ab0d6155095841bf2aa4e9eec39b5eb9c81dd2', operation='UPDATE OR DELETE', pgid='pgtrigger_append_only_a8749', table='compliance_historicalrelease', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='historicalrelease',
            trigger=pgtrigger.compiler.Trigger(name='append_only_truncate', sql=pgtrigger.compiler.UpsertTriggerSql(func="RAISE EXCEPTION 'Clearance audit history is append-only: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='d0bba2666b78c1d49cc82598f17931595b8ccb11', level='STATEMENT', operation='TRUNCATE', pgid='pgtrigger_append_only_truncate_6f66f', table='compliance_historicalrelease', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='historicalrelease_required_agencies',
            trigger=pgtrigger.compiler.Trigger(name='append_only', sql=pgtrigger.compiler.UpsertTriggerSql(func="RAISE EXCEPTION 'Clearance audit history is append-only: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='3cda75cbb0636205a9f1957d49cf2954242a550b', operation='UPDATE OR DELETE', pgid='pgtrigger_append_only_d8404', table='compliance_historicalrelease_required_agencies', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='historicalrelease_required_agencies',
            trigger=pgtrigger.compiler.Trigger(name='append_only_truncate', sql=pgtrigger.compiler.UpsertTriggerSql(func="RAISE EXCEPTION 'Clearance audit history is append-only: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='d8cfed898196e5ca54888f2112185dd59f752361', level='STATEMENT', operation='TRUNCATE', pgid='pgtrigger_append_only_truncate_e101e', table='compliance_historicalrelease_required_agencies', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='historicalsignoff',
            trigger=pgtrigger.compiler.Trigger(name='append_only', sql=pgtrigger.compiler.UpsertTriggerSql(func="RAISE EXCEPTION 'Clearance audit history is append-only: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='65c854817bc01116f147eb9bd39b45dfd19ac45a', operation='UPDATE OR DELETE', pgid='pgtrigger_append_only_a9484', table='compliance_historicalsignoff', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='historicalsignoff',
            trigger=pgtrigger.compiler.Trigger(name='append_only_truncate', sql=pgtrigger.compiler.UpsertTriggerSql(func="RAISE EXCEPTION 'Clearance audit history is append-only: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='b4ad905b25617d86b0d5a78ed77652607d0fb25d', level='STATEMENT', operation='TRUNCATE', pgid='pgtrigger_append_only_truncate_649f3', table='compliance_historicalsignoff', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='historicaluser',
            trigger=pgtrigger.compiler.Trigger(name='append_only', sql=pgtrigger.compiler.UpsertTriggerSql(func="RAISE EXCEPTION 'Clearance audit history is append-only: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='65a35ddaf3b38431ab6db610afb9ea88aba7772e', operation='UPDATE OR DELETE', pgid='pgtrigger_append_only_769e2', table='compliance_historicaluser', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='historicaluser',
            trigger=pgtrigger.compiler.Trigger(name='append_only_truncate', sql=pgtrigger.compiler.UpsertTriggerSql(func="RAISE EXCEPTION 'Clearance audit history is append-only: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='209ede4c878aac46470a5a122c9e01a6ab503cc6', level='STATEMENT', operation='TRUNCATE', pgid='pgtrigger_append_only_truncate_be710', table='compliance_historicaluser', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='historicaluser_groups',
            trigger=pgtrigger.compiler.Trigger(name='append_only', sql=pgtrigger.compiler.UpsertTriggerSql(func="RAISE EXCEPTION 'Clearance audit history is append-only: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='83f61fe56bad9e953c15dd0b0fafd745c7a286e0', operation='UPDATE OR DELETE', pgid='pgtrigger_append_only_eb4fa', table='compliance_historicaluser_groups', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='historicaluser_groups',
            trigger=pgtrigger.compiler.Trigger(name='append_only_truncate', sql=pgtrigger.compiler.UpsertTriggerSql(func="RAISE EXCEPTION 'Clearance audit history is append-only: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='3e0586504cb8a209fc5155d17f6f2c57dc1afd9c', level='STATEMENT', operation='TRUNCATE', pgid='pgtrigger_append_only_truncate_5b3e9', table='compliance_historicaluser_groups', when='AFTER')),
        ),
    ]

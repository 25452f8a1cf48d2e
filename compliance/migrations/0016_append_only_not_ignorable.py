"""Append-only triggers that no session setting exempts (issue 14): the triggers the
earlier migrations declare (0008, 0013, 0015), installed through
``compliance.models.base.AppendOnlySql``, whose functions have no ``pgtrigger.ignore``
clause (any role could set that setting and skip them). Reversing reinstalls the earlier
(ignorable) triggers."""

import compliance.models.base
import pgtrigger.compiler
import pgtrigger.migrations
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('compliance', '0015_evidence_documents'),
    ]

    operations = [
        pgtrigger.migrations.RemoveTrigger(
            model_name='auditcheckpoint',
            name='append_only',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='auditcheckpoint',
            name='append_only_truncate',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='auditcheckpointverification',
            name='append_only',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='auditcheckpointverification',
            name='append_only_truncate',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='auditcosignature',
            name='append_only',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='auditcosignature',
            name='append_only_truncate',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='auditrecord',
            name='append_only',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='auditrecord',
            name='append_only_truncate',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='historicalagency',
            name='append_only',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='historicalagency',
            name='append_only_truncate',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='historicalallowlistentry',
            name='append_only',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='historicalallowlistentry',
            name='append_only_truncate',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='historicalauditwitness',
            name='append_only',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='historicalauditwitness',
            name='append_only_truncate',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='historicalevidencedocument',
            name='append_only',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='historicalevidencedocument',
            name='append_only_truncate',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='historicalevidencedocument_allowlist_entries',
            name='append_only',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='historicalevidencedocument_allowlist_entries',
            name='append_only_truncate',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='historicalevidencedocument_releases',
            name='append_only',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='historicalevidencedocument_releases',
            name='append_only_truncate',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='historicalevidencedocument_requests',
            name='append_only',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='historicalevidencedocument_requests',
            name='append_only_truncate',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='historicalevidencedocument_signoffs',
            name='append_only',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='historicalevidencedocument_signoffs',
            name='append_only_truncate',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='historicalgateway',
            name='append_only',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='historicalgateway',
            name='append_only_truncate',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='historicalgovernmentrequest',
            name='append_only',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='historicalgovernmentrequest',
            name='append_only_truncate',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='historicalgovernmentrequest_releases',
            name='append_only',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='historicalgovernmentrequest_releases',
            name='append_only_truncate',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='historicalpartner',
            name='append_only',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='historicalpartner',
            name='append_only_truncate',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='historicalrelease',
            name='append_only',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='historicalrelease',
            name='append_only_truncate',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='historicalrelease_required_agencies',
            name='append_only',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='historicalrelease_required_agencies',
            name='append_only_truncate',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='historicalsignoff',
            name='append_only',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='historicalsignoff',
            name='append_only_truncate',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='historicaluser',
            name='append_only',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='historicaluser',
            name='append_only_truncate',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='historicaluser_groups',
            name='append_only',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='historicaluser_groups',
            name='append_only_truncate',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='historicalwebhookendpoint',
            name='append_only',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='historicalwebhookendpoint',
            name='append_only_truncate',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='merklenode',
            name='append_only',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='merklenode',
            name='append_only_truncate',
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='auditcheckpoint',
            trigger=pgtrigger.compiler.Trigger(name='append_only', sql=compliance.models.base.AppendOnlySql(func="RAISE EXCEPTION 'Clearance audit history is append-only: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='f06af8d1c00ef955fcf766a2560bbd69f331b2ad', operation='UPDATE OR DELETE', pgid='pgtrigger_append_only_c98f6', table='compliance_auditcheckpoint', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='auditcheckpoint',
            trigger=pgtrigger.compiler.Trigger(name='append_only_truncate', sql=compliance.models.base.AppendOnlySql(func="RAISE EXCEPTION 'Clearance audit history is append-only: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='bf91d31ed1bc7c79ebf744239cba1aab6edf86a9', level='STATEMENT', operation='TRUNCATE', pgid='pgtrigger_append_only_truncate_acd91', table='compliance_auditcheckpoint', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='auditcheckpointverification',
            trigger=pgtrigger.compiler.Trigger(name='append_only', sql=compliance.models.base.AppendOnlySql(func="RAISE EXCEPTION 'Clearance audit history is append-only: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='2a4717e7cb6319209ad419a5799130e4e8e30cfc', operation='UPDATE OR DELETE', pgid='pgtrigger_append_only_4b0ca', table='compliance_auditcheckpointverification', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='auditcheckpointverification',
            trigger=pgtrigger.compiler.Trigger(name='append_only_truncate', sql=compliance.models.base.AppendOnlySql(func="RAISE EXCEPTION 'Clearance audit history is append-only: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='253ccae7e36ca084c19e3b8654d40df659fae633', level='STATEMENT', operation='TRUNCATE', pgid='pgtrigger_append_only_truncate_37863', table='compliance_auditcheckpointverification', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='auditcosignature',
            trigger=pgtrigger.compiler.Trigger(name='append_only', sql=compliance.models.base.AppendOnlySql(func="RAISE EXCEPTION 'Clearance audit history is append-only: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='e6c7801655f272a6723d4df28458b912cd60470e', operation='UPDATE OR DELETE', pgid='pgtrigger_append_only_9b5e4', table='compliance_auditcosignature', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='auditcosignature',
            trigger=pgtrigger.compiler.Trigger(name='append_only_truncate', sql=compliance.models.base.AppendOnlySql(func="RAISE EXCEPTION 'Clearance audit history is append-only: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='f09f4a17e1f70838b161b3888c481cd0db6ba3db', level='STATEMENT', operation='TRUNCATE', pgid='pgtrigger_append_only_truncate_03784', table='compliance_auditcosignature', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='auditrecord',
            trigger=pgtrigger.compiler.Trigger(name='append_only', sql=compliance.models.base.AppendOnlySql(func="RAISE EXCEPTION 'Clearance audit history is append-only: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='bcfe1ca9aea2f35a5543bcd3d9eaec3b8a28db88', operation='UPDATE OR DELETE', pgid='pgtrigger_append_only_7ca3e', table='compliance_auditrecord', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='auditrecord',
            trigger=pgtrigger.compiler.Trigger(name='append_only_truncate', sql=compliance.models.base.AppendOnlySql(func="RAISE EXCEPTION 'Clearance audit history is append-only: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='5c90cb20f9394e0629ea4d334c2791f1a78224b2', level='STATEMENT', operation='TRUNCATE', pgid='pgtrigger_append_only_truncate_a1557', table='compliance_auditrecord', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='historicalagency',
            trigger=pgtrigger.compiler.Trigger(name='append_only', sql=compliance.models.base.AppendOnlySql(func="RAISE EXCEPTION 'Clearance audit history is append-only: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='6429c2b72a8a884f668eda60c020407191ec18e3', operation='UPDATE OR DELETE', pgid='pgtrigger_append_only_e4211', table='compliance_historicalagency', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='historicalagency',
            trigger=pgtrigger.compiler.Trigger(name='append_only_truncate', sql=compliance.models.base.AppendOnlySql(func="RAISE EXCEPTION 'Clearance audit history is append-only: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='863b71e92b71d8f736dbb2f03ed73fe4e904f850', level='STATEMENT', operation='TRUNCATE', pgid='pgtrigger_append_only_truncate_9fcd3', table='compliance_historicalagency', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='historicalallowlistentry',
            trigger=pgtrigger.compiler.Trigger(name='append_only', sql=compliance.models.base.AppendOnlySql(func="RAISE EXCEPTION 'Clearance audit history is append-only: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='641237bb2b0bd3ea7f47255bced251d1d5df9dc8', operation='UPDATE OR DELETE', pgid='pgtrigger_append_only_088cb', table='compliance_historicalallowlistentry', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='historicalallowlistentry',
            trigger=pgtrigger.compiler.Trigger(name='append_only_truncate', sql=compliance.models.base.AppendOnlySql(func="RAISE EXCEPTION 'Clearance audit history is append-only: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='cf946905bd5ade2e9a197ff613156059fb7f4db5', level='STATEMENT', operation='TRUNCATE', pgid='pgtrigger_append_only_truncate_08420', table='compliance_historicalallowlistentry', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='historicalauditwitness',
            trigger=pgtrigger.compiler.Trigger(name='append_only', sql=compliance.models.base.AppendOnlySql(func="RAISE EXCEPTION 'Clearance audit history is append-only: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='81a804889015cf1dbc8ed3495c51429ddebab90b', operation='UPDATE OR DELETE', pgid='pgtrigger_append_only_39edd', table='compliance_historicalauditwitness', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='historicalauditwitness',
            trigger=pgtrigger.compiler.Trigger(name='append_only_truncate', sql=compliance.models.base.AppendOnlySql(func="RAISE EXCEPTION 'Clearance audit history is append-only: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='c8aac2ac7f597b7791ab2260a521ebe095626c1f', level='STATEMENT', operation='TRUNCATE', pgid='pgtrigger_append_only_truncate_3e1d1', table='compliance_historicalauditwitness', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='historicalevidencedocument',
            trigger=pgtrigger.compiler.Trigger(name='append_only', sql=compliance.models.base.AppendOnlySql(func="RAISE EXCEPTION 'Clearance audit history is append-only: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='f24bcfbd2244c7ad44d8f31cfdc72c83a60d0822', operation='UPDATE OR DELETE', pgid='pgtrigger_append_only_b7b31', table='compliance_historicalevidencedocument', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='historicalevidencedocument',
            trigger=pgtrigger.compiler.Trigger(name='append_only_truncate', sql=compliance.models.base.AppendOnlySql(func="RAISE EXCEPTION 'Clearance audit history is append-only: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='3accdec694f4444723c163c422ce82c45963aa2e', level='STATEMENT', operation='TRUNCATE', pgid='pgtrigger_append_only_truncate_e5fbb', table='compliance_historicalevidencedocument', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='historicalevidencedocument_allowlist_entries',
            trigger=pgtrigger.compiler.Trigger(name='append_only', sql=compliance.models.base.AppendOnlySql(func="RAISE EXCEPTION 'Clearance audit history is append-only: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='f2817cffb9b7f123da3a5d430723dd1941061daf', operation='UPDATE OR DELETE', pgid='pgtrigger_append_only_ca3cd', table='compliance_historicalevidencedocument_allowlist_entries', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='historicalevidencedocument_allowlist_entries',
            trigger=pgtrigger.compiler.Trigger(name='append_only_truncate', sql=compliance.models.base.AppendOnlySql(func="RAISE EXCEPTION 'Clearance audit history is append-only: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='38d89b5b556e2783c0ff05ae3a402e0bcf18ce06', level='STATEMENT', operation='TRUNCATE', pgid='pgtrigger_append_only_truncate_5ace3', table='compliance_historicalevidencedocument_allowlist_entries', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='historicalevidencedocument_releases',
            trigger=pgtrigger.compiler.Trigger(name='append_only', sql=compliance.models.base.AppendOnlySql(func="RAISE EXCEPTION 'Clearance audit history is append-only: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='a59dfe7ab632bcf8cecedec9b35e09ce9ed3df75', operation='UPDATE OR DELETE', pgid='pgtrigger_append_only_496f5', table='compliance_historicalevidencedocument_releases', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='historicalevidencedocument_releases',
            trigger=pgtrigger.compiler.Trigger(name='append_only_truncate', sql=compliance.models.base.AppendOnlySql(func="RAISE EXCEPTION 'Clearance audit history is append-only: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='0c7d8488dcdd89ac826c4fce76466e6c334a4557', level='STATEMENT', operation='TRUNCATE', pgid='pgtrigger_append_only_truncate_ec782', table='compliance_historicalevidencedocument_releases', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='historicalevidencedocument_requests',
            trigger=pgtrigger.compiler.Trigger(name='append_only', sql=compliance.models.base.AppendOnlySql(func="RAISE EXCEPTION 'Clearance audit history is append-only: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='42ccdadfb91d9ac5c37776c1f449ec2ca9cc0b04', operation='UPDATE OR DELETE', pgid='pgtrigger_append_only_245aa', table='compliance_historicalevidencedocument_requests', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='historicalevidencedocument_requests',
            trigger=pgtrigger.compiler.Trigger(name='append_only_truncate', sql=compliance.models.base.AppendOnlySql(func="RAISE EXCEPTION 'Clearance audit history is append-only: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='4a9a7ed7bca4654ea7999a0169d8854ef4a4a30b', level='STATEMENT', operation='TRUNCATE', pgid='pgtrigger_append_only_truncate_1b6a9', table='compliance_historicalevidencedocument_requests', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='historicalevidencedocument_signoffs',
            trigger=pgtrigger.compiler.Trigger(name='append_only', sql=compliance.models.base.AppendOnlySql(func="RAISE EXCEPTION 'Clearance audit history is append-only: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='0bd3d8bcf6e3b80f32aab97eebf887532285eb4f', operation='UPDATE OR DELETE', pgid='pgtrigger_append_only_2ba72', table='compliance_historicalevidencedocument_signoffs', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='historicalevidencedocument_signoffs',
            trigger=pgtrigger.compiler.Trigger(name='append_only_truncate', sql=compliance.models.base.AppendOnlySql(func="RAISE EXCEPTION 'Clearance audit history is append-only: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='8500c6b3cc93d7e9ae5f2cc9d3b48ee6a340193d', level='STATEMENT', operation='TRUNCATE', pgid='pgtrigger_append_only_truncate_ba8b9', table='compliance_historicalevidencedocument_signoffs', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='historicalgateway',
            trigger=pgtrigger.compiler.Trigger(name='append_only', sql=compliance.models.base.AppendOnlySql(func="RAISE EXCEPTION 'Clearance audit history is append-only: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='73054aab64668a2ab5f394eedd07566f70af614f', operation='UPDATE OR DELETE', pgid='pgtrigger_append_only_ed8e3', table='compliance_historicalgateway', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='historicalgateway',
            trigger=pgtrigger.compiler.Trigger(name='append_only_truncate', sql=compliance.models.base.AppendOnlySql(func="RAISE EXCEPTION 'Clearance audit history is append-only: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='62bd57a229afd1f72cd6eafc785b334f32f02d2c', level='STATEMENT', operation='TRUNCATE', pgid='pgtrigger_append_only_truncate_6c231', table='compliance_historicalgateway', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='historicalgovernmentrequest',
            trigger=pgtrigger.compiler.Trigger(name='append_only', sql=compliance.models.base.AppendOnlySql(func="RAISE EXCEPTION 'Clearance audit history is append-only: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='6fb48fe36eb9cb7ccda67428816ed535097abb91', operation='UPDATE OR DELETE', pgid='pgtrigger_append_only_97f41', table='compliance_historicalgovernmentrequest', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='historicalgovernmentrequest',
            trigger=pgtrigger.compiler.Trigger(name='append_only_truncate', sql=compliance.models.base.AppendOnlySql(func="RAISE EXCEPTION 'Clearance audit history is append-only: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='b2354c9fa7810c7242146f98fba6f311e9b74dab', level='STATEMENT', operation='TRUNCATE', pgid='pgtrigger_append_only_truncate_46cb5', table='compliance_historicalgovernmentrequest', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='historicalgovernmentrequest_releases',
            trigger=pgtrigger.compiler.Trigger(name='append_only', sql=compliance.models.base.AppendOnlySql(func="RAISE EXCEPTION 'Clearance audit history is append-only: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='85ae8cc007212c1547fe048f6d234d60731f3a38', operation='UPDATE OR DELETE', pgid='pgtrigger_append_only_d0560', table='compliance_historicalgovernmentrequest_releases', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='historicalgovernmentrequest_releases',
            trigger=pgtrigger.compiler.Trigger(name='append_only_truncate', sql=compliance.models.base.AppendOnlySql(func="RAISE EXCEPTION 'Clearance audit history is append-only: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='63240526f62c0b3586db77cebb0701b6511e2e2d', level='STATEMENT', operation='TRUNCATE', pgid='pgtrigger_append_only_truncate_6fd61', table='compliance_historicalgovernmentrequest_releases', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='historicalpartner',
            trigger=pgtrigger.compiler.Trigger(name='append_only', sql=compliance.models.base.AppendOnlySql(func="RAISE EXCEPTION 'Clearance audit history is append-only: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='297b9499db92062bbf418bd28701aca14478ab16', operation='UPDATE OR DELETE', pgid='pgtrigger_append_only_5a130', table='compliance_historicalpartner', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='historicalpartner',
            trigger=pgtrigger.compiler.Trigger(name='append_only_truncate', sql=compliance.models.base.AppendOnlySql(func="RAISE EXCEPTION 'Clearance audit history is append-only: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='51574f8b1efe4a7328449ad88736514c77e3f0db', level='STATEMENT', operation='TRUNCATE', pgid='pgtrigger_append_only_truncate_88c5e', table='compliance_historicalpartner', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='historicalrelease',
            trigger=pgtrigger.compiler.Trigger(name='append_only', sql=compliance.models.base.AppendOnlySql(func="RAISE EXCEPTION 'Clearance audit history is append-only: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='73a4070ff580087984213ab7c05d1b16129c9478', operation='UPDATE OR DELETE', pgid='pgtrigger_append_only_a8749', table='compliance_historicalrelease', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='historicalrelease',
            trigger=pgtrigger.compiler.Trigger(name='append_only_truncate', sql=compliance.models.base.AppendOnlySql(func="RAISE EXCEPTION 'Clearance audit history is append-only: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='866f5d4cbaa2ab5ea9e0da2feef9492450a56f8f', level='STATEMENT', operation='TRUNCATE', pgid='pgtrigger_append_only_truncate_6f66f', table='compliance_historicalrelease', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='historicalrelease_required_agencies',
            trigger=pgtrigger.compiler.Trigger(name='append_only', sql=compliance.models.base.AppendOnlySql(func="RAISE EXCEPTION 'Clearance audit history is append-only: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='e18126b09bf78065d4e2c3beb3da4f29f2311f9e', operation='UPDATE OR DELETE', pgid='pgtrigger_append_only_d8404', table='compliance_historicalrelease_required_agencies', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='historicalrelease_required_agencies',
            trigger=pgtrigger.compiler.Trigger(name='append_only_truncate', sql=compliance.models.base.AppendOnlySql(func="RAISE EXCEPTION 'Clearance audit history is append-only: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='d12fe130985335f9075118654705c195ec2107ce', level='STATEMENT', operation='TRUNCATE', pgid='pgtrigger_append_only_truncate_e101e', table='compliance_historicalrelease_required_agencies', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='historicalsignoff',
            trigger=pgtrigger.compiler.Trigger(name='append_only', sql=compliance.models.base.AppendOnlySql(func="RAISE EXCEPTION 'Clearance audit history is append-only: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='005fb1c06bbe46dc683e9db33dd889a2a195b77d', operation='UPDATE OR DELETE', pgid='pgtrigger_append_only_a9484', table='compliance_historicalsignoff', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='historicalsignoff',
            trigger=pgtrigger.compiler.Trigger(name='append_only_truncate', sql=compliance.models.base.AppendOnlySql(func="RAISE EXCEPTION 'Clearance audit history is append-only: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='dc716fa7e88e3e28369878902207ee5a770ebdfe', level='STATEMENT', operation='TRUNCATE', pgid='pgtrigger_append_only_truncate_649f3', table='compliance_historicalsignoff', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='historicaluser',
            trigger=pgtrigger.compiler.Trigger(name='append_only', sql=compliance.models.base.AppendOnlySql(func="RAISE EXCEPTION 'Clearance audit history is append-only: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='62809aae07825df9f22af45286a148d7f1f42e31', operation='UPDATE OR DELETE', pgid='pgtrigger_append_only_769e2', table='compliance_historicaluser', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='historicaluser',
            trigger=pgtrigger.compiler.Trigger(name='append_only_truncate', sql=compliance.models.base.AppendOnlySql(func="RAISE EXCEPTION 'Clearance audit history is append-only: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='17116b2ce8539f86a64a81f431313db4da49a00d', level='STATEMENT', operation='TRUNCATE', pgid='pgtrigger_append_only_truncate_be710', table='compliance_historicaluser', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='historicaluser_groups',
            trigger=pgtrigger.compiler.Trigger(name='append_only', sql=compliance.models.base.AppendOnlySql(func="RAISE EXCEPTION 'Clearance audit history is append-only: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='994396547771ec97e8d42432dfcf2e82dc69eb15', operation='UPDATE OR DELETE', pgid='pgtrigger_append_only_eb4fa', table='compliance_historicaluser_groups', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='historicaluser_groups',
            trigger=pgtrigger.compiler.Trigger(name='append_only_truncate', sql=compliance.models.base.AppendOnlySql(func="RAISE EXCEPTION 'Clearance audit history is append-only: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='4eb9108ef1c740aafdd7859bb3130211161ef946', level='STATEMENT', operation='TRUNCATE', pgid='pgtrigger_append_only_truncate_5b3e9', table='compliance_historicaluser_groups', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='historicalwebhookendpoint',
            trigger=pgtrigger.compiler.Trigger(name='append_only', sql=compliance.models.base.AppendOnlySql(func="RAISE EXCEPTION 'Clearance audit history is append-only: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='3747ed824fba3c1a43d13a5aa74786629bd6ea6f', operation='UPDATE OR DELETE', pgid='pgtrigger_append_only_1e6aa', table='compliance_historicalwebhookendpoint', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='historicalwebhookendpoint',
            trigger=pgtrigger.compiler.Trigger(name='append_only_truncate', sql=compliance.models.base.AppendOnlySql(func="RAISE EXCEPTION 'Clearance audit history is append-only: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='a4cb8fff32dd15c4d7c1f061686de4142620851f', level='STATEMENT', operation='TRUNCATE', pgid='pgtrigger_append_only_truncate_b159c', table='compliance_historicalwebhookendpoint', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='merklenode',
            trigger=pgtrigger.compiler.Trigger(name='append_only', sql=compliance.models.base.AppendOnlySql(func="RAISE EXCEPTION 'Clearance audit history is append-only: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='ccadb81c72234e878b669eb5b921b59568f47bff', operation='UPDATE OR DELETE', pgid='pgtrigger_append_only_d1502', table='compliance_merklenode', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='merklenode',
            trigger=pgtrigger.compiler.Trigger(name='append_only_truncate', sql=compliance.models.base.AppendOnlySql(func="RAISE EXCEPTION 'Clearance audit history is append-only: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='73bd7f9e59dc18c5a248263a23a8e5f43da9cb6e', level='STATEMENT', operation='TRUNCATE', pgid='pgtrigger_append_only_truncate_0e7ad', table='compliance_merklenode', when='AFTER')),
        ),
    ]

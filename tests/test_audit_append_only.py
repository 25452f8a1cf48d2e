"""R22: PostgreSQL itself refuses UPDATE, DELETE and TRUNCATE on every history table and
on the audit ledger."""

from __future__ import annotations

import contextlib
import io

import pgtrigger
import pytest
from django.apps import apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DatabaseError, connection, models, transaction
from django.test.utils import isolate_apps
from simple_history.models import HistoricalChanges

from compliance.audit.registry import history_tables
from compliance.models import (
    AuditCheckpoint,
    AuditCheckpointVerification,
    AuditCosignature,
    AuditRecord,
    MerkleNode,
)
from compliance.models.base import APPEND_ONLY, audited_history
from tests import factories

pytestmark = pytest.mark.postgres

# The ledger and the transparency log over it (R33–R36): tree nodes, checkpoints, their
# cosignatures and verifications.
LOG_MODELS = [
    AuditRecord,
    MerkleNode,
    AuditCheckpoint,
    AuditCosignature,
    AuditCheckpointVerification,
]
PROTECTED = [*history_tables(), *(m._meta.db_table for m in LOG_MODELS)]
UPDATED_COLUMN = {m._meta.db_table: m._meta.pk.column for m in LOG_MODELS}


@pytest.fixture
def some_history(agencies, staff, admin_user, settings):
    """At least one row in every history table."""
    from compliance import services

    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    services.create_webhook(actor=admin_user, url="http://127.0.0.1:9/hook")
    release = factories.make_release(staff, agencies=agencies[:2])
    entry = services.propose_allowlist_entry(
        release, actor=staff, partner=factories.PartnerFactory()
    )
    request = services.record_request(
        actor=staff, agency=agencies[0], reference="R-1", kind="vet_users", releases=[release]
    )
    services.create_gateway(actor=factories.UserFactory(role="admin"), name="gw-1")
    release = services.submit_release(release, actor=staff)
    services.upload_evidence(  # R37: a document with each of its four links
        actor=staff,
        file=SimpleUploadedFile("letter.txt", b"A letter.\n"),
        title="Letter",
        kind="agency_letter",
        releases=[release],
        requests=[request],
        signoffs=list(release.signoffs.all()[:1]),
        allowlist_entries=[entry],
    )
    _transparency_rows(admin_user, settings)
    return release


def _transparency_rows(admin_user, settings) -> None:
    """A witness, a checkpoint, its cosignature and a verification of it (R34, R36)."""
    import time

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from compliance import services
    from compliance.audit import checkpoints, notes

    settings.AUDIT_SIGNING_KEY = notes.generate_key("append.test/log")[0]
    private = Ed25519PrivateKey.generate()
    public = private.public_key().public_bytes_raw()
    key = notes.verifier_string("w1.test", notes.COSIGNATURE_V1, public)
    services.register_witness(actor=admin_user, name="w1.test", verifier_key=key)
    checkpoint = checkpoints.make_checkpoint()
    line = notes.cosign(
        checkpoints.checkpoint_body(checkpoint), "w1.test", private, int(time.time())
    )
    services.add_cosignatures(checkpoint, text=line, actor=admin_user)
    checkpoints.record_verification(checkpoint, checked=checkpoint.tree_size)


def _refused(sql: str) -> str:
    with pytest.raises(DatabaseError) as excinfo:
        with transaction.atomic(), connection.cursor() as cursor:
            # Run the test transaction's deferred FK checks now: PostgreSQL will not even
            # consider a TRUNCATE of a table with pending trigger events.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(sql)
    return str(excinfo.value)


def _installed_triggers() -> dict[str, set[str]]:
    """{table: {trigger name}} of the enabled triggers in the database."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE NOT t.tgisinternal AND t.tgenabled = 'O'"
        )
        out: dict[str, set[str]] = {}
        for table, name in cursor.fetchall():
            out.setdefault(table, set()).add(name)
        return out


def test_every_history_table_and_the_ledger_carry_the_triggers(db):
    """Found, not listed: every model simple-history generated (history and m2m history
    alike, whether or not this suite names it) has both append-only triggers installed,
    exactly as declared (pgtrigger compares the installed trigger with the declaration)."""
    history_models = [m for m in apps.get_models() if issubclass(m, HistoricalChanges)]
    installed = _installed_triggers()
    for model in [*history_models, AuditRecord]:
        assert [t.name for t in model._meta.triggers] == ["append_only", "append_only_truncate"]
        for trigger in APPEND_ONLY:
            assert trigger.get_installation_status(model) == ("INSTALLED", True), model
            assert trigger.get_pgid(model) in installed[model._meta.db_table]
    tables = {m._meta.db_table for m in history_models}
    assert tables == set(history_tables())  # what the ledger chains is what is protected
    # 11 tracked models (witnesses, evidence documents), 7 m2m history tables (3, plus an
    # evidence document's four links), the ledger and its 4 transparency-log tables.
    assert len(PROTECTED) == 23


def test_the_migrations_install_what_is_declared(db):
    """A tracked model added later gets its triggers in the migration makemigrations writes
    for it; a missing one fails here (and the triggers would be absent)."""
    from django.core.management import call_command

    out = io.StringIO()
    call_command("makemigrations", "compliance", check=True, dry_run=True, stdout=out)
    assert "No changes detected" in out.getvalue()


@isolate_apps("compliance")
def test_a_tracked_model_added_later_is_protected_when_its_class_is_created():
    class Gadget(models.Model):
        name = models.CharField(max_length=10)
        m2m = models.ManyToManyField("compliance.Agency")
        history = audited_history(m2m_fields=["m2m"])

        class Meta:
            app_label = "compliance"

        def __str__(self) -> str:
            return self.name

    generated = [Gadget.history.model, Gadget.history.model.m2m.model]
    try:
        for model in generated:
            names = {t.name for t in model._meta.triggers}
            assert names == {"append_only", "append_only_truncate"}
            for trigger in APPEND_ONLY:
                assert pgtrigger.registered(trigger.get_uri(model)) == [(model, trigger)]
    finally:  # leave pgtrigger's registry as the real models have it
        for model in generated:
            for trigger in APPEND_ONLY:
                with contextlib.suppress(KeyError):
                    trigger.unregister(model)
    assert all(m.__name__ != "HistoricalGadget" for m in apps.get_models())


@pytest.mark.parametrize("table", PROTECTED)
def test_update_delete_truncate_refused(some_history, table):
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT count(*) FROM "{table}"')
        before = cursor.fetchone()[0]
    assert before > 0  # there is something to refuse
    column = UPDATED_COLUMN.get(table, "history_id")
    message = _refused(f'UPDATE "{table}" SET "{column}" = "{column}"')
    assert "append-only: UPDATE on " + table in message
    assert "append-only: DELETE on " + table in _refused(f'DELETE FROM "{table}"')
    # CASCADE: a checkpoint is referenced by its cosignatures (the trigger still refuses).
    assert "append-only: TRUNCATE on " in _refused(f'TRUNCATE "{table}" CASCADE')
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT count(*) FROM "{table}"')
        assert cursor.fetchone()[0] == before


def _pgids(table: str) -> list[str]:
    model = next(m for m in [*apps.get_models()] if m._meta.db_table == table and m._meta.triggers)
    return sorted(t.get_pgid(model) for t in APPEND_ONLY)


@pytest.mark.parametrize("table", ["compliance_auditrecord", "compliance_historicalrelease"])
def test_pgtrigger_ignore_does_not_bypass_the_protection(some_history, table):
    """pgtrigger's escape hatch is a session setting any role may set: naming the triggers
    in ``pgtrigger.ignore`` (by hand or through ``pgtrigger.ignore()``) changes nothing."""
    ignore = "{" + ",".join(_pgids(table)) + "}"
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT count(*) FROM "{table}"')
        before = cursor.fetchone()[0]
    column = "seq" if table == "compliance_auditrecord" else "history_id"
    for sql, op in [
        (f'UPDATE "{table}" SET "{column}" = "{column}"', "UPDATE"),
        (f'DELETE FROM "{table}"', "DELETE"),
        (f'TRUNCATE "{table}"', "TRUNCATE"),
    ]:
        with pytest.raises(DatabaseError, match=f"append-only: {op} on {table}"):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                cursor.execute("SELECT set_config('pgtrigger.ignore', %s, true)", [ignore])
                cursor.execute(sql)
    uris = [
        t.get_uri(m) for m in apps.get_models() if m._meta.db_table == table for t in APPEND_ONLY
    ]
    with pytest.raises(DatabaseError, match=f"append-only: DELETE on {table}"):
        with pgtrigger.ignore(*uris), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f'DELETE FROM "{table}"')
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT count(*) FROM "{table}"')
        assert cursor.fetchone()[0] == before > 0


def test_orm_delete_of_history_refused(some_history):
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic():
            some_history.history.all().delete()
    assert some_history.history.count() == 3


def test_inserting_history_still_works(some_history, staff):
    from compliance import services

    services.update_release(some_history, actor=staff, name="Renamed", reason="typo")
    assert some_history.history.count() == 4


@pytest.mark.django_db(transaction=True)
def test_test_flush_bypass_is_scoped_to_its_own_transaction(agencies, staff):
    """The suite's flush (tests/suite_app: TRUNCATE with ``session_replication_role``
    replica for its own transaction) leaves the session as production runs it: every
    trigger refusing again."""
    from django.core.management import call_command

    factories.make_release(staff, agencies=agencies[:1])
    call_command("flush", interactive=False, verbosity=0)  # what pytest-django runs
    assert AuditRecord.objects.count() == 0  # the flush did empty the ledger
    with connection.cursor() as cursor:
        cursor.execute("SHOW session_replication_role")
        assert cursor.fetchone()[0] == "origin"
    factories.AgencyFactory(code="DOC")  # groups are flushed too: no service call here
    assert "append-only: DELETE" in _refused("DELETE FROM compliance_historicalagency")
    assert "append-only: TRUNCATE" in _refused("TRUNCATE compliance_auditrecord")


def test_deleting_a_user_who_acted_is_refused_not_rewritten(agencies, staff, staff2):
    """Deleting a user would null ``history_user`` on every row they wrote (an UPDATE of
    history): PostgreSQL refuses it. Users are deactivated instead; history keeps both the
    link and the username."""
    from compliance import services

    release = factories.make_release(staff, agencies=agencies[:1])
    services.submit_release(release, actor=staff2)  # sasha's only trace: history rows
    with pytest.raises(DatabaseError, match="append-only: UPDATE"):
        with transaction.atomic():
            staff2.delete()
    assert release.history.filter(history_user=staff2, history_actor="sasha").count() == 1

"""R22: PostgreSQL itself refuses UPDATE, DELETE and TRUNCATE on every history table and
on the audit ledger."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from compliance.audit.registry import history_tables
from tests import factories

pytestmark = pytest.mark.postgres

PROTECTED = [*history_tables(), "compliance_auditrecord"]


@pytest.fixture
def some_history(agencies, staff):
    """At least one row in every history table."""
    from compliance import services

    release = factories.make_release(staff, agencies=agencies[:2])
    services.propose_allowlist_entry(release, actor=staff, partner=factories.PartnerFactory())
    services.record_request(
        actor=staff, agency=agencies[0], reference="R-1", kind="vet_users", releases=[release]
    )
    services.create_gateway(actor=factories.UserFactory(role="admin"), name="gw-1")
    return services.submit_release(release, actor=staff)


def _refused(sql: str) -> str:
    with pytest.raises(DatabaseError) as excinfo:
        with transaction.atomic(), connection.cursor() as cursor:
            # Run the test transaction's deferred FK checks now: PostgreSQL will not even
            # consider a TRUNCATE of a table with pending trigger events.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(sql)
    return str(excinfo.value)


def test_every_history_table_and_the_ledger_carry_the_triggers(db):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE t.tgname LIKE 'clearance_append_only%%' AND t.tgenabled = 'O'"
        )
        installed = set(cursor.fetchall())
    expected = {
        (table, name)
        for table in PROTECTED
        for name in ("clearance_append_only", "clearance_append_only_truncate")
    }
    assert expected - installed == set()
    assert len(PROTECTED) == 12  # 8 tracked models, 3 m2m history tables, the ledger


@pytest.mark.parametrize("table", PROTECTED)
def test_update_delete_truncate_refused(some_history, table):
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT count(*) FROM "{table}"')
        before = cursor.fetchone()[0]
    assert before > 0  # there is something to refuse
    column = "seq" if table == "compliance_auditrecord" else "history_id"
    message = _refused(f'UPDATE "{table}" SET "{column}" = "{column}"')
    assert "append-only: UPDATE on " + table in message
    assert "append-only: DELETE on " + table in _refused(f'DELETE FROM "{table}"')
    assert "append-only: TRUNCATE on " + table in _refused(f'TRUNCATE "{table}"')
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT count(*) FROM "{table}"')
        assert cursor.fetchone()[0] == before


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
    """The suite's flush (TRUNCATE past the triggers) leaves the session as production runs
    it: triggers on, role 'origin'. Only a superuser could have switched them off."""
    from django.core.management import call_command

    factories.make_release(staff, agencies=agencies[:1])
    call_command("flush", interactive=False, verbosity=0)  # what pytest-django runs
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

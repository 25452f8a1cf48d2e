"""Issue 18 item 5: the runtime role owns nothing; connected as it (psycopg), nothing can
change or remove a history, ledger, tree or checkpoint row, nor disable, drop or bypass
the append-only triggers; yet the application works as it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import call_command
from django.db import connection

from compliance import services
from compliance.audit import checkpoints, notes
from compliance.audit.least_privilege import append_only_tables
from tests import factories

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parent.parent
LOG_TABLES = [
    "compliance_auditrecord",
    "compliance_merklenode",
    "compliance_auditcheckpoint",
    "compliance_auditcosignature",
    "compliance_historicalrelease",
    "compliance_historicalauditwitness",
]


@pytest.fixture
def runtime_role(admin_user, settings):
    """Rows in every log table, then the role (unique per run: roles are cluster-wide)."""
    settings.AUDIT_SIGNING_KEY = notes.generate_key("lp.test/log")[0]
    factories.make_release(
        factories.UserFactory(role="staff"), agencies=[factories.AgencyFactory()]
    )
    private = Ed25519PrivateKey.generate()
    vkey = notes.verifier_string("w.test", 4, private.public_key().public_bytes_raw())
    services.register_witness(actor=admin_user, name="w.test", verifier_key=vkey)
    checkpoint = checkpoints.make_checkpoint()
    line = notes.cosign(
        checkpoints.checkpoint_body(checkpoint), "w.test", private, int(time.time())
    )
    services.add_cosignatures(checkpoint, text=line, actor=admin_user)
    name, password = f"clearance_rt_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    call_command("create_runtime_role", name, "--password", password, stdout=open(os.devnull, "w"))
    params = connection.get_connection_params()
    dsn = {"host": params.get("host") or "127.0.0.1", "port": params.get("port") or 5432,
           "dbname": params["dbname"], "user": name, "password": password}  # fmt: skip
    yield dsn
    with connection.cursor() as cursor:
        cursor.execute(f'DROP OWNED BY "{name}"')
        cursor.execute(f'DROP ROLE "{name}"')


def _refused(dsn: dict, *statements: str) -> str:
    with psycopg.connect(**dsn, autocommit=False) as conn:
        with pytest.raises(psycopg.Error) as excinfo:
            with conn.cursor() as cursor:
                for sql in statements:
                    cursor.execute(sql)
        conn.rollback()
    return str(excinfo.value)


def _count(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT count(*) FROM "{table}"')
        return cursor.fetchone()[0]


def test_the_runtime_role_cannot_rewrite_or_unprotect_the_log(runtime_role):
    assert set(LOG_TABLES) <= append_only_tables()
    for table in LOG_TABLES:
        before = _count(table)
        assert before > 0, table
        denied = f"permission denied for table {table}"
        assert denied in _refused(
            runtime_role, f'UPDATE "{table}" SET {_col(table)} = {_col(table)}'
        )
        assert denied in _refused(runtime_role, f'DELETE FROM "{table}"')
        assert denied in _refused(runtime_role, f'TRUNCATE "{table}" CASCADE')
        # the session setting pgtrigger's triggers honour does not open a door it lacks
        assert denied in _refused(
            runtime_role,
            "SELECT set_config('pgtrigger.ignore', '{pgtrigger_append_only_0}', false)",
            f'DELETE FROM "{table}"',
        )
        owner = "must be owner of"
        assert owner in _refused(runtime_role, f'ALTER TABLE "{table}" DISABLE TRIGGER ALL')
        trigger = _a_trigger(table)
        assert owner in _refused(runtime_role, f'DROP TRIGGER "{trigger}" ON "{table}"')
        assert _count(table) == before
    assert "permission denied" in _refused(runtime_role, "SET session_replication_role = replica")
    # nor replace the function that decides what the triggers ignore (nor create any)
    assert "permission denied for schema" in _refused(
        runtime_role, "CREATE OR REPLACE FUNCTION _pgtrigger_should_ignore(n name) "
        "RETURNS boolean AS 'SELECT true' LANGUAGE sql"
    )  # fmt: skip
    assert "permission denied" in _refused(runtime_role, "CREATE TABLE compliance_x (id int)")


def test_the_application_runs_as_the_runtime_role(runtime_role):
    """A write with its history row, ledger entry and tree nodes, then verification."""
    url = "postgres://{user}:{password}@{host}:{port}/{dbname}".format(**runtime_role)
    env = {**os.environ, "DATABASE_URL": url, "DEBUG": "1"}
    for args in (["add_user", "rt-user", "--role", "staff"], ["verify_audit"]):
        run = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=env,
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr
    assert '"ok": true' in run.stdout


def _col(table: str) -> str:
    return {
        "compliance_auditrecord": "seq",
        "compliance_merklenode": "key",
        "compliance_auditcheckpoint": "tree_size",
        "compliance_auditcosignature": "id",
    }.get(table, "history_id")


def _a_trigger(table: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE c.relname = %s AND NOT t.tgisinternal ORDER BY 1 LIMIT 1",
            [table],
        )
        return cursor.fetchone()[0]

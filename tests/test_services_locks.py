"""The one lock order (services.common): every row lock before the service's first history
write (which takes the audit chain's lock until commit), tables in LOCK_ORDER, only the rows
themselves. A service that breaks it is refused at once, on any database, instead of
deadlocking under load on PostgreSQL."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from compliance import services
from compliance.models import Agency, Release, SignOff
from compliance.models.reminders import Reminder
from compliance.services.common import (
    LockOrderError,
    lock,
    lock_all,
    save,
    service_transaction,
)
from compliance.services.users import ensure_user
from tests import factories
from tests.helpers import signoff, submitted

pytestmark = pytest.mark.django_db


def test_a_lock_after_the_first_history_write_is_refused_and_nothing_is_kept(agencies, staff):
    release = factories.make_release(staff, agencies=agencies)

    @service_transaction
    def write_then_lock():
        release.name = "renamed"
        save(release, actor=staff, reason="rename")
        lock(agencies[0])

    with pytest.raises(LockOrderError, match="after this service's first history write"):
        write_then_lock()
    release.refresh_from_db()
    assert release.name == "Frontier 1"  # the service's transaction rolled back
    assert not release.history.filter(history_change_reason="rename").exists()


def test_locks_before_the_write_pass(agencies, staff):
    release = factories.make_release(staff, agencies=agencies)

    @service_transaction
    def lock_then_write():
        [locked] = lock_all(Release.objects.filter(pk=release.pk))
        return save(locked, actor=staff, reason="edit")

    assert lock_then_write().pk == release.pk
    assert release.history.filter(history_change_reason="edit").count() == 1


def test_a_service_called_after_a_write_joins_the_scope_and_is_refused(agencies, admin_user):
    """A service called by a service runs in its caller's transaction: after the caller's
    first write, the callee's locks come too late."""

    @service_transaction
    def write_then_call():
        services.create_partner(actor=admin_user, name="Acme", country="US")
        services.update_agency(agencies[0], actor=admin_user, name="Commerce")

    with pytest.raises(LockOrderError, match="compliance.Agency locked after this service's"):
        write_then_call()


def test_writes_before_the_service_began_do_not_count(agencies, staff):
    """Only the service's own writes: a caller's earlier writes (a test's or a command's
    transaction around several services) are the caller's choice."""
    release = factories.make_release(staff, agencies=agencies)  # history, same transaction
    assert services.submit_release(release, actor=staff).review_round == 1


def test_a_refused_service_leaves_no_scope_behind(agencies, staff):
    @service_transaction
    def refused():
        save(factories.make_release(staff, slug="x", agencies=agencies), actor=staff)
        lock(agencies[0])

    with pytest.raises(LockOrderError):
        refused()
    release = factories.make_release(staff, agencies=agencies)
    assert services.submit_release(release, actor=staff).status == "in_review"


def test_tables_are_locked_in_lock_order(agencies, staff):
    release = submitted(staff, agencies)
    so = signoff(release, "DOC", "limited")

    @service_transaction
    def child_then_parent():
        lock(so)
        lock(release)

    with pytest.raises(LockOrderError, match="compliance.Release locked after compliance.SignOff"):
        child_then_parent()

    @service_transaction
    def unlisted():
        lock_all(Reminder.objects.all())

    with pytest.raises(LockOrderError, match="no place in services.common.LOCK_ORDER"):
        unlisted()


def test_a_lock_outside_a_service_is_refused(agencies):
    with pytest.raises(LockOrderError, match="outside a @service_transaction"):
        lock(agencies[0])


@pytest.mark.postgres
def test_services_lock_only_their_own_rows_without_blocking_key_shares(agencies, staff, admin_user):
    """Every locking statement a service sends is FOR NO KEY UPDATE OF its own table: never
    an agency or partner it joins, never a lock that would block a FOR KEY SHARE (a row
    inserted elsewhere that references the locked one)."""
    release = submitted(staff, agencies)
    entry = services.propose_allowlist_entry(
        release, actor=staff, partner=factories.PartnerFactory()
    )
    with CaptureQueriesContext(connection) as queries:
        services.decide_signoff(
            signoff(release, "ONCD", "limited"), actor=staff, decision="approved", evidence="L"
        )
        services.decide_allowlist_entry(entry, actor=admin_user, decision="approved")
        services.update_agency(Agency.objects.get(code="DOC"), actor=admin_user, name="Commerce")
        services.record_request(
            actor=staff,
            agency=agencies[1],
            reference="R-1",
            kind="information_request",
            releases=[release],
        )
        ensure_user("sam", role="auditor", actor=admin_user)
    locking = [q["sql"] for q in queries.captured_queries if " FOR " in q["sql"]]
    tails = sorted({sql[sql.index(" FOR ") :] for sql in locking})
    assert tails == [
        ' FOR NO KEY UPDATE OF "auth_user"',
        ' FOR NO KEY UPDATE OF "compliance_agency"',
        ' FOR NO KEY UPDATE OF "compliance_allowlistentry"',
        ' FOR NO KEY UPDATE OF "compliance_release"',
        ' FOR NO KEY UPDATE OF "compliance_signoff"',
    ]
    assert SignOff.objects.get(pk=signoff(release, "ONCD", "limited").pk).status == "approved"

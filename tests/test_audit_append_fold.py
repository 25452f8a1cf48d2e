"""Issue 18: on PostgreSQL a history row's INSERT also returns it as stored, the record
before it of the same object and the chain head, lock taken (``ledger.insert_history``), so
the ledger append needs no read of its own. These tests prove that what the append reads that
way is exactly what the read after the INSERT (the path before, still SQLite's and that of a
write outside a transaction) returns, for every kind of history row the services write; that
a history row saved by hand is a plain INSERT that takes no chain lock; and that a write
outside a transaction still chains through the separate read."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.db.models.signals import post_save, pre_save
from django.test.utils import CaptureQueriesContext

from compliance import services
from compliance.audit import ledger
from compliance.audit.verify import verify_chain
from compliance.models import Agency, AuditRecord
from tests import factories

pytestmark = pytest.mark.postgres


@pytest.fixture
def reads(monkeypatch):
    """Every append's read, checked against the read after the INSERT: [(model, folded)]."""
    seen: list[tuple[str, bool]] = []
    shipped = ledger._read_for_append

    def checked(tracked, history_instance, using):
        fold = getattr(history_instance, ledger.FOLD_ATTRIBUTE, None)
        folded = fold is not None and fold.rows is not None
        snaps, head = shipped(tracked, history_instance, using)
        rows = tracked.history_model.objects.using(using).filter(
            **{
                tracked.pk_attname: getattr(history_instance, tracked.pk_attname),
                "history_id__lte": history_instance.pk,
            }
        )
        again = ledger._snapshots_and_head(tracked, rows.order_by("-history_id")[:2], using)
        assert (snaps, head) == again, tracked.name
        seen.append((tracked.name, folded))
        return snaps, head

    monkeypatch.setattr(ledger, "_read_for_append", checked)
    return seen


def test_the_folded_read_is_the_read_after_the_insert_for_every_kind_of_row(
    reads, agencies, staff, admin_user, settings
):
    release = services.create_release(
        actor=staff,
        slug="fold-1",
        name="Fold",
        target_date=dt.date(2027, 1, 5),
        required_agencies=agencies[:2],
    )  # a "+" record, then a "~" one with the m2m rows
    services.update_release(release, actor=staff, required_agencies=agencies[1:3])
    services.submit_release(release, actor=staff, reason="go")  # sign-offs
    partner = services.create_partner(actor=admin_user, name="Fold partner", country="GB")
    services.update_partner(partner, actor=admin_user, country="FR")
    entry = services.propose_allowlist_entry(release, actor=staff, partner=partner)
    services.decide_allowlist_entry(entry, actor=admin_user, decision="approved")
    services.record_request(
        actor=staff, agency=agencies[1], reference="F-1", kind="limit_release", releases=[release]
    )
    services.update_agency(agencies[3], actor=admin_user, name="Renamed", reason="fold")
    factories.UserFactory(username="fold-user", role="staff")  # the groups m2m
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    hook, _secret = services.create_webhook(  # a JSONField: a column with a converter
        actor=admin_user, url="http://127.0.0.1:9/hook", events=["signoff.decided"]
    )
    services.update_webhook(hook, actor=admin_user, events=["signoff.decided", "request.recorded"])
    assert {name for name, _ in reads} >= {
        "release",
        "signoff",
        "partner",
        "allowlistentry",
        "governmentrequest",
        "agency",
        "user",
        "webhookendpoint",
    }
    assert all(folded for _, folded in reads), reads
    assert verify_chain() == {"ok": True, "checked": AuditRecord.objects.count(), "broken": None}


def test_an_audited_write_has_its_chain_head_in_the_history_insert(admin_user):
    agency = factories.AgencyFactory()
    services.update_agency(agency, actor=admin_user, name="Warm")
    with CaptureQueriesContext(connection) as ctx:
        services.update_agency(agency, actor=admin_user, name="Folded", reason="fold")
    statements = [q["sql"] for q in ctx.captured_queries]
    [insert] = [s for s in statements if 'INTO "compliance_historicalagency"' in s]
    assert insert.startswith("WITH clearance_new AS (INSERT INTO")
    assert "clearance_audit_chain_head()" in insert
    assert not any(
        s.startswith("SELECT") and 'FROM "compliance_historicalagency"' in s for s in statements
    )
    latest = AuditRecord.objects.order_by("-seq").first()
    assert latest.changes == [{"field": "name", "old": "Warm", "new": "Folded"}]
    assert latest.reason == "fold"


def test_a_folded_history_row_is_saved_as_model_save_saves_it(admin_user):
    """The folded INSERT sends pre_save and post_save once each, as ``Model.save`` does,
    with the primary key and ``_state`` set by post_save; the instance is the stored row."""
    agency = factories.AgencyFactory()
    history_model = type(agency.history.first())
    seen = []

    def before(sender, instance, raw, using, update_fields, **kwargs):
        seen.append(("pre", instance.pk, instance._state.adding, raw, using, update_fields))

    def after(sender, instance, created, raw, using, update_fields, **kwargs):
        seen.append(("post", instance.pk, instance._state.adding, created, raw, using))

    pre_save.connect(before, sender=history_model)
    post_save.connect(after, sender=history_model)
    try:
        with CaptureQueriesContext(connection) as ctx:
            services.update_agency(agency, actor=admin_user, name="Signalled", reason="fold")
    finally:
        pre_save.disconnect(before, sender=history_model)
        post_save.disconnect(after, sender=history_model)
    statements = [q["sql"] for q in ctx.captured_queries]
    [insert] = [s for s in statements if 'INTO "compliance_historicalagency"' in s]
    assert insert.startswith("WITH clearance_new AS (INSERT INTO")
    stored = agency.history.order_by("-history_id").first()
    assert seen == [
        ("pre", None, True, False, "default", None),
        ("post", stored.pk, False, True, False, "default"),
    ]
    assert not hasattr(stored, ledger.FOLD_ATTRIBUTE)
    assert (stored.name, stored.history_type, stored.history_user_id) == (
        "Signalled",
        "~",
        admin_user.pk,
    )


def test_a_history_row_saved_by_hand_is_a_plain_insert_without_the_chain_lock(db):
    agency = factories.AgencyFactory()
    history_model = type(agency.history.first())
    locks = ledger.chain_locks_taken()
    with CaptureQueriesContext(connection) as ctx:
        history_model.objects.create(
            id=agency.pk,
            code=agency.code,
            name="By hand",
            history_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
            history_type="~",
        )
    [insert] = [q["sql"] for q in ctx.captured_queries]
    assert insert.startswith('INSERT INTO "compliance_historicalagency"')
    assert ledger.chain_locks_taken() == locks


@pytest.mark.django_db(transaction=True)
def test_a_write_outside_a_transaction_still_chains_through_the_separate_read(reads):
    assert not connection.in_atomic_block
    agency = Agency.objects.create(code="FOLDX", name="Outside")  # autocommit: no service
    assert reads == [("agency", False)]
    latest = AuditRecord.objects.order_by("-seq").first()
    assert latest.object_id == str(agency.pk) and latest.action == "created"
    assert verify_chain()["ok"] is True

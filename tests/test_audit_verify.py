"""R23: the chain verifies, and tampering with history or ledger is reported at the first
broken record; concurrent writers cannot fork the chain."""

from __future__ import annotations

import json
import threading

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections

from compliance import services
from compliance.audit.verify import verify_chain
from compliance.models import Agency, AllowlistEntry, AuditRecord, GovernmentRequest, Release
from tests import factories
from tests.audit_helpers import triggers_disabled

pytestmark = pytest.mark.postgres


@pytest.fixture
def chain(agencies, staff, admin_user):
    """A chain with release, sign-off, allowlist, request and user entries."""
    release = services.submit_release(
        factories.make_release(staff, agencies=agencies[:2]), actor=staff, reason="go"
    )
    entry = services.propose_allowlist_entry(
        release, actor=staff, partner=factories.PartnerFactory()
    )
    services.decide_allowlist_entry(entry, actor=admin_user, decision="approved")
    services.record_request(
        actor=staff, agency=agencies[1], reference="D-1", kind="limit_release", releases=[release]
    )
    return release


def _sql(sql: str, params=()) -> None:
    with triggers_disabled(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_untouched_chain_verifies(chain):
    result = verify_chain()
    assert result == {"ok": True, "checked": AuditRecord.objects.count(), "broken": None}
    assert result["checked"] >= 20


def test_edited_history_row_is_reported(chain):
    target = AuditRecord.objects.filter(model="release", action="changed").order_by("seq")[1]
    _sql(
        "UPDATE compliance_historicalrelease SET history_change_reason = 'forged' "
        "WHERE history_id = %s",
        [target.history_id],
    )
    result = verify_chain()
    assert result["ok"] is False
    assert result["checked"] == target.seq
    assert result["broken"] == {
        "kind": "chain",
        "seq": target.seq,
        "model": "release",
        "history_table": "compliance_historicalrelease",
        "history_id": target.history_id,
        "problem": "content_mismatch",
        "detail": f"compliance_historicalrelease row {target.history_id} was altered",
    }


def test_edited_m2m_history_row_is_reported(chain):
    target = AuditRecord.objects.filter(model="release").order_by("seq")[1]  # agencies set
    _sql(
        "UPDATE compliance_historicalrelease_required_agencies SET agency_id = %s "
        "WHERE history_id = %s",
        [Agency.objects.get(code="OSTP").pk, target.history_id],
    )
    broken = verify_chain()["broken"]
    assert (broken["seq"], broken["problem"]) == (target.seq, "content_mismatch")


def test_deleted_history_row_is_reported(chain):
    target = AuditRecord.objects.filter(model="signoff").order_by("seq")[2]
    _sql("DELETE FROM compliance_historicalsignoff WHERE history_id = %s", [target.history_id])
    broken = verify_chain()["broken"]
    assert (broken["seq"], broken["model"], broken["history_id"], broken["problem"]) == (
        target.seq,
        "signoff",
        target.history_id,
        "history_missing",
    )


def test_inserted_history_row_is_reported(chain, staff):
    release = chain
    _sql(
        "INSERT INTO compliance_historicalrelease (id, slug, name, description, owner_id, "
        "artifact_digest, partner_cap, review_days, foreign_access_restricted, status, "
        "review_round, created_at, updated_at, history_date, history_change_reason, "
        "history_type, history_user_id, history_actor) "
        "SELECT id, slug, name, description, owner_id, artifact_digest, partner_cap, "
        "review_days, foreign_access_restricted, 'general', review_round, created_at, "
        "updated_at, now(), 'all agencies approved', '~', %s, 'sam' "
        "FROM compliance_release WHERE id = %s",
        [staff.pk, release.pk],
    )
    forged = release.history.order_by("-history_id").first()
    result = verify_chain()
    assert result["ok"] is False
    assert result["checked"] == AuditRecord.objects.count()
    assert result["broken"] == {
        "kind": "chain",
        "seq": None,
        "model": "release",
        "history_table": "compliance_historicalrelease",
        "history_id": forged.history_id,
        "problem": "ledger_missing",
        "detail": f"compliance_historicalrelease row {forged.history_id} has no ledger entry",
    }


def test_deleted_ledger_entry_is_a_gap(chain):
    _sql("DELETE FROM compliance_auditrecord WHERE seq = 5")
    broken = verify_chain()["broken"]
    assert (broken["seq"], broken["problem"], broken["detail"]) == (
        6,
        "sequence_gap",
        "expected seq 5, found 6",
    )


def test_edited_ledger_entry_is_reported(chain):
    target = AuditRecord.objects.filter(model="allowlistentry", action="changed").get()
    _sql("UPDATE compliance_auditrecord SET actor = 'someone' WHERE seq = %s", [target.seq])
    broken = verify_chain()["broken"]
    assert (broken["seq"], broken["problem"]) == (target.seq, "ledger_mismatch")
    # Forging the displayed changes (not the history row) breaks the entry's own hash.
    _sql("UPDATE compliance_auditrecord SET actor = 'ada' WHERE seq = %s", [target.seq])
    _sql("UPDATE compliance_auditrecord SET changes = '[]' WHERE seq = %s", [target.seq])
    broken = verify_chain()["broken"]
    assert (broken["seq"], broken["problem"]) == (target.seq, "hash_mismatch")


def test_relinked_chain_is_reported(chain):
    _sql("UPDATE compliance_auditrecord SET prev_hash = %s WHERE seq = 7", ["f" * 64])
    broken = verify_chain()["broken"]
    assert (broken["seq"], broken["problem"]) == (7, "link_broken")


def test_verify_audit_command(chain, capsys):
    call_command("verify_audit")
    out = json.loads(capsys.readouterr().out)
    assert out["ok"] is True and out["broken"] is None
    _sql(
        "DELETE FROM compliance_historicalrelease WHERE history_id = %s",
        [AuditRecord.objects.filter(model="release").order_by("seq").first().history_id],
    )
    with pytest.raises(CommandError) as excinfo:
        call_command("verify_audit")
    assert excinfo.value.returncode == 1
    out = json.loads(capsys.readouterr().out)
    assert out["ok"] is False and out["broken"]["problem"] == "history_missing"


@pytest.mark.django_db(transaction=True)
def test_ten_concurrent_writers_keep_one_gapless_chain(agencies, staff, admin_user):
    releases = [
        factories.make_release(staff, slug=f"c-{i}", agencies=agencies[:2]) for i in range(10)
    ]
    before = AuditRecord.objects.count()
    barrier = threading.Barrier(10)
    errors = []

    def write(release):
        try:
            barrier.wait(timeout=10)
            services.submit_release(release, actor=staff, reason="parallel")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(r,)) for r in releases]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    # Each submit: 1 release entry + 2 agencies × 2 stages of sign-offs.
    assert AuditRecord.objects.count() == before + 10 * 5
    seqs = list(AuditRecord.objects.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))
    assert Release.objects.filter(status="in_review").count() == 10
    assert verify_chain() == {"ok": True, "checked": len(seqs), "broken": None}
    # Each submit's five entries are contiguous: the chain lock is held until commit, so
    # two transactions' entries never interleave.
    by_release: dict[str, list[int]] = {}
    for record in AuditRecord.objects.filter(seq__gt=before):
        release_id = (
            record.object_id if record.model == "release" else record.object_repr.split("/")[0]
        )
        by_release.setdefault(release_id, []).append(record.seq)
    assert sorted(by_release) == sorted(str(r.pk) for r in releases)
    for seqs_of_one in by_release.values():
        assert sorted(seqs_of_one) == list(range(min(seqs_of_one), min(seqs_of_one) + 5))


# Live rows changed around the services (issue 13, defect 10): a plain UPDATE or INSERT with
# the app's own role needs no trigger bypass, writes no history, and must still be reported.


def _raw(sql: str, params=()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _latest_entry(model: str, object_id) -> AuditRecord:
    return AuditRecord.objects.filter(model=model, object_id=str(object_id)).latest("seq")


def test_live_row_updated_without_history_is_a_live_mismatch(chain):
    entry = services.propose_allowlist_entry(
        chain, actor=chain.owner, partner=factories.PartnerFactory()
    )
    _raw("UPDATE compliance_allowlistentry SET status = 'approved' WHERE id = %s", [entry.pk])
    assert AllowlistEntry.objects.get(pk=entry.pk).status == "approved"
    assert list(
        AuditRecord.objects.filter(model="allowlistentry", object_id=str(entry.pk)).values_list(
            "action", flat=True
        )
    ) == ["created"]
    last = _latest_entry("allowlistentry", entry.pk)
    result = verify_chain()
    assert result["ok"] is False
    assert result["checked"] == AuditRecord.objects.count()
    assert result["broken"] == {
        "kind": "live",
        "problem": "live_mismatch",
        "model": "allowlistentry",
        "object_id": str(entry.pk),
        "fields": ["status"],
        "seq": last.seq,
        "history_table": "compliance_historicalallowlistentry",
        "history_id": last.history_id,
        "detail": f"allowlistentry {entry.pk} differs from its latest history record in status",
    }


def test_live_row_inserted_without_history_is_history_missing(chain):
    _raw(
        "INSERT INTO compliance_agency (code, name, contact_email, active) "
        "VALUES ('NSA', 'Forged', '', true)"
    )
    agency = Agency.objects.get(code="NSA")
    assert verify_chain()["broken"] == {
        "kind": "live",
        "problem": "history_missing",
        "model": "agency",
        "object_id": str(agency.pk),
        "fields": [],
        "seq": None,
        "history_table": "compliance_historicalagency",
        "history_id": None,
        "detail": f"agency {agency.pk} has no history record",
    }


def test_m2m_change_without_history_is_a_live_mismatch(chain, agencies, staff):
    other = factories.make_release(staff, slug="other", agencies=agencies[:1])
    request = GovernmentRequest.objects.get(reference="D-1")
    _raw(
        "INSERT INTO compliance_governmentrequest_releases (governmentrequest_id, release_id) "
        "VALUES (%s, %s)",
        [request.pk, other.pk],
    )
    broken = verify_chain()["broken"]
    assert (broken["kind"], broken["problem"], broken["model"], broken["object_id"]) == (
        "live",
        "live_mismatch",
        "governmentrequest",
        str(request.pk),
    )
    assert broken["fields"] == ["releases"]
    assert broken["seq"] == _latest_entry("governmentrequest", request.pk).seq


def test_live_row_deleted_without_history_is_live_missing(chain):
    signoff = chain.signoffs.order_by("pk").first()
    _raw("DELETE FROM compliance_signoff WHERE id = %s", [signoff.pk])
    last = _latest_entry("signoff", signoff.pk)
    assert verify_chain()["broken"] == {
        "kind": "live",
        "problem": "live_missing",
        "model": "signoff",
        "object_id": str(signoff.pk),
        "fields": [],
        "seq": last.seq,
        "history_table": "compliance_historicalsignoff",
        "history_id": last.history_id,
        "detail": f"signoff {signoff.pk} is gone but its history says it exists",
    }


def test_verify_audit_command_reports_a_live_mismatch(chain, capsys):
    _raw("UPDATE compliance_release SET status = 'general' WHERE id = %s", [chain.pk])
    with pytest.raises(CommandError):
        call_command("verify_audit")
    broken = json.loads(capsys.readouterr().out)["broken"]
    assert (broken["problem"], broken["model"], broken["fields"]) == (
        "live_mismatch",
        "release",
        ["status"],
    )

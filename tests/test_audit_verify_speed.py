"""The fast verify (issue 18, item 7) gives the same answer as the walk in sequence order
(``verify_chain_reference``) for every kind of break, in one process and in several that
share the history tables in ``history_id`` ranges: a break on a range's first row, and a
link broken where two ranges meet, are found too."""

from __future__ import annotations

import json

import pytest
from django.db import connection, transaction

from compliance import services
from compliance.audit import scan
from compliance.audit.registry import tracked_m2m
from compliance.audit.verify import verify_chain, verify_chain_reference
from compliance.models import AuditRecord, Release
from tests import factories
from tests.audit_helpers import triggers_disabled

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def chain(agencies, staff, admin_user, monkeypatch):
    """Committed history (the workers read the parent's snapshot: committed rows only), with
    ranges of two history rows so that every table is cut into several ranges."""
    monkeypatch.setattr(scan, "PIECE", 2)
    for i in range(3):
        release = services.submit_release(
            factories.make_release(staff, slug=f"s-{i}", agencies=agencies[:2]),
            actor=staff,
            reason="go",
        )
        entry = services.propose_allowlist_entry(
            release, actor=staff, partner=factories.PartnerFactory()
        )
        services.decide_allowlist_entry(entry, actor=admin_user, decision="approved")
    return release


def _sql(sql: str, params=()) -> None:
    with transaction.atomic(), triggers_disabled(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def _range_start(table: str) -> int:
    """A history_id that begins a range (not the table's first): a boundary of the split."""
    starts = sorted(lo for t, lo, _hi in scan.tasks(2) if t == table)
    assert len(starts) >= 3, starts
    return starts[1]


def _same_everywhere() -> dict:
    reference = verify_chain_reference()
    assert verify_chain() == reference
    assert verify_chain(workers=2) == reference
    return reference


def test_untouched(chain):
    result = _same_everywhere()
    assert result == {"ok": True, "checked": AuditRecord.objects.count(), "broken": None}


def test_history_row_at_a_range_boundary(chain):
    table = "compliance_historicalsignoff"
    history_id = _range_start(table)
    _sql(f"UPDATE {table} SET reason = 'forged' WHERE history_id = %s", [history_id])
    broken = _same_everywhere()["broken"]
    assert (broken["problem"], broken["history_id"]) == ("content_mismatch", history_id)


def test_link_broken_where_two_ranges_meet(chain):
    start = _range_start("compliance_historicalsignoff")
    seq = AuditRecord.objects.get(history_table="compliance_historicalsignoff", history_id=start)
    _sql("UPDATE compliance_auditrecord SET prev_hash = %s WHERE seq = %s", ["e" * 64, seq.seq])
    broken = _same_everywhere()["broken"]
    assert (broken["seq"], broken["problem"]) == (seq.seq, "link_broken")


@pytest.mark.parametrize(
    "tamper, problem",
    [
        ("DELETE FROM compliance_auditrecord WHERE seq = 9", "sequence_gap"),
        (
            "DELETE FROM compliance_historicalsignoff WHERE history_id = {signoff}",
            "history_missing",
        ),
        ("UPDATE compliance_auditrecord SET actor = 'x' WHERE seq = 11", "ledger_mismatch"),
        ("UPDATE compliance_auditrecord SET changes = '[]' WHERE seq = 12", "hash_mismatch"),
        (
            "UPDATE compliance_historicalrelease_required_agencies SET agency_id = agency_id + 1"
            " WHERE m2m_history_id = {m2m}",
            "content_mismatch",
        ),
        (
            "INSERT INTO compliance_historicalpartner (id, name, country, contact_email, notes,"
            " history_date, history_change_reason, history_type, history_actor)"
            " VALUES (999, 'ghost', 'US', '', '', now(), '', '+', 'x')",
            "ledger_missing",
        ),
        ("UPDATE compliance_partner SET notes = 'raw'", "live_mismatch"),
    ],
)
def test_every_kind_of_break(chain, tamper, problem):
    # Sequences are not reset between transactional tests: name rows that exist.
    m2m = tracked_m2m(Release, "required_agencies").history_model.objects
    signoffs = AuditRecord.objects.filter(model="signoff").order_by("seq")
    _sql(
        tamper.format(
            signoff=signoffs[2].history_id, m2m=m2m.order_by("m2m_history_id")[2].m2m_history_id
        )
    )
    result = _same_everywhere()
    assert result["ok"] is False and result["broken"]["problem"] == problem


def test_two_breaks_report_the_earlier_one(chain):
    _sql("UPDATE compliance_auditrecord SET actor = 'x' WHERE seq = 20")
    first = AuditRecord.objects.filter(model="signoff").order_by("seq")[1]
    _sql(
        "UPDATE compliance_historicalsignoff SET reason = 'y' WHERE history_id = %s",
        [first.history_id],
    )
    broken = _same_everywhere()["broken"]
    assert broken["seq"] == min(20, first.seq)


def _rewrite_last_entry(changes: list) -> AuditRecord:
    """The last entry with ``changes`` and its hash recomputed (as a superuser could): a
    valid chain whose changes the database's JSON rule cannot write exactly."""
    from compliance.audit.chain import entry_hash
    from compliance.audit.ledger import entry_of

    record = AuditRecord.objects.order_by("-seq").first()
    record.changes = changes
    new_hash = entry_hash(entry_of(record))
    _sql(
        "UPDATE compliance_auditrecord SET changes = %s::jsonb, hash = %s WHERE seq = %s",
        [json.dumps(changes), new_hash, record.seq],
    )
    return AuditRecord.objects.get(seq=record.seq)


@pytest.mark.parametrize(
    "changes",
    [
        [{"field": "x", "new": 1.5, "old": None}],  # jsonable writes a float as a string
        [{"field": "x", "new": {"b": 1, "a": [2]}, "old": None}],  # an object
        [{"field": "x", "new": ["a, b"], "old": []}],  # ", " inside a list's string
        [{"field": f"f{i}", "new": i, "old": None} for i in range(scan.LIMIT)],  # > SLOTS
    ],
)
def test_what_the_database_cannot_write_is_a_candidate_and_passes(chain, changes):
    """A valid entry whose bytes the SQL cannot write exactly: listed as a candidate, then
    passed by the original check; the answer is the reference's."""
    record = _rewrite_last_entry(changes)
    with transaction.atomic():
        assert record.seq in scan.scan_chain().candidates
    result = _same_everywhere()
    assert result == {"ok": True, "checked": AuditRecord.objects.count(), "broken": None}


def test_a_change_the_json_rule_would_hide_is_caught(chain):
    """The database writes ``["a, b"]`` and ``["a,b"]`` alike (it drops the space after an
    array's commas): only ``faithful`` (the bytes must parse back to the stored value)
    tells that the stored list was edited. Without it, the recomputed hash would match."""
    from compliance.audit import pgcanonical

    record = _rewrite_last_entry([{"field": "x", "new": ["a,b"], "old": []}])
    _sql(
        "UPDATE compliance_auditrecord SET changes = %s::jsonb WHERE seq = %s",
        [json.dumps([{"field": "x", "new": ["a, b"], "old": []}]), record.seq],
    )
    written = pgcanonical.hex_sha256(
        pgcanonical.entry_json("a", pgcanonical.changes_json("a.changes"))
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {written} = a.hash FROM compliance_auditrecord a WHERE seq = %s", [record.seq]
        )
        assert cursor.fetchone()[0] is True  # the lossy bytes alone would pass it
    broken = _same_everywhere()["broken"]
    assert (broken["seq"], broken["problem"]) == (record.seq, "hash_mismatch")


def test_python_scan_gives_the_same_answer(chain, monkeypatch):
    """SQLite's path (every table scanned in Python) on the same data: same answer."""
    _sql("UPDATE compliance_auditrecord SET actor = 'x' WHERE seq = 11")
    reference = verify_chain_reference()
    monkeypatch.setattr(scan, "IN_DATABASE", False)
    assert verify_chain() == reference == verify_chain(workers=2)
    assert reference["broken"]["problem"] == "ledger_mismatch"

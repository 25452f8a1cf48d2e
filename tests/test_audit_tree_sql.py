"""R33 on PostgreSQL: the ledger's row trigger (migration 0019_tree_in_database) writes the
same Merkle nodes as the Python path (``tree.append_leaf``, the SQLite path), for every tree
size 1..300, and the roots are RFC 9162's (an independent implementation,
tests/transparency_support); and an audited write costs two statements beyond the write
itself (the history row, which returns itself, the record before it and the chain head; the
ledger entry with its leaf)."""

from __future__ import annotations

import hashlib

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from compliance.audit import merkle, tree
from compliance.models import AuditRecord, MerkleNode
from compliance.services import update_agency
from tests import factories
from tests import transparency_support as rfc
from tests.audit_helpers import triggers_disabled

pytestmark = pytest.mark.postgres

SIZES = 300


def _entry(seq: int) -> AuditRecord:
    """A synthetic ledger entry: the tree reads only ``seq`` and ``hash``."""
    digest = hashlib.sha256(b"tree %d" % seq).hexdigest()
    return AuditRecord(
        seq=seq,
        model="agency",
        history_table="tree_test",
        history_id=seq,
        object_id=str(seq),
        object_repr=f"tree {seq}",
        action="created",
        actor="test",
        at="2026-01-01T00:00:00Z",
        reason="",
        changes=[],
        content_digest=digest,
        prev_hash="0" * 64,
        hash=digest,
    )


def _stored() -> dict[int, bytes]:
    return {key: bytes(h) for key, h in MerkleNode.objects.values_list("key", "hash")}


def _frontier_nodes(hashes: list[str]) -> dict[int, bytes]:
    """The nodes ``sync_tree`` writes (merkle.Frontier), as {key: hash}."""
    frontier = merkle.Frontier()
    return {
        MerkleNode.key_of(*node): value
        for h in hashes
        for node, value in frontier.push(merkle.leaf_hash(h))
    }


def test_the_trigger_writes_the_python_nodes_and_rfc_roots_for_every_size(db):
    assert not AuditRecord.objects.exists()  # sizes 1..300 from an empty log
    hashes = []
    leaves = []
    for seq in range(1, SIZES + 1):
        entry = _entry(seq)
        entry.save(force_insert=True)  # the trigger adds its leaf: nothing else is called
        hashes.append(entry.hash)
        leaves.append(rfc.rfc_leaf(entry.hash))
        assert tree.stored_size() == seq
        assert tree.root_hash(seq) == rfc.rfc_mth(leaves), seq
    by_trigger = _stored()
    assert by_trigger == _frontier_nodes(hashes)

    # The Python path on the same entries: the nodes dropped (as a superuser could), then
    # append_leaf for each entry, with the trigger off (replica mode skips it).
    with triggers_disabled():
        MerkleNode.objects.all().delete()
        for seq, h in enumerate(hashes, start=1):
            tree.append_leaf(seq, h)
            assert tree.root_hash(seq) == rfc.rfc_mth(leaves[:seq]), seq
        by_python = _stored()
    assert by_python == by_trigger
    assert len(by_trigger) == 2 * SIZES - bin(SIZES).count("1")  # every complete subtree


def test_a_tree_behind_catches_up_in_seq_order_also_in_a_multi_row_insert(db):
    """Entries written while the trigger did not run (a restore without the nodes) get their
    leaves, in seq order, before the next entry's; a multi-row INSERT adds one leaf per row."""
    with triggers_disabled():
        AuditRecord.objects.bulk_create([_entry(seq) for seq in range(1, 6)])
    assert tree.stored_size() == 0
    AuditRecord.objects.bulk_create([_entry(seq) for seq in range(6, 12)])  # one INSERT
    hashes = list(AuditRecord.objects.order_by("seq").values_list("hash", flat=True))
    assert _stored() == _frontier_nodes(hashes)
    assert tree.root_hash(11) == rfc.rfc_mth([rfc.rfc_leaf(h) for h in hashes])


def test_a_rolled_back_entry_takes_its_nodes_with_it(db):
    from django.db import transaction

    for seq in range(1, 4):
        _entry(seq).save(force_insert=True)
    before = _stored()
    with pytest.raises(RuntimeError), transaction.atomic():
        _entry(4).save(force_insert=True)  # completes (0,3), (1,1), (2,0)
        assert len(_stored()) == len(before) + 3
        raise RuntimeError("roll back")
    assert _stored() == before


def test_an_audited_write_costs_two_statements_more_than_the_bare_write(admin_user, settings):
    """The history row, whose INSERT returns it as stored with the record before it and the
    chain head (one statement, ``ledger.insert_history``); the ledger entry, whose leaf the
    database adds. No statement for the read-back, none for the tree."""
    agency = factories.AgencyFactory()

    def statements(name: str) -> list[str]:
        with CaptureQueriesContext(connection) as ctx:
            update_agency(agency, actor=admin_user, name=name, reason="renamed")
        return [q["sql"] for q in ctx.captured_queries]

    statements("Warm")  # the actor's role, read once per user and then cached
    audited = statements("Audited")
    settings.SIMPLE_HISTORY_ENABLED = False
    bare = statements("Bare")
    assert len(audited) == len(bare) + 2, audited
    [head] = [sql for sql in audited if "clearance_audit_chain_head()" in sql]
    assert head.startswith('WITH clearance_new AS (INSERT INTO "compliance_historicalagency"')
    assert not any("compliance_merklenode" in sql for sql in audited)
    latest = AuditRecord.objects.order_by("-seq").first()
    assert latest.reason == "renamed" and latest.object_id == str(agency.pk)
    assert tree.stored_size() == latest.seq
    assert tree.root_hash(latest.seq) == rfc.rfc_mth(
        [
            rfc.rfc_leaf(h)
            for h in AuditRecord.objects.order_by("seq").values_list("hash", flat=True)
        ]
    )

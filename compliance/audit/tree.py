"""The stored Merkle tree over the ledger (R33) and its proofs (R35).

Kept up to date **in the transaction that appends the entry**: the leaf and every subtree
it completes are inserted with the entry, so the tree is never behind a committed entry and a
rolled-back write takes its nodes with it. On PostgreSQL the database does it, in the INSERT
of the entry (a row trigger, migration 0019_tree_in_database: no round trip of its own); on
SQLite ``ledger.append`` calls ``append_leaf`` under the chain lock. Both write the same nodes
(tests/test_audit_tree_sql.py). Bulk paths that write entries without ``append`` (the
backfill, the scale seeder, a database from before this table) call ``sync_tree``, which
catches up under the same lock. See docs/audit.md "Merkle tree" for why not a sealer.

Every read here is one primary-key query for O(log n) nodes (``compliance.audit.merkle``)."""

from __future__ import annotations

import base64

from django.core.exceptions import ValidationError
from django.db import connections, transaction

from compliance.audit import merkle
from compliance.audit.paging import keyset_chunks
from compliance.models.audit import AuditRecord
from compliance.models.transparency import LEVEL_SHIFT, MerkleNode

key_of = MerkleNode.key_of
MAX_LEAVES = 1 << LEVEL_SHIFT  # a node's index has LEVEL_SHIFT bits
SYNC_CHUNK = 5000


def _fetch(nodes, using: str = "default") -> dict[merkle.Node, bytes]:
    keys = {key_of(level, index): (level, index) for level, index in nodes}
    rows = MerkleNode.objects.using(using).filter(key__in=list(keys)).values_list("key", "hash")
    return {keys[k]: bytes(h) for k, h in rows}


def tree_in_database(using: str = "default") -> bool:
    """Does the database add each entry's leaf itself (PostgreSQL, migration 0019)?"""
    return connection_is_postgres(using)


def append_leaf(seq: int, entry_hash: str, using: str = "default") -> None:
    """Insert leaf ``seq`` − 1 and the subtrees it completes (caller holds the chain lock):
    the SQLite path, the trigger's twin on PostgreSQL. One read (the left siblings, and the
    previous leaf to prove the tree is not behind) and one insert."""
    index = seq - 1
    wanted = merkle.left_siblings(index)
    known = _fetch([*wanted, (0, index - 1)] if index else wanted, using)
    if index and (0, index - 1) not in known:
        sync_tree(using, upto=index)
        known = _fetch(wanted, using)
    _insert(_new_nodes(index, merkle.leaf_hash(entry_hash), known), using)


def _new_nodes(index: int, leaf: bytes, known: dict) -> list[MerkleNode]:
    value = leaf
    nodes = [MerkleNode(key=key_of(0, index), hash=value)]
    for sibling, parent in zip(
        merkle.left_siblings(index), merkle.parents_of_leaf(index), strict=True
    ):
        value = merkle.node_hash(known[sibling], value)
        nodes.append(MerkleNode(key=key_of(*parent), hash=value))
    return nodes


def _insert(nodes: list[MerkleNode], using: str) -> None:
    # Append-only rows, no history model: bulk_create is the plain insert it looks like.
    MerkleNode.objects.using(using).bulk_create(nodes)


def stored_size(using: str = "default") -> int:
    """How many leaves the tree holds (the last leaf's index + 1): one index lookup."""
    last = (
        MerkleNode.objects.using(using)
        .filter(key__lt=1 << LEVEL_SHIFT)
        .order_by("-key")
        .values_list("key", flat=True)
        .first()
    )
    return 0 if last is None else last + 1


def ledger_size(using: str = "default") -> int:
    last = AuditRecord.objects.using(using).order_by("-seq").values_list("seq", flat=True).first()
    return last or 0


def sync_tree(using: str = "default", *, upto: int | None = None) -> int:
    """Add the leaves of every ledger entry the tree lacks (up to ``upto`` leaves), reading
    the ledger in chunks; returns the tree size. Call with the chain lock held (or use
    ``ensure_tree``)."""
    size = stored_size(using)
    frontier = merkle.Frontier(
        [(level, h) for (level, _i), h in _ordered(merkle.subtrees(0, size), using)], size
    )
    entries = AuditRecord.objects.using(using).filter(seq__gt=size)
    if upto is not None:
        entries = entries.filter(seq__lte=upto)
    for chunk in keyset_chunks(entries.values("seq", "hash"), "seq", SYNC_CHUNK):
        nodes = [
            MerkleNode(key=key_of(*node), hash=value)
            for row in chunk
            for node, value in frontier.push(merkle.leaf_hash(row["hash"]))
        ]
        _insert(nodes, using)
    return frontier.size


def subtrees_with_hashes(start: int, end: int, using: str = "default"):
    """[((level, index), hash)] of the stored subtrees whose fold is MTH(D[start:end])."""
    return _ordered(merkle.subtrees(start, end), using)


def _ordered(nodes: list[merkle.Node], using: str) -> list[tuple[merkle.Node, bytes]]:
    found = _fetch(nodes, using)
    return [(node, found[node]) for node in nodes]


def ensure_tree(using: str = "default") -> int:
    """The tree caught up with the committed ledger; returns its size."""
    size = stored_size(using)
    if size >= ledger_size(using):
        return size
    from compliance.audit.ledger import lock_chain_head

    with transaction.atomic(using=using):
        lock_chain_head(using)
        return sync_tree(using)


def _tree_size_error(field: str, message: str) -> ValidationError:
    return ValidationError({field: [message]})


def _positive(value, field: str) -> int:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise _tree_size_error(field, "A whole number is required.") from None
    if number < 1:
        raise _tree_size_error(field, "Must be at least 1.")
    if number > MAX_LEAVES:  # no such log; and its nodes' keys would name other nodes
        raise _tree_size_error(field, "Beyond the log's current size.")
    return number


def _nodes_within(nodes, size: int, field: str, using: str) -> dict[merkle.Node, bytes]:
    """The stored nodes a proof of tree size ``size`` reads, in one query (with the tree's
    leaf ``size`` − 1, which proves the tree reaches that size); a size beyond the log is a
    ValidationError, a tree behind the ledger catches up first."""
    last = (0, size - 1)
    wanted = {*nodes, last}
    found = _fetch(wanted, using)
    if last not in found:
        if size > ledger_size(using):
            raise _tree_size_error(field, "Beyond the log's current size.")
        ensure_tree(using)
        found = _fetch(wanted, using)
    return found


def root_hash(size: int, using: str = "default") -> bytes:
    """MTH(D[0:size]) from at most log2(size) stored nodes."""
    if size == 0:
        return merkle.EMPTY_ROOT
    return merkle.fold([h for _node, h in _ordered(merkle.subtrees(0, size), using)])


def b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


def _ordered_pair(low: tuple[str, object], high: tuple[str, object]) -> tuple[int, int]:
    """Two positive whole numbers, given as (field, raw value), the first not above the
    second; ValidationError naming every field that is off otherwise."""
    errors = {}
    values = {}
    for field, raw in (low, high):
        try:
            values[field] = _positive(raw, field)
        except ValidationError as exc:
            errors.update(exc.message_dict)
    (low_field, _), (high_field, _) = low, high
    if not errors and values[low_field] > values[high_field]:
        errors[low_field] = [f"Must not exceed {high_field}."]
    if errors:
        raise ValidationError(errors)
    return values[low_field], values[high_field]


def inclusion_proof(seq, tree_size, using: str = "default") -> dict:
    """R35: ``{"leaf_index", "tree_size", "leaf_hash", "hashes"}`` (RFC 9162 2.1.3) for the
    entry ``seq`` in the tree of ``tree_size`` leaves; ValidationError (a 400) otherwise."""
    seq, size = _ordered_pair(("seq", seq), ("tree_size", tree_size))
    index = seq - 1
    ranges = merkle.inclusion_ranges(index, size)
    found = _nodes_within({*merkle.nodes_for(ranges), (0, index)}, size, "tree_size", using)
    return {
        "leaf_index": index,
        "tree_size": size,
        "leaf_hash": b64(found[(0, index)]),
        "hashes": [b64(h) for h in merkle.range_hashes(ranges, found.__getitem__)],
    }


def consistency_proof(first, second, using: str = "default") -> dict:
    """R35: ``{"from", "to", "hashes"}`` (RFC 9162 2.1.4) between tree sizes ``first`` and
    ``second``, 1 ≤ first ≤ second ≤ the log's size; ValidationError (a 400) otherwise."""
    m, n = _ordered_pair(("from", first), ("to", second))
    ranges = merkle.consistency_ranges(m, n) if m < n else []
    found = _nodes_within(merkle.nodes_for(ranges), n, "to", using)
    hashes = merkle.range_hashes(ranges, found.__getitem__)
    return {"from": m, "to": n, "hashes": [b64(h) for h in hashes]}


def connection_is_postgres(using: str = "default") -> bool:
    return connections[using].vendor == "postgresql"

"""Verifying the ledger against signed checkpoints (R34, issue 18 item 6).

``verify_chain`` (R23) recomputes every hash from the history tables, so it convinces only
someone who trusts the database: whoever can rewrite a row can recompute every hash after
it. A checkpoint kept outside (by an auditor, a witness) cannot be recomputed. Here:

- ``check_checkpoint(note, verifier_key)``: the note's signature, then the tree recomputed
  **from the ledger's entry hashes** (not the stored nodes) at the checkpoint's size must
  have the checkpoint's root, and the stored tree's consistency proof from it to today's
  root must verify (RFC 9162 2.1.4.2). A rewritten history is reported as a ``fork``.
- ``verify_since_checkpoint()``: only the entries after the last checkpoint a verification
  found intact (their chain links and history rows, and their leaves on top of that
  checkpoint's stored subtrees): cost proportional to what was appended."""

from __future__ import annotations

import base64
import binascii
from contextlib import contextmanager

from django.db import connection, transaction

from compliance.audit import checkpoints, merkle, notes, tree
from compliance.audit.paging import keyset_chunks
from compliance.models import AuditCheckpoint, AuditRecord

CHUNK = 10000


def _problem(problem: str, detail: str, **extra) -> dict:
    return {"ok": False, "problem": problem, "detail": detail, **extra}


def _ledger_roots(sizes: set[int], after: int = 0, frontier=None) -> tuple[dict, int]:
    """{size: root recomputed from the entry hashes} for each wanted size, and the size."""
    frontier = frontier or merkle.Frontier()
    roots = {}
    if frontier.size in sizes:
        roots[frontier.size] = frontier.root()
    entries = AuditRecord.objects.filter(seq__gt=after).values("seq", "hash")
    for chunk in keyset_chunks(entries, "seq", CHUNK):
        for row in chunk:
            frontier.push(merkle.leaf_hash(row["hash"]))
            if frontier.size in sizes:
                roots[frontier.size] = frontier.root()
    roots[frontier.size] = frontier.root()
    return roots, frontier.size


@contextmanager
def _snapshot():
    """One consistent, read-only view of ledger and tree (as ``verify_chain`` reads)."""
    outer = connection.in_atomic_block
    with transaction.atomic():
        if connection.vendor == "postgresql" and not outer:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        yield


def parse_checkpoint(note: str, verifier_key: str) -> tuple[str, int, bytes]:
    """(origin, size, root) of a checkpoint note whose signature by ``verifier_key``
    verifies; NoteError otherwise."""
    verifier = notes.parse_verifier_key(verifier_key, key_type=notes.ED25519)
    # A pasted note may have lost its final newline or gained CRs: both are outside the
    # signed text, so restoring them changes nothing that is verified.
    note = note.replace("\r\n", "\n").strip("\n") + "\n"
    body = notes.verify_note(note, verifier)
    lines = body.rstrip("\n").split("\n")
    if len(lines) < 3 or not lines[1].isdigit():
        raise notes.NoteError("a checkpoint's text is origin, tree size and root hash")
    try:
        root = base64.b64decode(lines[2], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise notes.NoteError("the root hash is not base64") from exc
    if len(root) != 32:
        raise notes.NoteError("the root hash is not 32 bytes")
    return lines[0], int(lines[1]), root


def check_checkpoint(note: str, verifier_key: str) -> dict:
    """``{"ok", "tree_size", "checkpoint_size", "problem", "detail"}``: is today's ledger
    an extension of the tree this signed checkpoint describes?"""
    try:
        _origin, size, root = parse_checkpoint(note, verifier_key)
    except notes.NoteError as exc:
        return _problem("bad_checkpoint", str(exc), tree_size=None, checkpoint_size=None)
    tree.ensure_tree()
    with _snapshot():
        result = _check(size, root)
    if result["ok"]:
        _remember(size, root)
    return result


def _check(size: int, root: bytes) -> dict:
    roots, current = _ledger_roots({size})
    where = {"tree_size": current, "checkpoint_size": size}
    if size > current:
        return _problem("fork", f"the checkpoint has {size} entries, the ledger {current}", **where)
    if roots[size] != root:
        return _problem(
            "fork",
            f"the ledger's first {size} entries do not hash to the checkpoint's root: "
            "history was rewritten after it was signed",
            **where,
        )
    if tree.root_hash(current) != roots[current] or tree.root_hash(size) != root:
        return _problem("tree_mismatch", "the stored tree nodes differ from the ledger", **where)
    proof = [base64.b64decode(h) for h in _proof(size, current)]
    if not merkle.verify_consistency(size, current, root, roots[current], proof):
        return _problem("fork", "the consistency proof does not verify", **where)
    return {"ok": True, "problem": None, "detail": "consistent with the checkpoint", **where}


def _proof(size: int, current: int) -> list[str]:
    return tree.consistency_proof(size, current)["hashes"] if size else []


def _remember(size: int, root: bytes) -> None:
    """A checkpoint of ours at that size, found intact: the next incremental run's start."""
    ours = AuditCheckpoint.objects.filter(tree_size=size).first()
    if ours is not None and bytes(ours.root_hash) == root:
        checkpoints.record_verification(ours, checked=size)


def check_latest() -> dict | None:
    """The latest checkpoint against the ledger, with the log's own key (GET /audit/verify/),
    or None when there is no checkpoint or no key."""
    latest = checkpoints.latest_checkpoint()
    if latest is None:
        return None
    try:
        key = checkpoints.verifier_key()
    except Exception:  # no key configured: nothing to verify the signature with
        return None
    return check_checkpoint(latest.note, key)


def verify_since_checkpoint() -> dict:
    """``verify_audit --since-checkpoint``: ``{"ok", "checked", "broken", "checkpoint"}``
    over the entries after the last checkpoint a verification found intact, or over the
    whole ledger (``since`` 0) when none was. The entries' links and history rows are
    checked as ``verify_chain`` checks them; their leaves, pushed onto that checkpoint's
    stored subtrees (whose fold must be its signed root), must give every later
    checkpoint's root and the stored tree's."""
    from compliance.audit.verify import walk_chain

    base = checkpoints.last_verified()
    since = base.tree_size if base is not None else 0
    tree.ensure_tree()
    with _snapshot():
        prev = AuditRecord.objects.filter(seq=since).values_list("hash", flat=True).first()
        checked, broken = walk_chain(after=since, prev_hash=prev)
        result = {"ok": broken is None, "checked": checked, "broken": broken, "since": since}
        if broken is None:
            result["checkpoint"] = _tree_since(base, since)
            result["ok"] = result["checkpoint"]["ok"]
    if result["ok"] and result["checkpoint"].get("verified") is not None:
        size = result["checkpoint"]["verified"]
        checkpoints.record_verification(
            AuditCheckpoint.objects.get(tree_size=size), checked=checked
        )
    return result


def _tree_since(base: AuditCheckpoint | None, since: int) -> dict:
    stored = [(level, h) for (level, _i), h in tree.subtrees_with_hashes(0, since)]
    frontier = merkle.Frontier(stored, since)
    if base is not None and frontier.root() != bytes(base.root_hash):
        return _problem("fork", f"the stored tree no longer has checkpoint {since}'s root")
    later = dict(
        AuditCheckpoint.objects.filter(tree_size__gt=since).values_list("tree_size", "root_hash")
    )
    roots, current = _ledger_roots(set(later), after=since, frontier=frontier)
    for size, root in sorted(later.items()):
        if size > current or roots[size] != bytes(root):
            return _problem("fork", f"the ledger does not give checkpoint {size}'s root")
    if tree.root_hash(current) != roots[current]:
        return _problem("tree_mismatch", "the stored tree nodes differ from the ledger")
    verified = max((s for s in later if s <= current), default=None)
    return {"ok": True, "problem": None, "verified": verified, "tree_size": current}

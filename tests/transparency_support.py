"""Independent implementations for the transparency-log tests, written from the texts and
sharing no code with ``compliance.audit``: RFC 9162 (2.1.1 MTH, 2.1.3.2 and 2.1.4.2
verification) and C2SP signed-note / tlog-cosignature. If the app and these agree, both
read the specifications the same way."""

from __future__ import annotations

import base64
import hashlib
import struct

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def rfc_leaf(entry_hash_hex: str) -> bytes:
    return _h(b"\x00" + bytes.fromhex(entry_hash_hex))


def rfc_mth(leaves: list[bytes]) -> bytes:
    """RFC 9162 2.1.1, recursively, over already hashed leaves."""
    n = len(leaves)
    if n == 0:
        return _h(b"")
    if n == 1:
        return leaves[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return _h(b"\x01" + rfc_mth(leaves[:k]) + rfc_mth(leaves[k:]))


def rfc_verify_inclusion(
    leaf_index: int, tree_size: int, leaf: bytes, path: list[bytes], root: bytes
) -> bool:
    """RFC 9162 2.1.3.2, step by step."""
    if leaf_index >= tree_size:
        return False
    fn, sn = leaf_index, tree_size - 1
    r = leaf
    for p in path:
        if sn == 0:
            return False
        if fn % 2 == 1 or fn == sn:
            r = _h(b"\x01" + p + r)
            if fn % 2 == 0:
                while fn % 2 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = _h(b"\x01" + r + p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def rfc_verify_consistency(
    first: int, second: int, first_hash: bytes, second_hash: bytes, path: list[bytes]
) -> bool:
    """RFC 9162 2.1.4.2, step by step (first == second: an empty proof, equal roots)."""
    if first == second:
        return not path and first_hash == second_hash
    if not path:
        return False
    if first & (first - 1) == 0:  # a power of two: prepend first_hash
        path = [first_hash, *path]
    fn, sn = first - 1, second - 1
    while fn % 2 == 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn % 2 == 1 or fn == sn:
            fr = _h(b"\x01" + c + fr)
            sr = _h(b"\x01" + c + sr)
            if fn % 2 == 0:
                while fn % 2 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = _h(b"\x01" + sr + c)
        fn >>= 1
        sn >>= 1
    return fr == first_hash and sr == second_hash and sn == 0


# --- C2SP signed-note (c2sp.org/signed-note) and tlog-cosignature, read from the text ----


def vkey(text: str) -> tuple[str, bytes, int, bytes]:
    """(name, key ID, signature type, public key) of a verifier key, checking its hash."""
    name, hexid, b64 = text.strip().split("+", 2)
    raw = base64.b64decode(b64)
    key_id = _h(name.encode("utf-8") + b"\x0a" + raw[:1] + raw[1:])[:4]
    assert key_id.hex() == hexid, "the key ID in the verifier key is not its hash"
    return name, key_id, raw[0], raw[1:]


def open_note(note: str, verifier: str) -> tuple[str, list[str]]:
    """(the note text, its other signature lines) when the verifier key's signature is on it."""
    name, key_id, alg, public = vkey(verifier)
    assert alg == 1, "a checkpoint is signed with an Ed25519 (0x01) key"
    assert note.endswith("\n")
    text, blank, sigs = note.partition("\n\n")
    assert blank, "no blank line between the text and the signatures"
    text += "\n"
    others, good = [], False
    for line in sigs.rstrip("\n").split("\n"):
        assert line.startswith("\u2014 "), line
        who, encoded = line[2:].split(" ")
        raw = base64.b64decode(encoded)
        if who == name and raw[:4] == key_id:
            Ed25519PublicKey.from_public_bytes(public).verify(raw[4:], text.encode())
            good = True
        else:
            others.append(line)
    assert good, "the log's signature is missing"
    return text, others


def checkpoint_fields(text: str) -> tuple[str, int, bytes]:
    origin, size, root = text.rstrip("\n").split("\n")[:3]
    return origin, int(size), base64.b64decode(root)


def cosignature_time(line: str, text: str, witness_vkey: str) -> int | None:
    """The timestamp of a valid cosignature/v1 line by this witness over ``text``, else None."""
    name, key_id, alg, public = vkey(witness_vkey)
    who, encoded = line[2:].split(" ")
    raw = base64.b64decode(encoded)
    if alg != 4 or who != name or raw[:4] != key_id or len(raw) != 4 + 8 + 64:
        return None
    (when,) = struct.unpack(">Q", raw[4:12])
    message = b"cosignature/v1\ntime " + str(when).encode() + b"\n" + text.encode()
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(raw[12:], message)
    except InvalidSignature:
        return None
    return when


# --- The attack (needs Django) -----------------------------------------------------------


def forge(seq: int) -> None:
    """What a database superuser can do: change a history row's reason and the entry that
    chains it, recompute every hash after it and rebuild the tree."""
    from django.db import connection, transaction

    from compliance.audit import tree
    from compliance.audit.chain import entry_hash
    from compliance.audit.ledger import entry_of, snapshot_columns
    from compliance.audit.registry import snapshots, tracked_models
    from compliance.models import AuditRecord, MerkleNode
    from tests.audit_helpers import triggers_disabled

    record = AuditRecord.objects.get(seq=seq)
    tracked = tracked_models()[record.history_table]
    with transaction.atomic(), triggers_disabled():
        with connection.cursor() as cursor:
            cursor.execute(
                f'UPDATE "{record.history_table}" SET history_change_reason = %s '
                "WHERE history_id = %s",
                ["approved by the board", record.history_id],
            )
        snap = snapshots(tracked, [record.history_id])[record.history_id]
        columns = snapshot_columns(tracked, snap)
        prev = AuditRecord.objects.get(seq=seq - 1).hash if seq > 1 else "0" * 64
        for entry in AuditRecord.objects.filter(seq__gte=seq).order_by("seq"):
            if entry.seq == seq:
                entry.reason, entry.content_digest = columns["reason"], columns["content_digest"]
            entry.prev_hash = prev
            entry.hash = entry_hash(entry_of(entry))
            AuditRecord.objects.filter(seq=entry.seq).update(
                reason=entry.reason,
                content_digest=entry.content_digest,
                prev_hash=entry.prev_hash,
                hash=entry.hash,
            )
            prev = entry.hash
        MerkleNode.objects.all().delete()
        tree.sync_tree()

"""What an evidence pack (R39) needs from the transparency log (R33–R35), in two functions:

    pack_checkpoint() -> (tree_size, note)       a signed checkpoint covering the ledger
    inclusion_proof(seq, tree_size) -> dict      RFC 9162 2.1.3, as GET /audit/proof/inclusion/

INTERIM: until the transparency log lands (branch ``tlog``), this computes the RFC 9162
tree over the ledger in memory and signs a C2SP checkpoint note with AUDIT_SIGNING_KEY (a
note private key ``PRIVATE+KEY+<name>+<hex id>+<base64(0x01 ‖ seed)>``). Once it lands,
both functions call its stored tree and checkpoints instead; the pack does not change."""

from __future__ import annotations

import base64
import hashlib
import os
from functools import lru_cache

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

ED25519 = 0x01


def _leaf(entry_hash: str) -> bytes:
    return hashlib.sha256(b"\x00" + bytes.fromhex(entry_hash)).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


class _Tree:
    """The leaves of the first ``size`` ledger entries (32 bytes each) and the root."""

    def __init__(self, size: int):
        from compliance.models.audit import AuditRecord

        hashes = AuditRecord.objects.filter(seq__lte=size).order_by("seq")
        self.leaves = [_leaf(h) for h in hashes.values_list("hash", flat=True).iterator(5000)]
        if len(self.leaves) != size:
            raise ValueError("the ledger has gaps below the tree size")
        self._memo: dict[tuple[int, int], bytes] = {}

    def hash(self, start: int, end: int) -> bytes:
        key = (start, end)
        if key not in self._memo:
            if end - start == 1:
                value = self.leaves[start]
            else:
                k = _split(end - start)
                value = _node(self.hash(start, start + k), self.hash(start + k, end))
            if end - start >= 64:  # memoise big subtrees only: memory stays ~ size / 32
                self._memo[key] = value
            return value
        return self._memo[key]

    def path(self, index: int, start: int, end: int) -> list[bytes]:
        if end - start <= 1:
            return []
        k = _split(end - start)
        if index < start + k:
            return [*self.path(index, start, start + k), self.hash(start + k, end)]
        return [*self.path(index, start + k, end), self.hash(start, start + k)]


@lru_cache(maxsize=2)
def _tree(size: int) -> _Tree:
    return _Tree(size)


def _signer() -> tuple[str, Ed25519PrivateKey, bytes]:
    text = getattr(settings, "AUDIT_SIGNING_KEY", "") or os.environ.get("AUDIT_SIGNING_KEY", "")
    parts = text.strip().split("+", 4)
    if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
        raise ImproperlyConfigured("AUDIT_SIGNING_KEY (a note private key) is not set")
    name, raw = parts[2], base64.b64decode(parts[4])
    if raw[0] != ED25519 or len(raw) != 33:
        raise ImproperlyConfigured("AUDIT_SIGNING_KEY is not an Ed25519 note key")
    key = Ed25519PrivateKey.from_private_bytes(raw[1:])
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    key_hash = hashlib.sha256(name.encode() + b"\n" + bytes([ED25519]) + public).digest()[:4]
    return name, key, key_hash


def pack_checkpoint() -> tuple[int, str]:
    """A checkpoint of the whole ledger now: (tree size, signed note text)."""
    from compliance.models.audit import AuditRecord

    size = AuditRecord.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    _tree.cache_clear()
    root = _tree(size).hash(0, size) if size else hashlib.sha256(b"").digest()
    origin = getattr(settings, "AUDIT_LOG_ORIGIN", "clearance.local/audit")
    body = f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n"
    name, key, key_hash = _signer()
    signature = base64.b64encode(key_hash + key.sign(body.encode())).decode()
    return size, f"{body}\n\u2014 {name} {signature}\n"


def inclusion_proof(seq: int, tree_size: int) -> dict:
    tree = _tree(tree_size)
    index = seq - 1
    return {
        "leaf_index": index,
        "tree_size": tree_size,
        "leaf_hash": base64.b64encode(tree.leaves[index]).decode(),
        "hashes": [base64.b64encode(h).decode() for h in tree.path(index, 0, tree_size)],
    }


def generate_key(name: str) -> tuple[str, str]:
    """(private key, verifier key) in the note formats (tests; ``audit_keygen`` with tlog)."""
    key = Ed25519PrivateKey.generate()
    seed = key.private_bytes_raw()
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    key_hash = hashlib.sha256(name.encode() + b"\n" + bytes([ED25519]) + public).digest()[:4]
    kind = bytes([ED25519])
    private_b64 = base64.b64encode(kind + seed).decode()
    public_b64 = base64.b64encode(kind + public).decode()
    private = f"PRIVATE+KEY+{name}+{key_hash.hex()}+{private_b64}"
    verifier = f"{name}+{key_hash.hex()}+{public_b64}"
    return private, verifier

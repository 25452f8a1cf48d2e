"""The RFC 9162 Merkle tree over the ledger (R33, R35): pure functions, no Django.

Leaves are the ledger entries in ``seq`` order (leaf index = seq − 1):

    leaf = SHA-256(0x00 ‖ entry hash as 32 bytes)
    node = SHA-256(0x01 ‖ left ‖ right)

Storage (``compliance.audit.tree``) keeps every *complete* subtree: the node at ``level`` L
and ``index`` i covers leaves [i·2^L, (i+1)·2^L). Any range the RFC's recursion names is a
left-to-right run of at most log2(n) such nodes (``subtrees``), so a root, an inclusion
proof or a consistency proof needs O(log n) stored nodes, fetched in one query."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable

Node = tuple[int, int]  # (level, index)


def leaf_hash(entry_hash: str | bytes) -> bytes:
    raw = bytes.fromhex(entry_hash) if isinstance(entry_hash, str) else entry_hash
    return hashlib.sha256(b"\x00" + raw).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def split(n: int) -> int:
    """RFC 9162's k: the largest power of two smaller than n (n ≥ 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def subtrees(start: int, end: int) -> list[Node]:
    """The stored complete subtrees whose fold is MTH(D[start:end]), left to right, for a
    range the RFC's recursion produces (start is a multiple of the first subtree's size)."""
    nodes: list[Node] = []
    while start < end:
        size = end - start
        if size & (size - 1):
            size = split(size)
        level = size.bit_length() - 1
        nodes.append((level, start >> level))
        start += size
    return nodes


def fold(hashes: list[bytes]) -> bytes:
    """MTH of a range from the hashes of its ``subtrees`` (right to left)."""
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash(left, result)
    return result


def inclusion_ranges(m: int, n: int, start: int = 0) -> list[tuple[int, int]]:
    """RFC 9162 2.1.3.1 PATH(m, D[n]) as the leaf ranges whose MTH it lists, in order."""
    ranges = []
    while n > 1:
        k = split(n)
        if m < k:
            ranges.append((start + k, start + n))
            n = k
        else:
            ranges.append((start, start + k))
            m, n, start = m - k, n - k, start + k
    return list(reversed(ranges))


def consistency_ranges(m: int, n: int) -> list[tuple[int, int]]:
    """RFC 9162 2.1.4.1 PROOF(m, D[n]) = SUBPROOF(m, D[n], true), 0 < m ≤ n, as ranges."""
    ranges: list[tuple[int, int]] = []
    start, complete = 0, True
    while m != n:
        k = split(n)
        if m <= k:
            ranges.append((start + k, start + n))
            n = k
        else:
            ranges.append((start, start + k))
            m, n, start, complete = m - k, n - k, start + k, False
    if not complete:
        ranges.append((start, start + m))
    return list(reversed(ranges))


def nodes_for(ranges: Iterable[tuple[int, int]]) -> set[Node]:
    return {node for start, end in ranges for node in subtrees(start, end)}


def range_hashes(ranges: list[tuple[int, int]], lookup: Callable[[Node], bytes]) -> list[bytes]:
    return [fold([lookup(node) for node in subtrees(s, e)]) for s, e in ranges]


def parents_of_leaf(index: int) -> list[Node]:
    """The complete subtrees that leaf ``index`` completes, lowest first (excluding the leaf):
    one per trailing 1 bit of the index."""
    parents, level = [], 0
    while (index >> level) & 1:
        level += 1
        parents.append((level, index >> level))
    return parents


def left_siblings(index: int) -> list[Node]:
    """The stored nodes needed to compute ``parents_of_leaf(index)``."""
    return [(level, (index >> level) - 1) for level in range(len(parents_of_leaf(index)))]


class Frontier:
    """Streaming MTH of leaves appended one by one (the right edge of the tree): O(log n)
    memory, for recomputing roots from the ledger without trusting stored nodes."""

    def __init__(self, stack: list[tuple[int, bytes]] | None = None, size: int = 0):
        self.stack = stack or []  # (level, hash) of complete subtrees, left to right
        self.size = size

    def push(self, leaf: bytes) -> list[tuple[Node, bytes]]:
        """Append a leaf; returns the leaf and every subtree it completes, as (node, hash)."""
        index = self.size
        level, value = 0, leaf
        made = [((0, index), leaf)]
        while self.stack and self.stack[-1][0] == level:
            value = node_hash(self.stack.pop()[1], value)
            level += 1
            made.append(((level, index >> level), value))
        self.stack.append((level, value))
        self.size += 1
        return made

    def root(self) -> bytes:
        if not self.stack:
            return EMPTY_ROOT
        return fold([value for _level, value in self.stack])


EMPTY_ROOT = hashlib.sha256(b"").digest()


def verify_consistency(first: int, second: int, old: bytes, new: bytes, proof: list[bytes]) -> bool:
    """RFC 9162 2.1.4.2: does ``proof`` show the tree of ``second`` leaves (root ``new``)
    extends the tree of ``first`` leaves (root ``old``)?"""
    if first == second:
        return not proof and old == new
    if not 0 < first < second or not proof:
        return False
    if first & (first - 1) == 0:
        proof = [old, *proof]
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == old and sr == new and sn == 0

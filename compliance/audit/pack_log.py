"""What an evidence pack (R39) takes from the transparency log (R33–R35), in two functions:

    pack_checkpoint() -> (tree_size, note)       a signed checkpoint covering the ledger now
    inclusion_proof(seq, tree_size) -> dict      RFC 9162 2.1.3, as GET /audit/proof/inclusion/

The checkpoint is the log's own (``compliance.audit.checkpoints``): a new one when the tree
grew since the latest, else the latest, with every cosignature its witnesses added. Its
signing key is AUDIT_SIGNING_KEY (ImproperlyConfigured when the log cannot sign)."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from compliance.audit import checkpoints, tree


def pack_checkpoint() -> tuple[int, str]:
    checkpoint = checkpoints.make_checkpoint() or checkpoints.latest_checkpoint()
    if checkpoint is None:
        raise ImproperlyConfigured("The audit log is empty: there is nothing to sign yet.")
    return checkpoint.tree_size, checkpoints.note_with_cosignatures(checkpoint)


def inclusion_proof(seq: int, tree_size: int) -> dict:
    return tree.inclusion_proof(seq, tree_size)

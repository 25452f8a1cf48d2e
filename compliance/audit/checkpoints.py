"""Signed checkpoints of the ledger's Merkle tree (R34), their RFC 3161 timestamps, and
what witnesses and verifiers read of them (R36).

``make_checkpoint`` signs the tree's current size and root as a C2SP checkpoint with the
log key (``AUDIT_SIGNING_KEY``, else the key file), asks the time-stamping authority for a
token when ``AUDIT_TSA_URL`` is set (no token, no checkpoint: it fails closed), stores it
append-only and emits ``audit.checkpoint`` (R31) with the insert."""

from __future__ import annotations

import base64
import hashlib
import urllib.request
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.utils import timezone

from compliance.audit import notes, tree
from compliance.models import AuditCheckpoint, AuditCosignature, WebhookEvent


class CheckpointError(RuntimeError):
    """A checkpoint could not be made (no key, the time-stamping authority failed)."""


def signer() -> notes.Signer:
    """The log's note private key: AUDIT_SIGNING_KEY, else the file AUDIT_SIGNING_KEY_FILE."""
    text = settings.AUDIT_SIGNING_KEY
    if not text:
        path = Path(settings.AUDIT_SIGNING_KEY_FILE)
        if not path.is_file():
            raise ImproperlyConfigured(
                "No checkpoint signing key: set AUDIT_SIGNING_KEY (python manage.py "
                f"audit_keygen NAME) or write one to {path}"
            )
        text = path.read_text().strip().splitlines()[0]
    try:
        return notes.parse_private_key(text)
    except notes.NoteError as exc:
        raise ImproperlyConfigured(f"AUDIT_SIGNING_KEY is not a note private key: {exc}") from exc


def verifier_key() -> str:
    """The log's verifier key, ``<name>+<hash>+<base64>``."""
    return str(signer().verifier)


def latest_checkpoint() -> AuditCheckpoint | None:
    return AuditCheckpoint.objects.order_by("-tree_size").first()


def make_checkpoint() -> AuditCheckpoint | None:
    """R34: a new signed checkpoint of the whole tree, or None when the tree has not grown
    since the latest one (or is empty): each size is signed once."""
    key = signer()
    size = tree.ensure_tree()
    latest = latest_checkpoint()
    if size == 0 or (latest is not None and latest.tree_size >= size):
        return None
    root = tree.root_hash(size)
    body = notes.checkpoint_body(settings.AUDIT_LOG_ORIGIN, size, root)
    note = notes.sign_note(body, key)
    token = timestamp_token(note.encode()) if settings.AUDIT_TSA_URL else None
    checkpoint = AuditCheckpoint(
        tree_size=size,
        root_hash=root,
        origin=settings.AUDIT_LOG_ORIGIN,
        key_name=key.name,
        note=note,
        created_at=timezone.now(),
        timestamp_token=token,
    )
    try:
        with transaction.atomic():
            checkpoint.save(force_insert=True)
            _emit(checkpoint)
    except IntegrityError:  # another process signed this size first: keep theirs
        return AuditCheckpoint.objects.get(tree_size=size)
    return checkpoint


def _emit(checkpoint: AuditCheckpoint) -> None:
    from compliance.notifications.webhooks import emit

    emit(
        WebhookEvent.AUDIT_CHECKPOINT,
        {
            "tree_size": checkpoint.tree_size,
            "root_hash": tree.b64(bytes(checkpoint.root_hash)),
            "note": checkpoint.note,
            "created_at": checkpoint.created_at.isoformat(),
        },
    )


def timestamp_token(data: bytes) -> bytes:
    """An RFC 3161 TimeStampToken (DER) over SHA-256(data) from AUDIT_TSA_URL, checked to
    answer this request (status granted, same imprint, same nonce); else CheckpointError."""
    from rfc3161_client import (
        HashAlgorithm,
        PKIStatus,
        TimestampRequestBuilder,
        decode_timestamp_response,
    )

    request = TimestampRequestBuilder().data(data).hash_algorithm(HashAlgorithm.SHA256).build()
    http = urllib.request.Request(
        settings.AUDIT_TSA_URL,
        data=request.as_bytes(),
        headers={"Content-Type": "application/timestamp-query"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(http, timeout=settings.AUDIT_TSA_TIMEOUT_SECONDS) as answer:
            response = decode_timestamp_response(answer.read())
    except Exception as exc:  # any failure of the authority: no checkpoint without a token
        raise CheckpointError(f"the time-stamping authority failed: {exc}") from exc
    info = response.tst_info
    if response.status not in (PKIStatus.GRANTED, PKIStatus.GRANTED_WITH_MODS):
        raise CheckpointError(f"the time-stamping authority refused: {response.status_string}")
    if info.message_imprint.message != hashlib.sha256(data).digest():
        raise CheckpointError("the timestamp covers other data")
    if request.nonce is not None and info.nonce != request.nonce:
        raise CheckpointError("the timestamp answers another request (nonce)")
    return response.time_stamp_token()


def cosignatures(checkpoint: AuditCheckpoint) -> list[AuditCosignature]:
    return list(
        AuditCosignature.objects.filter(checkpoint=checkpoint)
        .select_related("witness")
        .order_by("witness__name", "signed_at")
    )


def note_with_cosignatures(checkpoint: AuditCheckpoint) -> str:
    """The checkpoint's note with every kept cosignature line after the log's signature."""
    lines = [c.line.rstrip("\n") + "\n" for c in cosignatures(checkpoint)]
    return checkpoint.note + "".join(lines)


def latest_note() -> str | None:
    """The latest checkpoint note (text/plain of GET /audit/checkpoint/), or None."""
    checkpoint = latest_checkpoint()
    return None if checkpoint is None else note_with_cosignatures(checkpoint)


def first_note() -> str | None:
    """The first checkpoint, signed on demand when the log has entries and a key but no
    checkpoint yet (a fresh server before beat's first period); else None."""
    try:
        make_checkpoint()
    except (ImproperlyConfigured, CheckpointError):
        return None
    return latest_note()


def checkpoint_json(checkpoint: AuditCheckpoint) -> dict:
    """R34's shape of GET /audit/checkpoints/{size}/."""
    token = checkpoint.timestamp_token
    return {
        "tree_size": checkpoint.tree_size,
        "root_hash": tree.b64(bytes(checkpoint.root_hash)),
        "note": note_with_cosignatures(checkpoint),
        "created_at": checkpoint.created_at.isoformat(),
        "timestamp_token": base64.b64encode(bytes(token)).decode() if token else None,
        "cosignatures": [
            {"witness": c.witness.name, "time": c.signed_at.isoformat()}
            for c in cosignatures(checkpoint)
        ],
    }


def checkpoint_body(checkpoint: AuditCheckpoint) -> str:
    return notes.split_note(checkpoint.note)[0]


def record_verification(checkpoint: AuditCheckpoint, *, checked: int):
    """Remember that a full verification found ``checkpoint`` to match the ledger: the
    start of the next ``verify_audit --since-checkpoint``."""
    from compliance.models import AuditCheckpointVerification

    return AuditCheckpointVerification.objects.create(
        checkpoint=checkpoint, verified_at=timezone.now(), checked=checked
    )


def last_verified() -> AuditCheckpoint | None:
    """The largest checkpoint a full verification found matching the ledger."""
    from compliance.models import AuditCheckpointVerification

    found = (
        AuditCheckpointVerification.objects.select_related("checkpoint")
        .order_by("-checkpoint__tree_size")
        .first()
    )
    return None if found is None else found.checkpoint

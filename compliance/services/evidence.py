"""Evidence documents (R37) and citing them (R38): upload, edit metadata and links, cite.

The bytes are stored once, under their SHA-256, through Django's default storage (a folder
or an S3-compatible bucket). They are never replaced or deleted: a new version is a new
document that ``supersedes`` the old one."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime
from typing import IO

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import IntegrityError, models, transaction

from compliance import clock
from compliance.audit.evidence import stored_digest
from compliance.evidence_types import RefusedType, detect
from compliance.models import Agency, EvidenceDocument
from compliance.models.evidence import evidence_path
from compliance.services.common import (
    lock_all,
    require_editable,
    require_writer,
    save,
    service_transaction,
    set_many,
)

EDITABLE_FIELDS = (
    "title",
    "kind",
    "agency",
    "received_at",
    "supersedes",
    "releases",
    "requests",
    "signoffs",
    "allowlist_entries",
)
LINK_FIELDS = ("releases", "requests", "signoffs", "allowlist_entries")
CHUNK = 1024 * 1024


def file_digest(stream: IO[bytes]) -> tuple[str, int]:
    """(sha256 hex, size) of a file object read in chunks from the start (memory stays flat)."""
    digest, size = hashlib.sha256(), 0
    stream.seek(0)
    for chunk in iter(lambda: stream.read(CHUNK), b""):
        digest.update(chunk)
        size += len(chunk)
    stream.seek(0)
    return digest.hexdigest(), size


def _check_upload(upload: File) -> tuple[str, int, str]:
    size = upload.size
    if size is not None and size > settings.EVIDENCE_MAX_BYTES:
        raise ValidationError({"file": [too_large_message()]})
    sha256, size = file_digest(upload)
    if size > settings.EVIDENCE_MAX_BYTES:
        raise ValidationError({"file": [too_large_message()]})
    try:
        detected = detect(upload, upload.name or "")
    except RefusedType as exc:
        raise ValidationError({"file": [str(exc)]}) from exc
    return sha256, size, detected.content_type


def too_large_message() -> str:
    limit = settings.EVIDENCE_MAX_BYTES
    return f"The file is larger than the limit of {limit} bytes ({limit // (1024 * 1024)} MB)."


def _store(upload: File, sha256: str) -> str:
    """Save the bytes under their hash; bytes already stored under that name (a retried or
    rolled-back upload) are reused only when they still hash the same."""
    name = evidence_path(EvidenceDocument(sha256=sha256), upload.name)
    if default_storage.exists(name) and stored_digest(name) == sha256:
        return name
    upload.seek(0)
    return default_storage.save(name, upload)


@service_transaction
def upload_evidence(
    *,
    actor: User,
    file: File,
    title: str,
    kind: str,
    agency: Agency | None = None,
    received_at: datetime | None = None,
    supersedes: EvidenceDocument | None = None,
    releases: Iterable = (),
    requests: Iterable = (),
    signoffs: Iterable = (),
    allowlist_entries: Iterable = (),
    reason: str = "",
) -> tuple[EvidenceDocument, bool]:
    """R37: keep an uploaded file as evidence. Returns (document, created): the same bytes
    uploaded again give the existing document, unchanged. Bad input (too large, a refused
    type, a missing title) is a ValidationError on its field and stores nothing in the
    database."""
    require_writer(actor)
    sha256, size, content_type = _check_upload(file)
    existing = EvidenceDocument.objects.filter(sha256=sha256).first()
    if existing is not None:
        return existing, False
    document = EvidenceDocument(
        title=title,
        kind=kind,
        agency=agency,
        sha256=sha256,
        size=size,
        content_type=content_type,
        original_name=(file.name or "document").rsplit("/", 1)[-1][:255],
        uploaded_by=actor,
        uploaded_at=clock.now(),
        received_at=received_at,
        supersedes=supersedes,
    )
    document.file.name = evidence_path(document, "")  # validated first, stored after
    document.full_clean()
    document.file.name = _store(file, sha256)
    try:
        with transaction.atomic():
            save(document, actor=actor, reason=reason or "document uploaded")
    except IntegrityError:
        # The same bytes, uploaded at the same moment by someone else: theirs is the one.
        return EvidenceDocument.objects.get(sha256=sha256), False
    links = {
        "releases": releases,
        "requests": requests,
        "signoffs": signoffs,
        "allowlist_entries": allowlist_entries,
    }
    if any(list(v) for v in links.values()):
        for field, values in links.items():
            set_many(document, field, list(values))
        save(document, actor=actor, reason=reason or "document linked")
    return document, True


@service_transaction
def update_evidence(
    document: EvidenceDocument, *, actor: User, reason: str = "", **changes: object
) -> EvidenceDocument:
    """R37: a document's metadata and links change; its bytes, hash and size never do."""
    require_writer(actor)
    require_editable(changes, EDITABLE_FIELDS)
    [document] = lock_all(EvidenceDocument.objects.filter(pk=document.pk))
    supersedes = changes.get("supersedes")
    if supersedes is not None and _supersedes_itself(document, supersedes):
        raise ValidationError({"supersedes": ["A document cannot supersede itself."]})
    for name, value in changes.items():
        if name in LINK_FIELDS:
            set_many(document, name, list(value))
        else:
            setattr(document, name, value)
    save(document, actor=actor, reason=reason or "document edited")
    return document


def _supersedes_itself(document: EvidenceDocument, supersedes: EvidenceDocument) -> bool:
    seen, current = set(), supersedes
    while current is not None and current.pk not in seen:
        if current.pk == document.pk:
            return True
        seen.add(current.pk)
        current = current.supersedes
    return False


def lock_documents(documents: Iterable[EvidenceDocument]) -> list[EvidenceDocument]:
    """Lock the documents a decision cites (LOCK_ORDER: after the decision's own rows)."""
    ids = sorted({d.pk for d in documents})
    if not ids:
        return []
    return lock_all(EvidenceDocument.objects.filter(pk__in=ids))


def citation(documents: Iterable[EvidenceDocument]) -> str:
    """How a decision's history row names what it cites: id and full hash of each."""
    return "; ".join(f"cites document #{d.pk} sha256:{d.sha256}" for d in documents)


def cited_evidence(documents: Iterable[EvidenceDocument]) -> str:
    """A sign-off's evidence text when only documents are given: each one's title and hash."""
    return "; ".join(f"{d.title} (document #{d.pk}, sha256:{d.sha256})" for d in documents)


def cite(
    documents: list[EvidenceDocument], *, field: str, target: models.Model, actor: User, reason: str
) -> None:
    """R38: link ``target`` (a sign-off, an allowlist entry, a request) to each locked
    document that does not yet cite it; each such document gets a history row."""
    for document in documents:
        current = list(getattr(document, field).all())
        if any(obj.pk == target.pk for obj in current):
            continue
        set_many(document, field, [*current, target])
        save(document, actor=actor, reason=reason)


def relink(
    documents: list[EvidenceDocument],
    *,
    field: str,
    target: models.Model,
    wanted: set[int],
    actor: User,
    reason: str,
) -> None:
    """Make exactly the documents in ``wanted`` (ids) link ``target``; ``documents`` are the
    locked documents that link it now or will."""
    for document in documents:
        current = list(getattr(document, field).all())
        has = any(obj.pk == target.pk for obj in current)
        if has == (document.pk in wanted):
            continue
        if has:
            values = [obj for obj in current if obj.pk != target.pk]
        else:
            values = [*current, target]
        set_many(document, field, values)
        save(document, actor=actor, reason=reason)

"""R37 in the audit: an evidence document's bytes must still hash to the SHA-256 that its
history rows (so the hash chain) recorded. ``verify_audit`` reports the first that does not,
in a folder or in a bucket alike (both are read through Django's default storage)."""

from __future__ import annotations

import hashlib

from django.core.files.storage import default_storage
from django.db.models import Max

from compliance.audit.paging import keyset_chunks
from compliance.models import AuditRecord, EvidenceDocument

CHUNK = 1024 * 1024
ROWS = 500


def stored_digest(name: str, storage=None) -> str | None:
    """The SHA-256 of the stored bytes named ``name`` (read in chunks), None when gone."""
    storage = storage or default_storage
    try:
        stream = storage.open(name, "rb")
    except (FileNotFoundError, OSError):
        return None
    except Exception as exc:  # a bucket client's own error for a missing key
        if type(exc).__name__ in ("ClientError", "NoSuchKey"):
            return None
        raise
    digest = hashlib.sha256()
    with stream:
        for chunk in iter(lambda: stream.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def altered_document() -> dict | None:
    """The first document (by id) whose stored bytes are gone or no longer hash to the
    chained ``sha256`` of its latest history record, else None."""
    history = EvidenceDocument.history.model.objects
    documents = EvidenceDocument.objects.order_by().values("pk", "file")
    for rows in keyset_chunks(documents, "pk", ROWS):
        latest = dict(
            history.filter(id__in=[r["pk"] for r in rows])
            .order_by()
            .values_list("id")
            .annotate(latest=Max("history_id"))
        )
        chained = dict(history.filter(history_id__in=latest.values()).values_list("id", "sha256"))
        for row in rows:
            found = stored_digest(row["file"])
            if found != chained.get(row["pk"]):
                return _problem(row, found, chained.get(row["pk"]), latest.get(row["pk"]))
    return None


def _problem(row: dict, found: str | None, expected: str | None, history_id) -> dict:
    table = EvidenceDocument.history.model._meta.db_table
    seq = (
        AuditRecord.objects.filter(history_table=table, history_id=history_id)
        .values_list("seq", flat=True)
        .first()
    )
    if found is None:
        problem, what = "evidence_missing", "its stored bytes are gone"
    else:
        problem = "evidence_mismatch"
        what = f"its stored bytes hash to {found}, the chain says {expected}"
    return {
        "kind": "evidence",
        "problem": problem,
        "model": "evidencedocument",
        "object_id": str(row["pk"]),
        "fields": ["file"],
        "seq": seq,
        "history_table": table,
        "history_id": history_id,
        "detail": f"evidencedocument {row['pk']}: {what} ({row['file']})",
    }

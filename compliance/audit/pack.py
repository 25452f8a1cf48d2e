"""R39: the evidence pack of a release or a request, a zip streamed in constant memory.

    manifest.json    subject, generated_at, generated_by, checkpoint (the signed note),
                     tree_size, files [{path, sha256, size}] (every other file),
                     documents, records (count) and record_seqs
    records.jsonl    every audit record of the subject and its children, oldest first, in
                     the export format (chain fields included) plus its ``inclusion_proof``
                     against the pack's checkpoint
    documents/…      the evidence files, byte for byte, read from storage in chunks
    summary.html     the same, for a person

The manifest comes last: its hashes are taken while the other files stream. Nothing is held
in memory but one chunk of a file or of the ledger (``clients/verify_pack.py`` checks it)."""

from __future__ import annotations

import hashlib
import html
import json
import re
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import zipstream
from django.core.files.storage import default_storage
from django.db.models import Q, QuerySet
from django.utils import timezone

from compliance.audit import pack_log
from compliance.audit.export import iter_rows
from compliance.audit.log import export_row, release_history_records
from compliance.audit.registry import tracked
from compliance.models import AuditRecord, EvidenceDocument, GovernmentRequest, Release

CHUNK = 1024 * 1024


def release_documents(release: Release) -> QuerySet[EvidenceDocument]:
    """Documents linked to the release or cited by its sign-offs, allowlist entries or
    requests."""
    return EvidenceDocument.objects.filter(
        Q(releases=release)
        | Q(signoffs__release=release)
        | Q(allowlist_entries__release=release)
        | Q(requests__releases=release)
    ).distinct()


def request_documents(request: GovernmentRequest) -> QuerySet[EvidenceDocument]:
    return EvidenceDocument.objects.filter(requests=request)


def _with_documents(records: QuerySet[AuditRecord], documents) -> QuerySet[AuditRecord]:
    ids = [str(pk) for pk in documents.values_list("pk", flat=True)]
    name = tracked(EvidenceDocument).name
    return AuditRecord.objects.filter(
        Q(pk__in=records.values("pk")) | Q(model=name, object_id__in=ids)
    )


def release_pack_records(release: Release) -> QuerySet[AuditRecord]:
    """The release, its sign-offs, allowlist entries, requests and documents: its full
    history (``compliance.audit.log.release_history_records``)."""
    return release_history_records(release)


def request_pack_records(request: GovernmentRequest) -> QuerySet[AuditRecord]:
    """The request and its documents."""
    own = AuditRecord.objects.filter(
        model=tracked(GovernmentRequest).name, object_id=str(request.pk)
    )
    return _with_documents(own, request_documents(request))


@dataclass
class _Files:
    listed: list[dict] = field(default_factory=list)

    def track(self, path: str, chunks: Iterable[bytes]) -> Iterator[bytes]:
        digest, size = hashlib.sha256(), 0
        for chunk in chunks:
            digest.update(chunk)
            size += len(chunk)
            yield chunk
        self.listed.append({"path": path, "sha256": digest.hexdigest(), "size": size})


def document_path(document: EvidenceDocument) -> str:
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", document.original_name or "document").strip("._")
    return f"documents/{document.pk}-{name[:100] or 'document'}"


def _document_bytes(name: str) -> Iterator[bytes]:
    with default_storage.open(name, "rb") as stream:
        yield from iter(lambda: stream.read(CHUNK), b"")


def _records(records: QuerySet[AuditRecord], size: int) -> Iterator[dict]:
    for row in iter_rows(records.filter(seq__lte=size).order_by("seq")):
        yield export_row(row)


def _records_jsonl(records, size: int, seqs: array) -> Iterator[bytes]:
    buffer = bytearray()
    for line in _records(records, size):
        seqs.append(line["seq"])
        line["inclusion_proof"] = pack_log.inclusion_proof(line["seq"], size)
        buffer += (json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n").encode()
        if len(buffer) >= 64 * 1024:
            yield bytes(buffer)
            buffer.clear()
    if buffer:
        yield bytes(buffer)


def evidence_pack(
    *,
    subject: dict,
    records: QuerySet[AuditRecord],
    documents,
    actor,
    checkpoint: tuple[int, str] | None = None,
) -> Iterator[bytes]:
    """The zip's bytes, as they are produced (see the module docstring). ``checkpoint``
    (tree size, note) defaults to a fresh one (``pack_log.pack_checkpoint``)."""
    size, note = checkpoint or pack_log.pack_checkpoint()
    docs = list(documents.order_by("pk"))
    generated_at = timezone.now().isoformat()
    files, seqs = _Files(), array("q")
    archive = zipstream.ZipStream(compress_type=zipstream.ZIP_DEFLATED)
    records_jsonl = _records_jsonl(records, size, seqs)
    archive.add(files.track("records.jsonl", records_jsonl), "records.jsonl")
    for document in docs:
        path = document_path(document)
        # Stored, not deflated: letters are PDFs and images, already compressed.
        archive.add(
            files.track(path, _document_bytes(document.file.name)),
            path,
            compress_type=zipstream.ZIP_STORED,
        )
    header = {"subject": subject, "generated_at": generated_at, "generated_by": str(actor)}
    summary = _summary(header, note, docs, records, size)
    archive.add(files.track("summary.html", summary), "summary.html")

    def manifest() -> Iterator[bytes]:
        body = {
            **header,
            "checkpoint": note,
            "tree_size": size,
            "files": files.listed,
            "records": len(seqs),
            "record_seqs": seqs.tolist(),
            "documents": [_document_entry(d) for d in docs],
        }
        yield json.dumps(body, ensure_ascii=False, indent=2, sort_keys=True).encode()

    archive.add(manifest(), "manifest.json")
    yield from archive


def _document_entry(document: EvidenceDocument) -> dict:
    return {
        "id": document.pk,
        "path": document_path(document),
        "title": document.title,
        "kind": document.kind,
        "agency": document.agency.code if document.agency_id else None,
        "sha256": document.sha256,
        "size": document.size,
        "content_type": document.content_type,
        "received_at": document.received_at.isoformat() if document.received_at else None,
    }


SUMMARY_HEAD = (
    "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
    "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; style-src "
    "'unsafe-inline'\"><title>Evidence pack: {title}</title><style>body{{font-family:"
    "sans-serif;max-width:70rem;margin:1rem auto;padding:0 1rem}}table{{border-collapse:"
    "collapse;width:100%}}td,th{{border:1px solid #999;padding:.25rem;text-align:left;"
    "vertical-align:top}}code{{word-break:break-all}}.wide{{overflow-x:auto}}</style>"
    "</head><body><main>\n"
)


def _summary(header: dict, note: str, docs, records, size: int) -> Iterator[bytes]:
    """summary.html, escaped throughout (titles and reasons are user text)."""
    e = html.escape
    subject = header["subject"]
    title = e(f"{subject['type']} {subject.get('slug') or subject.get('id')}")
    yield SUMMARY_HEAD.format(title=title).encode()
    yield (
        f"<h1>Evidence pack: {title}</h1><p>Generated {e(header['generated_at'])} by "
        f"{e(header['generated_by'])}. Checkpoint (tree size {size}):</p>"
        f"<pre>{e(note)}</pre><h2>Documents</h2><div class='wide'><table><thead><tr>"
        "<th scope='col'>File</th><th scope='col'>Title</th><th scope='col'>Kind</th>"
        "<th scope='col'>SHA-256</th><th scope='col'>Bytes</th></tr></thead><tbody>"
    ).encode()
    for d in docs:
        yield (
            f"<tr><td>{e(document_path(d))}</td><td>{e(d.title)}</td><td>{e(d.kind)}</td>"
            f"<td><code>{e(d.sha256)}</code></td><td>{d.size}</td></tr>"
        ).encode()
    yield (
        b"</tbody></table></div><h2>Audit records</h2><div class='wide'><table><thead><tr>"
        b"<th scope='col'>Seq</th><th scope='col'>At (UTC)</th><th scope='col'>Record</th>"
        b"<th scope='col'>Action</th><th scope='col'>By</th><th scope='col'>Reason</th>"
        b"</tr></thead><tbody>"
    )
    for r in _records(records, size):
        yield (
            f"<tr><td>{r['seq']}</td><td>{e(r['at'])}</td><td>{e(r['model'])} "
            f"{e(r['object_id'])}: {e(r['object_repr'])}</td><td>{e(r['action'])}</td>"
            f"<td>{e(r['user'])}</td><td>{e(r['reason'])}</td></tr>"
        ).encode()
    yield b"</tbody></table></div></main></body></html>\n"

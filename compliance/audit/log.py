"""The audit log as auditors read it (R24): the records, one release's history, the item and
export shapes.

    audit_records(model="release", object_id="3", user="sam", since=..., until=...,
                  action="changed")  →  AuditRecord queryset, newest first

The filters are ``compliance.filters.AuditRecordFilter``: bad values raise Django's
ValidationError with field messages (the API turns it into 400)."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.utils import timezone

from compliance.audit.chain import jsonable
from compliance.audit.registry import tracked_models
from compliance.filters import AuditRecordFilter, filtered
from compliance.models.audit import AuditRecord


def audit_records(**filters) -> QuerySet[AuditRecord]:
    """AuditRecords matching the filters, newest first. They are validated and applied by
    ``compliance.filters.AuditRecordFilter`` (the page, the API, the export and the command
    share it): ValidationError with field messages on bad values (the API's 400)."""
    return filtered(AuditRecordFilter, filters).order_by("-seq")


def _child_ids(model: str, *, fk: str | None = None, m2m: str | None = None):
    """How a release's child is found in the history tables (deleted ones included): by a
    foreign key on its history rows, or by the history of a many-to-many to releases."""

    def ids(release, by_name) -> QuerySet:
        tracked = by_name[model]
        if fk:
            rows = tracked.history_model.objects.filter(**{fk: release.pk})
            return rows.values_list("id", flat=True).distinct()
        links = next(m for m in tracked.m2m if m.name == m2m).history_model.objects
        return links.filter(release_id=release.pk).values_list("history__id", flat=True).distinct()

    return model, ids


def _links(tracked, field: str):
    return next(m for m in tracked.m2m if m.name == field).history_model.objects


def _document_ids(release, by_name) -> QuerySet:
    """R37: documents ever linked to the release or to its sign-offs, entries or requests."""
    documents = by_name["evidencedocument"]
    links = (
        _links(documents, "releases")
        .filter(release_id=release.pk)
        .values_list("evidencedocument_id", flat=True)
    )
    for field, attname, model in (
        ("signoffs", "signoff_id", "signoff"),
        ("allowlist_entries", "allowlistentry_id", "allowlistentry"),
        ("requests", "governmentrequest_id", "governmentrequest"),
    ):
        children = RELEASE_CHILDREN[model](release, by_name)
        linked = _links(documents, field).filter(**{f"{attname}__in": children})
        links = links.union(linked.values_list("evidencedocument_id", flat=True))
    return links


# What a release's *Full history* covers besides the release row: one entry per kind of child.
RELEASE_CHILDREN = dict(
    [
        _child_ids("signoff", fk="release_id"),
        _child_ids("allowlistentry", fk="release_id"),
        _child_ids("governmentrequest", m2m="releases"),
        ("evidencedocument", _document_ids),
    ]
)


def release_history_records(release) -> QuerySet[AuditRecord]:
    """The release, its sign-offs and allowlist entries, the government requests that
    ever named it, and the evidence documents ever linked to any of them (deleted ones
    included: read from the history tables), newest first: the API's
    ``/releases/{slug}/history/``, the page's *Full history* (``?release=``) and the
    evidence pack (R39)."""
    by_name = {t.name: t for t in tracked_models().values()}
    q = Q(model="release", object_id=str(release.pk))
    for model, ids in RELEASE_CHILDREN.items():
        q |= Q(model=model, object_id__in=[str(v) for v in ids(release, by_name)])
    return AuditRecord.objects.filter(q).order_by("-seq")


def audit_item(record: AuditRecord) -> dict:
    """The SPEC's audit item: {id, model, object_id, object_repr, action, user, at, reason,
    changes}."""
    return {
        "id": record.seq,
        "model": record.model,
        "object_id": record.object_id,
        "object_repr": record.object_repr,
        "action": record.action,
        "user": record.actor,
        "at": timezone.localtime(record.at).isoformat(),
        "reason": record.reason,
        "changes": record.changes,
    }


# The ledger columns an export line is made of (``export_row`` reads them from a values()
# row, so a million-row export builds no model instances).
EXPORT_FIELDS = (
    "seq",
    "model",
    "object_id",
    "object_repr",
    "action",
    "actor",
    "at",
    "reason",
    "changes",
    "history_table",
    "history_id",
    "user_id",
    "content_digest",
    "prev_hash",
    "hash",
)

# The CSV header: export_row's keys, ``seq`` first (as in the ledger) then ``id`` (the same
# number, as the audit item names it), ``actor`` spelled ``user``.
CSV_COLUMNS = ("seq", "id", *("user" if name == "actor" else name for name in EXPORT_FIELDS[1:]))


def export_line(record: AuditRecord) -> dict:
    """An audit item plus everything needed to check the chain offline. ``at`` is the
    canonical UTC form the hash covers."""
    return export_row({name: getattr(record, name) for name in EXPORT_FIELDS})


def export_row(row: dict) -> dict:
    """``export_line`` of a ledger row given as a dict of EXPORT_FIELDS."""
    return {
        "id": row["seq"],
        "model": row["model"],
        "object_id": row["object_id"],
        "object_repr": row["object_repr"],
        "action": row["action"],
        "user": row["actor"],
        "at": jsonable(row["at"]),
        "reason": row["reason"],
        "changes": row["changes"],
        "seq": row["seq"],
        "history_table": row["history_table"],
        "history_id": row["history_id"],
        "user_id": row["user_id"],
        "content_digest": row["content_digest"],
        "prev_hash": row["prev_hash"],
        "hash": row["hash"],
    }

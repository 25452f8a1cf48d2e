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


def release_history_records(release) -> QuerySet[AuditRecord]:
    """The release, its sign-offs and allowlist entries, the government requests that ever
    named it, and the evidence documents ever linked to any of them (deleted ones included:
    read from the history tables), newest first."""
    by_name = {t.name: t for t in tracked_models().values()}
    signoffs = by_name["signoff"].history_model.objects.filter(release_id=release.pk)
    entries = by_name["allowlistentry"].history_model.objects.filter(release_id=release.pk)
    request_links = _links(by_name["governmentrequest"], "releases").filter(release_id=release.pk)
    ids = {
        "signoff": signoffs.values_list("id", flat=True).distinct(),
        "allowlistentry": entries.values_list("id", flat=True).distinct(),
        "governmentrequest": request_links.values_list("history__id", flat=True).distinct(),
    }
    ids["evidencedocument"] = _documents_linked(by_name["evidencedocument"], release, ids)
    q = Q(model="release", object_id=str(release.pk))
    for model, values in ids.items():
        q |= Q(model=model, object_id__in=[str(v) for v in values])
    return AuditRecord.objects.filter(q).order_by("-seq")


def _links(tracked, field: str):
    return next(m for m in tracked.m2m if m.name == field).history_model.objects


def _documents_linked(documents, release, ids: dict) -> QuerySet:
    """R37: documents ever linked to the release or to its sign-offs, entries or requests."""
    q = Q(release_id=release.pk)
    links = _links(documents, "releases").filter(q).values_list("evidencedocument_id", flat=True)
    for field, attname, model in (
        ("signoffs", "signoff_id", "signoff"),
        ("allowlist_entries", "allowlistentry_id", "allowlistentry"),
        ("requests", "governmentrequest_id", "governmentrequest"),
    ):
        linked = _links(documents, field).filter(**{f"{attname}__in": ids[model]})
        links = links.union(linked.values_list("evidencedocument_id", flat=True))
    return links


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

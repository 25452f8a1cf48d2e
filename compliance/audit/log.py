"""The audit log as auditors read it (R24): one filter implementation for the API, the
export, the command and the pages.

    audit_records(model="release", object_id="3", user="sam", since=..., until=...,
                  action="changed")  →  AuditRecord queryset, newest first

Filters are validated by ``AuditFilterForm``; bad values raise Django's ValidationError
with field messages (the API turns it into 400)."""

from __future__ import annotations

import re

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils import timezone

from compliance.audit.chain import jsonable
from compliance.audit.registry import model_names, tracked_models
from compliance.models.audit import AuditAction, AuditRecord

FILTERS = ("model", "object_id", "user", "since", "until", "action")


# The widgets only matter on the audit page; the API and the export validate with the form.
_WHEN = forms.DateTimeInput(attrs={"type": "datetime-local", "step": "1"})


class AuditFilterForm(forms.Form):
    model = forms.ChoiceField(required=False)
    object_id = forms.CharField(required=False, max_length=64, label="Object id")
    user = forms.CharField(
        required=False, max_length=150, help_text="A username, or system:<task>."
    )
    since = forms.DateTimeField(required=False, widget=_WHEN, help_text="ISO 8601; inclusive.")
    until = forms.DateTimeField(required=False, widget=_WHEN, help_text="ISO 8601; exclusive.")
    action = forms.ChoiceField(required=False, choices=[("", "Any")] + AuditAction.choices)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["model"].choices = [("", "Any")] + [(m, m) for m in model_names()]

    def clean(self):
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until and since >= until:
            self.add_error("until", "Must be later than since.")
        if data.get("object_id") and not data.get("model"):
            self.add_error("model", "Name the model when filtering by object_id.")
        return data


# ``?since=2026-05-15T17:21:00+00:00`` put in a URL unencoded arrives with a space for "+".
_SPACED_OFFSET = re.compile(r"(T\d\d:\d\d(?::\d\d(?:\.\d+)?)?) (\d\d(?::?\d\d)?)$")


def _unmangled_offset(value: str) -> str:
    return _SPACED_OFFSET.sub(r"\1+\2", value)


def clean_filters(params) -> dict:
    """Validate raw filter values (strings or objects); ValidationError on bad input."""
    data = {k: params[k] for k in FILTERS if params.get(k) not in (None, "")}
    for key in ("since", "until"):
        if isinstance(data.get(key), str):
            data[key] = _unmangled_offset(data[key])
    form = AuditFilterForm(data=data)
    if not form.is_valid():
        raise ValidationError(
            {field: [str(m) for m in messages] for field, messages in form.errors.items()}
        )
    return {k: v for k, v in form.cleaned_data.items() if v not in (None, "")}


def audit_records(**filters) -> QuerySet[AuditRecord]:
    """AuditRecords matching the filters (validated here), newest first."""
    f = clean_filters(filters)
    qs = AuditRecord.objects.all()
    if "model" in f:
        qs = qs.filter(model=f["model"])
    if "object_id" in f:
        qs = qs.filter(object_id__in=object_ids(f["model"], f["object_id"]))
    if "user" in f:
        qs = qs.filter(actor=f["user"])
    if "action" in f:
        qs = qs.filter(action=f["action"])
    if "since" in f:
        qs = qs.filter(at__gte=f["since"])
    if "until" in f:
        qs = qs.filter(at__lt=f["until"])
    return qs.order_by("-seq")


# SPEC addresses these by a natural key, not an id: ``object_id`` may be either.
ADDRESS_FIELDS = {"release": "slug", "agency": "code", "user": "username"}


def object_ids(model: str, object_id: str) -> list[str]:
    """The ids ``object_id`` names: itself, and for a model addressed by a natural key
    (release slug, agency code, username) the id of every object that ever had that key
    (read from its history, so deleted or renamed objects are found too)."""
    ids = [str(object_id)]
    field = ADDRESS_FIELDS.get(model)
    if field:
        by_name = {t.name: t for t in tracked_models().values()}
        history = by_name[model].history_model.objects.filter(**{field: object_id})
        ids += [str(pk) for pk in history.values_list("id", flat=True).distinct()]
    return sorted(set(ids))


def release_history_records(release) -> QuerySet[AuditRecord]:
    """The release, its sign-offs and allowlist entries, and the government requests that
    ever named it (deleted ones included: read from the history tables), newest first."""
    by_name = {t.name: t for t in tracked_models().values()}
    signoffs = by_name["signoff"].history_model.objects.filter(release_id=release.pk)
    entries = by_name["allowlistentry"].history_model.objects.filter(release_id=release.pk)
    request_links = next(
        m for m in by_name["governmentrequest"].m2m if m.name == "releases"
    ).history_model.objects.filter(release_id=release.pk)
    ids = {
        "signoff": signoffs.values_list("id", flat=True).distinct(),
        "allowlistentry": entries.values_list("id", flat=True).distinct(),
        "governmentrequest": request_links.values_list("history__id", flat=True).distinct(),
    }
    q = Q(model="release", object_id=str(release.pk))
    for model, values in ids.items():
        q |= Q(model=model, object_id__in=[str(v) for v in values])
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

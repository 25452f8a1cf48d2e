"""``{% evidence_panel release %}`` (or a request, or the allowlist page's entries): the
documents linked to it, each with its full hash, and an upload form that links the new
document to it. Self-contained: one line in a page's template."""

from __future__ import annotations

from django import template

from compliance.audit.pack import release_documents, request_documents
from compliance.models import AllowlistEntry, EvidenceDocument, GovernmentRequest, Release
from compliance.models.roles import can_write

register = template.Library()


def _documents_for(target):
    if isinstance(target, Release):
        return release_documents(target)
    if isinstance(target, GovernmentRequest):
        return request_documents(target)
    entries = [e.pk for e in target or []]
    return EvidenceDocument.objects.filter(allowlist_entries__in=entries).distinct()


def _citations(document: EvidenceDocument) -> list[str]:
    cited = [
        f"{s.agency.code} {s.stage} sign-off (round {s.round})" for s in document.signoffs.all()
    ]
    cited += [
        f"allowlist: {e.partner.name} on {e.release.slug}" for e in document.allowlist_entries.all()
    ]
    cited += [f"request {r.agency.code} {r.reference}" for r in document.requests.all()]
    cited += [f"release {r.slug}" for r in document.releases.all()]
    return cited


@register.inclusion_tag("compliance/_evidence_panel.html", takes_context=True)
def evidence_panel(context, target):
    from compliance.web.evidence import UploadForm

    request = context["request"]
    initial, hidden = {}, ""
    if isinstance(target, Release):
        initial = {"releases": [target]}
        hidden = "release"
    elif isinstance(target, GovernmentRequest):
        initial = {"requests": [target], "agency": target.agency}
        hidden = "request"
    documents = (
        _documents_for(target)
        .select_related("agency")
        .prefetch_related(
            "signoffs__agency",
            "allowlist_entries__partner",
            "allowlist_entries__release",
            "requests__agency",
            "releases",
        )
        .order_by("-uploaded_at", "-pk")
    )
    return {
        "documents": [{"doc": d, "cited": _citations(d)} for d in documents],
        "form": UploadForm(prefix="ev", initial=initial),
        "can_write": can_write(request.user),
        "next": request.get_full_path(),
        "target_kind": hidden,
        "csrf_token": context.get("csrf_token"),
        "signoffs": _signoff_choices(target),
        "entries": list(target or []) if isinstance(target, list) else [],
    }


def _signoff_choices(target):
    if not isinstance(target, Release):
        return []
    return list(
        target.signoffs.filter(round=target.review_round)
        .select_related("agency")
        .order_by("agency__code", "stage")
    )


@register.filter
def allowlist_entries(rows) -> list[AllowlistEntry]:
    """The entries of the allowlist page's rows (its panel links uploads to one of them)."""
    return [row["entry"] for row in rows]

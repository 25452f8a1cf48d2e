"""Evidence pages (R37, R38): the documents list with search, a document's page, its
download, and the upload form that the release, request and allowlist pages carry (a
``{% evidence_panel %}`` tag, compliance/templatetags/evidence.py)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from compliance import filters
from compliance.api.evidence import download_response
from compliance.models import (
    Agency,
    AllowlistEntry,
    EvidenceDocument,
    EvidenceKind,
    GovernmentRequest,
    Release,
    SignOff,
)
from compliance.services.evidence import upload_evidence
from compliance.web import once
from compliance.web.views import _add_errors, reader_required, writer_required

DOCUMENTS = EvidenceDocument.objects.select_related("agency", "uploaded_by", "supersedes")


class Links(forms.ModelMultipleChoiceField):
    """Link targets posted by the pages; a select's empty choice ("— none —") is no link."""

    widget = forms.MultipleHiddenInput

    def clean(self, value):
        return super().clean([v for v in value or [] if v not in ("", None)])


class UploadForm(forms.Form):
    """Upload a letter; the hidden targets say what it is linked to (R38)."""

    file = forms.FileField(help_text="PDF, PNG, JPEG, plain text, e-mail (.eml) or Office.")
    title = forms.CharField(max_length=200)
    kind = forms.ChoiceField(choices=EvidenceKind.choices, initial=EvidenceKind.AGENCY_LETTER)
    agency = forms.ModelChoiceField(
        queryset=Agency.objects.all(), to_field_name="code", required=False, empty_label="—"
    )
    received_at = forms.DateTimeField(
        required=False, label="Letter dated", help_text="The letter's own date (optional)."
    )
    supersedes = forms.ModelChoiceField(
        queryset=EvidenceDocument.objects.all(),
        required=False,
        empty_label="— a new document —",
        help_text="A new version of this document.",
    )
    releases = Links(queryset=Release.objects.all(), to_field_name="slug", required=False)
    requests = Links(queryset=GovernmentRequest.objects.all(), required=False)
    signoffs = Links(queryset=SignOff.objects.all(), required=False)
    allowlist_entries = Links(queryset=AllowlistEntry.objects.all(), required=False)


def _next_url(request, default: str) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}):
        return target
    return default


def _list_page(request, *, form=None, status=200):
    filterset = filters.EvidenceDocumentFilter(request.GET or None, queryset=DOCUMENTS)
    if filterset.is_bound and not filterset.is_valid():
        documents, status = DOCUMENTS.none(), 400
    else:
        documents = filterset.qs
    page = Paginator(documents, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "compliance/evidence_list.html",
        {
            "filters": filterset,
            "page": page,
            "form": form or UploadForm(prefix="ev"),
            "nav": "evidence",
        },
        status=status,
    )


@reader_required
def evidence_list(request):
    return _list_page(request)


@writer_required
@once.post_only(lambda **_: reverse("web:evidence_list"))
@once.submit_once
def evidence_upload(request):
    form = UploadForm(request.POST, request.FILES, prefix="ev")
    if form.is_valid():
        data = form.cleaned_data
        try:
            document, created = upload_evidence(
                actor=request.user,
                file=data["file"],
                title=data["title"],
                kind=data["kind"],
                agency=data["agency"],
                received_at=data["received_at"],
                supersedes=data["supersedes"],
                releases=data["releases"],
                requests=data["requests"],
                signoffs=data["signoffs"],
                allowlist_entries=data["allowlist_entries"],
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            if created:
                once.succeeded(request, f"Uploaded “{document.title}” (sha256 {document.sha256}).")
            else:
                messages.info(
                    request,
                    f"These bytes are already kept as “{document.title}” (#{document.pk}): "
                    "nothing new was stored.",
                )
            return redirect(_next_url(request, f"/evidence/{document.pk}/"))
    return _list_page(request, form=form, status=400)


@reader_required
def evidence_detail(request, pk):
    document = get_object_or_404(
        DOCUMENTS.prefetch_related(
            "releases",
            "requests__agency",
            "signoffs__agency",
            "signoffs__release",
            "allowlist_entries__partner",
            "allowlist_entries__release",
            "superseded_by",
        ),
        pk=pk,
    )
    return render(
        request,
        "compliance/evidence_detail.html",
        {
            "document": document,
            "history": document.history.order_by("-history_date", "-history_id")[:50],
            "nav": "evidence",
        },
    )


@reader_required
def evidence_file(request, pk):
    return download_response(get_object_or_404(EvidenceDocument, pk=pk), request)

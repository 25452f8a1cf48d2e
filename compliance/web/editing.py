"""Create and edit pages (SPEC "Pages"): a release (all editable fields; the cap for admins),
a government request, and an evidence document's metadata and links. Thin: the form parses,
the API's own service writes."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.urls import reverse

from compliance import services
from compliance.models import EvidenceDocument, GovernmentRequest, Release
from compliance.models.roles import is_admin
from compliance.web import forms, once
from compliance.web.views import _attempt, _request_form_page, form_page, writer_required

_release_form_page = form_page("compliance/release_form.html", "releases")  # release=: edited


@writer_required
@once.submit_once
def release_new(request):
    form = forms.ReleaseForm(request.POST or None, admin=is_admin(request.user))
    if request.method != "POST":
        return _release_form_page(request, form)
    return _attempt(
        request,
        form,
        lambda d: services.create_release(
            actor=request.user,
            slug=d["slug"],
            reason=d["reason"],
            **form.changes(),
        ),
        page_url=request.path,
        success=lambda release: reverse("web:release", args=[release.slug]),
        done="Release created as a draft.",
        rerender=lambda refusal, status: _release_form_page(
            request, form, refusal=refusal, status=status
        ),
    )


@writer_required
@once.submit_once
def release_edit(request, slug):
    release = get_object_or_404(Release.objects.select_related("owner"), slug=slug)
    form = forms.ReleaseForm(
        request.POST or None,
        instance=release,
        initial={
            "required_agencies": list(release.required_agencies.all()),
            "owner": release.owner,
        },
        admin=is_admin(request.user),
    )
    if request.method != "POST":
        return _release_form_page(request, form, release=release)
    return _attempt(
        request,
        form,
        lambda d: services.update_release(
            release, actor=request.user, reason=d["reason"], **form.changes()
        ),
        page_url=request.path,
        success=reverse("web:release", args=[release.slug]),
        done="Release saved.",
        rerender=lambda refusal, status: _release_form_page(
            request, form, release=release, refusal=refusal, status=status
        ),
    )


@writer_required
@once.submit_once
def request_edit(request, pk):
    req = get_object_or_404(GovernmentRequest.objects.select_related("agency", "assignee"), pk=pk)
    form = forms.RequestEditForm(
        request.POST or None, initial=forms.RequestEditForm.initial_of(req)
    )
    if request.method != "POST":
        return _request_form_page(request, form, req=req)

    return _attempt(
        request,
        form,
        _what_changed(form, services.update_request, req, request.user),
        page_url=request.path,
        success=reverse("web:request", args=[req.pk]),
        done="Request saved.",
        rerender=lambda refusal, status: _request_form_page(
            request, form, req=req, refusal=refusal, status=status
        ),
    )


_evidence_form_page = form_page("compliance/evidence_form.html", "evidence")


@writer_required
@once.submit_once
def evidence_edit(request, pk):
    document = get_object_or_404(
        EvidenceDocument.objects.select_related("agency", "supersedes"), pk=pk
    )
    form = forms.EvidenceEditForm(request.POST or None, document=document)
    if request.method != "POST":
        return _evidence_form_page(request, form, document=document)

    return _attempt(
        request,
        form,
        _what_changed(form, services.update_evidence, document, request.user),
        page_url=request.path,
        success=reverse("web:evidence", args=[document.pk]),
        done="Document saved.",
        rerender=lambda refusal, status: _evidence_form_page(
            request, form, document=document, refusal=refusal, status=status
        ),
    )


def _what_changed(form, update, obj, actor):
    """The form's call: ``update`` with only what the user changed (``form.changes()``,
    forms.EditsWhatWasShown), and nothing at all (no history row) when that is nothing."""

    def save(data):
        changes = form.changes()
        if changes:
            update(obj, actor=actor, reason=data["reason"], **changes)

    return save

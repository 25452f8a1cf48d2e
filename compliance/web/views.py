"""Server-rendered pages. Views are thin: parse a form, call ONE service with
``actor=request.user``, render. A refusal (RuleViolation) re-renders the same page with its
blockers in words and the form keeping what the user typed; PermissionDenied → 403.html."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import F
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from compliance import clock, filters, rules, selectors, services
from compliance.audit.export import FORMATS
from compliance.audit.log import audit_item
from compliance.audit.paging import keyset_page
from compliance.audit.verify import verify_chain
from compliance.enforcement import gateway_alerts
from compliance.errors import RuleViolation
from compliance.models import (
    AllowlistEntry,
    AllowlistStatus,
    AuditRecord,
    EvidenceDocument,
    GovernmentRequest,
    Release,
    ReleaseStatus,
    SignOff,
    SignOffStatus,
    Stage,
)
from compliance.models.roles import can_read, can_read_audit, can_write, is_admin
from compliance.selectors import (
    alerts_for,
    check_access,
    gate_overviews,
    gate_view,
    load_gate_facts,
    load_many_gate_facts,
    request_blockers,
    sent_reminders,
    stage_blockers,
    webhook_alerts,
)
from compliance.services.requests import STATUS_FLOW
from compliance.web import forms, once
from compliance.web.gateway_context import (
    release_gateways_context,
    request_enforcement_context,
)
from compliance.web.timeline import release_events, timeline_rows

ACCESS_REASONS = {
    "general": "Allowed: the release is generally available.",
    "allowlisted": "Allowed: the partner is approved on the allowlist of this limited release.",
    "not_allowlisted": "Not allowed: the partner is not approved on this release's allowlist.",
    "not_released": "Not allowed: the release is not live yet.",
    "suspended": "Not allowed: the release is suspended.",
    "retired": "Not allowed: the release is retired.",
    "foreign_restricted": "Not allowed: foreign access is restricted and the partner is "
    "outside the US.",
}


# --- access ------------------------------------------------------------------------------


def _requires(check: Callable, message: str):
    def decorator(view):
        @login_required
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not check(request.user):
                raise PermissionDenied(message)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


reader_required = _requires(can_read, "Your account has no Clearance role yet.")
writer_required = _requires(can_write, "Only compliance staff and admins may change this.")
admin_required = _requires(is_admin, "Only admins may do this.")
audit_required = _requires(
    can_read_audit, "Only auditors and admins may read the audit log and the reminder log."
)


# --- the one write path ------------------------------------------------------------------


def _add_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def _attempt(
    request,
    form,
    call: Callable,
    *,
    success,
    done: str | Callable,
    rerender: Callable,
    page_url=None,
):
    """Validate ``form``, call the service; redirect on success (Post/Redirect/Get), else
    re-render the page with the refusal's blockers (409) or the form's errors (400), its
    address bar set back to ``page_url`` (default: ``success``, the page an action form sits
    on; web/once.py). ``success`` and ``done`` may be functions of the service's result, for
    a page or a message that depends on what the service did."""
    if form.is_valid():
        try:
            result = call(form.cleaned_data)
        except RuleViolation as exc:
            return _rerender(
                request, rerender, page_url or success, refusal=exc.blockers, status=409
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            once.succeeded(request, done(result) if callable(done) else done)
            return redirect(success(result) if callable(success) else success)
    return _rerender(request, rerender, page_url or success, refusal=None, status=400)


def _rerender(request, rerender: Callable, success, *, refusal, status: int):
    if not callable(success):
        request.clearance_page_url = success
    return rerender(refusal=refusal, status=status)


def _release_url(slug, **_):
    return reverse("web:release", args=[slug])


def _allowlist_page_url(**_):
    return reverse("web:allowlist")


def _request_url(pk, **_):
    return reverse("web:request", args=[pk])


# --- dashboard ---------------------------------------------------------------------------


def _gate_line(release: Release, stages: dict) -> str:
    if release.status == ReleaseStatus.DRAFT:
        return "Not submitted for review"
    if release.status in (ReleaseStatus.SUSPENDED, ReleaseStatus.RETIRED):
        return f"{release.status.capitalize()}; round {release.review_round}"
    ga = stages[Stage.GENERAL]
    text = f"GA: {len(ga['approved'])}/{ga['required']} agencies"
    others = []
    for status in (SignOffStatus.PENDING, SignOffStatus.REJECTED, SignOffStatus.WITHDRAWN):
        if ga[status]:
            others.append(f"{', '.join(ga[status])} {status}")
    text += " — " + ("; ".join(others) if others else "all approved")
    for req in ga["requests"]:
        text += f"; held by {req.agency.code} {req.reference} ({req.get_kind_display().lower()})"
    return text


@reader_required
def dashboard(request):
    now = clock.now()
    releases = list(Release.objects.select_related("owner").order_by("slug"))
    # One load of the gate facts serves the gate lines and the alerts (R16) alike.
    facts = load_many_gate_facts(releases)
    overviews = gate_overviews(facts)
    rows = [
        {
            "release": r,
            "gate": _gate_line(r, overviews[r.pk]),
            "next_due": overviews[r.pk][Stage.GENERAL]["next_due"]
            if r.status in (ReleaseStatus.IN_REVIEW, ReleaseStatus.LIMITED)
            else None,
        }
        for r in releases
    ]
    due = selectors.due_signoffs(now).select_related("release", "agency")[:50]
    in_force = (
        GovernmentRequest.objects.in_force()
        .select_related("agency", "assignee")
        .prefetch_related("releases")
        .order_by(F("due_at").asc(nulls_last=True), "-received_at")[:50]
    )
    return render(
        request,
        "compliance/dashboard.html",
        {
            "rows": rows,
            "due_signoffs": due,
            "in_force": in_force,
            "alerts": [alert for f in facts.values() for alert in alerts_for(f)]
            + gateway_alerts()
            + webhook_alerts(),
            "nav": "dashboard",
        },
    )


# --- releases ----------------------------------------------------------------------------


def _filtered(filterset_class, request, queryset):
    """A list page's FilterSet over ``request.GET``: its queryset (none when the filters are
    bad: the form shows why) and the page's status (400 on bad filters)."""
    filterset = filterset_class(request.GET or None, queryset=queryset)
    if filterset.is_bound and not filterset.is_valid():
        return filterset, queryset.none(), 400
    return filterset, filterset.qs, 200


@reader_required
def release_list(request):
    filterset, releases, status = _filtered(
        filters.ReleaseFilter, request, Release.objects.select_related("owner").order_by("slug")
    )
    releases = list(releases)
    overviews = gate_overviews(load_many_gate_facts(releases))
    rows = [{"release": r, "gate": _gate_line(r, overviews[r.pk])} for r in releases]
    return render(
        request,
        "compliance/release_list.html",
        {"rows": rows, "filters": filterset, "nav": "releases"},
        status=status,
    )


NEXT_STAGES = {
    ReleaseStatus.IN_REVIEW: (Stage.LIMITED, Stage.GENERAL),
    ReleaseStatus.LIMITED: (Stage.GENERAL,),
}
STAGE_TITLES = {Stage.LIMITED: "limited release", Stage.GENERAL: "general availability"}


REFUSAL_TITLES = {
    "submit": "Could not submit the release for review",
    "transition": "Could not change the release's state",
    "decide": "Could not record the decision",
    "withdraw": "Could not record the withdrawal",
}


def _refusal_title(release: Release, bound: dict) -> str | None:
    form = bound.get("transition")
    if form is not None and form.is_valid():
        to = ReleaseStatus(form.cleaned_data["to"]).label.lower()
        return f"Could not move {release.name} to {to}"
    return next((REFUSAL_TITLES[k] for k in bound), None)


def _entered_state(release: Release, events) -> dict | None:
    """When, by whom and why the release entered its present state (the reason of a
    suspension or a retirement, shown as text), from its timeline's state events."""
    for event in reversed(events):
        if event.kind == "state" and event.label.split(" (")[0].endswith(str(release.status)):
            return {"at": event.at, "actor": event.actor, "reason": event.reason}
    return None


def _next_steps(release: Release, facts, entered: dict | None) -> list[dict]:
    """ "What stands in the way", for every state: each next stage's blockers (R2, R3) while
    in review or limited; what a draft or a suspended release needs to go back to review
    (the requests in force on it, by agency and reference); that retirement is final."""
    if release.status in NEXT_STAGES:
        return [
            {"stage": st, "title": STAGE_TITLES[st], "blockers": stage_blockers(facts, st)}
            for st in NEXT_STAGES[release.status]
        ]
    held = request_blockers(facts, [r.kind for r in facts.binding_requests])
    round_no = release.review_round + 1
    if release.status == ReleaseStatus.DRAFT:
        items = [f"It is a draft: submit it for review to open round {round_no}.", *held]
        return [{"stage": "review", "title": "review", "blockers": items}]
    if release.status == ReleaseStatus.SUSPENDED:
        why = f"Suspended: {entered['reason']}" if entered and entered["reason"] else "Suspended."
        items = [why, *held, f"Submit it again for review: round {round_no} starts afresh."]
        return [{"stage": "review", "title": "review again", "blockers": items}]
    return [{"stage": "none", "title": "any other state", "blockers": ["Retired is final."]}]


# Element ids of the release page's forms: each form its own prefix, so ids stay unique
# (field names, what the POST handlers read, do not change).
FORM_IDS = {
    "submit": "id_submit_%s",
    "transition": "id_move_%s",
    "decide": "id_decide_%s",
    "withdraw": "id_withdraw_%s",
    "access": "id_access_%s",
}


def _with_ids(form, name: str):
    form.auto_id = FORM_IDS[name]
    return form


def _release_page(request, release: Release, *, bound=None, refusal=None, status=200):
    facts = load_gate_facts(release)
    gate = gate_view(facts)
    signoffs = SignOff.objects.filter(release=release, round=release.review_round).select_related(
        "agency", "recorded_by"
    )
    cells = {(s.agency.code, s.stage): s for s in signoffs}
    agencies = list(release.required_agencies.order_by("code"))
    matrix = [
        {"agency": a, "cells": [cells.get((a.code, st)) for st in (Stage.LIMITED, Stage.GENERAL)]}
        for a in agencies
    ]
    events = release_events(release)
    entered = _entered_state(release, events)
    next_steps = _next_steps(release, facts, entered)
    entries = list(
        release.allowlist.select_related("partner", "proposed_by", "decided_by", "vetted_by")
    )
    approved = sum(1 for e in entries if e.status == AllowlistStatus.APPROVED)
    access = None
    access_form = _with_ids(
        forms.AccessCheckForm(request.GET if "partner" in request.GET else None), "access"
    )
    if access_form.is_bound and access_form.is_valid():
        partner = access_form.cleaned_data["partner"]
        result = check_access(release, partner)
        access = {**result, "partner": partner, "text": ACCESS_REASONS[result["reason"]]}
    bound = bound or {}
    context = {
        "release": release,
        "gate": gate,
        "matrix": matrix,
        "next_steps": next_steps,
        "entries": entries,
        "approved": approved,
        "requests": release.requests.select_related("agency").order_by("-received_at"),
        "timeline": timeline_rows(events),
        "events": list(reversed(events)),
        "entered": entered,
        "access_form": access_form,
        "access": access,
        "refusal": refusal,
        "refusal_title": _refusal_title(release, bound),
        "nav": "releases",
        **release_gateways_context(release),
        "can_submit": rules.can_submit(release.status),
        "submit_form": _with_ids(bound.get("submit") or forms.SubmitForm(), "submit"),
        "transition_form": _with_ids(
            bound.get("transition") or forms.TransitionForm(release=release), "transition"
        ),
        "decide_form": _with_ids(
            bound.get("decide") or forms.DecideSignOffForm(release=release), "decide"
        ),
        "withdraw_form": _with_ids(
            bound.get("withdraw") or forms.WithdrawSignOffForm(release=release), "withdraw"
        ),
    }
    return render(request, "compliance/release_detail.html", context, status=status)


@reader_required
def release_detail(request, slug):
    release = get_object_or_404(Release.objects.select_related("owner"), slug=slug)
    return _release_page(request, release)


def _release_action(request, slug, name, form, call, done):
    release = get_object_or_404(Release, slug=slug)
    form = (
        form(request.POST, release=release)
        if name in ("decide", "withdraw")
        else form(request.POST)
    )
    return _attempt(
        request,
        form,
        lambda data: call(release, data),
        success=reverse("web:release", args=[release.slug]),
        done=done,
        rerender=lambda refusal, status: _release_page(
            request, release, bound={name: form}, refusal=refusal, status=status
        ),
    )


@writer_required
@once.post_only(_release_url)
@once.submit_once
def release_submit(request, slug):
    return _release_action(
        request,
        slug,
        "submit",
        forms.SubmitForm,
        lambda release, d: services.submit_release(release, actor=request.user, reason=d["reason"]),
        "Submitted for review: a new review round is open.",
    )


@writer_required
@once.post_only(_release_url)
@once.submit_once
def release_transition(request, slug):
    return _release_action(
        request,
        slug,
        "transition",
        forms.TransitionForm,
        lambda release, d: services.transition_release(
            release, to=d["to"], actor=request.user, reason=d["reason"]
        ),
        "Release state changed.",
    )


@writer_required
@once.post_only(_release_url)
@once.submit_once
def signoff_decide(request, slug):
    return _release_action(
        request,
        slug,
        "decide",
        forms.DecideSignOffForm,
        lambda release, d: services.decide_signoff(
            d["signoff"],
            actor=request.user,
            decision=d["decision"],
            evidence=d["evidence"],
            conditions=d["conditions"],
            reason=d["reason"],
            documents=d["documents"],
        ),
        "Decision recorded.",
    )


@writer_required
@once.post_only(_release_url)
@once.submit_once
def signoff_withdraw(request, slug):
    return _release_action(
        request,
        slug,
        "withdraw",
        forms.WithdrawSignOffForm,
        lambda release, d: services.withdraw_signoff(
            d["signoff"], actor=request.user, reason=d["reason"]
        ),
        "Withdrawal recorded.",
    )


# --- allowlist ---------------------------------------------------------------------------


def _allowlist_page(request, *, bound=None, failed=None, refusal=None, status=200):
    # After a POST the page shows the release the user had filtered on (``release_filter``).
    query = request.GET if request.method == "GET" else {"release": _release_filter(request)}
    filterset = filters.AllowlistFilter(
        query or None,
        queryset=AllowlistEntry.objects.select_related(
            "release", "partner", "proposed_by", "decided_by", "vetted_by"
        ).order_by("release__slug", "partner__name", "pk"),
    )
    if filterset.is_bound and not filterset.is_valid():
        entries, selected, status = filterset.queryset.none(), "", 400
    else:
        entries = filterset.qs
        selected = filterset.form.cleaned_data.get("release", "") if filterset.is_bound else ""
    vetting = set(selectors.vetting_requests().values_list("releases", flat=True))
    bound = bound or {}
    rows = []
    documents = documents_by_release({e.release_id for e in entries})
    for e in entries:
        row = {
            "entry": e,
            "needs_vetting": e.release_id in vetting,
            "documents": documents.get(e.release_id, []),
        }
        if e.status == AllowlistStatus.PROPOSED:
            row["form"] = (
                bound["decide"] if failed == e.pk and "decide" in bound else forms.DecideEntryForm()
            )
        elif e.status == AllowlistStatus.APPROVED:
            row["form"] = (
                bound["revoke"] if failed == e.pk and "revoke" in bound else forms.RevokeEntryForm()
            )
        if "form" in row:
            row["form"].auto_id = f"id_entry{e.pk}_%s"  # one form per row: unique ids
        row["failed"] = failed == e.pk
        rows.append(row)
    context = {
        "rows": rows,
        "filters": filterset,
        "selected": selected,
        "propose_form": bound.get("propose")
        or forms.ProposeEntryForm(initial={"release": selected or None}),
        "refusal": refusal,
        "failed_entry": next((r["entry"] for r in rows if r["failed"]), None),
        "nav": "allowlist",
    }
    return render(request, "compliance/allowlist.html", context, status=status)


def documents_by_release(release_ids) -> dict[int, list]:
    """R38: the evidence documents linked to each release (what its decisions may cite), in
    one query."""
    out: dict[int, list] = {}
    links = EvidenceDocument.releases.through.objects.filter(release_id__in=release_ids)
    for link in links.select_related("evidencedocument").order_by("-evidencedocument_id"):
        out.setdefault(link.release_id, []).append(link.evidencedocument)
    return out


def _release_filter(request) -> str:
    return request.POST.get("release_filter", "")


def _allowlist_url(request) -> str:
    selected = _release_filter(request)
    url = reverse("web:allowlist")
    return f"{url}?{urlencode({'release': selected})}" if selected else url


@reader_required
def allowlist(request):
    return _allowlist_page(request)


@writer_required
@once.post_only(_allowlist_page_url)
@once.submit_once
def allowlist_propose(request):
    form = forms.ProposeEntryForm(request.POST)
    return _attempt(
        request,
        form,
        lambda d: services.propose_allowlist_entry(
            d["release"], actor=request.user, partner=d["partner"], note=d["note"]
        ),
        success=_allowlist_url(request),
        done="Partner proposed. Another admin must approve it.",
        rerender=lambda refusal, status: _allowlist_page(
            request, bound={"propose": form}, refusal=refusal, status=status
        ),
    )


@admin_required
@once.post_only(_allowlist_page_url)
@once.submit_once
def allowlist_decide(request, pk):
    return _entry_attempt(
        request,
        pk,
        "decide",
        lambda entry, d: services.decide_allowlist_entry(
            entry,
            actor=request.user,
            decision=d["decision"],
            vetted_by=d["vetted_by"],
            reason=d["reason"],
            documents=d["documents"],
        ),
        done="Allowlist decision recorded.",
    )


@admin_required
@once.post_only(_allowlist_page_url)
@once.submit_once
def allowlist_revoke(request, pk):
    return _entry_attempt(
        request,
        pk,
        "revoke",
        lambda entry, d: services.revoke_allowlist_entry(
            entry, actor=request.user, reason=d["reason"]
        ),
        done="Allowlist entry revoked.",
    )


_ENTRY_FORMS = {"decide": forms.DecideEntryForm, "revoke": forms.RevokeEntryForm}


def _entry_attempt(request, pk, action, call, *, done):
    """POST of the allowlist page's ``action`` form on entry ``pk``: ``call(entry, data)``;
    a refusal re-renders the page with that entry's form bound."""
    entry = get_object_or_404(AllowlistEntry, pk=pk)
    form = _ENTRY_FORMS[action](request.POST)
    return _attempt(
        request,
        form,
        lambda d: call(entry, d),
        success=_allowlist_url(request),
        done=done,
        rerender=lambda refusal, status: _allowlist_page(
            request, bound={action: form}, failed=entry.pk, refusal=refusal, status=status
        ),
    )


# --- government requests -----------------------------------------------------------------


@reader_required
def request_list(request):
    filterset, requests, status = _filtered(
        filters.GovernmentRequestFilter,
        request,
        GovernmentRequest.objects.select_related("agency", "assignee")
        .prefetch_related("releases")
        .order_by("-received_at", "-pk"),
    )
    return render(
        request,
        "compliance/request_list.html",
        {"requests": requests[:200], "filters": filterset, "nav": "requests"},
        status=status,
    )


REQUEST_FIELDS = (
    "reference",
    "kind",
    "binding",
    "received_at",
    "due_at",
    "summary",
    "assignee",
    "lab_position",
)


def form_page(template: str, nav: str):
    """A create or edit page's renderer: ``page(request, form, refusal=, status=, **objects)``
    renders ``template`` with the form, the refusal's blockers, the objects and the nav."""

    def page(request, form, *, refusal=None, status=200, **objects):
        context = {"form": form, "refusal": refusal, "nav": nav, **objects}
        return render(request, template, context, status=status)

    return page


_request_form_page = form_page("compliance/request_form.html", "requests")  # req=: the edited


@writer_required
@once.submit_once
def request_new(request):
    form = forms.RecordRequestForm(request.POST or None)
    if request.method != "POST":
        return _request_form_page(request, form)
    return _attempt(
        request,
        form,
        lambda d: services.record_request(
            actor=request.user,
            agency=d["agency"],
            releases=list(d["releases"]),
            **{name: d[name] for name in REQUEST_FIELDS},
        ),
        success=lambda created: reverse("web:request", args=[created.pk]),
        done="Request recorded.",
        rerender=lambda refusal, status: _request_form_page(
            request, form, refusal=refusal, status=status
        ),
    )


def _request_page(request, req, *, form=None, refusal=None, status=200):
    return render(
        request,
        "compliance/request_detail.html",
        {
            "req": req,
            "next_statuses": STATUS_FLOW.get(req.status, ()),
            "status_form": form or forms.RequestStatusForm(),
            "refusal": refusal,
            "history": req.history.order_by("-history_date", "-history_id")[:50],
            "nav": "requests",
            **request_enforcement_context(req),
        },
        status=status,
    )


@reader_required
def request_detail(request, pk):
    req = get_object_or_404(
        GovernmentRequest.objects.select_related("agency", "assignee").prefetch_related("releases"),
        pk=pk,
    )
    return _request_page(request, req)


@writer_required
@once.post_only(_request_url)
@once.submit_once
def request_status(request, pk):
    req = get_object_or_404(GovernmentRequest.objects.select_related("agency"), pk=pk)
    form = forms.RequestStatusForm(request.POST)
    return _attempt(
        request,
        form,
        lambda d: services.set_request_status(
            req, actor=request.user, status=d["status"], note=d["note"]
        ),
        success=reverse("web:request", args=[req.pk]),
        done="Request status changed.",
        rerender=lambda refusal, status: _request_page(
            request, req, form=form, refusal=refusal, status=status
        ),
    )


# --- audit -------------------------------------------------------------------------------

VERIFY_RESULT = "clearance_audit_verify"  # session key: the last "Verify chain now" result


def _filter_query(params) -> dict:
    """The audit filters present in ``params`` (raw strings, as the API takes them)."""
    return {k: params[k] for k in filters.AUDIT_FILTERS if params.get(k)}


@audit_required
def audit_log(request):
    """R24 as a page: the same FilterSet and queryset as ``/api/v1/audit/`` and its export,
    keyset-paged newest first (a fixed number of queries per page)."""
    query = _filter_query(request.GET)
    filterset = filters.AuditRecordFilter(query or None, queryset=AuditRecord.objects.all())
    page, status = None, 200
    narrowed = any(k in filters.AUDIT_NARROWING for k in query)
    if filterset.is_bound and not filterset.is_valid():
        status = 400
    else:
        records = filterset.qs.order_by("-seq")
        paging = {
            "unfiltered": not narrowed,
            "oldest_first": query.get("o") == filters.OLDEST_FIRST,
        }
        try:
            page = keyset_page(records, cursor=request.GET.get("cursor"), **paging)
        except ValidationError:  # a hand-edited cursor: start again from the first page
            page = keyset_page(records, **paging)

    def page_url(cursor: str) -> str:
        return f"{reverse('web:audit')}?{urlencode({**query, 'cursor': cursor})}"

    from compliance.web.transparency import checkpoint_context  # it imports this module

    export = reverse("api:audit-export")
    context = {
        "form": filterset.form,
        "page": page,
        "rows": [audit_item(r) for r in page.rows] if page else [],
        "older_url": page_url(page.forward) if page and page.forward else None,
        "newer_url": page_url(page.back) if page and page.back else None,
        "oldest_first": bool(page and page.oldest_first),
        "exports": (
            [(fmt.upper(), f"{export}?{urlencode({'format': fmt, **query})}") for fmt in FORMATS]
            if page
            else []
        ),
        "query": urlencode(query),
        "filtered": narrowed,
        "verify": request.session.pop(VERIFY_RESULT, None),
        "nav": "audit",
        **checkpoint_context(request),  # R34, R36: the latest checkpoint, its cosigners
    }
    return render(request, "compliance/audit.html", context, status=status)


@audit_required
@once.post_only(lambda **_: reverse("web:audit"))
@once.submit_once
def audit_verify(request):
    """R23: walk the chain now. A read, but a slow one: a POST (with CSRF) so that no link,
    prefetch or crawler starts it. The result is shown once on the log page."""
    result = verify_chain()
    request.session[VERIFY_RESULT] = {**result, "at": timezone.now().isoformat()}
    query = urlencode(_filter_query(request.POST))
    return redirect(f"{reverse('web:audit')}?{query}" if query else reverse("web:audit"))


@audit_required
def reminder_log(request):
    """R19: every reminder and notification e-mail sent, with the API's filters."""
    filterset, reminders, status = _filtered(filters.ReminderFilter, request, sent_reminders())
    page = Paginator(reminders, 50).get_page(request.GET.get("page"))
    query = urlencode({k: v for k, v in request.GET.items() if k != "page" and v})
    return render(
        request,
        "compliance/reminders.html",
        {"filters": filterset, "page": page, "query": query, "nav": "reminders"},
        status=status,
    )

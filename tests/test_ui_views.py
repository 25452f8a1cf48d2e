"""The pages: who may see and do what, and that every form goes through its service."""

from __future__ import annotations

import uuid
from datetime import timedelta
from urllib.parse import parse_qsl

import pytest
from django.db import connection
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from compliance import services
from compliance.audit.log import audit_records
from compliance.models import (
    Agency,
    AllowlistEntry,
    AuditRecord,
    GovernmentRequest,
    Release,
    Reminder,
    SignOff,
)
from compliance.web.views import VERIFY_RESULT
from tests.audit_helpers import triggers_disabled
from tests.factories import PartnerFactory, make_release

PASSWORD = "pw-for-tests"


@pytest.fixture
def world(agencies, staff, admin_user, admin2, auditor):
    """A release in review with three GA approvals, a proposed partner and a request."""
    release = services.submit_release(make_release(staff, agencies=agencies), actor=staff)
    for so in SignOff.objects.filter(release=release, stage="general").exclude(agency__code="ONCD"):
        services.decide_signoff(so, actor=staff, decision="approved", evidence=f"letter {so.pk}")
    partner = PartnerFactory(name="Acme Labs")
    entry = services.propose_allowlist_entry(release, actor=admin_user, partner=partner)
    request = services.record_request(
        actor=staff,
        agency=agencies[1],
        reference="DOC-1",
        kind="information_request",
        releases=[release],
        due_at=timezone.now() + timedelta(days=2),
    )
    return {"release": release, "partner": partner, "entry": entry, "request": request}


def read_urls(w):
    return [
        reverse("web:dashboard"),
        reverse("web:releases"),
        reverse("web:release", args=[w["release"].slug]),
        reverse("web:allowlist"),
        reverse("web:requests"),
        reverse("web:request", args=[w["request"].pk]),
    ]


def write_urls(w):
    slug = w["release"].slug
    return [
        reverse("web:release_submit", args=[slug]),
        reverse("web:release_transition", args=[slug]),
        reverse("web:signoff_decide", args=[slug]),
        reverse("web:signoff_withdraw", args=[slug]),
        reverse("web:allowlist_propose"),
        reverse("web:allowlist_decide", args=[w["entry"].pk]),
        reverse("web:allowlist_revoke", args=[w["entry"].pk]),
        reverse("web:request_new"),
        reverse("web:request_status", args=[w["request"].pk]),
    ]


def history_count():
    return sum(m.history.count() for m in (Release, SignOff, AllowlistEntry, GovernmentRequest))


# --- permissions -------------------------------------------------------------------------


def test_anonymous_is_sent_to_login_everywhere(client, world):
    login = reverse("web:login")
    for url in read_urls(world):
        resp = client.get(url)
        assert resp.status_code == 302, url
        assert resp["Location"].startswith(f"{login}?next="), url
    for url in write_urls(world):
        resp = client.post(url, {"reason": "x"})
        assert resp.status_code == 302, url
        assert resp["Location"].startswith(login), url


def test_auditor_reads_every_page_without_write_buttons(client, world, auditor):
    client.force_login(auditor)
    for url in read_urls(world):
        resp = client.get(url)
        assert resp.status_code == 200, url
        html = resp.content.decode()
        assert 'method="post"' not in html.replace(
            f'method="post" action="{reverse("web:logout")}"', ""
        ), url
        assert "Submit for review" not in html
        assert "Record a request" not in html
    assert "audrey" in html and "Auditor" in html  # header: who and which role


def test_auditor_gets_403_on_every_write_url_and_nothing_changes(client, world, auditor):
    client.force_login(auditor)
    before = history_count()
    for url in write_urls(world):
        for method in (client.get, client.post):
            resp = method(url, {"reason": "x", "to": "retired", "status": "closed"})
            assert resp.status_code == 403, url
            assert "You cannot do this" in resp.content.decode()
    assert history_count() == before


def test_staff_gets_403_on_admin_only_allowlist_actions(client, world, staff):
    client.force_login(staff)
    entry = world["entry"]
    resp = client.post(reverse("web:allowlist_decide", args=[entry.pk]), {"decision": "approved"})
    assert resp.status_code == 403
    assert "Only admins may do this." in resp.content.decode()
    resp = client.post(reverse("web:allowlist_revoke", args=[entry.pk]), {"reason": "x"})
    assert resp.status_code == 403
    entry.refresh_from_db()
    assert entry.status == "proposed"
    # Staff see the page but no decide form.
    html = client.get(reverse("web:allowlist")).content.decode()
    assert reverse("web:allowlist_decide", args=[entry.pk]) not in html
    assert reverse("web:allowlist_propose") in html


def test_user_without_role_gets_friendly_403(client, world, django_user_model):
    nobody = django_user_model.objects.create_user("nobody", password=PASSWORD)
    client.force_login(nobody)
    resp = client.get(reverse("web:dashboard"))
    assert resp.status_code == 403
    assert "Your account has no Clearance role yet." in resp.content.decode()


# --- forms call the services -------------------------------------------------------------


def test_submit_form_opens_a_round(client, agencies, staff):
    release = make_release(staff, slug="draft-1", agencies=agencies)
    client.force_login(staff)
    resp = client.post(
        reverse("web:release_submit", args=[release.slug]), {"reason": "weights frozen"}
    )
    assert resp.status_code == 302
    release.refresh_from_db()
    assert (release.status, release.review_round) == ("in_review", 1)
    assert SignOff.objects.filter(release=release, round=1, status="pending").count() == 8
    last = release.history.latest("history_id")
    assert (last.status, last.history_actor, last.history_change_reason) == (
        "in_review",
        "sam",
        "weights frozen",
    )


def test_decision_form_records_approval_with_evidence(client, world, staff):
    so = SignOff.objects.get(release=world["release"], agency__code="ONCD", stage="general")
    client.force_login(staff)
    resp = client.post(
        reverse("web:signoff_decide", args=[world["release"].slug]),
        {"signoff": so.pk, "decision": "approved", "evidence": "ONCD letter 7", "conditions": ""},
    )
    assert resp.status_code == 302
    so.refresh_from_db()
    assert (so.status, so.recorded_by, so.evidence) == ("approved", staff, "ONCD letter 7")


def test_decision_without_evidence_keeps_input_and_changes_nothing(client, world, staff):
    so = SignOff.objects.get(release=world["release"], agency__code="ONCD", stage="general")
    client.force_login(staff)
    resp = client.post(
        reverse("web:signoff_decide", args=[world["release"].slug]),
        {"signoff": so.pk, "decision": "approved", "evidence": "", "conditions": "only US"},
    )
    assert resp.status_code == 400
    html = resp.content.decode()
    assert "Evidence is required to record an approval." in html
    assert "only US</textarea>" in html
    so.refresh_from_db()
    assert so.status == "pending"


def test_blocked_ga_shows_blockers_in_words_and_keeps_reason(client, world, staff):
    client.force_login(staff)
    req = world["request"]
    resp = client.post(
        reverse("web:release_transition", args=[world["release"].slug]),
        {"to": "general", "reason": "launch day"},
    )
    assert resp.status_code == 409
    html = resp.content.decode()
    assert 'data-testid="refusal"' in html
    assert "ONCD has not approved the general stage yet." in html
    assert "launch day</textarea>" in html
    assert f"#{req.pk}" not in html.split('data-testid="refusal"')[1].split("</div>")[0]
    world["release"].refresh_from_db()
    assert world["release"].status == "in_review"


def test_release_page_shows_matrix_blockers_timeline_and_access(client, world, staff):
    client.force_login(staff)
    url = reverse("web:release", args=[world["release"].slug])
    html = client.get(url, {"partner": world["partner"].pk}).content.decode()
    assert 'data-testid="cell-ONCD-general"' in html
    assert "ONCD has not approved the general stage yet." in html
    assert "No partner is approved on the allowlist." in html
    assert "Not allowed: the release is not live yet." in html
    assert "0/20" in html
    assert "in_review (round 1)" in html or "draft → in_review" in html
    assert "DOC approved general (round 1)" in html
    assert "information request received" in html
    assert "style=" not in html  # strict CSP: no inline styles


def test_dashboard_gate_summary_and_constant_queries(
    client, world, staff, agencies, django_assert_max_num_queries
):
    client.force_login(staff)
    html = client.get(reverse("web:dashboard")).content.decode()
    assert "GA: 3/4 agencies — ONCD pending" in html
    assert "DOC DOC-1" in html
    assert "due in 1 day" in html or "due in 2 days" in html
    # 13: the gate facts, the lists, one for the gateway alerts (R30) and one for the
    # disabled webhooks (R31).
    with django_assert_max_num_queries(13):
        client.get(reverse("web:dashboard"))
    for i in range(5):
        services.submit_release(
            make_release(staff, slug=f"more-{i}", agencies=agencies), actor=staff
        )
    with django_assert_max_num_queries(13):
        client.get(reverse("web:dashboard"))


def test_allowlist_four_eyes_refusal_then_second_admin_approves(client, world, admin_user, admin2):
    entry = world["entry"]  # proposed by admin_user
    client.force_login(admin_user)
    resp = client.post(
        reverse("web:allowlist_decide", args=[entry.pk]),
        {"decision": "approved", "reason": "trusted"},
    )
    assert resp.status_code == 409
    html = resp.content.decode()
    assert "The approver must not be the person who proposed it." in html
    assert 'value="trusted"' in html
    entry.refresh_from_db()
    assert entry.status == "proposed"
    client.force_login(admin2)
    resp = client.post(reverse("web:allowlist_decide", args=[entry.pk]), {"decision": "approved"})
    assert resp.status_code == 302
    entry.refresh_from_db()
    assert (entry.status, entry.decided_by) == ("approved", admin2)
    resp = client.post(reverse("web:allowlist_revoke", args=[entry.pk]), {"reason": ""})
    assert resp.status_code == 409
    assert "A reason is required." in resp.content.decode()
    resp = client.post(reverse("web:allowlist_revoke", args=[entry.pk]), {"reason": "breach"})
    assert resp.status_code == 302
    entry.refresh_from_db()
    assert (entry.status, entry.reason) == ("revoked", "breach")


def test_vetting_agency_field_appears_and_is_required(client, world, staff, admin2, agencies):
    services.record_request(
        actor=staff,
        agency=agencies[1],
        reference="DOC-VET",
        kind="vet_users",
        binding=True,
        releases=[world["release"]],
    )
    client.force_login(admin2)
    html = client.get(reverse("web:allowlist")).content.decode()
    assert "name the vetting agency to approve" in html
    url = reverse("web:allowlist_decide", args=[world["entry"].pk])
    resp = client.post(url, {"decision": "approved"})
    assert resp.status_code == 409
    assert "A binding vetting request is in force: name the vetting agency." in (
        resp.content.decode()
    )
    resp = client.post(url, {"decision": "approved", "vetted_by": "DOC"})
    assert resp.status_code == 302
    world["entry"].refresh_from_db()
    assert world["entry"].vetted_by.code == "DOC"


def test_propose_form_creates_entry(client, world, staff):
    partner = PartnerFactory(name="Beta Corp")
    client.force_login(staff)
    resp = client.post(
        reverse("web:allowlist_propose"),
        {"release": world["release"].slug, "partner": partner.pk, "note": "research"},
    )
    assert resp.status_code == 302
    entry = AllowlistEntry.objects.get(partner=partner)
    assert (entry.status, entry.proposed_by, entry.note) == ("proposed", staff, "research")


def test_record_request_form_and_restriction(client, world, staff, agencies):
    client.force_login(staff)
    resp = client.post(
        reverse("web:request_new"),
        {
            "agency": "DOC",
            "reference": "DOC-FA-1",
            "kind": "restrict_foreign_access",
            "binding": "on",
            "releases": [world["release"].slug],
            "summary": "Block foreign access",
            "lab_position": "undecided",
        },
    )
    req = GovernmentRequest.objects.get(reference="DOC-FA-1")
    assert resp.status_code == 302
    assert resp["Location"] == reverse("web:request", args=[req.pk])
    assert (req.binding, req.kind, req.status) == (True, "restrict_foreign_access", "open")
    assert list(req.releases.all()) == [world["release"]]
    world["release"].refresh_from_db()
    assert world["release"].foreign_access_restricted is True
    # Duplicate reference: the form keeps the input and shows the error.
    resp = client.post(
        reverse("web:request_new"),
        {"agency": "DOC", "reference": "DOC-FA-1", "kind": "vet_users", "lab_position": "agree"},
    )
    assert resp.status_code == 400
    html = resp.content.decode()
    assert "This agency already has a request with this reference." in html
    assert 'value="DOC-FA-1"' in html


def test_request_status_actions_and_time_to_comply(client, world, staff):
    req = world["request"]
    client.force_login(staff)
    url = reverse("web:request_status", args=[req.pk])
    assert client.post(url, {"status": "complied"}).status_code == 409  # open → complied
    req.refresh_from_db()
    assert req.status == "open"
    assert client.post(url, {"status": "acknowledged", "note": "seen"}).status_code == 302
    assert client.post(url, {"status": "complied"}).status_code == 302
    req.refresh_from_db()
    assert req.status == "complied" and req.complied_at is not None
    html = client.get(reverse("web:requests")).content.decode()
    assert f'data-testid="ttc-{req.pk}"' in html


def test_request_filters(client, world, staff, agencies):
    services.record_request(
        actor=staff, agency=agencies[2], reference="ONCD-9", kind="postpone_release", binding=True
    )
    client.force_login(staff)
    url = reverse("web:requests")

    def refs(params):
        resp = client.get(url, params)
        return [r.reference for r in resp.context["requests"]]

    assert sorted(refs({})) == ["DOC-1", "ONCD-9"]
    assert refs({"agency": "ONCD"}) == ["ONCD-9"]
    assert refs({"kind": "information_request"}) == ["DOC-1"]
    assert refs({"binding": "yes"}) == ["ONCD-9"]
    assert refs({"binding": "no"}) == ["DOC-1"]
    assert refs({"status": "closed"}) == []


def test_pages_send_csp_and_csrf_protects_forms(world, staff):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(staff)
    resp = client.get(reverse("web:dashboard"))
    assert "default-src 'self'" in resp["Content-Security-Policy"]
    resp = client.post(reverse("web:release_submit", args=[world["release"].slug]), {})
    assert resp.status_code == 403  # no CSRF token


@override_settings(AXES_ENABLED=True)
def test_login_is_throttled_after_repeated_failures(client, staff):
    url = reverse("web:login")
    for _ in range(5):
        resp = client.post(url, {"username": "sam", "password": "wrong"})
        assert resp.status_code in (200, 429)
    resp = client.post(url, {"username": "sam", "password": PASSWORD})
    assert resp.status_code == 429
    assert "Too many failed sign-ins" in resp.content.decode()
    assert "_auth_user_id" not in client.session


def test_release_page_query_count_does_not_grow_with_history(
    client, world, staff, admin2, django_assert_max_num_queries
):
    client.force_login(staff)
    url = reverse("web:release", args=[world["release"].slug])
    with django_assert_max_num_queries(30) as before:
        client.get(url)
    so = SignOff.objects.get(release=world["release"], agency__code="ONCD", stage="general")
    services.decide_signoff(so, actor=staff, decision="approved", evidence="letter")
    for i in range(3):
        services.propose_allowlist_entry(
            world["release"], actor=staff, partner=PartnerFactory(name=f"P{i}")
        )
    services.decide_allowlist_entry(world["entry"], actor=admin2, decision="approved")
    with django_assert_max_num_queries(len(before.captured_queries)):
        client.get(url)


def test_withdraw_and_suspend_need_reasons_and_call_the_services(client, world, staff):
    release = world["release"]
    doc = SignOff.objects.get(release=release, agency__code="DOC", stage="general")
    client.force_login(staff)
    withdraw = reverse("web:signoff_withdraw", args=[release.slug])
    resp = client.post(withdraw, {"signoff": doc.pk, "reason": ""})
    assert resp.status_code == 409
    assert "Could not record the withdrawal" in resp.content.decode()
    assert "A reason is required." in resp.content.decode()
    assert client.post(withdraw, {"signoff": doc.pk, "reason": "DOC retracted"}).status_code == 302
    doc.refresh_from_db()
    assert (doc.status, doc.reason, doc.recorded_by) == ("withdrawn", "DOC retracted", staff)

    transition = reverse("web:release_transition", args=[release.slug])
    resp = client.post(transition, {"to": "suspended", "reason": ""})
    assert resp.status_code == 409
    assert "Could not move Frontier 1 to suspended" in resp.content.decode()
    assert "A reason is required." in resp.content.decode()
    assert (
        client.post(transition, {"to": "suspended", "reason": "export review"}).status_code == 302
    )
    release.refresh_from_db()
    assert release.status == "suspended"
    last = release.history.latest("history_id")
    assert (last.status, last.history_actor, last.history_change_reason) == (
        "suspended",
        "sam",
        "export review",
    )
    html = client.get(reverse("web:release", args=[release.slug])).content.decode()
    assert "in_review → suspended" in html  # the timeline shows the state change
    assert "DOC withdrawn general (round 1)" in html


def test_list_pages_query_counts_do_not_grow(
    client, world, staff, agencies, django_assert_max_num_queries
):
    client.force_login(staff)
    for i in range(4):
        services.record_request(
            actor=staff,
            agency=agencies[i],
            reference=f"R-{i}",
            kind="vet_users",
            binding=True,
            releases=[world["release"]],
        )
        services.propose_allowlist_entry(
            world["release"], actor=staff, partner=PartnerFactory(name=f"Q{i}")
        )
    # The filter form's selects (agencies, releases, users) are one query each.
    with django_assert_max_num_queries(8):
        assert client.get(reverse("web:requests")).status_code == 200
    # Plus R37/R38: the evidence panel's documents and agency select, and the documents
    # each decision may cite (one query for every row).
    with django_assert_max_num_queries(11):
        assert client.get(reverse("web:allowlist")).status_code == 200


# --- audit pages -------------------------------------------------------------------------


def audit_seqs(resp) -> list[int]:
    return [row["id"] for row in resp.context["rows"]]


def test_audit_pages_need_auditor_or_admin(client, world, staff, auditor, admin_user):
    pages = [reverse("web:audit"), reverse("web:reminders")]
    verify = reverse("web:audit_verify")
    login = reverse("web:login")
    for url in pages:
        resp = client.get(url)
        assert (resp.status_code, resp["Location"]) == (302, f"{login}?next={url}")
    assert client.post(verify)["Location"].startswith(login)

    client.force_login(staff)
    for url in pages:
        resp = client.get(url)
        assert resp.status_code == 403, url
        assert "Only auditors and admins may read the audit log and the reminder log." in (
            resp.content.decode()
        )
    assert client.post(verify).status_code == 403
    html = client.get(reverse("web:dashboard")).content.decode()
    assert f'href="{reverse("web:audit")}"' not in html
    release_url = reverse("web:release", args=[world["release"].slug])
    assert 'data-testid="full-history"' not in client.get(release_url).content.decode()

    for user in (auditor, admin_user):
        client.force_login(user)
        for url in pages:
            assert client.get(url).status_code == 200, (user, url)
        html = client.get(reverse("web:dashboard")).content.decode()
        assert f'href="{reverse("web:audit")}"' in html
        assert f'href="{reverse("web:reminders")}"' in html
        html = client.get(release_url).content.decode()
        # Full history: the release with its sign-offs, allowlist entries and requests.
        assert f'href="{reverse("web:audit")}?release={world["release"].slug}"' in html
    # The verify button is a POST (it reads, but slowly): a GET does not run it, it goes to
    # the log page.
    resp = client.get(verify)
    assert (resp.status_code, resp["Location"]) == (302, reverse("web:audit"))
    assert VERIFY_RESULT not in client.session


def test_audit_filters_narrow_rows_like_the_api(client, world, auditor, staff):
    client.force_login(auditor)
    url = reverse("web:audit")
    everything = client.get(url)
    assert audit_seqs(everything) == list(
        AuditRecord.objects.order_by("-seq").values_list("seq", flat=True)[:50]
    )
    cases = [
        {"model": "signoff", "user": "sam", "action": "changed"},
        {"model": "release", "object_id": str(world["release"].pk)},
        {"user": "ada"},
        {"action": "created", "model": "governmentrequest"},
    ]
    for params in cases:
        resp = client.get(url, params)
        expected = list(audit_records(**params).values_list("seq", flat=True))
        assert expected, params
        assert audit_seqs(resp) == expected, params
        assert len(expected) < len(audit_seqs(everything))
        api = client.get(reverse("api:audit-list"), params).json()
        assert [r["id"] for r in api["results"]] == expected
        html = resp.content.decode()
        exports = dict(resp.context["exports"])
        assert set(exports) == {"CSV", "JSONL"}
        for label, href in exports.items():
            path, query = href.split("?")
            assert path == reverse("api:audit-export")
            assert dict(parse_qsl(query)) == {"format": label.lower(), **params}
            assert f'href="{href}"'.replace("&", "&amp;") in html

    # The three GA approvals: each row shows its field diffs and who did it.
    resp = client.get(url, {"model": "signoff", "action": "changed"})
    html = resp.content.decode()
    assert len(resp.context["rows"]) == 3
    assert '<span class="diff-field">status</span>: <del>pending</del> → <ins>approved</ins>' in (
        html
    )
    assert '<span class="diff-field">recorded_by</span>: <del>—</del> → <ins>sam</ins>' in html
    assert "style=" not in html and "<script>" not in html  # strict CSP


def test_audit_reason_and_bad_filters(client, world, auditor, staff):
    services.transition_release(
        world["release"], to="suspended", actor=staff, reason="export review pending"
    )
    client.force_login(auditor)
    url = reverse("web:audit")
    resp = client.get(url, {"model": "release", "action": "changed"})
    first = resp.context["rows"][0]
    assert (first["user"], first["reason"]) == ("sam", "export review pending")
    assert "export review pending" in resp.content.decode()

    resp = client.get(url, {"object_id": "1"})
    assert resp.status_code == 400
    assert "Name the model when filtering by object_id." in resp.content.decode()
    assert resp.context["rows"] == [] and resp.context["exports"] == []
    resp = client.get(url, {"since": "2030-01-01T00:00", "until": "2029-01-01T00:00"})
    assert resp.status_code == 400
    assert "Must be later than since." in resp.content.decode()


def test_audit_keyset_paging_older_and_newer(client, world, auditor):
    for i in range(60):
        PartnerFactory(name=f"Paged {i}")
    client.force_login(auditor)
    url = reverse("web:audit")
    newest = list(AuditRecord.objects.order_by("-seq").values_list("seq", flat=True))
    first = client.get(url)
    assert audit_seqs(first) == newest[:50]
    assert first.context["newer_url"] is None
    older_url = first.context["older_url"]
    assert older_url == f"{url}?cursor=b{newest[49]}"
    second = client.get(older_url)
    assert audit_seqs(second) == newest[50:100]
    back = client.get(second.context["newer_url"])
    assert audit_seqs(back) == newest[:50]
    # Filters ride along in the paging links.
    params = {"model": "partner", "action": "created"}
    page = client.get(url, params)
    assert len(audit_seqs(page)) == 50
    assert page.context["older_url"] == f"{url}?model=partner&action=created&cursor=b" + str(
        audit_seqs(page)[-1]
    )
    rest = client.get(page.context["older_url"])
    assert audit_seqs(rest) == list(audit_records(**params).values_list("seq", flat=True)[50:])
    assert rest.context["older_url"] is None


def test_audit_page_queries_do_not_grow_with_rows(
    client, agencies, staff, auditor, django_assert_max_num_queries
):
    client.force_login(auditor)
    url = reverse("web:audit")
    params = {"model": "partner"}
    PartnerFactory(name="Only one")
    with django_assert_max_num_queries(20) as one:
        resp = client.get(url, params)
    assert len(resp.context["rows"]) == 1
    for i in range(49):
        PartnerFactory(name=f"More {i}")
    with django_assert_max_num_queries(len(one.captured_queries)):
        resp = client.get(url, params)
    assert len(resp.context["rows"]) == 50
    with django_assert_max_num_queries(len(one.captured_queries)):
        assert client.get(url).status_code == 200


def test_verify_chain_now_reports_ok_in_words(client, world, auditor):
    client.force_login(auditor)
    resp = client.post(reverse("web:audit_verify"), {"model": "signoff", "user": "sam"})
    assert resp.status_code == 302
    assert resp["Location"] == f"{reverse('web:audit')}?model=signoff&user=sam"
    html = client.get(resp["Location"]).content.decode()
    checked = AuditRecord.objects.count()
    assert f"Chain intact: all {checked} history records check out" in html
    # Shown once: a reload no longer claims a fresh verification.
    assert "Chain intact" not in client.get(resp["Location"]).content.decode()


@pytest.mark.postgres
def test_verify_chain_now_reports_the_first_broken_record(client, world, auditor):
    target = AuditRecord.objects.filter(model="governmentrequest").order_by("seq").first()
    with triggers_disabled(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE compliance_historicalgovernmentrequest SET summary = 'forged' "
            "WHERE history_id = %s",
            [target.history_id],
        )
    client.force_login(auditor)
    resp = client.post(reverse("web:audit_verify"), follow=True)
    html = resp.content.decode()
    assert (
        f"<strong>Chain broken</strong> at record #{target.seq} (governmentrequest, "
        f"compliance_historicalgovernmentrequest row {target.history_id}): content mismatch"
    ) in html
    assert f"{target.seq} records checked" in html


@pytest.mark.postgres
def test_verify_chain_now_reports_a_live_row_changed_without_history(client, world, auditor):
    agency = Agency.objects.order_by("pk").first()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE compliance_agency SET active = false WHERE id = %s", [agency.pk])
    client.force_login(auditor)
    html = client.post(reverse("web:audit_verify"), follow=True).content.decode()
    assert (f"<strong>Live data not explained by its history</strong>: agency {agency.pk}") in html
    assert (
        f"live mismatch — agency {agency.pk} differs from its latest history record in active"
        in html
    )


def test_verify_needs_csrf(world, auditor):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(auditor)
    assert client.post(reverse("web:audit_verify")).status_code == 403


def _reminder(user, kind, minutes_ago, items):
    return Reminder.objects.create(
        kind=kind,
        recipient=user,
        email=user.email or f"{user.username}@example.com",
        subject=f"{kind} for {user.username}",
        items=items,
        sweep_id=uuid.uuid4() if kind == "digest" else None,
        sent_at=timezone.now() - timedelta(minutes=minutes_ago),
    )


def test_reminder_log_lists_filters_and_pages(client, world, staff, admin_user, auditor):
    digest = _reminder(
        staff,
        "digest",
        5,
        [
            {
                "key": "signoff:1",
                "title": "ONCD general sign-off for frontier-1",
                "urgency": "overdue",
            }
        ],
    )
    note = _reminder(
        staff, "notification", 3, [{"key": "notification:1", "kind": "approved", "release": "x"}]
    )
    to_admin = _reminder(admin_user, "digest", 1, [{"key": "alert:1", "title": "Alert"}])
    client.force_login(auditor)
    url = reverse("web:reminders")

    def ids(params):
        resp = client.get(url, params)
        assert resp.status_code == 200
        return [m.pk for m in resp.context["page"]]

    assert ids({}) == [to_admin.pk, note.pk, digest.pk]
    assert ids({"recipient": "sam"}) == [note.pk, digest.pk]
    assert ids({"kind": "digest"}) == [to_admin.pk, digest.pk]
    assert ids({"recipient": "sam", "kind": "notification"}) == [note.pk]
    assert ids({"sweep": str(digest.sweep_id)}) == [digest.pk]
    html = client.get(url, {"recipient": "sam"}).content.decode()
    assert "ONCD general sign-off for frontier-1 (overdue)" in html
    assert "Approved · x" in html
    assert client.get(url, {"kind": "fax"}).status_code == 400

    for i in range(55):
        _reminder(admin_user, "digest", 100 + i, [])
    first = [m.pk for m in client.get(url).context["page"]]
    assert len(first) == 50 and first[:3] == [to_admin.pk, note.pk, digest.pk]
    second = [m.pk for m in client.get(url, {"page": 2}).context["page"]]
    assert len(second) == 8 and not set(first) & set(second)


def test_reminder_log_query_count_is_constant(
    client, world, staff, auditor, django_assert_max_num_queries
):
    _reminder(staff, "digest", 1, [])
    client.force_login(auditor)
    with django_assert_max_num_queries(20) as one:
        client.get(reverse("web:reminders"))
    for i in range(30):
        _reminder(staff, "digest", 2 + i, [{"key": f"k{i}", "title": "t"}])
    with django_assert_max_num_queries(len(one.captured_queries)):
        client.get(reverse("web:reminders"))


def test_dashboard_does_not_count_down_an_answered_request(client, world, staff, agencies):
    """A complied request stays in force until closed, but its due time is no longer owed."""
    req = services.record_request(
        actor=staff,
        agency=agencies[1],
        reference="DOC-FA-9",
        kind="restrict_foreign_access",
        binding=True,
        releases=[world["release"]],
        received_at=timezone.now() - timedelta(days=5),
        due_at=timezone.now() - timedelta(days=3),
    )
    client.force_login(staff)
    html = client.get(reverse("web:dashboard")).content.decode()
    assert "overdue by 3 days" in html
    services.set_request_status(req, actor=staff, status="acknowledged")
    services.set_request_status(req, actor=staff, status="complied")
    html = client.get(reverse("web:dashboard")).content.decode()
    assert "overdue by 3 days" not in html
    assert f"answered; was due {timezone.localtime(req.due_at):%-d %b %Y}" in html


# --- Issue 13: hostile input in forms --------------------------------------------------

NEW_REQUEST = {
    "agency": "DOC",
    "reference": "DOC-T-1",
    "kind": "vet_users",
    "lab_position": "agree",
}


def test_request_form_refuses_an_offset_postgresql_cannot_take(client, world, staff):
    """Issue 13 defect 4 on the page: "+16:05" reached PostgreSQL ("time zone displacement
    out of range", a 500); now a 400 on the field, the API's message."""
    from compliance.validators import OFFSET_MESSAGE

    client.force_login(staff)
    before = history_count()
    resp = client.post(
        reverse("web:request_new"), {**NEW_REQUEST, "received_at": "2026-01-05T10:00+16:05"}
    )
    assert resp.status_code == 400
    assert resp.context["form"].errors == {"received_at": [OFFSET_MESSAGE]}
    assert not GovernmentRequest.objects.filter(reference="DOC-T-1").exists()
    assert history_count() == before


@pytest.mark.parametrize(
    "times,field",
    [
        ({"received_at": -2, "due_at": -3}, "due_at"),
        ({"received_at": 49}, "received_at"),
    ],
)
def test_request_form_refuses_due_before_received_and_received_ahead(
    client, world, staff, times, field
):
    """Issue 13 defect 12 on the page: the same rule and words as the API (the service)."""
    from compliance.services.requests import DUE_BEFORE_RECEIVED, RECEIVED_IN_FUTURE

    now = timezone.now()
    data = {
        **NEW_REQUEST,
        **{k: (now + timedelta(hours=h)).strftime("%Y-%m-%dT%H:%M") for k, h in times.items()},
    }
    client.force_login(staff)
    before = history_count()
    resp = client.post(reverse("web:request_new"), data)
    assert resp.status_code == 400
    message = DUE_BEFORE_RECEIVED if field == "due_at" else RECEIVED_IN_FUTURE
    assert resp.context["form"].errors == {field: [message]}
    assert 'value="DOC-T-1"' in resp.content.decode()
    assert history_count() == before


def test_page_text_limits_are_the_apis(client, world, staff):
    """Issue 13 defect 12: the request page took a 100,000-character summary the API
    refuses. Every free-text field of a page form has its API field's bound."""
    from compliance.api import serializers as api
    from compliance.web import forms as web

    client.force_login(staff)
    resp = client.post(reverse("web:request_new"), {**NEW_REQUEST, "summary": "x" * 100_000})
    assert resp.status_code == 400
    assert list(resp.context["form"].errors) == ["summary"]
    assert not GovernmentRequest.objects.filter(reference="DOC-T-1").exists()
    pairs = [
        (web.RecordRequestForm, "summary", api.GovernmentRequestSerializer, "summary"),
        (web.RecordRequestForm, "reference", api.GovernmentRequestSerializer, "reference"),
        (web.SubmitForm, "reason", api.SubmitSerializer, "reason"),
        (web.TransitionForm, "reason", api.TransitionSerializer, "reason"),
        (web.DecideSignOffForm, "evidence", api.SignOffDecisionSerializer, "evidence"),
        (web.DecideSignOffForm, "conditions", api.SignOffDecisionSerializer, "conditions"),
        (web.DecideSignOffForm, "reason", api.SignOffDecisionSerializer, "reason"),
        (web.WithdrawSignOffForm, "reason", api.ReasonSerializer, "reason"),
        (web.ProposeEntryForm, "note", api.AllowlistProposeSerializer, "note"),
        (web.DecideEntryForm, "reason", api.AllowlistDecisionSerializer, "reason"),
        (web.RevokeEntryForm, "reason", api.ReasonSerializer, "reason"),
        (web.RequestStatusForm, "note", api.RequestStatusSerializer, "note"),
    ]
    for form, name, serializer, field in pairs:
        page_max = form.base_fields[name].max_length
        assert page_max is not None and page_max == serializer().fields[field].max_length, (
            form.__name__,
            name,
        )


def test_page_403_logs_one_line_without_traceback(client, world, auditor, caplog):
    """Issue 13 defect 12: every page 403 logged a full traceback (an answer, not a fault)."""
    import logging

    client.force_login(auditor)
    url = reverse("web:release_submit", args=[world["release"].slug])
    with caplog.at_level(logging.WARNING, logger="django.request"):
        assert client.post(url).status_code == 403
    records = [r for r in caplog.records if r.name == "django.request"]
    assert [r.getMessage() for r in records] == [f"Forbidden (Permission denied): {url}"]
    assert records[0].exc_info is None
    assert "Traceback" not in caplog.text

"""Issue 17 (SPEC "Pages", the write side): every API write has a page, forms read times in
the user's zone, a form sent twice changes things once, the same bad-input rules and text
bounds as the API, the profile page (time zone, tokens, calendar feed)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar
from knox.models import AuthToken

from compliance import services
from compliance.models import (
    Agency,
    GovernmentRequest,
    Partner,
    Release,
    UserPreference,
    WebhookDelivery,
)
from compliance.models.roles import role_of
from compliance.services import preferences
from compliance.services.requests import DUE_BEFORE_RECEIVED, RECEIVED_IN_FUTURE
from compliance.web.transparency import CHECKPOINT_RESULT
from compliance.web.views import VERIFY_RESULT
from tests.factories import make_release
from tests.helpers import db_state, page_form, unchanged_db

pytestmark = pytest.mark.postgres
User = get_user_model()
NEW_YORK = "America/New_York"


def token() -> str:
    return uuid.uuid4().hex


def page_messages(resp) -> list[str]:
    return [str(m) for m in resp.context["messages"]]


def post_twice(client, url, data):
    """The same form (same one-time token) sent twice, as a double click or a reload does;
    both answers followed to the page they land on."""
    data = {**data, "form_token": token()}
    first = client.post(url, data)
    second = client.post(url, data)
    return first, second


# --- releases --------------------------------------------------------------------------


def test_staff_creates_and_edits_a_release_without_the_cap(client, agencies, staff):
    client.force_login(staff)
    page = client.get(reverse("web:release_new"))
    assert page.status_code == 200
    assert "partner_cap" not in page.context["form"].fields  # admins set caps
    assert 'id="id_slug"' in page.content.decode()
    resp = client.post(
        reverse("web:release_new"),
        {
            "slug": "model-x",
            "name": "Model X",
            "description": "weights v1",
            "required_agencies": ["DOC", "OSTP"],
            "review_days": "10",
            "target_date": "2026-12-24",
            "reason": "new model",
            "form_token": token(),
        },
    )
    assert resp.status_code == 302 and resp["Location"] == reverse("web:release", args=["model-x"])
    release = Release.objects.get(slug="model-x")
    assert (release.owner, release.partner_cap, release.review_days) == (staff, 20, 10)
    assert sorted(release.required_agencies.values_list("code", flat=True)) == ["DOC", "OSTP"]
    assert release.history.order_by("history_id").first().history_change_reason == "new model"

    edit = reverse("web:release_edit", args=["model-x"])
    form = client.get(edit).context["form"]
    assert form["name"].value() == "Model X"
    resp = client.post(
        edit,
        {
            "name": "Model X2",
            "owner": staff.username,
            "required_agencies": ["DOC"],
            "review_days": "10",
            "target_date": "2026-12-24",
            "artifact_digest": "sha256:abc",
            "reason": "renamed",
            "form_token": token(),
        },
        follow=True,
    )
    assert resp.status_code == 200, resp.context["form"].errors
    assert resp.content.decode().count("Release saved.") == 1
    release.refresh_from_db()
    assert (release.name, release.artifact_digest) == ("Model X2", "sha256:abc")
    assert list(release.required_agencies.values_list("code", flat=True)) == ["DOC"]
    latest = release.history.order_by("-history_id").first()
    assert (latest.history_user, latest.history_change_reason) == (staff, "renamed")


def test_admin_sets_a_cap_and_the_rules_still_decide(client, agencies, admin_user):
    release = make_release(admin_user, agencies=agencies)
    client.force_login(admin_user)
    edit = reverse("web:release_edit", args=[release.slug])
    assert "partner_cap" in client.get(edit).context["form"].fields
    data = {
        "name": release.name,
        "owner": admin_user.username,
        "required_agencies": [a.code for a in agencies],
        "review_days": "14",
        "partner_cap": "5",
    }
    assert client.post(edit, {**data, "form_token": token()}).status_code == 302
    release.refresh_from_db()
    assert release.partner_cap == 5
    # A bad value is a 400 on its field (the model's bound), nothing written.
    before = db_state()
    resp = client.post(edit, {**data, "partner_cap": "-1", "form_token": token()})
    assert resp.status_code == 400 and "partner_cap" in resp.context["form"].errors
    assert db_state() == before


def test_release_slug_taken_is_a_field_error(client, agencies, staff):
    make_release(staff, agencies=agencies, slug="taken")
    client.force_login(staff)
    before = db_state()
    resp = client.post(
        reverse("web:release_new"),
        {"slug": "taken", "name": "X", "required_agencies": ["DOC"], "review_days": "14"},
    )
    assert resp.status_code == 400
    assert list(resp.context["form"].errors) == ["slug"]
    assert db_state() == before


def test_release_description_bound_is_the_apis_on_page_and_api(client, agencies, staff):
    from rest_framework.test import APIClient

    client.force_login(staff)
    huge = "x" * 100_000
    before = db_state()
    resp = client.post(
        reverse("web:release_new"),
        {"slug": "big", "name": "Big", "description": huge, "required_agencies": ["DOC"]},
    )
    assert resp.status_code == 400 and list(resp.context["form"].errors) == ["description"]
    api = APIClient()
    api.force_authenticate(staff)
    answer = api.post(
        "/api/v1/releases/", {"slug": "big", "name": "Big", "description": huge}, format="json"
    )
    assert answer.status_code == 400 and list(answer.json()) == ["description"]
    assert db_state() == before


def test_new_page_forms_share_the_api_text_bounds():
    from compliance.api import serializers as api
    from compliance.web import forms as web
    from compliance.web import manage

    pairs = [
        (web.ReleaseForm, api.ReleaseSerializer),
        (web.RequestEditForm, api.GovernmentRequestUpdateSerializer),
        (manage.AgencyForm, api.AgencySerializer),
        (manage.PartnerForm, api.PartnerSerializer),
    ]
    checked = 0
    for form, serializer in pairs:
        fields = serializer().fields
        for name, field in form.base_fields.items():
            if getattr(field, "max_length", None) is not None and name in fields:
                assert field.max_length == fields[name].max_length, (form.__name__, name)
                checked += 1
    assert checked >= 10


def test_move_to_offers_only_other_states_and_preselects_none(client, agencies, staff):
    release = services.submit_release(make_release(staff, agencies=agencies), actor=staff)
    client.force_login(staff)
    form = client.get(reverse("web:release", args=[release.slug])).context["transition_form"]
    values = [v for v, _label in form.fields["to"].choices]
    assert values == ["", "limited", "general", "suspended", "retired"]
    services.transition_release(release, to="suspended", actor=staff, reason="pause")
    form = client.get(reverse("web:release", args=[release.slug])).context["transition_form"]
    assert [v for v, _ in form.fields["to"].choices] == ["", "retired"]
    html = client.get(reverse("web:release", args=[release.slug])).content.decode()
    assert not re.search(r"<option value=\"suspended\"[^>]*selected", html)


# --- requests: edit, zones, bad input ----------------------------------------------------


def test_request_times_are_read_in_the_users_zone(client, agencies, staff):
    preferences.set_time_zone(staff, actor=staff, time_zone=NEW_YORK)
    client.force_login(staff)
    page = client.get(reverse("web:request_new"))
    assert f"In your time zone, {NEW_YORK}." in page.content.decode()
    resp = client.post(
        reverse("web:request_new"),
        {
            "agency": "DOC",
            "reference": "BIS-1",
            "kind": "restrict_foreign_access",
            "lab_position": "undecided",
            "received_at": "2026-11-20T17:21",  # a Friday, 17:21 Eastern
            "form_token": token(),
        },
    )
    req = GovernmentRequest.objects.get(reference="BIS-1")
    assert resp.status_code == 302 and resp["Location"] == reverse("web:request", args=[req.pk])
    assert req.received_at == datetime(2026, 11, 20, 22, 21, tzinfo=UTC)
    # The edit page shows it back in the same zone; saving unchanged keeps it to the second.
    services.update_request(
        req, actor=staff, received_at=datetime(2026, 11, 20, 22, 21, 37, tzinfo=UTC)
    )
    edit = reverse("web:request_edit", args=[req.pk])
    html = client.get(edit).content.decode()
    assert 'value="2026-11-20T17:21"' in html
    form = client.get(edit).context["form"]
    data = {k: v for k, v in form.initial.items() if v is not None}
    data.update(agency="DOC", releases=[], assignee="", summary="edited", form_token=token())
    data["received_at"] = "2026-11-20T17:21"
    assert client.post(edit, data).status_code == 302
    req.refresh_from_db()
    assert req.summary == "edited"
    assert req.received_at == datetime(2026, 11, 20, 22, 21, 37, tzinfo=UTC)


def test_request_edit_keeps_what_someone_else_saved_meanwhile(client, agencies, staff, staff2):
    """B opened the request's edit page; A then saved a summary and linked a release; B
    changed the position and linked another release: A's summary and release stay, the
    received time keeps its seconds, and B re-saving the same page writes nothing."""
    first, second = (
        services.submit_release(make_release(staff, slug=s, agencies=agencies), actor=staff)
        for s in ("r-one", "r-two")
    )
    req = services.record_request(
        actor=staff, agency=agencies[0], reference="BIS-2", kind="vet_users", summary="Vetting"
    )
    received = req.received_at
    edit = reverse("web:request_edit", args=[req.pk])
    client.force_login(staff2)
    shown = page_form(client.get(edit).content.decode())
    assert shown["summary"] == ["Vetting"] and shown["initial-summary"] == ["Vetting"]
    services.update_request(req, actor=staff, summary="Vetting, 20 names", releases=[first])
    resp = client.post(edit, {**shown, "lab_position": ["agree"], "releases": ["r-two"]})
    assert resp.status_code == 302
    req.refresh_from_db()
    assert (req.summary, req.lab_position, req.received_at) == (
        "Vetting, 20 names",
        "agree",
        received,
    )
    assert sorted(req.releases.values_list("slug", flat=True)) == ["r-one", "r-two"]
    again = page_form(client.get(edit).content.decode())
    rows = GovernmentRequest.history.count()
    assert client.post(edit, again).status_code == 302
    assert GovernmentRequest.history.count() == rows


@pytest.mark.parametrize(
    ("received", "due", "field", "message"),
    [
        (-48, -50, "due_at", DUE_BEFORE_RECEIVED),
        (30, None, "received_at", RECEIVED_IN_FUTURE),
    ],
)
def test_request_edit_refuses_bad_times_on_the_field(
    client, agencies, staff, received, due, field, message
):
    req = services.record_request(
        actor=staff, agency=agencies[0], reference="E-1", kind="vet_users"
    )
    client.force_login(staff)
    now = timezone.localtime()
    data = {
        "reference": "E-1",
        "kind": "vet_users",
        "lab_position": "undecided",
        "received_at": (now + timedelta(hours=received)).strftime("%Y-%m-%dT%H:%M"),
        "due_at": "" if due is None else (now + timedelta(hours=due)).strftime("%Y-%m-%dT%H:%M"),
        "form_token": token(),
    }
    before = db_state()
    resp = client.post(reverse("web:request_edit", args=[req.pk]), data)
    assert resp.status_code == 400
    assert resp.context["form"].errors == {field: [message]}
    assert db_state() == before
    # The edit page keeps its own address (a reload shows the form again, no 405).
    edit = reverse("web:request_edit", args=[req.pk])
    assert f'<meta name="clearance-page-url" content="{edit}">' in resp.content.decode()


# --- a form sent twice -------------------------------------------------------------------


def test_a_form_sent_twice_records_once_and_shows_one_outcome(client, agencies, staff):
    client.force_login(staff)
    data = {"agency": "DOC", "reference": "TWICE-1", "kind": "vet_users", "lab_position": "agree"}
    before = GovernmentRequest.history.count()
    first, second = post_twice(client, reverse("web:request_new"), data)
    assert GovernmentRequest.objects.filter(reference="TWICE-1").count() == 1
    assert GovernmentRequest.history.count() == before + 1
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    landed = client.get(second["Location"])
    assert page_messages(landed) == ["Request recorded."]  # once, not twice, no refusal
    assert "already has a request" not in landed.content.decode()


def test_a_refused_form_releases_its_token(client, agencies, staff):
    release = services.submit_release(make_release(staff, agencies=agencies), actor=staff)
    client.force_login(staff)
    url = reverse("web:release_transition", args=[release.slug])
    data = {"to": "suspended", "reason": "", "form_token": token()}
    resp = client.post(url, data)
    assert resp.status_code == 409
    assert "clearance-page-url" in resp.content.decode()
    data["reason"] = "agency asked"
    assert client.post(url, data).status_code == 302  # corrected, same form: now it counts
    assert client.post(url, data).status_code == 302  # and a third send changes nothing more
    release.refresh_from_db()
    assert release.status == "suspended"
    assert release.history.filter(status="suspended").count() == 1


@pytest.mark.parametrize(
    ("name", "data", "count"),
    [
        ("agencies", {"code": "NSA", "name": "N", "active": "on"}, lambda: Agency.objects.count()),
        ("partners", {"name": "Beta", "country": "GB"}, lambda: Partner.objects.count()),
        ("users", {"username": "newbie", "role": "staff"}, lambda: User.objects.count()),
    ],
)
def test_admin_forms_sent_twice_change_once(client, agencies, admin_user, name, data, count):
    client.force_login(admin_user)
    before = count()
    first, second = post_twice(client, reverse(f"web:{name}"), data)
    assert count() == before + 1
    assert first.status_code == second.status_code == 302
    assert len(page_messages(client.get(second["Location"]))) == 1


def test_profile_forms_sent_twice_change_once(client, staff):
    client.force_login(staff)
    first, second = post_twice(client, reverse("web:token_create"), {})
    assert AuthToken.objects.filter(user=staff).count() == 1
    assert first["Location"] == second["Location"] == reverse("web:profile")


# --- admin screens -----------------------------------------------------------------------


def test_admin_manages_agencies_partners_and_users(client, agencies, admin_user):
    client.force_login(admin_user)
    nav = client.get(reverse("web:dashboard")).content.decode()
    for name in ("agencies", "partners", "users", "webhooks", "gateways"):
        assert f'href="{reverse(f"web:{name}")}"' in nav
    assert (
        client.post(
            reverse("web:agencies"),
            {"code": "BIS", "name": "Industry and Security", "active": "on", "form_token": token()},
        ).status_code
        == 302
    )
    bis = Agency.objects.get(code="BIS")
    assert bis.active and bis.history.get().history_user == admin_user
    # Deactivate it (edit page: active unticked).
    resp = client.post(
        reverse("web:agency", args=["BIS"]),
        {"name": "Industry and Security", "reason": "merged", "form_token": token()},
    )
    assert resp.status_code == 302
    bis.refresh_from_db()
    assert not bis.active
    assert bis.history.order_by("-history_id").first().history_change_reason == "merged"

    assert (
        client.post(
            reverse("web:partners"), {"name": "Beta Labs", "country": "GB", "form_token": token()}
        ).status_code
        == 302
    )
    beta = Partner.objects.get(name="Beta Labs")
    client.post(
        reverse("web:partner", args=[beta.pk]),
        {"name": "Beta Labs", "country": "US", "notes": "moved", "form_token": token()},
    )
    beta.refresh_from_db()
    assert (str(beta.country), beta.notes) == ("US", "moved")

    resp = client.post(
        reverse("web:users"),
        {"username": "ava", "email": "ava@lab.example", "role": "auditor", "form_token": token()},
    )
    assert resp.status_code == 302
    ava = User.objects.get(username="ava")
    assert role_of(ava) == "auditor"
    client.post(
        reverse("web:user", args=["ava"]),
        {"email": "ava@lab.example", "role": "staff", "form_token": token()},
    )
    ava = User.objects.get(username="ava")
    assert role_of(ava) == "staff"
    assert ava.history.order_by("-history_id").first().history_user == admin_user
    client.post(
        reverse("web:user_deactivate", args=["ava"]), {"reason": "left", "form_token": token()}
    )
    assert not User.objects.get(username="ava").is_active
    # A password the validators refuse is an error on its field; nothing is written.
    before = db_state()
    resp = client.post(reverse("web:users"), {"username": "ben", "role": "staff", "password": "1"})
    assert resp.status_code == 400 and list(resp.context["form"].errors) == ["password"]
    assert db_state() == before
    # An existing username is a field error, not a silent change of that user.
    resp = client.post(reverse("web:users"), {"username": "ava", "role": "admin"})
    assert resp.status_code == 400 and list(resp.context["form"].errors) == ["username"]


def test_staff_cannot_open_admin_screens(client, staff):
    client.force_login(staff)
    for name in ("agencies", "partners", "users"):
        assert client.get(reverse(f"web:{name}")).status_code == 403
    assert client.post(reverse("web:users"), {"username": "x", "role": "admin"}).status_code == 403
    assert not User.objects.filter(username="x").exists()


# --- profile ---------------------------------------------------------------------------


def test_profile_time_zone_and_tokens(client, staff):
    client.force_login(staff)
    page = client.get(reverse("web:profile"))
    assert page.context["tz_form"]["time_zone"].value() == "UTC"
    resp = client.post(
        reverse("web:profile_time_zone"), {"time_zone": NEW_YORK, "form_token": token()}
    )
    assert resp.status_code == 302
    assert UserPreference.objects.get(user=staff).time_zone == NEW_YORK
    page = client.get(reverse("web:profile"))
    assert page.context["tz_form"]["time_zone"].value() == NEW_YORK
    assert page.wsgi_request.session["clearance_time_zone"]["zone"] == NEW_YORK
    bad = client.post(reverse("web:profile_time_zone"), {"time_zone": "Mars/Olympus"})
    assert bad.status_code == 400

    resp = client.post(reverse("web:token_create"), {"form_token": token()}, follow=True)
    key = resp.context["new_token"]
    assert key and key in resp.content.decode()
    assert key not in client.get(reverse("web:profile")).content.decode()  # shown once
    api = client.__class__()
    assert api.get("/api/v1/releases/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 200
    [listed] = client.get(reverse("web:profile")).context["tokens"]
    client.post(reverse("web:token_revoke", args=[listed.digest]), {"form_token": token()})
    assert api.get("/api/v1/releases/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 401


def test_calendar_feed_lists_due_items_and_is_revocable(client, agencies, staff):
    release = services.submit_release(make_release(staff, agencies=agencies), actor=staff)
    req = services.record_request(
        actor=staff,
        agency=agencies[0],
        reference="CAL-1",
        kind="information_request",
        assignee=staff,
        due_at=timezone.now() + timedelta(days=3),
    )
    client.force_login(staff)
    assert client.get(reverse("web:profile")).context["feed_url"] is None
    regenerate = reverse("web:calendar_regenerate")
    first = client.post(regenerate, {"form_token": token()}, follow=True)
    # There was no URL before: nothing "no longer works".
    assert page_messages(first) == ["Calendar feed turned on: subscribe to the URL below."]
    url = client.get(reverse("web:profile")).context["feed_url"]
    path = url.split("://", 1)[1].split("/", 1)[1]
    anonymous = client.__class__()
    resp = anonymous.get("/" + path)
    assert resp.status_code == 200 and resp["Content-Type"].startswith("text/calendar")
    events = Calendar.from_ical(resp.content).walk("VEVENT")
    summaries = sorted(str(e["SUMMARY"]) for e in events)
    assert len(summaries) == 2 * len(agencies) + 1
    assert f"Request due: {agencies[0].code} CAL-1" in summaries
    assert any(s.startswith("Sign-off due: ") and release.name in s for s in summaries)
    assert {str(e["UID"]) for e in events} >= {f"request-{req.pk}@127.0.0.1:8000"}
    assert anonymous.get("/calendar/wrong-secret.ics").status_code == 404
    # A new address kills the old one; turning it off kills every one.
    again = client.post(regenerate, {"form_token": token()}, follow=True)
    assert page_messages(again) == ["New calendar feed URL: the previous one no longer works."]
    assert anonymous.get("/" + path).status_code == 404
    new_url = client.get(reverse("web:profile")).context["feed_url"]
    new_path = "/" + new_url.split("://", 1)[1].split("/", 1)[1]
    assert anonymous.get(new_path).status_code == 200
    from compliance.services import users as user_services

    user_services.deactivate_user(staff, actor=None)
    assert anonymous.get(new_path).status_code == 404  # a deactivated user's feed is gone
    user_services.ensure_user(staff.username, role="staff")  # reactivated
    assert anonymous.get(new_path).status_code == 200
    off = client.post(reverse("web:calendar_revoke"), {"form_token": token()}, follow=True)
    assert page_messages(off) == ["Calendar feed turned off: its URL no longer works."]
    assert anonymous.get(new_path).status_code == 404
    # On again after off: the old URL died when it was turned off, not now.
    back_on = client.post(regenerate, {"form_token": token()}, follow=True)
    assert page_messages(back_on) == ["Calendar feed turned on: subscribe to the URL below."]


def test_an_action_url_opened_with_get_goes_to_its_page(client, agencies, staff):
    release = make_release(staff, agencies=agencies)
    client.force_login(staff)
    for name in ("release_submit", "release_transition", "signoff_decide"):
        resp = client.get(reverse(f"web:{name}", args=[release.slug]))
        assert (resp.status_code, resp["Location"]) == (
            302,
            reverse("web:release", args=[release.slug]),
        )
    resp = client.get(reverse("web:token_create"))
    assert resp["Location"] == reverse("web:profile")
    assert client.put(reverse("web:release_submit", args=[release.slug])).status_code == 405


def test_every_action_url_opened_with_get_goes_to_its_page_and_runs_nothing(
    client, settings, staff, admin_user
):
    """The evidence, audit, webhook and gateway actions too: a GET (a reload after the
    action, a typed address) lands on the page that carries the form, and does not upload,
    verify, rotate a secret, ping or register."""
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    endpoint, secret = services.create_webhook(actor=admin_user, url="http://127.0.0.1:9/x")
    webhook = reverse("web:webhook", args=[endpoint.pk])
    audit = reverse("web:audit")
    writer, admin = client.__class__(), client
    writer.force_login(staff)  # logged in first: a login writes last_login
    admin.force_login(admin_user)
    actions = [
        (writer, reverse("web:evidence_upload"), reverse("web:evidence_list")),
        (admin, reverse("web:audit_verify"), audit),
        (admin, reverse("web:checkpoint_verify"), audit + "#checkpoint-h"),
        (admin, reverse("web:webhook_rotate", args=[endpoint.pk]), webhook),
        (admin, reverse("web:webhook_ping", args=[endpoint.pk]), webhook),
        (admin, reverse("web:gateway_register"), reverse("web:gateways")),
    ]
    with unchanged_db():
        for user, url, page in actions:
            resp = user.get(url)
            assert (resp.status_code, resp["Location"]) == (302, page), url
            assert user.put(url).status_code == 405, url
        # No verification ran: neither result waits in the session for the audit page.
        assert VERIFY_RESULT not in admin.session and CHECKPOINT_RESULT not in admin.session
        for user, _, page in actions:
            assert user.get(page).status_code == 200, page
    assert not WebhookDelivery.objects.exists()  # no ping queued
    endpoint.refresh_from_db()
    assert endpoint.secret == secret  # not rotated


def test_users_change_only_their_own_preferences(staff, staff2, admin_user):
    from compliance.errors import PermissionDenied

    with pytest.raises(PermissionDenied):
        preferences.set_time_zone(staff2, actor=staff, time_zone=NEW_YORK)
    with pytest.raises(PermissionDenied):
        preferences.regenerate_calendar_secret(staff2, actor=staff)
    assert not UserPreference.objects.filter(user=staff2).exists()
    preferences.set_time_zone(staff2, actor=admin_user, time_zone=NEW_YORK)
    assert UserPreference.objects.get(user=staff2).time_zone == NEW_YORK


# --- every form, sent twice ---------------------------------------------------------------


def _in_review(staff, agencies):
    return services.submit_release(make_release(staff, agencies=agencies), actor=staff)


def _signoff(release, code, stage="limited"):
    return release.signoffs.get(round=release.review_round, agency__code=code, stage=stage)


def _case_submit(w):
    r = make_release(w["staff"], agencies=w["agencies"])
    return w["staff"], reverse("web:release_submit", args=[r.slug]), {"reason": ""}


def _case_transition(w):
    r = _in_review(w["staff"], w["agencies"])
    url = reverse("web:release_transition", args=[r.slug])
    return w["staff"], url, {"to": "suspended", "reason": "agency asked"}


def _case_decide(w):
    r = _in_review(w["staff"], w["agencies"])
    data = {"signoff": _signoff(r, "DOC").pk, "decision": "approved", "evidence": "letter"}
    return w["staff"], reverse("web:signoff_decide", args=[r.slug]), data


def _case_withdraw(w):
    r = _in_review(w["staff"], w["agencies"])
    so = services.decide_signoff(
        _signoff(r, "DOC"), actor=w["staff"], decision="approved", evidence="x"
    )
    data = {"signoff": so.pk, "reason": "taken back"}
    return w["staff"], reverse("web:signoff_withdraw", args=[r.slug]), data


def _case_propose(w):
    r = make_release(w["staff"], agencies=w["agencies"])
    partner = Partner.objects.create(name="P1", country="US")
    data = {"release": r.slug, "partner": partner.pk}
    return w["staff"], reverse("web:allowlist_propose"), data


def _entry(w):
    r = make_release(w["staff"], agencies=w["agencies"])
    partner = Partner.objects.create(name="P2", country="US")
    return services.propose_allowlist_entry(r, actor=w["admin"], partner=partner)


def _case_allow_decide(w):
    entry = _entry(w)
    return w["admin2"], reverse("web:allowlist_decide", args=[entry.pk]), {"decision": "approved"}


def _case_allow_revoke(w):
    entry = services.decide_allowlist_entry(_entry(w), actor=w["admin2"], decision="approved")
    return w["admin2"], reverse("web:allowlist_revoke", args=[entry.pk]), {"reason": "ended"}


def _request(w):
    return services.record_request(
        actor=w["staff"], agency=w["agencies"][0], reference="T-1", kind="vet_users"
    )


def _case_request_status(w):
    req = _request(w)
    return w["staff"], reverse("web:request_status", args=[req.pk]), {"status": "acknowledged"}


def _case_request_edit(w):
    req = _request(w)
    data = {"reference": "T-1b", "kind": "vet_users", "lab_position": "agree"}
    data["received_at"] = timezone.localtime(req.received_at).strftime("%Y-%m-%dT%H:%M")
    return w["staff"], reverse("web:request_edit", args=[req.pk]), data


def _case_release_edit(w):
    r = make_release(w["staff"], agencies=w["agencies"])
    data = {"name": "Renamed", "owner": w["staff"].username, "required_agencies": ["DOC"]}
    return w["staff"], reverse("web:release_edit", args=[r.slug]), data


def _case_agency_edit(w):
    return w["admin"], reverse("web:agency", args=["DOC"]), {"name": "Commerce Dept."}


def _case_partner_edit(w):
    partner = Partner.objects.create(name="P3", country="US")
    return w["admin"], reverse("web:partner", args=[partner.pk]), {"name": "P3b", "country": "GB"}


def _case_user_edit(w):
    return w["admin"], reverse("web:user", args=[w["staff"].username]), {"role": "auditor"}


def _case_user_deactivate(w):
    url = reverse("web:user_deactivate", args=[w["staff"].username])
    return w["admin"], url, {"reason": "left"}


def _case_time_zone(w):
    return w["staff"], reverse("web:profile_time_zone"), {"time_zone": NEW_YORK}


def _case_calendar(w):
    return w["staff"], reverse("web:calendar_regenerate"), {}


def _case_calendar_off(w):
    preferences.regenerate_calendar_secret(w["staff"], actor=w["staff"])
    return w["staff"], reverse("web:calendar_revoke"), {}


def _case_webhook(w):
    w["settings"].WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    return w["admin"], reverse("web:webhooks"), {"url": "http://127.0.0.1:9/x", "active": "on"}


def _case_witness(w):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from compliance.audit import notes

    public = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    key = notes.verifier_string("w9.example", notes.COSIGNATURE_V1, public)
    return w["admin"], reverse("web:witnesses"), {"name": "w9.example", "verifier_key": key}


CASES = [
    _case_submit,
    _case_transition,
    _case_decide,
    _case_withdraw,
    _case_propose,
    _case_allow_decide,
    _case_allow_revoke,
    _case_request_status,
    _case_request_edit,
    _case_release_edit,
    _case_agency_edit,
    _case_partner_edit,
    _case_user_edit,
    _case_user_deactivate,
    _case_time_zone,
    _case_calendar,
    _case_calendar_off,
    _case_webhook,
    _case_witness,
]


@pytest.mark.parametrize("case", CASES, ids=[c.__name__[6:] for c in CASES])
def test_every_form_sent_twice_changes_once_and_shows_one_message(
    client, settings, agencies, staff, admin_user, admin2, case
):
    w = {
        "agencies": agencies,
        "staff": staff,
        "admin": admin_user,
        "admin2": admin2,
        "settings": settings,
    }
    actor, url, data = case(w)
    client.force_login(actor)
    before = db_state()
    data = {**data, "form_token": token()}
    first = client.post(url, data)
    after_first = db_state()
    second = client.post(url, data)
    assert first.status_code == 302
    assert after_first != before  # the first send did change something
    assert db_state() == after_first  # the second changed nothing more
    assert second.status_code == 302 and second["Location"] == first["Location"]
    landed = client.get(second["Location"])
    assert len(page_messages(landed)) == 1


def test_a_second_send_while_the_first_runs_waits_and_shows_its_outcome(
    client, settings, agencies, staff
):
    """The double click the script could not stop: the second POST arrives while the first
    still runs (its token claimed, no outcome yet). It writes nothing, waits, and lands on
    the first one's page with its message."""
    import threading

    from django.core.cache import caches

    from compliance.web import once

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    client.force_login(staff)
    form_token = token()
    key = f"clearance:form-once:{staff.pk}:{form_token}"
    cache = caches["default"]
    assert cache.add(key, once.PENDING)  # the first send is running
    landing = reverse("web:requests") + "?reference=W-1"
    threading.Timer(
        0.3, lambda: cache.set(key, {"url": landing, "message": "Request recorded."})
    ).start()
    before = db_state()
    data = {"agency": "DOC", "reference": "W-1", "kind": "vet_users", "lab_position": "agree"}
    resp = client.post(reverse("web:request_new"), {**data, "form_token": form_token})
    assert (resp.status_code, resp["Location"]) == (302, landing)
    assert db_state() == before
    assert page_messages(client.get(landing)) == ["Request recorded."]


def test_new_pages_answer_each_role(client, agencies, staff, auditor, admin_user):
    release = make_release(staff, agencies=agencies)
    req = services.record_request(
        actor=staff, agency=agencies[0], reference="R-9", kind="vet_users"
    )
    writer_pages = [
        reverse("web:release_new"),
        reverse("web:release_edit", args=[release.slug]),
        reverse("web:request_edit", args=[req.pk]),
    ]
    admin_pages = [
        reverse("web:agencies"),
        reverse("web:agency", args=["DOC"]),
        reverse("web:partners"),
        reverse("web:users"),
        reverse("web:user", args=[staff.username]),
    ]
    expected = {
        auditor: (403, 403),
        staff: (200, 403),
        admin_user: (200, 200),
    }
    for user, (writer, admin) in expected.items():
        client.force_login(user)
        assert client.get(reverse("web:profile")).status_code == 200
        for urls, status in ((writer_pages, writer), (admin_pages, admin)):
            for url in [reverse("web:profile"), *urls]:
                resp = client.get(url)
                if url != reverse("web:profile"):
                    assert resp.status_code == status, (user.username, url)
                ids = re.findall(r'\sid="([^"]+)"', resp.content.decode())
                assert len(ids) == len(set(ids)), (url, ids)
    client.logout()
    assert client.get(reverse("web:profile")).status_code == 302  # to the login page


def test_admin_deactivates_and_reactivates_a_gateway(client, admin_user, auditor):
    from compliance.models import Gateway

    gateway, _token = services.create_gateway(actor=admin_user, name="gw-east")
    url = reverse("web:gateway_active", args=["gw-east"])
    client.force_login(auditor)
    assert 'action="' + url not in client.get(reverse("web:gateways")).content.decode()
    assert client.post(url, {"active": "0"}).status_code == 403
    client.force_login(admin_user)
    assert 'action="' + url in client.get(reverse("web:gateways")).content.decode()
    first, second = post_twice(client, url, {"active": "0", "reason": "decommissioned"})
    assert first["Location"] == second["Location"] == reverse("web:gateways")
    gateway = Gateway.objects.get(pk=gateway.pk)
    assert not gateway.active
    rows = list(gateway.history.order_by("history_id"))
    assert [r.active for r in rows] == [True, False]
    assert rows[-1].history_change_reason == "decommissioned"
    assert page_messages(client.get(reverse("web:gateways"))) == ["Gateway gw-east deactivated."]
    client.post(url, {"active": "1", "form_token": token()})
    assert Gateway.objects.get(pk=gateway.pk).active


POST_FORM = re.compile(r"<form\b([^>]*)>(.*?)</form>", re.S)
TOKEN_INPUT = re.compile(r'<input type="hidden" name="form_token" value="([A-Za-z0-9_-]+)">')


def _served_token(client, url: str) -> str:
    """The one-time token the server rendered into the form that posts to ``url``, on the
    page the form sits on (an action URL opened with GET redirects there): no script runs."""
    resp = client.get(url)
    page = resp["Location"] if resp.status_code == 302 else url
    if resp.status_code == 302:
        resp = client.get(page)
    assert resp.status_code == 200, (url, resp.status_code)
    found = []
    for attrs, body in POST_FORM.findall(resp.content.decode()):
        if 'method="post"' not in attrs:
            continue
        action = re.search(r'action="([^"]*)"', attrs)
        if (action.group(1) if action else page).split("?")[0] == url.split("?")[0]:
            found.append(TOKEN_INPUT.findall(body))
    assert found, f"no form posts to {url} on {page}"
    assert all(len(tokens) == 1 for tokens in found), (url, found)
    return found[0][0]


@pytest.mark.parametrize("case", CASES, ids=[c.__name__[6:] for c in CASES])
def test_every_form_carries_its_token_without_javascript(
    client, settings, agencies, staff, admin_user, admin2, case
):
    """The token is in the served HTML (not only added by the script), so sending the form
    twice from a browser without JavaScript changes things once."""
    w = {
        "agencies": agencies,
        "staff": staff,
        "admin": admin_user,
        "admin2": admin2,
        "settings": settings,
    }
    actor, url, data = case(w)
    client.force_login(actor)
    served = _served_token(client, url)
    before = db_state()
    first = client.post(url, {**data, "form_token": served})
    after_first = db_state()
    second = client.post(url, {**data, "form_token": served})
    assert first.status_code == 302 and after_first != before
    assert db_state() == after_first
    assert second.status_code == 302 and second["Location"] == first["Location"]


def test_every_post_form_of_the_templates_renders_a_token():
    """A static guard for forms no case above opens: each POST form in templates/ renders
    ``{% form_token %}`` (itself or through _form_fields.html). Sign-in and sign-out write
    nothing a second send could repeat."""
    from pathlib import Path

    exempt = {"registration/login.html", "base.html"}
    root = Path(__file__).resolve().parent.parent / "templates"
    missing = []
    for path in sorted(root.rglob("*.html")):
        name = str(path.relative_to(root))
        if name in exempt:
            continue
        for attrs, body in POST_FORM.findall(path.read_text()):
            if 'method="post"' in attrs and "{% form_token %}" not in body:
                if '"compliance/_form_fields.html"' not in body:
                    missing.append(f"{name}: <form{attrs[:60]}>")
    assert missing == []


def test_partners_sort_and_search_through_the_partner_filter(client, admin_user):
    for name, country, email in [
        ("Alpha Labs", "GB", "a@alpha.example"),
        ("Beta Systems", "US", "ops@beta.example"),
        ("Gamma Bio", "DE", "c@gamma.example"),
    ]:
        services.create_partner(actor=admin_user, name=name, country=country, contact_email=email)
    client.force_login(admin_user)

    def names(query: str) -> list[str]:
        resp = client.get(reverse("web:partners") + query)
        assert resp.status_code == 200, (query, resp.status_code)
        return [p.name for p in resp.context["partners"]]

    assert names("") == ["Alpha Labs", "Beta Systems", "Gamma Bio"]
    assert names("?o=-name") == ["Gamma Bio", "Beta Systems", "Alpha Labs"]
    assert names("?o=country") == ["Gamma Bio", "Alpha Labs", "Beta Systems"]
    assert names("?o=-email") == ["Beta Systems", "Gamma Bio", "Alpha Labs"]
    assert names("?q=BIO") == ["Gamma Bio"]
    assert names("?q=beta.example&o=name") == ["Beta Systems"]
    assert names("?country=us") == ["Beta Systems"]

    html = client.get(reverse("web:partners") + "?q=a&o=country").content.decode()
    # The headers sort (keeping the search); the sorted one says so to screen readers.
    assert (
        '<th scope="col" aria-sort="ascending"><a class="sort" href="?q=a&amp;o=-country">' in html
    )
    assert 'href="?q=a&amp;o=name">Name' in html
    assert 'id="id_filter_q"' in html and 'id="id_name"' in html  # two forms, unique ids

    bad = client.get(reverse("web:partners") + "?o=secret_column")
    assert bad.status_code == 400
    assert list(bad.context["partners"]) == []

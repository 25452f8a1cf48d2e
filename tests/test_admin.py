"""The Django admin: every model has its pages, and none of them gets around the rules."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages
from django.urls import reverse

from compliance import services
from compliance.models import (
    Agency,
    AllowlistEntry,
    GovernmentRequest,
    Partner,
    Release,
    SignOff,
)
from tests import factories
from tests.audit_helpers import entries_since, head
from tests.factories import make_release

User = get_user_model()

pytestmark = pytest.mark.django_db


@pytest.fixture
def site_admin(admin_user):
    admin_user.is_staff = True
    admin_user.save()
    return admin_user


@pytest.fixture
def world(agencies, staff, site_admin, admin2):
    """One row of every model, made through the services."""
    partner = services.create_partner(actor=site_admin, name="Allegheny Labs", country="US")
    release = services.submit_release(make_release(staff, agencies=agencies), actor=staff)
    entry = services.propose_allowlist_entry(release, actor=staff, partner=partner)
    services.decide_allowlist_entry(entry, actor=admin2, decision="approved")
    request = services.record_request(
        actor=staff,
        agency=agencies[1],
        reference="BIS-1",
        kind="postpone_release",
        binding=True,
        releases=[release],
    )
    return {
        Agency: agencies[0],
        Partner: partner,
        Release: release,
        SignOff: SignOff.objects.filter(release=release).first(),
        GovernmentRequest: request,
        AllowlistEntry: entry,
    }


def url(model, view, *args):
    return reverse(f"admin:compliance_{model._meta.model_name}_{view}", args=args)


def history_count(obj) -> int:
    return type(obj).history.filter(id=obj.pk).count()


def error_messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request) if m.level_tag == "error"]


MODELS = [Agency, Partner, Release, SignOff, GovernmentRequest, AllowlistEntry]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_admin_pages_load_for_every_model(client, world, site_admin, model):
    client.force_login(site_admin)
    obj = world[model]
    history_id = type(obj).history.filter(id=obj.pk).latest().history_id
    for page in (
        url(model, "changelist"),
        url(model, "change", obj.pk),
        url(model, "history", obj.pk),
        url(model, "simple_history", obj.pk, history_id),
    ):
        assert client.get(page).status_code == 200, page


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_admin_cannot_delete_or_revert(client, world, site_admin, model):
    client.force_login(site_admin)
    obj = world[model]
    before = history_count(obj)
    assert client.post(url(model, "delete", obj.pk), {"post": "yes"}).status_code == 403
    oldest = type(obj).history.filter(id=obj.pk).earliest().history_id
    response = client.post(url(model, "simple_history", obj.pk, oldest), {})
    assert response.status_code == 403
    assert type(obj).objects.filter(pk=obj.pk).exists()
    assert history_count(obj) == before


def test_admin_needs_is_staff(client, world, staff):
    client.force_login(staff)
    response = client.get(url(Release, "changelist"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def release_form(release, **overrides):
    data = {
        "name": release.name,
        "description": release.description,
        "owner": release.owner_id,
        "target_date": "",
        "artifact_digest": release.artifact_digest,
        "required_agencies": [a.pk for a in release.required_agencies.all()],
        "partner_cap": release.partner_cap,
        "review_days": release.review_days,
        "change_reason": "",
    }
    data.update(overrides)
    return data


def test_release_edit_goes_through_the_service_and_state_fields_do_not_change(
    client, world, site_admin
):
    client.force_login(site_admin)
    release = world[Release]
    before = history_count(release)
    response = client.post(
        url(Release, "change", release.pk),
        release_form(
            release,
            name="Frontier One",
            change_reason="marketing name",
            # State fields smuggled into the form: ignored (read-only).
            status="general",
            review_round=7,
            foreign_access_restricted="on",
        ),
    )
    assert response.status_code == 302, response.content[:2000]
    release.refresh_from_db()
    assert (release.name, release.status, release.review_round) == (
        "Frontier One",
        "in_review",
        1,
    )
    assert release.foreign_access_restricted is False
    rows = list(release.history.order_by("history_id")[before:])
    assert [(r.history_actor, r.history_change_reason, r.name, r.status) for r in rows] == [
        ("ada", "marketing name", "Frontier One", "in_review")
    ]


def test_refused_release_edit_shows_a_message_and_changes_nothing(client, world, site_admin):
    client.force_login(site_admin)
    release = world[Release]
    before = history_count(release)
    response = client.post(
        url(Release, "change", release.pk),
        release_form(release, partner_cap=0, name="Renamed"),
    )
    assert response.status_code == 302
    assert response["Location"] == url(Release, "change", release.pk)
    assert error_messages(response) == [
        "Refused: The cap 0 is below the 1 partners already approved."
    ]
    release.refresh_from_db()
    assert (release.partner_cap, release.name) == (20, "Frontier 1")
    assert history_count(release) == before
    page = client.get(response["Location"])
    assert page.status_code == 200


def test_request_status_cannot_be_set_in_the_admin(client, world, site_admin):
    client.force_login(site_admin)
    request = world[GovernmentRequest]
    before = history_count(request)
    data = {
        "reference": request.reference,
        "kind": request.kind,
        "binding": "on",
        "received_at_0": request.received_at.strftime("%Y-%m-%d"),
        "received_at_1": request.received_at.strftime("%H:%M:%S"),
        "due_at_0": "",
        "due_at_1": "",
        "releases": [world[Release].pk],
        "summary": "Postpone until further notice",
        "assignee": "",
        "lab_position": "agree",
        "response": "",
        "change_reason": "summary from the letter",
        "status": "closed",
        "closed_at_0": "2026-01-01",
        "closed_at_1": "10:00:00",
    }
    response = client.post(url(GovernmentRequest, "change", request.pk), data)
    assert response.status_code == 302, response.content[:2000]
    request.refresh_from_db()
    assert (request.summary, request.lab_position) == ("Postpone until further notice", "agree")
    assert (request.status, request.closed_at, request.in_force) == ("open", None, True)
    rows = list(request.history.order_by("history_id")[before:])
    assert [(r.history_actor, r.history_change_reason, r.status) for r in rows] == [
        ("ada", "summary from the letter", "open")
    ]


def test_signoff_and_allowlist_decisions_cannot_be_edited_in_the_admin(client, world, site_admin):
    client.force_login(site_admin)
    signoff, entry = world[SignOff], world[AllowlistEntry]
    before = (history_count(signoff), history_count(entry))
    response = client.post(
        url(SignOff, "change", signoff.pk), {"status": "approved", "evidence": "forged"}
    )
    assert response.status_code == 403
    response = client.post(url(AllowlistEntry, "change", entry.pk), {"status": "revoked"})
    assert response.status_code == 403
    signoff.refresh_from_db()
    entry.refresh_from_db()
    assert (signoff.status, signoff.evidence, entry.status) == ("pending", "", "approved")
    assert (history_count(signoff), history_count(entry)) == before
    assert client.get(url(SignOff, "add")).status_code == 403


def test_admin_add_creates_through_the_service_with_actor_and_reason(client, world, site_admin):
    client.force_login(site_admin)
    response = client.post(
        url(Agency, "add"),
        {
            "code": "NSA",
            "name": "National Security Agency",
            "contact_email": "",
            "active": "on",
            "change_reason": "new reviewer",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    agency = Agency.objects.get(code="NSA")
    assert [
        (r.history_type, r.history_actor, r.history_change_reason) for r in agency.history.all()
    ] == [("+", "ada", "new reviewer")]
    # Allowlist proposals go through propose_allowlist_entry (proposed_by = the admin).
    partner = factories.PartnerFactory(name="Bayfront")
    response = client.post(
        url(AllowlistEntry, "add"),
        {"release": world[Release].pk, "partner": partner.pk, "note": "asked for access"},
    )
    assert response.status_code == 302, response.content[:2000]
    entry = AllowlistEntry.objects.get(partner=partner)
    assert (entry.status, entry.proposed_by, entry.note) == (
        "proposed",
        site_admin,
        "asked for access",
    )


def test_admin_add_of_a_duplicate_is_a_form_error_not_a_500(client, world, site_admin):
    client.force_login(site_admin)
    partner = world[Partner]  # already approved on the release
    count = AllowlistEntry.history.count()
    response = client.post(
        url(AllowlistEntry, "add"),
        {"release": world[Release].pk, "partner": partner.pk, "note": "again"},
    )
    assert response.status_code == 200
    assert "This partner is already on the release&#x27;s allowlist." in response.content.decode()
    assert AllowlistEntry.history.count() == count


def test_role_refusal_from_a_service_is_a_message(client, world, staff):
    # A staff member who somehow has Django-admin access still cannot set caps (admins only).
    staff.is_staff = True
    staff.save()
    client.force_login(staff)
    release = world[Release]
    before = history_count(release)
    response = client.post(
        url(Release, "change", release.pk), release_form(release, partner_cap=10)
    )
    assert response.status_code == 302
    assert error_messages(response) == ["Refused: Only admins may do this."]
    release.refresh_from_db()
    assert release.partner_cap == 20
    assert history_count(release) == before


def test_changing_required_agencies_in_the_admin_restarts_review(client, world, site_admin):
    # Saved by update_release (R11 opens round 2), not by the form's save_m2m.
    client.force_login(site_admin)
    release = world[Release]
    keep = list(release.required_agencies.order_by("code")[:2])
    response = client.post(
        url(Release, "change", release.pk),
        release_form(
            release, required_agencies=[a.pk for a in keep], change_reason="smaller panel"
        ),
    )
    assert response.status_code == 302
    release.refresh_from_db()
    assert release.review_round == 2
    assert sorted(
        SignOff.objects.filter(release=release, round=2).values_list("agency__code", flat=True)
    ) == sorted([a.code for a in keep] * 2)
    m2m_row = release.history.filter(history_change_reason="smaller panel").latest()
    assert sorted(a.agency.code for a in m2m_row.required_agencies.all()) == sorted(
        a.code for a in keep
    )


def test_changelist_query_count_does_not_grow_with_rows(
    client, site_admin, django_assert_max_num_queries
):
    from django.core.management import call_command

    call_command("seed_demo", verbosity=0)
    client.force_login(site_admin)
    for model in MODELS:
        assert model.objects.count() >= 3
        with django_assert_max_num_queries(12):
            assert client.get(url(model, "changelist")).status_code == 200


def test_release_added_in_the_admin_is_created_by_the_service(client, world, site_admin):
    client.force_login(site_admin)
    agencies = list(Agency.objects.filter(code__in=["DOC", "ONCD"]))
    response = client.post(
        url(Release, "add"),
        {
            "slug": "atlas-2",
            "name": "Atlas 2",
            "description": "",
            "owner": "",
            "target_date": "",
            "artifact_digest": "sha256:abc",
            "required_agencies": [a.pk for a in agencies],
            "partner_cap": 20,
            "review_days": 10,
            "change_reason": "planned for Q1",
            "status": "general",  # read-only: ignored
        },
    )
    assert response.status_code == 302, response.content[:2000]
    release = Release.objects.get(slug="atlas-2")
    assert (release.status, release.review_round, release.owner) == ("draft", 0, site_admin)
    assert sorted(release.required_agencies.values_list("code", flat=True)) == ["DOC", "ONCD"]
    assert [
        (r.history_type, r.history_actor, r.history_change_reason)
        for r in release.history.order_by("history_id")
    ] == [
        ("+", "ada", "planned for Q1"),
        ("~", "ada", "planned for Q1"),  # required agencies (m2m)
    ]


# --- users and roles: through services.users like add_user ---------------------------------


@pytest.fixture
def superuser(db):
    """The Django admin's user pages are for superusers (the admin role has no auth perms)."""
    return factories.UserFactory(username="root", role="admin", is_staff=True, is_superuser=True)


def user_form(user, **overrides):
    data = {"email": user.email, "role": "", "new_password": "", "change_reason": ""}
    data.update(overrides)
    return data


def test_role_change_in_the_admin_is_one_history_row_through_the_service(client, superuser, staff):
    client.force_login(superuser)
    start = head()
    response = client.post(
        reverse("admin:auth_user_change", args=[staff.pk]),
        user_form(staff, role="auditor", change_reason="moved to audit"),
    )
    assert response.status_code == 302, response.content[:2000]
    staff.refresh_from_db()
    assert sorted(staff.groups.values_list("name", flat=True)) == ["auditor"]
    change = {"field": "groups", "old": ["staff"], "new": ["auditor"]}
    assert entries_since(start) == [("user", "sam", "changed", "root", "moved to audit", [change])]


def test_user_added_in_the_admin_gets_exactly_its_role_and_a_validated_password(client, superuser):
    client.force_login(superuser)
    add = reverse("admin:auth_user_add")
    form = {"username": "zoe", "email": "zoe@lab.example", "role": "staff"}
    response = client.post(add, {**form, "new_password": "short", "change_reason": "hired"})
    assert response.status_code == 302
    assert error_messages(response) == [
        "Refused: This password is too short. It must contain at least 8 characters."
    ]
    assert not User.objects.filter(username="zoe").exists()

    start = head()
    response = client.post(
        add, {**form, "new_password": "long-enough-pw", "change_reason": "hired"}
    )
    assert response.status_code == 302, response.content[:2000]
    zoe = User.objects.get(username="zoe")
    assert sorted(zoe.groups.values_list("name", flat=True)) == ["staff"]
    assert zoe.check_password("long-enough-pw") and not zoe.is_staff
    assert [(e[0], e[1], e[2], e[3], e[4]) for e in entries_since(start)] == [
        ("user", "zoe", "created", "root", "hired"),
        ("user", "zoe", "changed", "root", "hired"),  # its role: groups [] -> [staff]
    ]
    assert entries_since(start)[1][5] == [{"field": "groups", "old": [], "new": ["staff"]}]
    assert client.get(reverse("admin:auth_user_change", args=[zoe.pk])).status_code == 200

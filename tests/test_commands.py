"""The management commands: add_user (roles, API token, history actor) and seed_demo
(idempotent replay of the SPEC's demo scenario through the services)."""

from __future__ import annotations

from datetime import datetime, timedelta
from io import StringIO

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.utils import timezone
from knox.auth import TokenAuthentication

from compliance import demo
from compliance.models import (
    AllowlistEntry,
    GovernmentRequest,
    Release,
    RequestKind,
    SignOff,
)
from compliance.selectors import release_gate
from tests.audit_helpers import entries_since, head

User = get_user_model()
pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def role_names(user) -> list[str]:
    return sorted(user.groups.values_list("name", flat=True))


def all_counts() -> dict[str, int]:
    """Rows in every table, history and many-to-many tables included."""
    return {
        m._meta.label: m._base_manager.count() for m in apps.get_models(include_auto_created=True)
    }


# --- add_user ------------------------------------------------------------------------------


def test_add_user_creates_user_with_exactly_that_role_and_system_actor_history():
    out = run("add_user", "zoe", "--role", "staff", "--email", "zoe@lab.example")
    user = User.objects.get(username="zoe")
    assert out.strip() == "zoe: created (role staff)"
    assert role_names(user) == ["staff"]
    assert user.email == "zoe@lab.example"
    assert not user.is_staff
    assert not user.has_usable_password()
    rows = list(User.history.filter(username="zoe").order_by("history_id"))
    assert [(r.history_type, r.history_actor) for r in rows] == [
        ("+", "system:add_user"),
        ("~", "system:add_user"),  # the group membership (m2m history)
    ]
    assert rows[-1].history_change_reason == "add_user --role staff"


def test_add_user_admin_gets_django_admin_access_and_role_change_replaces_group():
    run("add_user", "ada", "--role", "admin", "--password", "long-enough-pw")
    user = User.objects.get(username="ada")
    assert role_names(user) == ["admin"]
    assert user.is_staff and user.check_password("long-enough-pw")

    out = run("add_user", "ada", "--role", "auditor")
    user.refresh_from_db()
    assert out.strip() == "ada: updated (role auditor)"
    assert role_names(user) == ["auditor"]
    assert not user.is_staff
    assert user.check_password("long-enough-pw")  # no --password: kept


def test_add_user_role_change_is_one_history_row_from_the_old_role_to_the_new():
    run("add_user", "ada", "--role", "admin")
    start = head()
    run("add_user", "ada", "--role", "auditor")
    why = ("user", "ada", "changed", "system:add_user", "add_user --role auditor")
    # The Django admin flag goes with the admin role; then the role in one row (no role-less
    # state between a removal and an addition).
    assert entries_since(start) == [
        (*why, [{"field": "is_staff", "old": True, "new": False}]),
        (*why, [{"field": "groups", "old": ["admin"], "new": ["auditor"]}]),
    ]


def test_add_user_twice_with_same_arguments_changes_nothing():
    run("add_user", "zoe", "--role", "staff", "--password", "long-enough-pw")
    before = all_counts()
    out = run("add_user", "zoe", "--role", "staff", "--password", "long-enough-pw")
    assert out.strip() == "zoe: unchanged (role staff)"
    assert all_counts() == before


def test_add_user_token_prints_only_a_valid_knox_token():
    out = run("add_user", "bot", "--role", "auditor", "--token")
    lines = out.splitlines()
    assert len(lines) == 1
    token = lines[0]
    user, auth_token = TokenAuthentication().authenticate_credentials(token.encode())
    assert user.username == "bot"
    # Stored hashed: the printed key itself is nowhere in the table.
    assert (
        token not in auth_token.digest
        and auth_token.token_key == token[: len(auth_token.token_key)]
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (["--role", "superuser"], "Unknown role 'superuser'"),
        (["--role", "staff", "--password", "short"], "too short"),
        (["--role", "staff", "--email", "not-an-email"], "valid email"),
    ],
)
def test_add_user_refuses_bad_input_with_a_clear_error(args, message):
    with pytest.raises(CommandError, match=message):
        run("add_user", "zoe", *args)
    assert not User.objects.filter(username="zoe").exists()


# --- seed_demo -----------------------------------------------------------------------------


@pytest.fixture
def seeded():
    out = run("seed_demo")
    return out


def test_seed_demo_twice_gives_the_same_data(seeded):
    assert "Demo scenario loaded." in seeded
    first = all_counts()
    assert first["compliance.HistoricalRelease"] > 0
    out = run("seed_demo")
    assert "already present" in out
    assert all_counts() == first


def test_seed_demo_files_sample_letters_beside_their_decisions(seeded):
    from compliance.audit.verify import verify_chain
    from compliance.models import EvidenceDocument

    docs = {d.kind: d for d in EvidenceDocument.objects.all()}
    assert set(docs) == {"directive", "agency_letter", "approval"}
    assert docs["directive"].requests.get().kind == "restrict_foreign_access"
    assert docs["agency_letter"].requests.get().kind == "limit_release"
    oncd = docs["approval"].signoffs.get()
    assert (oncd.agency.code, oncd.stage) == ("ONCD", "limited")
    assert all(d.content_type == "application/pdf" for d in docs.values())
    assert verify_chain()["ok"] is True  # the stored bytes hash as chained


def test_seed_demo_with_demo_users_sets_passwords_once_and_prints_logins(seeded):
    for u in demo.DEMO_USERS:
        assert not User.objects.get(username=u.username).has_usable_password()
    out = run("seed_demo", "--with-demo-users")
    for u in demo.DEMO_USERS:
        user = User.objects.get(username=u.username)
        assert user.check_password(u.password)
        assert role_names(user) == [u.role]
        assert f"  {u.username} / {u.password} / {u.role}" in out.splitlines()
    assert User.objects.get(username="admin").is_staff
    assert not User.objects.get(username="staff").is_staff
    after = all_counts()
    run("seed_demo", "--with-demo-users")
    assert all_counts() == after


def test_frontier_general_is_blocked_by_exactly_oncd(seeded):
    frontier = Release.objects.get(slug=demo.FRONTIER)
    gate = release_gate(frontier)
    assert frontier.status == "limited"
    assert gate["stages"]["general"]["blockers"] == [
        {"kind": "signoff_missing", "agency": "ONCD", "stage": "general"}
    ]
    assert gate["stages"]["limited"]["cleared"] is True
    assert gate["alerts"] == []
    entries = AllowlistEntry.objects.filter(release=frontier, status="approved")
    assert entries.count() == 20 == frontier.partner_cap
    assert {(e.proposed_by.username, e.decided_by.username, e.vetted_by.code) for e in entries} == {
        ("staff", "admin2", "CAISI")
    }
    # ONCD's pending general sign-off is overdue, so the reminder sweep has something.
    oncd = SignOff.objects.get(
        release=frontier, round=1, agency__code="ONCD", stage="general", status="pending"
    )
    assert oncd.due_at < timezone.now()


def test_friday_directive_pulled_complied_and_contested_the_same_evening(seeded):
    directive = GovernmentRequest.objects.get(kind=RequestKind.RESTRICT_FOREIGN_ACCESS)
    received = directive.received_at.astimezone(demo.EASTERN)
    assert (received.strftime("%A"), received.hour, received.minute) == ("Friday", 17, 21)
    assert directive.binding and directive.agency.code == "DOC"
    complied = directive.complied_at.astimezone(demo.EASTERN)
    assert complied.date() == received.date() and complied > received
    assert directive.status == "complied" and directive.lab_position == "disagree"
    rows = [
        (
            r.history_type,
            r.status,
            r.history_actor,
            r.history_change_reason,
            r.history_date.astimezone(demo.EASTERN).strftime("%a %H:%M"),
        )
        for r in directive.history.order_by("history_id")
    ]
    # R12 allows contested → complied (not complied → contested): contested first.
    assert rows == [
        ("+", "open", "staff", "Directive received by e-mail at 17:21 ET", "Fri 17:34"),
        ("~", "open", "staff", "Directive received by e-mail at 17:21 ET", "Fri 17:34"),
        (
            "~",
            "acknowledged",
            "staff",
            "Acknowledged to DOC; counsel and on-call paged",
            "Fri 17:52",
        ),
        ("~", "acknowledged", "staff", "Counsel's position recorded", "Fri 20:35"),
        (
            "~",
            "contested",
            "staff",
            "Formally contested by counsel; compliance continues under protest",
            "Fri 20:35",
        ),
        (
            "~",
            "complied",
            "staff",
            "Complied: both models pulled, foreign partners revoked, confirmation sent to DOC",
            "Fri 21:45",
        ),
    ]

    atlas = Release.objects.get(slug=demo.ATLAS)
    mini = Release.objects.get(slug=demo.ATLAS_MINI)
    assert (atlas.status, atlas.foreign_access_restricted, atlas.review_round) == (
        "suspended",
        True,
        1,
    )
    # Pulled that evening, with the reason, by staff.
    pulled = atlas.history.filter(status="suspended").order_by("history_id").first()
    pulled_at = pulled.history_date.astimezone(demo.EASTERN)
    assert pulled_at.date() == received.date() and pulled_at > received
    assert pulled.history_actor == "staff" and "directive" in pulled.history_change_reason

    # The later letter allowed a limited release of the mini model, to US partners only.
    letter = GovernmentRequest.objects.get(kind=RequestKind.LIMIT_RELEASE)
    assert letter.received_at > directive.received_at
    assert list(letter.releases.all()) == [mini]
    assert (mini.status, mini.foreign_access_restricted, mini.review_round) == ("limited", True, 2)
    approved = AllowlistEntry.objects.filter(release=mini, status="approved")
    assert approved.count() == 6
    assert {str(e.partner.country) for e in approved} == {"US"}
    assert {
        str(e.partner.country)
        for e in AllowlistEntry.objects.filter(release=mini, status="revoked")
    } == {"GB", "CA"}
    gate = release_gate(mini)
    assert gate["stages"]["general"]["blockers"] == [
        {"kind": "request_in_force", "request": letter.pk}
    ]
    assert gate["alerts"] == []


def test_open_information_request_due_in_two_days(seeded):
    info = GovernmentRequest.objects.get(kind=RequestKind.INFORMATION_REQUEST)
    assert (info.agency.code, info.status, info.assignee.username) == ("OSTP", "open", "staff")
    assert timedelta(days=1) < info.due_at - timezone.now() < timedelta(days=3)


def test_seed_history_carries_actors_and_replayed_times(seeded):
    # Users: created by the command itself; the demo gateways, registered by the demo admin.
    assert set(
        User.history.exclude(username__in=demo.DEMO_GATEWAYS).values_list(
            "history_actor", flat=True
        )
    ) == {"system:seed_demo"}
    assert set(
        User.history.filter(username__in=demo.DEMO_GATEWAYS).values_list("history_actor", flat=True)
    ) == {"admin"}
    # Reference data: by the demo admin.
    from compliance.models import Agency, Partner

    assert set(Agency.history.values_list("history_actor", flat=True)) == {"admin"}
    assert Partner.history.count() == 25
    # Allowlist decisions: the approver is never the proposer (four eyes).
    for row in AllowlistEntry.history.filter(status="approved", history_type="~"):
        assert row.history_actor in ("admin", "admin2")
        assert row.history_actor != row.proposed_by.username
    # Replayed times: every history row is in the past, none at the moment of seeding.
    now = timezone.now()
    for model in (Release, SignOff, GovernmentRequest, AllowlistEntry):
        dates = list(model.history.values_list("history_date", flat=True))
        assert dates and max(dates) < now - timedelta(days=3)
    # History ids follow history dates (steps run in time order).
    rows = list(Release.history.order_by("history_id").values_list("history_date", flat=True))
    assert rows == sorted(rows)
    restricted = (
        Release.history.filter(slug=demo.ATLAS, foreign_access_restricted=True)
        .order_by("history_id")
        .first()
    )
    assert restricted.history_actor == "staff"
    assert restricted.history_date.astimezone(demo.EASTERN).strftime("%a %H:%M") == "Fri 17:34"


def test_directive_friday_is_the_latest_friday_two_weeks_back():
    wednesday = datetime(2026, 11, 25).date()
    assert demo.directive_friday(wednesday) == datetime(2026, 11, 6).date()
    friday = datetime(2026, 11, 20).date()
    assert demo.directive_friday(friday) == datetime(2026, 11, 6).date()


def test_seed_demo_keeps_agencies_that_already_exist(agencies):
    # The conftest agencies (same codes) exist before the demo: no duplicate, no failure.
    before = {a.code: a.history.count() for a in agencies}
    run("seed_demo")
    from compliance.models import Agency

    assert sorted(Agency.objects.values_list("code", flat=True)) == ["CAISI", "DOC", "ONCD", "OSTP"]
    assert {a.code: a.history.count() for a in Agency.objects.all()} == before
    frontier = Release.objects.get(slug=demo.FRONTIER)
    assert release_gate(frontier)["stages"]["general"]["blockers"] == [
        {"kind": "signoff_missing", "agency": "ONCD", "stage": "general"}
    ]

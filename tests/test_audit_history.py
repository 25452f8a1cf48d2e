"""R21: every service action leaves exactly the expected history rows and ledger entries:
who, when, why, and the field-by-field changes (m2m included)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from compliance import services
from compliance.audit.context import system_actor
from compliance.audit.registry import tracked_models
from compliance.models import Agency, AuditRecord, Release, SignOff
from compliance.models.base import TrackedQuerySet, UntrackedWriteError, writes_without_history
from tests import factories
from tests.audit_helpers import entries_since, head, iso

pytestmark = pytest.mark.postgres


def test_create_and_submit_release_history(agencies, staff):
    start = head()
    release = factories.make_release(staff, slug="frontier-1", agencies=agencies[:2])
    created = entries_since(start)
    assert created == [
        (
            "release",
            "frontier-1",
            "created",
            "sam",
            "release created",
            [
                {"field": "foreign_access_restricted", "old": None, "new": False},
                {"field": "name", "old": None, "new": "Frontier 1"},
                {"field": "owner", "old": None, "new": "sam"},
                {"field": "partner_cap", "old": None, "new": 20},
                {"field": "review_days", "old": None, "new": 14},
                {"field": "review_round", "old": None, "new": 0},
                {"field": "slug", "old": None, "new": "frontier-1"},
                {"field": "status", "old": None, "new": "draft"},
            ],
        ),
        (
            "release",
            "frontier-1",
            "changed",
            "sam",
            "release created",
            [{"field": "required_agencies", "old": [], "new": ["CAISI", "DOC"]}],
        ),
    ]
    # The history row itself carries the same actor and reason.
    first = release.history.order_by("history_id").first()
    assert (first.history_user, first.history_actor, first.history_change_reason) == (
        staff,
        "sam",
        "release created",
    )

    mid = head()
    services.submit_release(release, actor=staff, reason="ready for review")
    rows = entries_since(mid)
    assert rows[0] == (
        "release",
        "frontier-1",
        "changed",
        "sam",
        "ready for review",
        [
            {"field": "review_round", "old": 0, "new": 1},
            {"field": "status", "old": "draft", "new": "in_review"},
        ],
    )
    due = SignOff.objects.filter(release=release).first().due_at
    signoffs = [(m, a, actor, reason, c) for m, _r, a, actor, reason, c in rows[1:]]
    assert signoffs == [
        (
            "signoff",
            "created",
            "sam",
            "review round 1 opened",
            [
                {"field": "agency", "old": None, "new": code},
                {"field": "due_at", "old": None, "new": iso(due)},
                {"field": "release", "old": None, "new": "frontier-1"},
                {"field": "round", "old": None, "new": 1},
                {"field": "stage", "old": None, "new": stage},
                {"field": "status", "old": None, "new": "pending"},
            ],
        )
        for code in ("CAISI", "DOC")
        for stage in ("limited", "general")
    ]


def test_decision_and_withdrawal_record_reason_and_changes(agencies, staff, staff2):
    release = services.submit_release(
        factories.make_release(staff, agencies=agencies[:1]), actor=staff
    )
    signoff = SignOff.objects.get(release=release, stage="limited")
    start = head()
    services.decide_signoff(signoff, actor=staff2, decision="approved", evidence="letter 12")
    signoff.refresh_from_db()
    services.withdraw_signoff(signoff, actor=staff, reason="agency took it back")
    signoff.refresh_from_db()
    rows = entries_since(start)
    assert [(m, a, actor, reason) for m, _r, a, actor, reason, _c in rows] == [
        ("signoff", "changed", "sasha", "CAISI approved"),
        ("signoff", "changed", "sam", "agency took it back"),
    ]
    approved_at = signoff.history.order_by("history_id")[1].decided_at
    assert rows[0][5] == [
        {"field": "decided_at", "old": None, "new": iso(approved_at)},
        {"field": "evidence", "old": "", "new": "letter 12"},
        {"field": "recorded_by", "old": None, "new": "sasha"},
        {"field": "status", "old": "pending", "new": "approved"},
    ]
    assert rows[1][5] == [
        {"field": "decided_at", "old": iso(approved_at), "new": iso(signoff.decided_at)},
        {"field": "reason", "old": "", "new": "agency took it back"},
        {"field": "recorded_by", "old": "sasha", "new": "sam"},
        {"field": "status", "old": "approved", "new": "withdrawn"},
    ]


def test_request_with_releases_m2m_and_status_change(agencies, staff):
    release = factories.make_release(staff, slug="r-1", agencies=agencies[:1])
    other = factories.make_release(staff, slug="r-2", agencies=agencies[:1])
    doc = Agency.objects.get(code="DOC")
    start = head()
    request = services.record_request(
        actor=staff,
        agency=doc,
        reference="DIR-7",
        kind="information_request",
        releases=[other, release],
        reason="letter received",
    )
    services.set_request_status(request, actor=staff, status="acknowledged", note="seen")
    rows = entries_since(start)
    label = str(request)  # the model's __str__ at the time of writing
    assert [(m, r, a, actor, reason) for m, r, a, actor, reason, _c in rows] == [
        ("governmentrequest", label, "created", "sam", "letter received"),
        ("governmentrequest", label, "changed", "sam", "letter received"),
        ("governmentrequest", label, "changed", "sam", "seen"),
    ]
    assert rows[1][5] == [{"field": "releases", "old": [], "new": ["r-1", "r-2"]}]
    assert rows[2][5] == [{"field": "status", "old": "open", "new": "acknowledged"}]
    # The m2m history rows are what the ledger saw.
    record = request.history.order_by("history_id")[1]
    assert sorted(record.releases.values_list("release_id", flat=True)) == sorted(
        [release.pk, other.pk]
    )


def test_allowlist_actions_history(agencies, staff, admin_user):
    release = factories.make_release(staff, agencies=agencies[:1])
    partner = factories.PartnerFactory(name="Acme", country="US")
    start = head()
    entry = services.propose_allowlist_entry(release, actor=staff, partner=partner, note="vetted")
    services.decide_allowlist_entry(entry, actor=admin_user, decision="approved")
    entry.refresh_from_db()
    services.revoke_allowlist_entry(entry, actor=admin_user, reason="contract ended")
    rows = entries_since(start)
    assert [(m, a, actor, reason) for m, _r, a, actor, reason, _c in rows] == [
        ("allowlistentry", "created", "sam", "vetted"),
        ("allowlistentry", "changed", "ada", "partner approved"),
        ("allowlistentry", "changed", "ada", "contract ended"),
    ]
    assert [c["field"] for c in rows[1][5]] == ["decided_at", "decided_by", "status"]
    assert rows[2][5][-1] == {"field": "status", "old": "approved", "new": "revoked"}


def test_role_change_of_a_user_is_recorded(staff, admin_user):
    start = head()
    auditor_group = Group.objects.get(name="auditor")
    staff._history_user = admin_user
    staff._change_reason = "joins the audit team"
    staff.groups.add(auditor_group)
    staff.groups.remove(Group.objects.get(name="staff"))
    rows = entries_since(start)
    assert rows == [
        (
            "user",
            "sam",
            "changed",
            "ada",
            "joins the audit team",
            [{"field": "groups", "old": ["staff"], "new": ["auditor", "staff"]}],
        ),
        (
            "user",
            "sam",
            "changed",
            "ada",
            "joins the audit team",
            [{"field": "groups", "old": ["auditor", "staff"], "new": ["auditor"]}],
        ),
    ]
    last = staff.history.order_by("-history_id").first()
    assert list(last.groups.values_list("group_id", flat=True)) == [auditor_group.pk]


def test_system_actor_labels_task_writes(db):
    start = head()
    with system_actor("send_reminders"):
        Agency.objects.create(code="NEW", name="New agency")
    record = AuditRecord.objects.get(seq=start + 1)
    assert (record.model, record.action, record.actor, record.user_id) == (
        "agency",
        "created",
        "system:send_reminders",
        None,
    )
    assert Agency.history.get().history_actor == "system:send_reminders"


def test_deletion_is_recorded_with_actor(agencies, staff):
    release = factories.make_release(staff, slug="gone", agencies=agencies[:1])
    start = head()
    release._history_user = staff
    release._change_reason = "created by mistake"
    release.delete()
    rows = entries_since(start)
    assert rows == [("release", "gone", "deleted", "sam", "created by mistake", [])]
    assert not Release.objects.filter(slug="gone").exists()


def test_username_survives_a_rename(agencies, staff):
    factories.make_release(staff, slug="kept", agencies=agencies[:1])
    staff.username = "samuel"
    staff.save()
    record = AuditRecord.objects.filter(model="release").order_by("seq").first()
    assert record.actor == "sam"


def test_queryset_writes_that_leave_no_history_are_refused(agencies, staff):
    """update()/bulk_create()/bulk_update() on a tracked model would change data without a
    history row (R21): refused wherever they are called from, related managers included."""
    release = factories.make_release(staff, agencies=agencies[:1])
    doc = Agency.objects.get(code="DOC")
    attempts = {
        "update": lambda: Agency.objects.filter(code="DOC").update(name="x"),
        "bulk_update": lambda: Agency.objects.bulk_update([doc], ["name"]),
        "bulk_create": lambda: Agency.objects.bulk_create([Agency(code="NEW", name="New")]),
    }
    for method, attempt in attempts.items():
        with pytest.raises(UntrackedWriteError, match=rf"QuerySet.{method}\(\) on Agency"):
            attempt()
    with pytest.raises(UntrackedWriteError, match="on SignOff leaves no history"):
        release.signoffs.update(status="approved")
    assert Agency.objects.get(code="DOC").name == "Department of Commerce"
    assert not Agency.objects.filter(code="NEW").exists()
    # A caller that writes the history itself (or a test arranging data) says so.
    with writes_without_history():
        assert Agency.objects.filter(code="DOC").update(name="Commerce") == 1
    with pytest.raises(UntrackedWriteError):
        Agency.objects.filter(code="DOC").update(name="x")  # only inside the block


def test_every_tracked_model_refuses_writes_without_history():
    """A tracked model added later without the guard fails here. (Django's own User keeps
    its UserManager: users are written by services/users.py only.)"""
    unguarded = [
        t.model.__name__
        for t in tracked_models().values()
        if not isinstance(t.model._default_manager.all(), TrackedQuerySet)
    ]
    assert unguarded == ["User"]


def test_role_change_from_the_group_side_is_recorded_too(staff, staff2, admin_user):
    start = head()
    admins = Group.objects.get(name="admin")
    admins._history_user = admin_user
    admins._change_reason = "promotion"
    admins.user_set.add(staff, staff2)
    admins.user_set.clear()
    rows = entries_since(start)
    promoted = [{"field": "groups", "old": ["staff"], "new": ["admin", "staff"]}]
    demoted = [{"field": "groups", "old": ["admin", "staff"], "new": ["staff"]}]
    assert rows == [
        ("user", "sam", "changed", "ada", "promotion", promoted),
        ("user", "sasha", "changed", "ada", "promotion", promoted),
        ("user", "sam", "changed", "ada", "promotion", demoted),
        ("user", "sasha", "changed", "ada", "promotion", demoted),
        # clear() empties the group: ada was in it too
        (
            "user",
            "ada",
            "changed",
            "ada",
            "promotion",
            [{"field": "groups", "old": ["admin"], "new": []}],
        ),
    ]


def test_update_request_history_and_restriction(agencies, staff):
    one = factories.make_release(staff, slug="one", agencies=agencies[:1])
    two = factories.make_release(staff, slug="two", agencies=agencies[:1])
    request = services.record_request(
        actor=staff, agency=agencies[1], reference="X-1", kind="restrict_foreign_access",
        binding=True, releases=[one],
    )  # fmt: skip
    start = head()
    services.update_request(request, actor=staff, releases=[one, two], reason="also two")
    rows = entries_since(start)
    # One edit, one history row: the m2m change travels with the save (services.set_many).
    assert [(m, r, a, actor, reason, c) for m, r, a, actor, reason, c in rows] == [
        (
            "governmentrequest",
            str(request),
            "changed",
            "sam",
            "also two",
            [{"field": "releases", "old": ["one"], "new": ["one", "two"]}],
        ),
        (
            "release",
            "two",
            "changed",
            "sam",
            f"foreign access restricted by DOC request #{request.pk} (X-1)",
            [{"field": "foreign_access_restricted", "old": False, "new": True}],
        ),
    ]

"""Release rules at the service layer: R1 submit, R2–R6 transitions, R11 stale approvals,
R13 lifting a restriction, R14 caps, roles, and the history each call leaves."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError

from compliance import services
from compliance.models import Release, SignOff, Stage
from tests import factories
from tests.factories import make_release
from tests.helpers import (
    approve,
    approved_entry,
    assert_row,
    at_status,
    changes,
    close,
    denied,
    directive,
    general,
    history_models,
    history_rows,
    invalid,
    last_history_id,
    limited,
    links,
    new_history,
    refused,
    signoff,
    submitted,
    unchanged_db,
)

NOW = datetime(2026, 3, 6, 22, 21, tzinfo=UTC)


def missing(code, stage):
    return {"kind": "signoff_missing", "agency": code, "stage": stage}


def bad_move(frm, to):
    return {"kind": "invalid_transition", "from": frm, "to": to}


# --- create / edit ------------------------------------------------------------------------


def test_create_defaults_to_every_active_agency_and_records_history(agencies, staff):
    factories.AgencyFactory(code="OLD", active=False)
    release = services.create_release(actor=staff, slug="frontier-1", name="Frontier 1")
    assert (release.owner, release.status, release.review_round, release.partner_cap) == (
        staff,
        "draft",
        0,
        20,
    )
    assert sorted(release.required_agencies.values_list("code", flat=True)) == [
        a.code for a in agencies
    ]
    created, linked = history_rows(release)
    assert_row(created, user=staff, reason="release created", kind="+")
    assert list(created.required_agencies.all()) == []
    assert_row(linked, user=staff, reason="release created")
    assert changes(linked) == {
        "required_agencies": ([], links("release", release.pk, "agency", [a.pk for a in agencies]))
    }


def test_create_needs_at_least_one_agency(agencies, staff):
    with invalid(ValidationError):
        services.create_release(actor=staff, slug="x", name="X", required_agencies=[])


def test_required_agencies_change_is_in_history(agencies, staff):
    release = make_release(staff, agencies=agencies[:2])
    since = last_history_id(Release)
    before = history_rows(release)[-1]
    services.update_release(
        release, actor=staff, reason="ONCD joins", required_agencies=agencies[1:3], name="F1"
    )
    # One edit, one history row: no intermediate row for a panel that never existed.
    [row] = new_history(release, since)
    assert_row(row, user=staff, reason="ONCD joins")
    assert changes(row, before) == {
        "name": ("Frontier 1", "F1"),
        "required_agencies": (
            links("release", release.pk, "agency", [agencies[0].pk, agencies[1].pk]),
            links("release", release.pk, "agency", [agencies[1].pk, agencies[2].pk]),
        ),
    }
    assert SignOff.objects.filter(release=release).count() == 0  # draft: no round started


def test_plain_edit_records_field_changes(agencies, staff):
    release = make_release(staff, agencies=agencies)
    release = services.update_release(
        release, actor=staff, reason="rename", name="Frontier One", review_days=7
    )
    row = history_rows(release)[-1]
    assert_row(row, user=staff, reason="rename")
    assert changes(row) == {"name": ("Frontier 1", "Frontier One"), "review_days": (14, 7)}


# --- R1 submit ------------------------------------------------------------------------------


def test_r1_submit_opens_round_one_with_pending_signoffs_due_in_review_days(agencies, staff):
    release = make_release(staff, agencies=agencies, review_days=10)
    since_release, since_signoff = last_history_id(Release), last_history_id(SignOff)
    with time_machine.travel(NOW, tick=False):
        release = services.submit_release(release, actor=staff, reason="ready")
    assert (release.status, release.review_round) == ("in_review", 1)
    rows = SignOff.objects.filter(release=release).order_by("agency__code", "stage")
    assert [(s.round, s.agency.code, s.stage, s.status, s.due_at) for s in rows] == [
        (1, a.code, st, "pending", NOW + timedelta(days=10))
        for a in agencies
        for st in ("general", "limited")
    ]
    [row] = new_history(release, since_release)
    assert_row(row, user=staff, reason="ready")
    assert row.history_date == NOW
    assert changes(row) == {"status": ("draft", "in_review"), "review_round": (0, 1)}
    signoff_rows = list(SignOff.history.filter(history_id__gt=since_signoff))
    assert len(signoff_rows) == 8
    for r in signoff_rows:
        assert_row(r, user=staff, reason="review round 1 opened", kind="+")


def test_r1_resubmit_after_suspension_opens_round_two_and_keeps_round_one(agencies, staff):
    release = submitted(staff, agencies)
    approve(release, staff)
    release = services.transition_release(release, to="suspended", actor=staff, reason="leak")
    round_one = list(SignOff.objects.filter(round=1).order_by("pk").values())
    release = services.submit_release(release, actor=staff)
    assert (release.status, release.review_round) == ("in_review", 2)
    assert list(SignOff.objects.filter(round=1).order_by("pk").values()) == round_one
    assert {s.status for s in SignOff.objects.filter(round=2)} == {"pending"}
    assert SignOff.objects.filter(round=2).count() == 8
    assert history_rows(release)[-1].history_change_reason == "submitted for review"
    # Only the current round counts: round one's approvals do not open the gate.
    with refused(*[missing(a.code, "general") for a in agencies]):
        services.transition_release(release, to="general", actor=staff)


@pytest.mark.parametrize("status", ["draft", "suspended"])
def test_r1_a_transition_to_in_review_is_a_submission(status, agencies, staff, admin_user):
    release = at_status(status, staff, admin_user, agencies)
    since = last_history_id(Release)
    release = services.transition_release(release, to="in_review", actor=staff, reason="again")
    rnd = 1 if status == "draft" else 2
    assert (release.status, release.review_round) == ("in_review", rnd)
    assert SignOff.objects.filter(release=release, round=rnd, status="pending").count() == 8
    [row] = new_history(release, since)
    assert_row(row, user=staff, reason="again")
    assert changes(row) == {"status": (status, "in_review"), "review_round": (rnd - 1, rnd)}


@pytest.mark.parametrize("status", ["in_review", "limited", "general", "retired"])
def test_r1_submit_from_other_states_is_refused(status, agencies, staff, admin_user):
    release = at_status(status, staff, admin_user, agencies)
    with refused(bad_move(status, "in_review")):
        services.submit_release(release, actor=staff)
    with refused(bad_move(status, "in_review")):
        services.transition_release(release, to="in_review", actor=staff)


# --- R2 limited -----------------------------------------------------------------------------


def test_r2_limited_lists_every_blocker(agencies, staff, admin_user):
    caisi, doc, oncd, ostp = agencies
    release = submitted(staff, agencies)
    other = submitted(staff, agencies, slug="sibling")
    services.decide_signoff(
        signoff(release, "CAISI", "limited"), actor=staff, decision="approved", evidence="ok"
    )
    services.decide_signoff(
        signoff(release, "DOC", "limited"), actor=staff, decision="rejected", reason="unsafe"
    )
    oncd_limited = services.decide_signoff(
        signoff(release, "ONCD", "limited"), actor=staff, decision="approved", evidence="ok"
    )
    services.withdraw_signoff(oncd_limited, actor=staff, reason="new findings")
    services.propose_allowlist_entry(release, actor=staff, partner=factories.PartnerFactory())
    postpone = directive(staff, doc, "postpone_release", [release])
    suspend = directive(staff, doc, "suspend_access", [release])
    directive(staff, doc, "limit_release", [release])  # holds back GA, not a limited release
    directive(staff, doc, "postpone_release", [release], binding=False)  # voluntary
    close(directive(staff, oncd, "postpone_release", [release]), staff)  # no longer in force
    directive(staff, ostp, "postpone_release", [other])  # another release
    with refused(
        {"kind": "signoff_rejected", "agency": "DOC", "stage": "limited"},
        {"kind": "signoff_withdrawn", "agency": "ONCD", "stage": "limited"},
        missing("OSTP", "limited"),
        {"kind": "allowlist_empty"},
        {"kind": "request_in_force", "request": postpone.pk},
        {"kind": "request_in_force", "request": suspend.pk},
    ):
        services.transition_release(release, to="limited", actor=staff, reason="preview")


def test_r2_limited_when_signoffs_and_allowlist_clear(agencies, staff, admin_user):
    release = submitted(staff, agencies)
    approve(release, staff, stages=(Stage.LIMITED,))
    with refused({"kind": "allowlist_empty"}):
        services.transition_release(release, to="limited", actor=staff)
    approved_entry(release, staff, admin_user)
    since = last_history_id(Release)
    release = services.transition_release(release, to="limited", actor=staff, reason="preview")
    assert Release.objects.get(pk=release.pk).status == "limited"
    [row] = new_history(release, since)
    assert_row(row, user=staff, reason="preview")
    assert changes(row) == {"status": ("in_review", "limited")}


# --- R3 general availability -------------------------------------------------------------------


def test_r3_ga_with_oncd_pending_and_postpone_in_force(agencies, staff):
    release = submitted(staff, agencies)
    approve(release, staff, stages=(Stage.GENERAL,), skip=("ONCD",))
    postpone = directive(staff, agencies[1], "postpone_release", [release])
    with refused(missing("ONCD", "general"), {"kind": "request_in_force", "request": postpone.pk}):
        services.transition_release(release, to="general", actor=staff)


def test_r3_ga_blocked_by_rejection_withdrawal_and_each_blocking_kind(agencies, staff, admin_user):
    doc = agencies[1]
    release = limited(submitted(staff, agencies), staff, admin_user)
    approve(release, staff, stages=(Stage.GENERAL,), skip=("DOC", "OSTP"))
    services.decide_signoff(
        signoff(release, "DOC", "general"), actor=staff, decision="rejected", reason="no"
    )
    services.withdraw_signoff(
        services.decide_signoff(
            signoff(release, "OSTP", "general"), actor=staff, decision="approved", evidence="x"
        ),
        actor=staff,
        reason="taken back",
    )
    reqs = [directive(staff, doc, k, [release]) for k in ("limit_release", "suspend_access")]
    directive(staff, doc, "vet_users", [release])  # does not hold back GA
    directive(staff, doc, "information_request", [release])
    with refused(
        {"kind": "signoff_rejected", "agency": "DOC", "stage": "general"},
        {"kind": "signoff_withdrawn", "agency": "OSTP", "stage": "general"},
        *[{"kind": "request_in_force", "request": r.pk} for r in reqs],
    ):
        services.transition_release(release, to="general", actor=staff)


@pytest.mark.parametrize("start", ["in_review", "limited"])
def test_r3_ga_when_every_agency_approved_general(start, agencies, staff, admin_user):
    release = submitted(staff, agencies)
    if start == "limited":
        release = limited(release, staff, admin_user)
    approve(release, staff, stages=(Stage.GENERAL,))
    # A request that is complied with is still in force (R12); once closed it no longer counts.
    postpone = directive(staff, agencies[1], "postpone_release", [release])
    for status in ("acknowledged", "complied"):
        postpone = services.set_request_status(postpone, actor=staff, status=status)
    with refused({"kind": "request_in_force", "request": postpone.pk}):
        services.transition_release(release, to="general", actor=staff)
    close(postpone, staff)
    for kind in ("postpone_release", "limit_release", "suspend_access"):  # voluntary: no hold
        directive(staff, agencies[1], kind, [release], binding=False)
    since = last_history_id(Release)
    release = services.transition_release(release, to="general", actor=staff, reason="GA")
    [row] = new_history(release, since)
    assert_row(row, user=staff, reason="GA")
    assert changes(row) == {"status": (start, "general")}


# --- R4 narrowing ----------------------------------------------------------------------------


def test_r4_narrowing_needs_only_an_approved_partner(agencies, staff, admin_user):
    release = general(submitted(staff, agencies), staff)  # limited sign-offs still pending
    directive(staff, agencies[1], "postpone_release", [release])  # does not prevent narrowing
    with refused({"kind": "allowlist_empty"}):
        services.transition_release(release, to="limited", actor=staff, reason="narrow")
    approved_entry(release, staff, admin_user)
    release = services.transition_release(release, to="limited", actor=staff, reason="narrow")
    assert changes(history_rows(release)[-1]) == {"status": ("general", "limited")}


# --- R5 suspend, R6 retire, R7 reasons ----------------------------------------------------------


@pytest.mark.parametrize("status", ["in_review", "limited", "general"])
def test_r5_suspend_always_with_a_reason(status, agencies, staff, admin_user):
    release = at_status(status, staff, admin_user, agencies)
    directive(staff, agencies[1], "postpone_release", [release])  # nothing holds a suspension
    for blank in ("", "   "):
        with refused({"kind": "reason_required"}):
            services.transition_release(release, to="suspended", actor=staff, reason=blank)
    release = services.transition_release(release, to="suspended", actor=staff, reason="directive")
    row = history_rows(release)[-1]
    assert_row(row, user=staff, reason="directive")
    assert changes(row) == {"status": (status, "suspended")}


@pytest.mark.parametrize("status", ["draft", "in_review", "limited", "general", "suspended"])
def test_r6_retire_from_any_state_with_a_reason(status, agencies, staff, admin_user):
    release = at_status(status, staff, admin_user, agencies)
    with refused({"kind": "reason_required"}):
        services.transition_release(release, to="retired", actor=staff)
    release = services.transition_release(release, to="retired", actor=staff, reason="EOL")
    row = history_rows(release)[-1]
    assert_row(row, user=staff, reason="EOL")
    assert changes(row) == {"status": (status, "retired")}


@pytest.mark.parametrize(
    "status,to,reason,blockers",
    [
        ("draft", "limited", "", [bad_move("draft", "limited")]),
        ("draft", "general", "", [bad_move("draft", "general")]),
        ("draft", "draft", "", [bad_move("draft", "draft")]),
        ("draft", "suspended", "", [bad_move("draft", "suspended"), {"kind": "reason_required"}]),
        ("in_review", "draft", "", [bad_move("in_review", "draft")]),
        ("limited", "limited", "", [bad_move("limited", "limited")]),
        ("general", "general", "", [bad_move("general", "general")]),
        ("suspended", "general", "", [bad_move("suspended", "general")]),
        ("suspended", "suspended", "x", [bad_move("suspended", "suspended")]),
        ("retired", "retired", "", [bad_move("retired", "retired"), {"kind": "reason_required"}]),
        ("retired", "general", "", [bad_move("retired", "general")]),
        ("retired", "suspended", "x", [bad_move("retired", "suspended")]),
        ("retired", "limited", "x", [bad_move("retired", "limited")]),
        ("retired", "draft", "x", [bad_move("retired", "draft")]),
    ],
)
def test_invalid_transitions_are_refused(status, to, reason, blockers, agencies, staff, admin_user):
    release = at_status(status, staff, admin_user, agencies)
    approve(release, staff)  # sign-offs are not what blocks these moves
    with refused(*blockers):
        services.transition_release(release, to=to, actor=staff, reason=reason)


# --- R11 stale approvals -------------------------------------------------------------------------


def test_r11_new_digest_in_review_starts_a_new_round(agencies, staff):
    release = submitted(staff, agencies, artifact_digest="sha256:aaa")
    approve(release, staff)
    round_one = list(SignOff.objects.filter(round=1).order_by("pk").values())
    since = last_history_id(Release)
    release = services.update_release(
        release, actor=staff, reason="retrained", artifact_digest="sha256:bbb"
    )
    assert release.review_round == 2
    assert list(SignOff.objects.filter(round=1).order_by("pk").values()) == round_one
    assert [s.status for s in SignOff.objects.filter(round=2)] == ["pending"] * 8
    rows = new_history(release, since)
    assert [(r.history_change_reason, changes(r)) for r in rows] == [
        ("retrained", {"artifact_digest": ("sha256:aaa", "sha256:bbb")}),
        ("retrained", {"review_round": (1, 2)}),
    ]
    for r in rows:
        assert_row(r, user=staff, reason="retrained")
    with refused(*[missing(a.code, "general") for a in agencies]):
        services.transition_release(release, to="general", actor=staff)


@pytest.mark.parametrize("status", ["limited", "general"])
def test_r11_new_digest_while_live_is_refused(status, agencies, staff, admin_user):
    release = at_status(status, staff, admin_user, agencies)
    with refused({"kind": "release_live"}):
        services.update_release(release, actor=staff, artifact_digest="sha256:new")
    with refused({"kind": "release_live"}):
        services.update_release(release, actor=staff, required_agencies=agencies[:1])


def test_r11_new_digest_while_suspended_waits_for_the_next_submission(agencies, staff):
    release = submitted(staff, agencies)
    release = services.transition_release(release, to="suspended", actor=staff, reason="pull")
    release = services.update_release(release, actor=staff, artifact_digest="sha256:fixed")
    assert (release.status, release.review_round) == ("suspended", 1)


# --- R13 lifting a restriction, R14 caps ----------------------------------------------------------


def test_r13_lifting_foreign_restriction_refused_while_directive_in_force(agencies, staff):
    release = make_release(staff, agencies=agencies)
    restriction = directive(staff, agencies[1], "restrict_foreign_access", [release])
    release.refresh_from_db()
    assert release.foreign_access_restricted
    with refused({"kind": "restriction_in_force", "request": restriction.pk}):
        services.update_release(release, actor=staff, foreign_access_restricted=False)
    close(restriction, staff)
    release = services.update_release(
        release, actor=staff, reason="letter of 2026-03-09", foreign_access_restricted=False
    )
    row = history_rows(release)[-1]
    assert_row(row, user=staff, reason="letter of 2026-03-09")
    assert changes(row) == {"foreign_access_restricted": (True, False)}


def test_every_edit_blocker_at_once(agencies, staff, admin_user):
    release = at_status("general", staff, admin_user, agencies)
    approved_entry(release, staff, admin_user)
    approved_entry(release, staff, admin_user)
    restriction = directive(staff, agencies[1], "restrict_foreign_access", [release])
    with refused(
        {"kind": "release_live"},
        {"kind": "cap_below_approved"},
        {"kind": "restriction_in_force", "request": restriction.pk},
    ):
        services.update_release(
            release,
            actor=admin_user,
            artifact_digest="sha256:new",
            partner_cap=1,
            foreign_access_restricted=False,
        )


def test_r14_cap_change_admin_only_and_not_below_approved(agencies, staff, admin_user, admin2):
    release = submitted(staff, agencies)
    approved_entry(release, staff, admin_user)
    approved_entry(release, staff, admin_user)
    with denied():
        services.update_release(release, actor=staff, partner_cap=5)
    with refused({"kind": "cap_below_approved"}):
        services.update_release(release, actor=admin2, partner_cap=1)
    release = services.update_release(release, actor=admin2, reason="board", partner_cap=2)
    row = history_rows(release)[-1]
    assert_row(row, user=admin2, reason="board")
    assert changes(row) == {"partner_cap": (20, 2)}
    with denied():
        services.create_release(actor=staff, slug="capped", name="Capped", partner_cap=5)
    assert (
        services.create_release(
            actor=admin_user, slug="capped", name="Capped", partner_cap=5
        ).partner_cap
        == 5
    )


# --- roles ----------------------------------------------------------------------------------------


def test_auditor_cannot_write_releases(agencies, staff, auditor):
    release = submitted(staff, agencies)
    draft = make_release(staff, slug="draft-1", agencies=agencies)
    with denied():
        services.create_release(actor=auditor, slug="a", name="A")
    with denied():
        services.update_release(release, actor=auditor, name="Renamed")
    with denied():
        services.submit_release(draft, actor=auditor)
    for to in ("limited", "general", "suspended", "retired", "in_review"):
        with denied():
            services.transition_release(release, to=to, actor=auditor, reason="x")


def test_long_reasons_are_kept_whole_in_history(agencies, staff):
    reason = "Binding directive of 2026-03-06 17:21 ET: " + "block foreign access. " * 20
    release = submitted(staff, agencies)
    release = services.transition_release(release, to="suspended", actor=staff, reason=reason)
    assert history_rows(release)[-1].history_change_reason == reason


def test_the_unchanged_db_guard_sees_every_history_table(agencies, staff):
    """The guard behind every refusal test is not vacuous: it covers each tracked model and
    each tracked many-to-many field, and it notices a write."""
    labels = {m._meta.label for m in history_models()}
    assert {
        "compliance.HistoricalAgency",
        "compliance.HistoricalPartner",
        "compliance.HistoricalRelease",
        "compliance.HistoricalRelease_required_agencies",
        "compliance.HistoricalSignOff",
        "compliance.HistoricalGovernmentRequest",
        "compliance.HistoricalGovernmentRequest_releases",
        "compliance.HistoricalAllowlistEntry",
        "compliance.HistoricalUser",
    } <= labels
    release = make_release(staff, agencies=agencies)
    with pytest.raises(AssertionError, match="history rows"), unchanged_db():
        services.update_release(release, actor=staff, name="Renamed")


def test_r11_new_panel_in_review_starts_a_new_round_for_the_new_panel(agencies, staff):
    release = submitted(staff, agencies)
    approve(release, staff)
    since = last_history_id(Release)
    release = services.update_release(
        release, actor=staff, reason="CAISI joins late", required_agencies=agencies[:2]
    )
    assert release.review_round == 2
    current = SignOff.objects.filter(release=release, round=2)
    assert sorted((s.agency.code, s.stage, s.status) for s in current) == [
        (code, stage, "pending") for code in ("CAISI", "DOC") for stage in ("general", "limited")
    ]
    edit, new_round = new_history(release, since)
    assert changes(edit) == {
        "required_agencies": (
            links("release", release.pk, "agency", [a.pk for a in agencies]),
            links("release", release.pk, "agency", [a.pk for a in agencies[:2]]),
        )
    }
    assert changes(new_round) == {"review_round": (1, 2)}
    for row in (edit, new_round):
        assert_row(row, user=staff, reason="CAISI joins late")


def test_a_user_without_a_role_cannot_write(agencies, staff):
    nobody = factories.UserFactory(username="nobody")
    release = submitted(staff, agencies)
    with denied():
        services.create_release(actor=nobody, slug="n", name="N")
    with denied():
        services.transition_release(release, to="suspended", actor=nobody, reason="x")


def test_bad_input_in_an_edit_leaves_nothing_behind(agencies, staff):
    release = make_release(staff, agencies=agencies)
    with invalid(ValidationError) as exc:
        services.update_release(
            release, actor=staff, required_agencies=agencies[:1], artifact_digest="not a digest!"
        )
    assert "artifact_digest" in exc.value.message_dict

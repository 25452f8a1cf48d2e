"""Sign-off rules at the service layer: R9 decide, R10 withdraw, rounds, roles, history."""

from datetime import UTC, datetime

import pytest
import time_machine
from django.core.exceptions import ValidationError

from compliance import services
from compliance.models import SignOff, Stage
from tests.helpers import (
    approve,
    assert_row,
    changes,
    denied,
    history_rows,
    invalid,
    refused,
    signoff,
    submitted,
)

NOW = datetime(2026, 3, 6, 22, 21, tzinfo=UTC)


def test_r9_approve_needs_evidence_and_records_who_when_what(agencies, staff):
    release = submitted(staff, agencies)
    so = signoff(release, "DOC", "general")
    for blank in ("", "  "):
        with invalid(ValidationError) as exc:
            services.decide_signoff(so, actor=staff, decision="approved", evidence=blank)
        assert "evidence" in exc.value.message_dict
    with time_machine.travel(NOW, tick=False):
        so = services.decide_signoff(
            so, actor=staff, decision="approved", evidence="letter 12", conditions="US only"
        )
    row = history_rows(so)[-1]
    assert_row(row, user=staff, reason="DOC approved")
    assert changes(row) == {
        "status": ("pending", "approved"),
        "decided_at": (None, NOW),
        "recorded_by": (None, staff.pk),
        "evidence": ("", "letter 12"),
        "conditions": ("", "US only"),
    }


def test_r9_reject_needs_a_reason(agencies, staff):
    release = submitted(staff, agencies)
    so = signoff(release, "ONCD", "limited")
    with refused({"kind": "reason_required"}):
        services.decide_signoff(so, actor=staff, decision="rejected", evidence="memo")
    so = services.decide_signoff(so, actor=staff, decision="rejected", reason="cyber risk")
    row = history_rows(so)[-1]
    assert_row(row, user=staff, reason="cyber risk")
    assert changes(row) == {
        "status": ("pending", "rejected"),
        "decided_at": (None, so.decided_at),
        "recorded_by": (None, staff.pk),
        "reason": ("", "cyber risk"),
    }


def test_r9_unknown_decision_is_bad_input(agencies, staff):
    so = signoff(submitted(staff, agencies), "DOC", "general")
    with invalid(ValidationError):
        services.decide_signoff(so, actor=staff, decision="withdrawn", reason="x")


@pytest.mark.parametrize("first", ["approved", "rejected"])
def test_r9_deciding_twice_is_refused(first, agencies, staff, staff2):
    so = signoff(submitted(staff, agencies), "DOC", "general")
    services.decide_signoff(so, actor=staff, decision=first, evidence="e", reason="r")
    with refused({"kind": "already_decided"}):
        services.decide_signoff(so, actor=staff2, decision="approved", evidence="again")
    with refused({"kind": "already_decided"}, {"kind": "reason_required"}):
        services.decide_signoff(so, actor=staff2, decision="rejected")


def test_r9_older_round_cannot_be_decided(agencies, staff):
    release = submitted(staff, agencies)
    old_pending = signoff(release, "DOC", "general")
    old_decided = services.decide_signoff(
        signoff(release, "ONCD", "general"), actor=staff, decision="approved", evidence="e"
    )
    release = services.update_release(release, actor=staff, artifact_digest="sha256:new")
    assert release.review_round == 2
    with refused({"kind": "stale_round"}):
        services.decide_signoff(old_pending, actor=staff, decision="approved", evidence="late")
    with refused({"kind": "stale_round"}, {"kind": "already_decided"}):
        services.decide_signoff(old_decided, actor=staff, decision="approved", evidence="again")
    with refused({"kind": "stale_round"}, {"kind": "reason_required"}):
        services.withdraw_signoff(old_decided, actor=staff, reason="")


def test_r10_withdraw_an_approval_with_a_reason_blocks_until_next_round(agencies, staff):
    release = submitted(staff, agencies)
    approve(release, staff, stages=(Stage.GENERAL,))
    so = signoff(release, "ONCD", "general")
    with refused({"kind": "reason_required"}):
        services.withdraw_signoff(so, actor=staff, reason=" ")
    so = services.withdraw_signoff(so, actor=staff, reason="ONCD letter of 9 March")
    row = history_rows(so)[-1]
    assert_row(row, user=staff, reason="ONCD letter of 9 March")
    assert changes(row) == {
        "status": ("approved", "withdrawn"),
        "decided_at": (history_rows(so)[-2].decided_at, so.decided_at),
        "reason": ("", "ONCD letter of 9 March"),
    }
    # A withdrawn sign-off cannot be decided again in this round: it blocks its stage...
    with refused({"kind": "already_decided"}):
        services.decide_signoff(so, actor=staff, decision="approved", evidence="changed mind")
    with refused({"kind": "signoff_withdrawn", "agency": "ONCD", "stage": "general"}):
        services.transition_release(release, to="general", actor=staff)
    # ... until the release is submitted again.
    release = services.transition_release(release, to="suspended", actor=staff, reason="r")
    release = services.submit_release(release, actor=staff)
    approve(release, staff, stages=(Stage.GENERAL,))
    assert services.transition_release(release, to="general", actor=staff).status == "general"


def test_r10_a_rejection_blocks_its_stage_until_the_next_round(agencies, staff):
    release = submitted(staff, agencies)
    approve(release, staff, stages=(Stage.GENERAL,), skip=("CAISI",))
    services.decide_signoff(
        signoff(release, "CAISI", "general"), actor=staff, decision="rejected", reason="evals"
    )
    with refused({"kind": "signoff_rejected", "agency": "CAISI", "stage": "general"}):
        services.transition_release(release, to="general", actor=staff)
    release = services.update_release(release, actor=staff, artifact_digest="sha256:v2")
    approve(release, staff, stages=(Stage.GENERAL,))
    assert services.transition_release(release, to="general", actor=staff).status == "general"


@pytest.mark.parametrize("status", ["pending", "rejected", "withdrawn"])
def test_r10_only_an_approval_can_be_withdrawn(status, agencies, staff):
    so = signoff(submitted(staff, agencies), "DOC", "limited")
    if status == "rejected":
        so = services.decide_signoff(so, actor=staff, decision="rejected", reason="no")
    elif status == "withdrawn":
        so = services.decide_signoff(so, actor=staff, decision="approved", evidence="e")
        so = services.withdraw_signoff(so, actor=staff, reason="back")
    with refused({"kind": "invalid_transition", "from": status, "to": "withdrawn"}):
        services.withdraw_signoff(so, actor=staff, reason="again")


def test_only_staff_and_admins_record_signoffs(agencies, staff, admin_user, auditor):
    release = submitted(staff, agencies)
    so = signoff(release, "DOC", "general")
    with denied():
        services.decide_signoff(so, actor=auditor, decision="approved", evidence="e")
    so = services.decide_signoff(so, actor=admin_user, decision="approved", evidence="e")
    assert_row(history_rows(so)[-1], user=admin_user, reason="DOC approved")
    with denied():
        services.withdraw_signoff(so, actor=auditor, reason="r")
    assert SignOff.objects.get(pk=so.pk).status == "approved"

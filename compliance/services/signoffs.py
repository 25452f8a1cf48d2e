"""Agency sign-offs: record a decision (R9), record a withdrawal (R10)."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError

from compliance import clock, errors
from compliance.errors import Blocker, blocker
from compliance.models import EvidenceDocument, Release, SignOff, SignOffStatus
from compliance.notifications import events
from compliance.notifications.outbox import notify_release_owner
from compliance.services.common import (
    lock_with_release,
    move_blockers,
    reason_blockers,
    refuse_if,
    require_choice,
    require_writer,
    save,
    service_transaction,
)
from compliance.services.evidence import citation, cite, cited_evidence, lock_documents

DECISIONS = (SignOffStatus.APPROVED, SignOffStatus.REJECTED)


def _round_blockers(release: Release, signoff: SignOff) -> list[Blocker]:
    if signoff.round != release.review_round:
        return [blocker(errors.STALE_ROUND)]
    return []


@service_transaction
def decide_signoff(
    signoff: SignOff,
    *,
    actor: User,
    decision: str,
    evidence: str = "",
    conditions: str = "",
    reason: str = "",
    documents: Iterable[EvidenceDocument] = (),
) -> SignOff:
    """R9: a current-round pending sign-off becomes approved (evidence required) or rejected
    (reason required). Deciding twice or deciding an older round is refused. R38: the
    decision cites ``documents`` (evidence documents); a cited document is the evidence when
    no text is given, and the history row names every cited document with its hash."""
    require_writer(actor)
    require_choice("decision", decision, DECISIONS)
    evidence = (evidence or "").strip() or cited_evidence(documents)
    if decision == SignOffStatus.APPROVED and not evidence:
        raise ValidationError({"evidence": ["Evidence is required to record an approval."]})
    release, signoff = lock_with_release(signoff, read="agency")
    documents = lock_documents(documents)
    blockers = _round_blockers(release, signoff)
    if signoff.status != SignOffStatus.PENDING:
        blockers.append(blocker(errors.ALREADY_DECIDED))
    if decision == SignOffStatus.REJECTED:
        blockers += reason_blockers(reason)
    refuse_if(blockers)

    signoff.status = decision
    signoff.decided_at = clock.now()
    signoff.recorded_by = actor
    signoff.evidence = evidence or ""
    signoff.conditions = conditions or ""
    signoff.reason = reason or ""
    history_reason = reason or f"{signoff.agency.code} {decision}"
    if documents:
        history_reason = f"{history_reason}; {citation(documents)}"
    save(signoff, actor=actor, reason=history_reason)
    cite(documents, field="signoffs", target=signoff, actor=actor, reason=_cited_by(signoff))
    notify_release_owner(
        release=release, actor=actor, event=f"signoff_{decision}", subject=signoff, reason=reason
    )
    events.signoff_decided(signoff, actor=actor, reason=reason)
    return signoff


@service_transaction
def withdraw_signoff(signoff: SignOff, *, actor: User, reason: str) -> SignOff:
    """R10: the agency took its approval back. Blocks its stage until a new round."""
    require_writer(actor)
    release, signoff = lock_with_release(signoff, read="agency")
    blockers = _round_blockers(release, signoff)
    blockers += move_blockers(
        signoff.status, "withdrawn", allowed=signoff.status == SignOffStatus.APPROVED
    )
    blockers += reason_blockers(reason)
    refuse_if(blockers)

    signoff.status = SignOffStatus.WITHDRAWN
    signoff.decided_at = clock.now()
    signoff.recorded_by = actor
    signoff.reason = reason
    save(signoff, actor=actor, reason=reason)
    notify_release_owner(
        release=release, actor=actor, event="signoff_withdrawn", subject=signoff, reason=reason
    )
    events.signoff_withdrawn(signoff, actor=actor, reason=reason)
    return signoff


def _cited_by(signoff: SignOff) -> str:
    return (
        f"cited by sign-off #{signoff.pk} ({signoff.agency.code} {signoff.stage} {signoff.status})"
    )

"""Pure rule evaluators over already-loaded facts: no queries, so services (to refuse) and
selectors (to explain) share them, and they are tested with plain values."""

from __future__ import annotations

from compliance import errors
from compliance.errors import Blocker, blocker
from compliance.models import ReleaseStatus, Stage

# R32: the release statuses at which artifacts may be deployed for each stage.
DEPLOYABLE_STATUSES = {
    Stage.LIMITED: (ReleaseStatus.LIMITED, ReleaseStatus.GENERAL),
    Stage.GENERAL: (ReleaseStatus.GENERAL,),
}


def normalise_digest(digest: str | None) -> str:
    """``sha256:ABC…`` and ``abc…`` name the same weights: compare without the algorithm
    prefix and case (hex digests)."""
    value = (digest or "").strip().lower()
    return value.removeprefix("sha256:")


def digest_matches(reviewed: str, given: str | None) -> bool | None:
    """Whether ``given`` is the reviewed digest; ``None`` when the release names none."""
    if not reviewed:
        return None
    return bool(given) and normalise_digest(reviewed) == normalise_digest(given)


def deploy_blockers(
    *, status: str, stage: str, reviewed_digest: str, digest: str | None
) -> list[Blocker]:
    """R32: every reason artifacts may not be deployed at ``stage`` now."""
    out = []
    if status not in DEPLOYABLE_STATUSES[stage]:
        out.append(blocker(errors.STAGE_NOT_RELEASED, status=str(status), stage=str(stage)))
    if reviewed_digest:
        if not (digest or "").strip():
            out.append(blocker(errors.DIGEST_REQUIRED))
        elif not digest_matches(reviewed_digest, digest):
            out.append(blocker(errors.DIGEST_MISMATCH))
    return out

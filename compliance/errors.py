"""The one application error: a rule refused an action, with every blocker listed (R8)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied

# Blocker kinds, defined once (SPEC R8).
INVALID_TRANSITION = "invalid_transition"
SIGNOFF_MISSING = "signoff_missing"
SIGNOFF_REJECTED = "signoff_rejected"
SIGNOFF_WITHDRAWN = "signoff_withdrawn"
REQUEST_IN_FORCE = "request_in_force"
ALLOWLIST_EMPTY = "allowlist_empty"
REASON_REQUIRED = "reason_required"
ALREADY_DECIDED = "already_decided"
STALE_ROUND = "stale_round"
RELEASE_LIVE = "release_live"
RESTRICTION_IN_FORCE = "restriction_in_force"
ALLOWLIST_FULL = "allowlist_full"
CAP_BELOW_APPROVED = "cap_below_approved"
FOREIGN_PARTNER_RESTRICTED = "foreign_partner_restricted"
SAME_USER = "same_user"
VETTING_REQUIRED = "vetting_required"
# R32 deployment check.
STAGE_NOT_RELEASED = "stage_not_released"
DIGEST_MISMATCH = "digest_mismatch"
DIGEST_REQUIRED = "digest_required"

BLOCKER_KINDS = (
    INVALID_TRANSITION,
    SIGNOFF_MISSING,
    SIGNOFF_REJECTED,
    SIGNOFF_WITHDRAWN,
    REQUEST_IN_FORCE,
    ALLOWLIST_EMPTY,
    REASON_REQUIRED,
    ALREADY_DECIDED,
    STALE_ROUND,
    RELEASE_LIVE,
    RESTRICTION_IN_FORCE,
    ALLOWLIST_FULL,
    CAP_BELOW_APPROVED,
    FOREIGN_PARTNER_RESTRICTED,
    SAME_USER,
    VETTING_REQUIRED,
    STAGE_NOT_RELEASED,
    DIGEST_MISMATCH,
    DIGEST_REQUIRED,
)
DEPLOY_BLOCKER_KINDS = (STAGE_NOT_RELEASED, DIGEST_MISMATCH, DIGEST_REQUIRED)

_MESSAGES = {
    INVALID_TRANSITION: "Cannot go from {from} to {to}.",  # releases, sign-offs, requests…
    SIGNOFF_MISSING: "{agency} has not approved the {stage} stage yet.",
    SIGNOFF_REJECTED: "{agency} rejected the {stage} stage.",
    SIGNOFF_WITHDRAWN: "{agency} withdrew its {stage} approval.",
    REQUEST_IN_FORCE: "{request_name} is in force.",
    ALLOWLIST_EMPTY: "No partner is approved on the allowlist.",
    REASON_REQUIRED: "A reason is required.",
    ALREADY_DECIDED: "This has already been decided.",
    STALE_ROUND: "This belongs to an earlier review round.",
    RELEASE_LIVE: "The release is live: suspend it first.",
    RESTRICTION_IN_FORCE: "{request_name} (a foreign-access restriction) is in force.",
    ALLOWLIST_FULL: "The allowlist is full ({approved} of {cap}).",
    CAP_BELOW_APPROVED: "The cap {cap} is below the {approved} partners already approved.",
    FOREIGN_PARTNER_RESTRICTED: "Foreign access is restricted: the partner is in {country}.",
    SAME_USER: "The approver must not be the person who proposed it.",
    VETTING_REQUIRED: "A binding vetting request is in force: name the vetting agency.",
    STAGE_NOT_RELEASED: "The release is {status}: it is not released at the {stage} stage.",
    DIGEST_MISMATCH: "The artifact digest is not the one that was reviewed.",
    DIGEST_REQUIRED: "The release names its reviewed artifact digest: give the digest to check.",
}


@dataclass(frozen=True)
class Blocker:
    """``fields`` are exactly the ones SPEC R8 names for the kind (``from``/``to``,
    ``agency``/``stage``, ``request``); ``context`` only words the message (e.g. the cap and
    the approved count of ``allowlist_full``) and is not part of the blocker's JSON."""

    kind: str
    fields: dict[str, Any] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in BLOCKER_KINDS:
            raise ValueError(f"unknown blocker kind {self.kind!r}")

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **self.fields}

    @property
    def request_name(self) -> str | None:
        """A request blocker's request as people name it: "DOC request BIS-20261118-LR"
        (from the context ``request_blocker`` gives it); else by id."""
        if "request" not in self.fields:
            return None
        agency, reference = self.context.get("agency_code"), self.context.get("reference")
        if agency and reference:
            return f"{agency} request {reference}"
        return f"Government request #{self.fields['request']}"

    @property
    def message(self) -> str:
        words = {"request_name": self.request_name} if "request" in self.fields else {}
        try:
            return _MESSAGES[self.kind].format(**self.context, **words, **self.fields)
        except (KeyError, IndexError):
            return _MESSAGES[self.kind]


def blocker(kind: str, *, context: dict[str, Any] | None = None, **fields: Any) -> Blocker:
    return Blocker(kind, fields, context or {})


def request_blocker(kind: str, request) -> Blocker:
    """``request_in_force`` / ``restriction_in_force`` for a GovernmentRequest (its agency
    loaded): the JSON names the request by id (R8), the words by agency and reference."""
    return blocker(
        kind,
        request=request.pk,
        context={"agency_code": request.agency.code, "reference": request.reference},
    )


class RuleViolation(Exception):
    """Raised by a service when the rules forbid an action; nothing has been written."""

    code = "rule_violation"

    def __init__(self, blockers: list[Blocker], detail: str | None = None) -> None:
        if not blockers:
            raise ValueError("a RuleViolation needs at least one blocker")
        self.blockers = list(blockers)
        # Each message is a sentence with its full stop: sentences follow one another.
        self.detail = detail or " ".join(b.message for b in self.blockers)
        super().__init__(self.detail)

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "detail": self.detail,
            "blockers": [b.as_dict() for b in self.blockers],
        }

    @property
    def kinds(self) -> list[str]:
        return [b.kind for b in self.blockers]


# The actor's role may not perform an action: Django's own, so DRF and views answer 403.
PermissionDenied = DjangoPermissionDenied

"""The pure rule evaluators (compliance/rules.py) with plain values: no database, every case.

The HTTP stories in test_acceptance_spec.py walk one case of each rule end to end; the
matrix of which request kind holds back which stage, which sign-off status blocks, which
alert and which access reason, is here."""

from __future__ import annotations

import pytest

from compliance import rules
from compliance.models import (
    Agency,
    AllowlistEntry,
    GovernmentRequest,
    Partner,
    Release,
    SignOff,
)

CODES = ["CAISI", "DOC"]
KINDS = [
    "information_request",
    "postpone_release",
    "limit_release",
    "suspend_access",
    "restrict_foreign_access",
    "vet_users",
]


def facts(
    status: str = "in_review",
    *,
    signoffs: dict[tuple[str, str], str] | None = None,
    requests: list[str] = (),
    partners: list[str] = (),
    restricted: bool = False,
) -> rules.GateFacts:
    """GateFacts for release ``r`` with CAISI and DOC required; ``signoffs`` maps
    (agency, stage) to a status (missing: no row); ``requests`` are the kinds of the binding
    requests in force (ids 1, 2, …); ``partners`` the countries of approved entries."""
    release = Release(slug="r", status=status, foreign_access_restricted=restricted)
    rows = [
        SignOff(stage=stage, status=st, agency=Agency(code=code))
        for (code, stage), st in (signoffs or {}).items()
    ]
    reqs = [
        GovernmentRequest(pk=i, kind=kind, reference=f"R-{i}", agency=Agency(code="DOC"))
        for i, kind in enumerate(requests, start=1)
    ]
    entries = [
        AllowlistEntry(partner=Partner(pk=i, name=f"P{i}", country=c))
        for i, c in enumerate(partners, start=1)
    ]
    for e in entries:
        e.partner_id = e.partner.pk
    return rules.GateFacts(release, list(CODES), rows, reqs, entries)


def approved(*stages: str) -> dict[tuple[str, str], str]:
    return {(c, s): "approved" for c in CODES for s in stages}


def kinds(blockers) -> list[dict]:
    return [b.as_dict() for b in blockers]


@pytest.mark.parametrize("kind", KINDS)
def test_which_binding_request_holds_back_which_stage(kind):
    """R2: postpone_release and suspend_access hold back limited; R3: those and
    limit_release hold back general; the other kinds hold back neither."""
    f = facts(signoffs=approved("limited", "general"), requests=[kind], partners=["US"])
    limited = kind in ("postpone_release", "suspend_access")
    general = kind in ("postpone_release", "limit_release", "suspend_access")
    held = [{"kind": "request_in_force", "request": 1}]
    assert kinds(rules.stage_blockers(f, "limited")) == (held if limited else [])
    assert kinds(rules.stage_blockers(f, "general")) == (held if general else [])


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (None, "signoff_missing"),
        ("pending", "signoff_missing"),
        ("rejected", "signoff_rejected"),
        ("withdrawn", "signoff_withdrawn"),
    ],
)
def test_every_required_agency_not_approved_blocks_its_stage(status, kind):
    signoffs = approved("limited", "general")
    if status is None:
        del signoffs[("DOC", "general")]
    else:
        signoffs[("DOC", "general")] = status
    f = facts(signoffs=signoffs, partners=["US"])
    assert kinds(rules.stage_blockers(f, "general")) == [
        {"kind": kind, "agency": "DOC", "stage": "general"}
    ]
    assert rules.stage_blockers(f, "limited") == []
    summary = rules.signoff_summary(f, "general")
    assert summary["approved"] == ["CAISI"]
    assert summary[status or "pending"] == ["DOC"]


def test_every_blocker_of_a_stage_at_once():
    f = facts(requests=["postpone_release", "information_request", "suspend_access"])
    assert kinds(rules.stage_blockers(f, "limited")) == [
        {"kind": "signoff_missing", "agency": "CAISI", "stage": "limited"},
        {"kind": "signoff_missing", "agency": "DOC", "stage": "limited"},
        {"kind": "allowlist_empty"},
        {"kind": "request_in_force", "request": 1},
        {"kind": "request_in_force", "request": 3},
    ]


@pytest.mark.parametrize(
    ("status", "restricted", "country", "on_list", "answer"),
    [
        ("retired", False, "US", True, (False, "retired")),
        ("suspended", False, "US", True, (False, "suspended")),
        ("draft", False, "US", True, (False, "not_released")),
        ("in_review", False, "US", True, (False, "not_released")),
        ("limited", True, "GB", True, (False, "foreign_restricted")),
        ("general", True, "GB", False, (False, "foreign_restricted")),
        ("general", False, "GB", False, (True, "general")),
        ("limited", False, "GB", True, (True, "allowlisted")),
        ("limited", True, "US", False, (False, "not_allowlisted")),
    ],
)
def test_r15_every_access_reason(status, restricted, country, on_list, answer):
    asked = []

    def approved_entry() -> bool:
        asked.append(True)
        return on_list

    got = rules.access_answer(status, restricted, country, approved_entry)
    assert (got["allowed"], got["reason"]) == answer
    assert got["reason"] in rules.ACCESS_REASONS
    assert bool(asked) == (status == "limited" and got["reason"] != "foreign_restricted")


def test_r16_every_alert_kind():
    f = facts(
        "limited",
        signoffs={**approved("limited"), ("DOC", "limited"): "withdrawn"},
        requests=["suspend_access", "limit_release", "postpone_release"],
        partners=["US", "GB"],
        restricted=True,
    )
    alerts = rules.alerts_for(f)
    assert [{k: v for k, v in a.items() if k != "detail"} for a in alerts] == [
        {"kind": "live_without_signoffs", "release": "r", "stage": "limited", "agencies": ["DOC"]},
        {"kind": "live_under_directive", "release": "r", "request": 1},
        {"kind": "live_under_directive", "release": "r", "request": 3},
        {"kind": "foreign_partner_approved", "release": "r", "partner": 2},
    ]
    assert {a["kind"] for a in alerts} == set(rules.ALERT_KINDS)
    assert alerts[3]["detail"] == "r is restricted to US but P2 (GB) is approved"


@pytest.mark.parametrize("status", ["draft", "in_review", "suspended", "retired"])
def test_r16_no_alert_for_a_release_not_live_unless_restricted(status):
    f = facts(status, requests=["suspend_access"], partners=["US"])
    assert rules.alerts_for(f) == []


@pytest.mark.parametrize(
    ("status", "can"),
    [("draft", True), ("suspended", True), ("in_review", False), ("limited", False),
     ("general", False), ("retired", False)],
)  # fmt: skip
def test_r1_submittable_statuses(status, can):
    assert rules.can_submit(status) is can

"""The SPEC's demo scenario, replayed through the services at its historical times.

Every step is a service call made under ``clock.replaying_at(when)``, so the history rows,
decision times and due dates are those of the story, not of the moment ``seed_demo`` ran.
Steps are collected first, then run in time order, so history ids follow history dates.

Times: the Commerce directive arrives on a Friday at 17:21 US/Eastern (the latest Friday at
least two weeks ago); the frontier release is dated relative to today so its pending ONCD
sign-off is just overdue and the OSTP information request is due in two days."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from compliance import clock, services
from compliance.evidence_samples import pdf_letter
from compliance.models import (
    Agency,
    AllowlistEntry,
    AllowlistStatus,
    Gateway,
    GovernmentRequest,
    Partner,
    Release,
    RequestKind,
    RequestStatus,
    SignOff,
    SignOffStatus,
    Stage,
)
from compliance.models.roles import Role
from compliance.selectors import access_revision
from compliance.services.users import KEEP, User, ensure_user

EASTERN = ZoneInfo("America/New_York")

FRONTIER = "frontier-2"
ATLAS = "atlas-1"  # pulled after the directive, stays suspended
ATLAS_MINI = "atlas-1-mini"  # pulled, later released to US partners only

AGENCIES = [
    ("CAISI", "Center for AI Standards and Innovation", "caisi@nist.example"),
    ("DOC", "Department of Commerce", "ai-exports@commerce.example"),
    ("ONCD", "Office of the National Cyber Director", "ai@oncd.example"),
    ("OSTP", "Office of Science and Technology Policy", "ai-policy@ostp.example"),
]

US_PARTNERS = [
    "Allegheny Research Labs",
    "Bayfront Health AI",
    "Cascade Security Group",
    "Delmarva Materials",
    "Evergreen Civic Data",
    "Foxhollow Robotics",
    "Granite State Cyber",
    "Harborview Clinical",
    "Iron Range Energy",
    "Juniper Legal Tech",
    "Keystone Biofoundry",
    "Lakeshore Education",
    "Mesa Verde Climate",
    "Northstar Logistics",
    "Ozark Agritech",
    "Piedmont Finance Labs",
    "Quarry Point Semiconductors",
    "Redwood Open Science",
    "Sandhills Defense Research",
    "Tidewater Maritime AI",
]
FOREIGN_PARTNERS = [
    ("Thamesgate Analytics", "GB"),
    ("Pennine Bio", "GB"),
    ("Laurentian Systems", "CA"),
    ("Fraser Valley Data", "CA"),
    ("Kansai Robotics", "JP"),
]
# A limited preview to 20 vetted partners (17 US, 3 abroad: frontier-2 is not restricted).
FRONTIER_PARTNERS = US_PARTNERS[:17] + [
    "Thamesgate Analytics",
    "Laurentian Systems",
    "Kansai Robotics",
]
# The Atlas models had six US partners and two abroad before the directive.
ATLAS_PARTNERS = US_PARTNERS[:6] + ["Pennine Bio", "Fraser Valley Data"]


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: str
    password: str
    email: str


DEMO_USERS = [
    DemoUser("admin", Role.ADMIN, "clearance-admin", "admin@lab.example"),
    DemoUser("admin2", Role.ADMIN, "clearance-admin2", "admin2@lab.example"),
    DemoUser("staff", Role.STAFF, "clearance-staff", "staff@lab.example"),
    DemoUser("auditor", Role.AUDITOR, "clearance-auditor", "auditor@lab.example"),
]


def directive_friday(today: date) -> date:
    """The latest Friday at least 14 days before ``today``."""
    day = today - timedelta(days=14)
    return day - timedelta(days=(day.weekday() - 4) % 7)


def eastern(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=EASTERN)


def digest(slug: str) -> str:
    return "sha256:" + hashlib.sha256(slug.encode()).hexdigest()


def scenario_present() -> bool:
    return Release.objects.filter(slug=FRONTIER).exists()


@dataclass(order=True)
class _Step:
    when: datetime
    seq: int
    label: str = field(compare=False)
    run: Callable[[], object] = field(compare=False)


class _Timeline:
    def __init__(self) -> None:
        self.steps: list[_Step] = []

    def at(self, when: datetime, label: str, run: Callable[[], object]) -> None:
        self.steps.append(_Step(when, len(self.steps), label, run))

    def replay(self, now: datetime, log: Callable[[str], None]) -> None:
        for step in sorted(self.steps):
            if step.when > now:
                raise RuntimeError(f"demo step {step.label!r} would be in the future")
            with clock.replaying_at(step.when):
                step.run()
            log(f"{step.when.astimezone(EASTERN):%Y-%m-%d %H:%M %Z}  {step.label}")


# Lookups at run time: a step sees what earlier steps wrote.
def _user(name: str):
    return User.objects.get(username=name)


def _agency(code: str) -> Agency:
    return Agency.objects.get(code=code)


def _release(slug: str) -> Release:
    return Release.objects.get(slug=slug)


def _partner(name: str) -> Partner:
    return Partner.objects.get(name=name)


def _request(code: str, reference: str) -> GovernmentRequest:
    return GovernmentRequest.objects.get(agency__code=code, reference=reference)


def _record(code: str, reference: str, slugs, **fields) -> Callable[[], object]:
    """A timeline step: staff record agency ``code``'s request ``reference`` on the releases
    ``slugs``, assigned to staff."""
    return lambda: services.record_request(
        actor=_user("staff"),
        agency=_agency(code),
        reference=reference,
        releases=[_release(slug) for slug in slugs],
        assignee=_user("staff"),
        **fields,
    )


def _set_status(code: str, reference: str, status: str, note: str) -> Callable[[], object]:
    """A timeline step: staff move the request ``reference`` of agency ``code`` to ``status``."""
    return lambda: services.set_request_status(
        _request(code, reference), actor=_user("staff"), status=status, note=note
    )


def _signoff(slug: str, code: str, stage: str) -> SignOff:
    release = _release(slug)
    return SignOff.objects.get(
        release=release, round=release.review_round, agency__code=code, stage=stage
    )


def _entry(slug: str, partner: str) -> AllowlistEntry:
    return AllowlistEntry.objects.get(release__slug=slug, partner__name=partner)


def build_timeline(now: datetime | None = None) -> _Timeline:
    now = now or timezone.now()
    today = now.astimezone(EASTERN).date()
    friday = directive_friday(today)
    letter_day = friday + timedelta(days=5)  # the following Wednesday
    start = friday - timedelta(days=70)
    t = _Timeline()

    # --- Reference data and people -------------------------------------------------------
    def create_users():
        for u in DEMO_USERS:
            ensure_user(u.username, role=u.role, password=KEEP, email=u.email, reason="demo user")

    t.at(eastern(start, 9), "demo users created", create_users)

    def create_reference_data():
        # Get-or-skip: an install that already has some of these keeps its own rows.
        admin = _user("admin")
        have_codes = set(Agency.objects.values_list("code", flat=True))
        for code, name, email in AGENCIES:
            if code not in have_codes:
                services.create_agency(actor=admin, code=code, name=name, contact_email=email)
        have_partners = set(Partner.objects.values_list("name", flat=True))
        for name, country in [(n, "US") for n in US_PARTNERS] + FOREIGN_PARTNERS:
            if name not in have_partners:
                services.create_partner(
                    actor=admin, name=name, country=country, contact_email=_email(name)
                )

    t.at(eastern(start, 9, 30), "agencies and partners created", create_reference_data)

    _atlas_story(t, friday, letter_day)
    _frontier_story(t, today, now)
    _gateway_story(t, friday, now)
    _evidence_story(t, friday, letter_day, today)
    return t


DEMO_GATEWAYS = ("gw-us-east", "gw-eu-west")


def _gateway_story(t: _Timeline, friday: date, now: datetime) -> None:
    """Two model-serving gateways (R25–R30) whose receipts show the Friday directive
    enforced seconds after each suspension. Their tokens are not kept: ``add_user gw-us-east
    --role gateway --token`` prints a new one for ``clients/gateway.py``."""

    def register():
        for name in DEMO_GATEWAYS:
            services.create_gateway(actor=_user("admin"), name=name)

    t.at(eastern(friday - timedelta(days=65), 9), "gateways registered", register)

    def receipt(name):
        def run():
            gateway = Gateway.objects.get(name=name)
            services.record_receipt(gateway, actor=gateway.user, revision=access_revision())

        return run

    # After each access change of the evening, each gateway reports within seconds.
    for hh, mm in ((18, 40), (18, 42), (19, 5)):
        for delay, name in zip((2, 4), DEMO_GATEWAYS, strict=True):
            moment = eastern(friday, hh, mm) + timedelta(seconds=delay)
            t.at(moment, f"{name} enforces the {hh}:{mm:02d} change", receipt(name))
    # And both are up to date now (they go silent until a gateway process runs).
    for name in DEMO_GATEWAYS:
        t.at(now, f"{name} up to date", receipt(name))


def _email(name: str) -> str:
    return "ai-access@" + "".join(c for c in name.lower() if c.isalnum())[:20] + ".example"


def _approve_all(slug: str, stages, *, day: date, agencies, note: str, conditions=None):
    """Record each agency's approval of each stage (the staff member records the letter)."""

    def run():
        staff = _user("staff")
        for stage in stages:
            for code in agencies:
                services.decide_signoff(
                    _signoff(slug, code, stage),
                    actor=staff,
                    decision=SignOffStatus.APPROVED,
                    evidence=f"{code} approval letter for {slug} ({stage}), {note}, {day:%d %b %Y}",
                    conditions=(conditions or {}).get((code, stage), ""),
                )

    return run


def _propose_and_approve(t: _Timeline, slug: str, partners, *, day: date, approver: str, vetted):
    def propose():
        staff = _user("staff")
        release = _release(slug)
        for name in partners:
            services.propose_allowlist_entry(
                release, actor=staff, partner=_partner(name), note=f"{name}: early-access request"
            )

    def approve():
        admin = _user(approver)
        vetting = _agency(vetted) if vetted else None
        for name in partners:
            services.decide_allowlist_entry(
                _entry(slug, name),
                actor=admin,
                decision=AllowlistStatus.APPROVED,
                vetted_by=vetting,
            )

    t.at(eastern(day, 11), f"{slug}: {len(partners)} partners proposed", propose)
    t.at(eastern(day + timedelta(days=1), 15), f"{slug}: partners approved by {approver}", approve)


def _atlas_story(t: _Timeline, friday: date, letter_day: date) -> None:
    directive_ref = f"BIS-{friday:%Y%m%d}-FA"
    letter_ref = f"BIS-{letter_day:%Y%m%d}-LR"
    codes = [code for code, _n, _e in AGENCIES]
    slugs = (ATLAS, ATLAS_MINI)
    names = {ATLAS: "Atlas 1", ATLAS_MINI: "Atlas 1 Mini"}

    def create():
        staff = _user("staff")
        for slug in slugs:
            services.create_release(
                actor=staff,
                slug=slug,
                name=names[slug],
                description=f"{names[slug]}: general-purpose model, sibling release of the Atlas 1 family.",
                artifact_digest=digest(slug),
                target_date=friday - timedelta(days=30),
            )

    t.at(eastern(friday - timedelta(days=60), 10), "atlas releases created", create)

    def submit():
        staff = _user("staff")
        for slug in slugs:
            services.submit_release(_release(slug), actor=staff, reason="Ready for agency review")

    t.at(eastern(friday - timedelta(days=50), 10), "atlas releases submitted", submit)
    for i, stage in enumerate((Stage.LIMITED, Stage.GENERAL)):
        day = friday - timedelta(days=47 - 4 * i)
        for slug in slugs:
            t.at(
                eastern(day, 14),
                f"{slug}: {stage} approvals",
                _approve_all(slug, [stage], day=day, agencies=codes, note="round 1"),
            )
    for slug in slugs:
        _propose_and_approve(
            t,
            slug,
            ATLAS_PARTNERS,
            day=friday - timedelta(days=44),
            approver="admin",
            vetted=None,
        )

    def move(slug, to, reason):
        return lambda: services.transition_release(
            _release(slug), to=to, actor=_user("staff"), reason=reason
        )

    for slug in slugs:
        t.at(
            eastern(friday - timedelta(days=40), 16),
            f"{slug}: limited",
            move(slug, "limited", "Limited release to allowlisted partners"),
        )
        t.at(
            eastern(friday - timedelta(days=25), 16),
            f"{slug}: general",
            move(slug, "general", "All agencies approved general availability"),
        )

    # --- Friday 17:21 Eastern: the binding Commerce directive ----------------------------
    record_directive = _record(
        "DOC",
        directive_ref,
        slugs,
        kind=RequestKind.RESTRICT_FOREIGN_ACCESS,
        binding=True,
        received_at=eastern(friday, 17, 21),
        due_at=eastern(friday, 23, 59),
        summary="Binding directive: block all access to Atlas 1 and Atlas 1 Mini from "
        "outside the United States, effective immediately; confirm compliance tonight.",
        reason="Directive received by e-mail at 17:21 ET",
    )

    t.at(eastern(friday, 17, 34), f"DOC directive {directive_ref} recorded", record_directive)

    t.at(
        eastern(friday, 17, 52),
        "directive acknowledged",
        _set_status(
            "DOC",
            directive_ref,
            RequestStatus.ACKNOWLEDGED,
            "Acknowledged to DOC; counsel and on-call paged",
        ),
    )
    for minute, slug in ((40, ATLAS), (42, ATLAS_MINI)):
        t.at(
            eastern(friday, 18, minute),
            f"{slug}: pulled",
            move(
                slug,
                "suspended",
                f"Pulled under DOC directive {directive_ref}: all access cut until "
                "foreign-access controls are verified",
            ),
        )

    def revoke_foreign():
        admin = _user("admin")
        for slug in slugs:
            for name in ATLAS_PARTNERS:
                entry = _entry(slug, name)
                if str(entry.partner.country) != "US":
                    services.revoke_allowlist_entry(
                        entry,
                        actor=admin,
                        reason=f"Partner outside the US: revoked under DOC directive {directive_ref}",
                    )

    t.at(eastern(friday, 19, 5), "foreign partners revoked", revoke_foreign)

    def contest():
        staff = _user("staff")
        request = _request("DOC", directive_ref)
        services.update_request(
            request,
            actor=staff,
            lab_position="disagree",
            response="The lab complies in full but contests the directive's scope: the "
            "allied-country research partners were vetted under the prior export guidance.",
            reason="Counsel's position recorded",
        )
        services.set_request_status(
            request,
            actor=staff,
            status=RequestStatus.CONTESTED,
            note="Formally contested by counsel; compliance continues under protest",
        )

    t.at(eastern(friday, 20, 35), "directive contested", contest)
    t.at(
        eastern(friday, 21, 45),
        "directive complied",
        _set_status(
            "DOC",
            directive_ref,
            RequestStatus.COMPLIED,
            "Complied: both models pulled, foreign partners revoked, confirmation sent to DOC",
        ),
    )

    # --- The following Wednesday: a letter allows a limited release of one model ---------
    record_letter = _record(
        "DOC",
        letter_ref,
        [ATLAS_MINI],
        kind=RequestKind.LIMIT_RELEASE,
        binding=True,
        received_at=eastern(letter_day, 11),
        summary="Commerce permits a limited release of Atlas 1 Mini to vetted US partners "
        "only. General availability stays withheld; Atlas 1 remains suspended.",
        reason="Letter received from DOC",
    )

    t.at(eastern(letter_day, 11, 20), f"DOC letter {letter_ref} recorded", record_letter)

    t.at(
        eastern(letter_day, 11, 45),
        "letter acknowledged",
        _set_status("DOC", letter_ref, RequestStatus.ACKNOWLEDGED, "Acknowledged to DOC"),
    )
    resubmit_day = letter_day + timedelta(days=1)
    t.at(
        eastern(resubmit_day, 10),
        f"{ATLAS_MINI}: resubmitted",
        lambda: services.submit_release(
            _release(ATLAS_MINI),
            actor=_user("staff"),
            reason=f"Resubmitted for a limited release under DOC letter {letter_ref}",
        ),
    )
    for i, stage in enumerate((Stage.LIMITED, Stage.GENERAL)):
        day = resubmit_day + timedelta(days=1 + i)
        t.at(
            eastern(day, 15),
            f"{ATLAS_MINI}: round 2 {stage} approvals",
            _approve_all(ATLAS_MINI, [stage], day=day, agencies=codes, note="round 2"),
        )
    release_day = resubmit_day + timedelta(days=4)
    t.at(
        eastern(release_day, 14),
        f"{ATLAS_MINI}: limited to US partners",
        move(
            ATLAS_MINI,
            "limited",
            f"Limited release to US partners only, per DOC letter {letter_ref}",
        ),
    )
    t.at(
        eastern(release_day, 14, 30),
        "letter complied",
        _set_status(
            "DOC",
            letter_ref,
            RequestStatus.COMPLIED,
            "Released to vetted US partners only; GA withheld",
        ),
    )


def _frontier_story(t: _Timeline, today: date, now: datetime) -> None:
    codes = [code for code, _n, _e in AGENCIES]
    review_ref = f"CAISI-RR-{today - timedelta(days=17):%Y%m%d}"
    info_ref = f"OSTP-IR-{today - timedelta(days=5):%Y%m%d}"

    def create():
        services.create_release(
            actor=_user("staff"),
            slug=FRONTIER,
            name="Frontier 2",
            description="The lab's next frontier model: limited preview first, then general "
            "availability once every agency has reviewed it.",
            artifact_digest=digest(FRONTIER),
            target_date=today + timedelta(days=21),
            review_days=14,
        )

    t.at(eastern(today - timedelta(days=30), 9, 30), f"{FRONTIER} created", create)

    record_review_request = _record(
        "CAISI",
        review_ref,
        [FRONTIER],
        kind=RequestKind.REVIEW_REQUEST,
        received_at=eastern(today - timedelta(days=17), 9, 10),
        summary="CAISI asks to review Frontier 2 before any release.",
    )

    t.at(eastern(today - timedelta(days=17), 9, 40), "CAISI review request", record_review_request)
    t.at(
        eastern(today - timedelta(days=16), 10),
        "CAISI review request acknowledged",
        _set_status(
            "CAISI", review_ref, RequestStatus.ACKNOWLEDGED, "Review scheduled with the submission"
        ),
    )
    # Submitted 15 days ago with 14 review days: ONCD's pending general sign-off is overdue.
    t.at(
        eastern(today - timedelta(days=15), 10),
        f"{FRONTIER} submitted",
        lambda: services.submit_release(
            _release(FRONTIER), actor=_user("staff"), reason="Evaluations complete"
        ),
    )
    limited_days = {"DOC": 12, "OSTP": 11, "CAISI": 11, "ONCD": 10}
    for code in codes:
        day = today - timedelta(days=limited_days[code])
        t.at(
            eastern(day, 13),
            f"{FRONTIER}: {code} limited approval",
            _approve_all(FRONTIER, [Stage.LIMITED], day=day, agencies=[code], note="round 1"),
        )
    general_days = {"DOC": 9, "OSTP": 8, "CAISI": 7}  # ONCD's general review is still pending
    for code, days in general_days.items():
        day = today - timedelta(days=days)
        t.at(
            eastern(day, 13),
            f"{FRONTIER}: {code} general approval",
            _approve_all(
                FRONTIER,
                [Stage.GENERAL],
                day=day,
                agencies=[code],
                note="round 1",
                conditions={("CAISI", Stage.GENERAL): "Refresh the red-team report before GA."},
            ),
        )
    _propose_and_approve(
        t,
        FRONTIER,
        FRONTIER_PARTNERS,
        day=today - timedelta(days=9),
        approver="admin2",
        vetted="CAISI",
    )
    t.at(
        eastern(today - timedelta(days=7), 16),
        f"{FRONTIER}: limited preview",
        lambda: services.transition_release(
            _release(FRONTIER),
            to="limited",
            actor=_user("staff"),
            reason="Limited preview to 20 vetted partners",
        ),
    )
    t.at(
        eastern(today - timedelta(days=7), 16, 30),
        "CAISI review request closed",
        _set_status(
            "CAISI",
            review_ref,
            RequestStatus.CLOSED,
            "CAISI approved both stages; request answered",
        ),
    )

    record_info_request = _record(
        "OSTP",
        info_ref,
        [FRONTIER],
        kind=RequestKind.INFORMATION_REQUEST,
        received_at=eastern(today - timedelta(days=5), 15, 10),
        due_at=eastern(today + timedelta(days=2), 17),
        summary="OSTP asks for the Frontier 2 evaluation summary and the list of "
        "limited-preview partners.",
    )

    t.at(
        eastern(today - timedelta(days=5), 15, 30), "OSTP information request", record_info_request
    )


def seed(*, log: Callable[[str], None] = lambda _msg: None, now: datetime | None = None) -> bool:
    """Replay the scenario unless it is already there. Returns True if it wrote anything.
    The caller runs this inside ``system_actor("seed_demo")`` and a transaction."""
    if scenario_present():
        return False
    now = now or timezone.now()
    build_timeline(now).replay(now, log)
    return True


def set_demo_passwords() -> list[DemoUser]:
    """Give the demo users their well-known passwords (only where they differ)."""
    for u in DEMO_USERS:
        ensure_user(
            u.username, role=u.role, password=u.password, email=u.email, reason="demo login"
        )
    return DEMO_USERS


def _letter(name: str, lines: list[str]) -> SimpleUploadedFile:
    """A small PDF made here (compliance.evidence_samples): no file from outside."""
    return SimpleUploadedFile(name, pdf_letter(lines), content_type="application/pdf")


def _evidence_story(t: _Timeline, friday: date, letter_day: date, today: date) -> None:
    """R37/R38: the letters beside the decisions they support: the Friday directive, the
    letter allowing a limited release, and ONCD's limited-stage approval."""
    directive_ref = f"BIS-{friday:%Y%m%d}-FA"
    letter_ref = f"BIS-{letter_day:%Y%m%d}-LR"

    def directive():
        services.upload_evidence(
            actor=_user("staff"),
            file=_letter(
                f"{directive_ref}.pdf",
                [
                    "U.S. Department of Commerce - Bureau of Industry and Security",
                    f"Directive {directive_ref}, {friday:%A %d %B %Y}, 17:21 ET",
                    "Block all access to Atlas 1 and Atlas 1 Mini from outside the",
                    "United States, effective immediately. Confirm compliance tonight.",
                ],
            ),
            title=f"Commerce directive {directive_ref} (foreign access)",
            kind="directive",
            agency=_agency("DOC"),
            received_at=eastern(friday, 17, 21),
            requests=[_request("DOC", directive_ref)],
            releases=[_release(ATLAS), _release(ATLAS_MINI)],
            reason="Directive e-mail attachment filed",
        )

    t.at(eastern(friday, 17, 40), "Friday directive filed as evidence", directive)

    def letter():
        services.upload_evidence(
            actor=_user("staff"),
            file=_letter(
                f"{letter_ref}.pdf",
                [
                    "The Secretary of Commerce",
                    f"Letter {letter_ref}, {letter_day:%d %B %Y}",
                    "A limited release of Atlas 1 Mini to vetted US partners may proceed.",
                    "General availability stays withheld; Atlas 1 remains suspended.",
                ],
            ),
            title=f"Commerce Secretary letter {letter_ref} (limited release of Atlas 1 Mini)",
            kind="agency_letter",
            agency=_agency("DOC"),
            received_at=eastern(letter_day, 11),
            requests=[_request("DOC", letter_ref)],
            releases=[_release(ATLAS_MINI)],
            reason="Signed letter filed",
        )

    t.at(eastern(letter_day, 11, 25), "limited-release letter filed as evidence", letter)

    oncd_day = today - timedelta(days=10)

    def oncd():
        services.upload_evidence(
            actor=_user("staff"),
            file=_letter(
                f"ONCD-{FRONTIER}-limited.pdf",
                [
                    "Office of the National Cyber Director",
                    f"Decision on {FRONTIER}, limited stage, round 1, {oncd_day:%d %B %Y}",
                    "ONCD approves a limited preview to vetted partners.",
                ],
            ),
            title=f"ONCD decision: limited preview of {FRONTIER}",
            kind="approval",
            agency=_agency("ONCD"),
            received_at=eastern(oncd_day, 12),
            signoffs=[_signoff(FRONTIER, "ONCD", Stage.LIMITED)],
            releases=[_release(FRONTIER)],
            reason="ONCD decision letter filed",
        )

    t.at(eastern(oncd_day, 13, 10), "ONCD decision filed as evidence", oncd)

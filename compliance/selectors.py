"""Read models: the gate (R2/R3), the access check (R15) and compliance alerts (R16).

Pure reads with a query count that does not depend on the data size. The rules they explain
(``stage_blockers``, ``alerts_for``, ``access_answer``…) are pure functions in
``compliance/rules.py`` over the facts loaded here, so the services call them on rows they
have locked."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import cache

from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.db.models import F, QuerySet
from knox.models import AuthToken, get_token_model

from compliance import rules
from compliance.models import (
    LIVE_STATUSES,
    AllowlistEntry,
    AllowlistStatus,
    AuditRecord,
    GovernmentRequest,
    Partner,
    Release,
    ReleaseStatus,
    Reminder,
    RequestKind,
    RequestStatus,
    SignOff,
    SignOffStatus,
    Stage,
    WebhookEndpoint,
)
from compliance.models.roles import is_admin

# Re-exported: the evaluators moved to rules.py; callers written against selectors keep working.
from compliance.rules import (  # noqa: F401
    DOMESTIC_COUNTRY,
    STAGE_BLOCKING_KINDS,
    GateFacts,
    alerts_for,
    request_blockers,
    signoff_blockers,
    signoff_summary,
    stage_blockers,
)


def load_gate_facts(release: Release, *, lock: bool = False) -> GateFacts:
    signoffs = SignOff.objects.filter(release=release, round=release.review_round).select_related(
        "agency"
    )
    requests = (
        GovernmentRequest.objects.in_force()
        .binding()
        .filter(releases=release)
        .select_related("agency")
    )
    entries = AllowlistEntry.objects.filter(
        release=release, status=AllowlistStatus.APPROVED
    ).select_related("partner")
    if lock:
        # Through the services' lock helper (its lock order); imported here: services import
        # this module.
        from compliance.services.common import lock_all

        signoffs, entries = lock_all(signoffs), lock_all(entries)
    return GateFacts(
        release=release,
        required_codes=sorted(release.required_agencies.values_list("code", flat=True)),
        signoffs=list(signoffs),
        binding_requests=list(requests.order_by("pk")),
        approved_entries=list(entries),
    )


def _stage_view(facts: GateFacts, stage: str) -> dict:
    summary = signoff_summary(facts, stage)
    blockers = stage_blockers(facts, stage)
    return {
        "cleared": not blockers,
        **summary,
        "blockers": [b.as_dict() for b in blockers],
    }


def release_gate(release: Release) -> dict:
    """GET /releases/{slug}/gate/: each stage's sign-offs, blockers and the release's alerts."""
    return gate_view(load_gate_facts(release))


def gate_view(facts: GateFacts) -> dict:
    """The gate answer for already-loaded facts (now, or as of a past moment)."""
    release = facts.release
    return {
        "status": release.status,
        "round": release.review_round,
        "stages": {str(s): _stage_view(facts, s) for s in (Stage.LIMITED, Stage.GENERAL)},
        "alerts": alerts_for(facts),
    }


def check_access(release: Release, partner: Partner) -> dict:
    """R15: may ``partner`` use ``release`` now? ``{"allowed", "reason"}``."""
    return rules.access_answer(
        release.status,
        release.foreign_access_restricted,
        partner.country,
        lambda: AllowlistEntry.objects.filter(
            release=release, partner=partner, status=AllowlistStatus.APPROVED
        ).exists(),
    )


def check_access_by_keys(slug: str, partner_id: int) -> dict | None:
    """R15 for GET /releases/{slug}/access/?partner=: the release's state, the partner's
    country and its approved entry in ONE static statement (the API's hot path: building the
    equivalent ORM query cost ten times the round trip; kept because the ORM version measured
    0.12× instead of 0.35× the bare view end to end, docs/benchmarks.md). None when either
    is unknown. ``partner_id`` must be in the id column's range (the serializer bounds it);
    tests/test_selectors_access_by_keys.py proves it answers exactly as ``check_access``."""
    with connection.cursor() as cursor:
        cursor.execute(_access_statement(), [AllowlistStatus.APPROVED, slug, partner_id])
        row = cursor.fetchone()
    if row is None:
        return None
    status, restricted, country, approved = row
    return rules.access_answer(status, bool(restricted), country, lambda: bool(approved))


@cache
def _access_statement() -> str:
    qn = connection.ops.quote_name
    release, partner, entry = Release._meta, Partner._meta, AllowlistEntry._meta

    def col(meta, name: str) -> str:
        return qn(meta.get_field(name).column)

    return (
        f"SELECT r.{col(release, 'status')}, r.{col(release, 'foreign_access_restricted')}, "
        f"p.{col(partner, 'country')}, EXISTS(SELECT 1 FROM {qn(entry.db_table)} e "
        f"WHERE e.{col(entry, 'release')} = r.{qn(release.pk.column)} "
        f"AND e.{col(entry, 'partner')} = p.{qn(partner.pk.column)} "
        f"AND e.{col(entry, 'status')} = %s) "
        f"FROM {qn(release.db_table)} r, {qn(partner.db_table)} p "
        f"WHERE r.{col(release, 'slug')} = %s AND p.{qn(partner.pk.column)} = %s"
    )


def load_many_gate_facts(releases: Iterable[Release]) -> dict[int, GateFacts]:
    """``load_gate_facts`` for many releases at once, in a fixed number of queries."""
    releases = list(releases)
    ids = [r.pk for r in releases]
    if not ids:
        return {}
    required: dict[int, list[str]] = {rid: [] for rid in ids}
    for rid, code in Release.required_agencies.through.objects.filter(
        release_id__in=ids
    ).values_list("release_id", "agency__code"):
        required[rid].append(code)
    signoffs: dict[int, list[SignOff]] = {rid: [] for rid in ids}
    for so in SignOff.objects.filter(
        release_id__in=ids, round=F("release__review_round")
    ).select_related("agency"):
        signoffs[so.release_id].append(so)
    binding: dict[int, list[GovernmentRequest]] = {rid: [] for rid in ids}
    for link in (
        GovernmentRequest.releases.through.objects.filter(
            release_id__in=ids, governmentrequest__binding=True
        )
        .exclude(governmentrequest__status=RequestStatus.CLOSED)
        .select_related("governmentrequest__agency")
        .order_by("governmentrequest_id")
    ):
        binding[link.release_id].append(link.governmentrequest)
    entries: dict[int, list[AllowlistEntry]] = {rid: [] for rid in ids}
    for e in AllowlistEntry.objects.filter(
        release_id__in=ids, status=AllowlistStatus.APPROVED
    ).select_related("partner"):
        entries[e.release_id].append(e)
    return {
        r.pk: GateFacts(r, sorted(required[r.pk]), signoffs[r.pk], binding[r.pk], entries[r.pk])
        for r in releases
    }


def webhook_alerts() -> list[dict]:
    """R31: ``webhook_disabled`` for each endpoint disabled after its last failed delivery;
    it stands until an admin re-enables the endpoint (which clears ``disabled_reason``). An
    endpoint an admin switched off by hand has no reason and raises no alert. One query."""
    disabled = WebhookEndpoint.objects.filter(active=False).exclude(disabled_reason="")
    return [
        {
            "kind": "webhook_disabled",
            "webhook": endpoint.pk,
            "detail": f"webhook {endpoint.url} was disabled after its last failed delivery "
            f"({endpoint.disabled_reason}); re-enable it once the receiver is fixed",
        }
        for endpoint in disabled.order_by("pk")
    ]


def compliance_alerts(releases: Iterable[Release] | None = None) -> list[dict]:
    """R16 over many releases in a fixed number of queries (live or restricted ones only)."""
    if releases is None:
        qs = Release.objects.filter(status__in=LIVE_STATUSES) | Release.objects.filter(
            foreign_access_restricted=True
        )
        releases = qs.distinct()
    out: list[dict] = []
    for facts in load_many_gate_facts(releases).values():
        out += alerts_for(facts)
    return out


def gate_overviews(facts_by_release: dict[int, GateFacts]) -> dict[int, dict]:
    """Dashboard read model from ``load_many_gate_facts``: per release, each stage's
    current-round sign-offs by status, the earliest due date of the pending ones and the
    binding requests in force that hold the stage back (R2/R3). No queries of its own."""
    out: dict[int, dict] = {}
    for rid, facts in facts_by_release.items():
        stages = {}
        for stage in (Stage.LIMITED, Stage.GENERAL):
            pending_due = [
                so.due_at
                for so in facts.signoffs
                if so.stage == stage and so.status == SignOffStatus.PENDING
            ]
            stages[str(stage)] = {
                **signoff_summary(facts, stage),
                "required": len(facts.required_codes),
                "next_due": min(pending_due) if pending_due else None,
                "requests": [
                    q for q in facts.binding_requests if q.kind in STAGE_BLOCKING_KINDS[stage]
                ],
            }
        out[rid] = stages
    return out


def due_signoffs(now: datetime) -> QuerySet[SignOff]:
    """R17: pending current-round sign-offs due within the lead time or overdue, soonest
    first, of every release that is not quiet (``rules.QUIET_RELEASE_STATUSES``). The one
    definition the reminder sweep and the dashboard both list."""
    return (
        SignOff.objects.filter(
            status=SignOffStatus.PENDING,
            round=F("release__review_round"),
            due_at__lte=now + settings.REMINDER_LEAD_TIME,
        )
        .exclude(release__status__in=rules.QUIET_RELEASE_STATUSES)
        .order_by("due_at", "pk")
    )


def vetting_requests() -> QuerySet[GovernmentRequest]:
    """R14: the binding ``vet_users`` requests in force: an approval on a release they name
    must name the vetting agency (the service refuses without it, the pages say so)."""
    return GovernmentRequest.objects.in_force().binding().filter(kind=RequestKind.VET_USERS)


@contextmanager
def snapshot() -> Iterator[None]:
    """One consistent view of the data for an answer that carries its revision (R25): on
    PostgreSQL a read-only REPEATABLE READ transaction, so every statement inside sees the
    same committed state. (Inside an outer transaction, the caller's transaction is it.)"""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


def access_revision() -> int:
    """R25: the ``seq`` of the newest committed audit ledger entry (0 for an empty log)."""
    return AuditRecord.objects.order_by("-seq").values_list("seq", flat=True).first() or 0


def deploy_check(release: Release, *, stage: str, digest: str | None) -> dict:
    """R32: may artifacts with ``digest`` be deployed at ``stage`` now? Call it inside
    ``snapshot()`` with the release read there, so status and revision agree."""
    blockers = rules.deploy_blockers(
        status=release.status,
        stage=stage,
        reviewed_digest=release.artifact_digest,
        digest=digest,
    )
    return {
        "allowed": not blockers,
        "release": release.slug,
        "stage": str(stage),
        "status": release.status,
        "revision": access_revision(),
        "digest_matches": rules.digest_matches(release.artifact_digest, digest),
        "blockers": [b.as_dict() for b in blockers],
    }


def api_tokens(*, viewer: User, username: str | None = None) -> QuerySet[AuthToken]:
    """The API tokens ``viewer`` may see and revoke: their own; an admin's, everyone's.
    ``username`` narrows to one user. Newest first."""
    tokens = get_token_model().objects.select_related("user").order_by("-created", "digest")
    if not is_admin(viewer):
        tokens = tokens.filter(user=viewer)
    if username is not None:
        tokens = tokens.filter(user__username=username)
    return tokens


def sent_reminders() -> QuerySet[Reminder]:
    """R19: every reminder and notification e-mail sent, newest first, with its recipient
    (the reminder log page and GET /api/v1/reminders/)."""
    return Reminder.objects.select_related("recipient").order_by("-sent_at", "-id")


def open_to(status: str) -> str:
    """R27: who a gateway lets in for traffic it cannot decide by membership."""
    if status == ReleaseStatus.GENERAL:
        return "everyone"
    return "allowlist" if status == ReleaseStatus.LIMITED else "nobody"


def entitlement_entries(releases: Iterable[Release]) -> list[dict]:
    """R27 entries (``allowed_partners``: exactly the partners R15 allows) for ``releases``,
    by slug, in a fixed number of queries."""
    releases = sorted(releases, key=lambda r: r.slug)
    live = [r for r in releases if r.status in LIVE_STATUSES]
    approved: dict[int, list[tuple[int, str]]] = {r.pk: [] for r in live}
    for release_id, partner_id, country in AllowlistEntry.objects.filter(
        release__in=[r for r in live if r.status == ReleaseStatus.LIMITED],
        status=AllowlistStatus.APPROVED,
    ).values_list("release_id", "partner_id", "partner__country"):
        approved[release_id].append((partner_id, str(country)))
    everyone = (
        list(Partner.objects.values_list("pk", "country"))
        if any(r.status == ReleaseStatus.GENERAL for r in live)
        else []
    )
    out = []
    for release in releases:
        if release.status == ReleaseStatus.GENERAL:
            candidates = [(pk, str(c)) for pk, c in everyone]
        else:
            candidates = approved.get(release.pk, [])
        allowed = sorted(
            pk
            for pk, country in candidates
            if not release.foreign_access_restricted or country == DOMESTIC_COUNTRY
        )
        out.append(
            {
                "release": release.slug,
                "status": release.status,
                "open_to": open_to(release.status),
                "us_only": release.foreign_access_restricted,
                "allowed_partners": allowed,
            }
        )
    return out

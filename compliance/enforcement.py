"""Read models of enforcement (R28–R30): how far each gateway is, when an access change was
enforced everywhere, and the gateway alerts. Pure reads; the query count depends on the
number of gateways and changes shown, never on the size of the history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import CharField, Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Cast

from compliance import clock
from compliance.entitlements import access_changes
from compliance.models import (
    AllowlistEntry,
    AuditRecord,
    Gateway,
    GovernmentRequest,
    Release,
    ReleaseStatus,
)


def lag_limit() -> timedelta:
    return timedelta(seconds=settings.GATEWAY_LAG_SECONDS)


def silent_limit() -> timedelta:
    return timedelta(seconds=settings.GATEWAY_SILENT_SECONDS)


@dataclass(frozen=True)
class AccessChange:
    revision: int
    at: datetime
    model: str
    object_id: str
    object_repr: str
    changes: list


def _change(record: AuditRecord) -> AccessChange:
    return AccessChange(
        record.seq, record.at, record.model, record.object_id, record.object_repr, record.changes
    )


# --- Gateways ----------------------------------------------------------------------------


def gateways_with_progress(queryset=None):
    """Gateways annotated with ``oldest_pending_at``: the commit time of the oldest access
    change after their ``applied_revision`` (None: they enforce every change). One query."""
    queryset = Gateway.objects.all() if queryset is None else queryset
    oldest = (
        access_changes(AuditRecord.objects.filter(seq__gt=OuterRef("applied_revision")))
        .order_by("seq")
        .values("at")[:1]
    )
    return queryset.annotate(oldest_pending_at=Subquery(oldest))


def lag_seconds(gateway, now: datetime | None = None) -> int:
    """Seconds the gateway is behind: since the oldest access change it does not enforce."""
    pending = getattr(gateway, "oldest_pending_at", None)
    if pending is None:
        return 0
    return max(0, int(((now or clock.now()) - pending).total_seconds()))


def gateway_rows(queryset=None, now: datetime | None = None) -> list[dict]:
    """GET /api/v1/gateways/ rows (R28)."""
    now = now or clock.now()
    return [
        {
            "name": g.name,
            "active": g.active,
            "applied_revision": g.applied_revision,
            "applied_at": g.applied_at,
            "last_seen_at": g.last_seen_at,
            "lag_seconds": lag_seconds(g, now),
        }
        for g in gateways_with_progress(queryset).order_by("name")
    ]


def is_silent(gateway, now: datetime) -> bool:
    seen = gateway.last_seen_at or gateway.created_at
    return now - seen > silent_limit()


# --- When a change was enforced everywhere (R29) -----------------------------------------


def _first_receipts(gateway_ids: list[int], from_revision: int) -> dict[int, list]:
    """Each gateway's receipts at or above ``from_revision`` (its history rows), oldest
    first: the first one ≥ r is when it started enforcing revision r."""
    out: dict[int, list] = {pk: [] for pk in gateway_ids}
    rows = (
        Gateway.history.filter(id__in=gateway_ids, applied_revision__gte=from_revision)
        .exclude(applied_at=None)
        .order_by("history_id")
        .values_list("id", "applied_revision", "applied_at")
    )
    for pk, revision, at in rows:
        out[pk].append((revision, at))
    return out


def _enforcement(change: AccessChange, gateways: list, receipts: dict[int, list]) -> dict:
    pending = [g.name for g in gateways if g.applied_revision < change.revision]
    enforced_at = None
    if gateways and not pending:
        firsts = [
            next((at for rev, at in receipts[g.pk] if rev >= change.revision), g.applied_at)
            for g in gateways
        ]
        enforced_at = max(at for at in firsts if at is not None) if any(firsts) else None
    return {
        "revision": change.revision,
        "at": change.at,
        "enforced_at": enforced_at,
        "pending": sorted(pending),
    }


def enforcement_of(changes: list[AccessChange]) -> list[dict]:
    """R29 for each change: enforced when every active gateway reported a revision ≥ it;
    ``enforced_at`` the latest of those receipts; ``pending`` the gateways still behind."""
    if not changes:
        return []
    gateways = list(Gateway.objects.filter(active=True).order_by("pk"))
    receipts = _first_receipts([g.pk for g in gateways], min(c.revision for c in changes))
    return [_enforcement(c, gateways, receipts) for c in changes]


def _access_parts(release_id: int) -> list[Q]:
    """The ledger entries that may change the release's answers, as three filters (each
    read through the ledger's (model, object_id, seq) index): the release's own; its
    allowlist entries' (ever); a partner's country once the partner is on its allowlist, or
    while the release was general and US-only (then every domestic partner is allowed, and
    a partner that moves abroad is not: the feed's ``allowed_partners`` changes). Creating a
    partner is no access change (R29 names a partner's country, not its arrival)."""
    entry_keys = (
        AllowlistEntry.history.model.objects.filter(release_id=release_id)
        .annotate(key=Cast("id", CharField()))
        .values("key")
    )
    partner_keys = (
        AllowlistEntry.objects.filter(release_id=release_id)
        .annotate(key=Cast("partner_id", CharField()))
        .values("key")
    )
    # The release's history row in force when the partner's change was committed (the
    # ledger entry's ``at``, two queries out: the Exists's, then the ledger's).
    then = (
        Release.history.filter(id=release_id, history_date__lte=OuterRef(OuterRef("at")))
        .order_by("-history_date", "-history_id")
        .values("history_id")[:1]
    )
    general_us_only = Exists(
        Release.history.filter(
            history_id=Subquery(then),
            status=ReleaseStatus.GENERAL,
            foreign_access_restricted=True,
        )
    )
    return [
        Q(model="release", object_id=str(release_id)),
        Q(model="allowlistentry", object_id__in=entry_keys),
        Q(model="partner", action="changed") & (Q(object_id__in=partner_keys) | general_us_only),
    ]


def _release_access_changes(release: Release) -> QuerySet:
    part, *others = _access_parts(release.pk)
    for other in others:
        part |= other
    return access_changes(AuditRecord.objects.filter(part))


# The columns of an AccessChange, in its order.
_CHANGE_COLUMNS = ("seq", "at", "model", "object_id", "object_repr", "changes")
# A release id no row has: the gate's statement is compiled once with it, then run with the
# release's id in its place (see _latest_access_change_statement).
_PLACEHOLDER_ID = -1
_statements: dict[str, tuple[str, tuple, tuple[int, ...], tuple[int, ...]]] = {}


def _latest_access_change_parts(release_id: int) -> QuerySet:
    """The newest of ``_release_access_changes``, in one statement that reads each of its
    three parts through the ledger's (model, object_id, seq) index newest first and keeps
    the newest of the three: the single OR-filter walked the whole ledger backwards (the
    gate at ~0.02× of the bare view on 90k entries, docs/benchmarks.md)."""
    parts = [
        access_changes(AuditRecord.objects.filter(where))
        .order_by("-seq")
        .values_list(*_CHANGE_COLUMNS)[:1]
        for where in _access_parts(release_id)
    ]
    return parts[0].union(*parts[1:], all=True).order_by("-seq")


def _latest_access_change_statement(release_id: int) -> tuple[str, list]:
    """``_latest_access_change_parts`` as SQL and parameters for ``release_id``. The ORM
    compiles the statement once per database (compiling its three access filters cost more
    than running it: docs/benchmarks.md, "Issue 14 re-run"); each call puts the release's id
    where the placeholder id stood. Equivalence: tests/test_services_gateways.py."""
    cached = _statements.get(connection.alias)
    if cached is None:
        query = _latest_access_change_parts(_PLACEHOLDER_ID).query
        sql, params = query.get_compiler(connection=connection).as_sql()
        # plain ints, and psycopg's typed ones (Int8: the history subquery's key)
        as_int = tuple(
            i
            for i, p in enumerate(params)
            if isinstance(p, int) and not isinstance(p, bool) and p == _PLACEHOLDER_ID
        )
        as_text = tuple(i for i, p in enumerate(params) if p == str(_PLACEHOLDER_ID))
        # the release's key once as the ledger's object_id, twice in the allowlist subqueries,
        # once in the release's history
        assert (len(as_text), len(as_int)) == (1, 3), params
        cached = _statements[connection.alias] = (sql, tuple(params), as_int, as_text)
    sql, params, as_int, as_text = cached
    bound = list(params)
    for i in as_int:
        bound[i] = type(params[i])(release_id)
    for i in as_text:
        bound[i] = str(release_id)
    return sql, bound


def _latest_release_access_change(release: Release) -> AccessChange | None:
    """The release's newest access change (R29). SQLite cannot order or limit the parts of
    a UNION: there, the one filter (small databases)."""
    if not connection.features.supports_slicing_ordering_in_compound:
        record = _release_access_changes(release).order_by("-seq").first()
        return None if record is None else _change(record)
    sql, params = _latest_access_change_statement(release.pk)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    seq, at, model, object_id, object_repr, changes = row
    field = AuditRecord._meta.get_field("changes")  # the ORM's reading of the JSON column
    return AccessChange(
        seq, at, model, object_id, object_repr, field.from_db_value(changes, None, connection)
    )


def release_enforcement(release: Release) -> dict | None:
    """The gate's ``enforcement``: R29 for the release's latest access change (None: none)."""
    change = _latest_release_access_change(release)
    if change is None:
        return None
    return enforcement_of([change])[0]


def describe_change(change: AccessChange) -> str:
    """In words: "status: limited → suspended", "allowlist entry #12 status: approved →
    revoked", "partner #3 country: US → GB"."""
    parts = [
        f"{c['field']}: {'—' if c['old'] in (None, '') else c['old']} → {c['new']}"
        for c in change.changes
        if c.get("field") in {"status", "foreign_access_restricted", "country"}
    ]
    prefix = {"allowlistentry": "allowlist entry", "partner": "partner"}.get(change.model)
    text = "; ".join(parts)
    return f"{prefix} #{change.object_id} {text}" if prefix else text


def request_enforcement(request: GovernmentRequest) -> tuple[list[dict], int | None]:
    """R29 for a government request: the access changes on its releases while it was in
    force (from ``received_at`` until it closed), each with its enforcement, and the time to
    enforce (seconds from ``received_at`` to the latest ``enforced_at``; None while any is
    pending or there is none)."""
    releases = list(request.releases.all().order_by("slug"))
    out: list[tuple[str, AccessChange]] = []
    for release in releases:
        records = _release_access_changes(release).filter(at__gte=request.received_at)
        if request.closed_at is not None:
            records = records.filter(at__lte=request.closed_at)
        out += [(release.slug, _change(r)) for r in records.order_by("seq")]
    enforcement = enforcement_of([c for _slug, c in out])
    rows = [
        {"release": slug, "change": describe_change(c), **e}
        for (slug, c), e in zip(out, enforcement, strict=True)
    ]
    rows.sort(key=lambda r: r["revision"])
    if not rows or any(r["enforced_at"] is None for r in rows):
        return rows, None
    latest = max(r["enforced_at"] for r in rows)
    return rows, max(0, int((latest - request.received_at).total_seconds()))


# --- Release page: each gateway's state --------------------------------------------------


def gateway_states(release: Release, now: datetime | None = None) -> list[dict]:
    """Each active gateway for the release page: ``enforcing`` (it reported the release's
    latest access change), ``behind`` by N of the release's access changes, or ``silent``."""
    now = now or clock.now()
    gateways = list(Gateway.objects.filter(active=True).order_by("name"))
    if not gateways:
        return []
    changes = _release_access_changes(release)
    oldest_applied = min(g.applied_revision for g in gateways)
    later = list(changes.filter(seq__gt=oldest_applied).values_list("seq", flat=True))
    out = []
    for g in gateways:
        behind = sum(1 for seq in later if seq > g.applied_revision)
        state = "silent" if is_silent(g, now) else ("behind" if behind else "enforcing")
        out.append(
            {
                "name": g.name,
                "state": state,
                "behind": behind,
                "applied_revision": g.applied_revision,
                "last_seen_at": g.last_seen_at,
            }
        )
    return out


# --- R30 alerts --------------------------------------------------------------------------


def gateway_alerts(now: datetime | None = None) -> list[dict]:
    """``gateway_lagging`` (an access change older than GATEWAY_LAG_SECONDS not reported)
    and ``gateway_silent`` (not seen for GATEWAY_SILENT_SECONDS), active gateways only."""
    now = now or clock.now()
    alerts = []
    for g in gateways_with_progress(Gateway.objects.filter(active=True)).order_by("name"):
        if g.oldest_pending_at is not None and now - g.oldest_pending_at > lag_limit():
            alerts.append(
                {
                    "kind": "gateway_lagging",
                    "gateway": g.name,
                    "detail": f"gateway {g.name} enforces revision {g.applied_revision} but "
                    f"an access change from {lag_seconds(g, now)} s ago is not reported",
                }
            )
        if is_silent(g, now):
            seen = g.last_seen_at.isoformat() if g.last_seen_at else "never"
            alerts.append(
                {
                    "kind": "gateway_silent",
                    "gateway": g.name,
                    "detail": f"gateway {g.name} has not been seen since {seen}",
                }
            )
    return alerts

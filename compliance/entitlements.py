"""Read models for gateways (R25–R27): the access revision, AuthZEN decisions and the
entitlement feed. Every answer is computed from one consistent snapshot and carries the
revision it was computed at; the decision itself is R15's (``rules.access_answer``),
so the feed, the evaluation API and the access check cannot disagree."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection
from django.db.models import CharField, Max, Q, QuerySet, TextField
from django.db.models.functions import Cast

from compliance.models import (
    AllowlistEntry,
    AllowlistStatus,
    AuditRecord,
    Partner,
    Release,
    ReleaseStatus,
)
from compliance.prepared import fetch_all
from compliance.rules import DOMESTIC_COUNTRY, access_answer
from compliance.selectors import access_revision, snapshot

# R29: the ledger entries that change an access answer, by model: the fields that decide
# R15, and the value one side of the change must have (None: any change of the field). An
# allowlist entry matters only when it becomes, or stops being, approved.
ACCESS_FIELDS = {
    "release": {"status": None, "foreign_access_restricted": None},
    "allowlistentry": {"status": "approved"},
    "partner": {"country": None},
}
OPEN_TO = {ReleaseStatus.GENERAL: "everyone", ReleaseStatus.LIMITED: "allowlist"}
ACTION_USE = "use"
# The largest id PostgreSQL's bigint holds: a bigger "id" names no partner (not a 500).
MAX_ID = 2**63 - 1


def is_access_change(model: str, changes: list[dict]) -> bool:
    """Does a ledger entry change an access answer? (R29, R30: receipts never do.)"""
    fields = ACCESS_FIELDS.get(model, {})
    for change in changes or ():
        if change.get("field") in fields:
            value = fields[change["field"]]
            if value is None or value in (change.get("old"), change.get("new")):
                return True
    return False


def access_changes(ledger: QuerySet | None = None) -> QuerySet:
    """The ledger entries ``is_access_change`` accepts, filtered in the database: JSON
    containment on PostgreSQL; on SQLite, where JSON is text written by ``json.dumps``
    (each change ``{"field": …, "old": …, "new": …}`` in that order), a pattern on the text,
    which a value cannot fake (its quotes are escaped)."""
    ledger = AuditRecord.objects.all() if ledger is None else ledger
    postgres = connection.vendor == "postgresql"
    if not postgres:
        ledger = ledger.annotate(changes_text=Cast("changes", TextField()))
    condition = Q()
    for model, fields in ACCESS_FIELDS.items():
        any_field = Q()
        for name, value in sorted(fields.items()):
            if postgres and value is None:
                any_field |= Q(changes__contains=[{"field": name}])
            elif postgres:
                any_field |= Q(changes__contains=[{"field": name, "old": value}])
                any_field |= Q(changes__contains=[{"field": name, "new": value}])
            elif value is None:
                any_field |= Q(changes_text__contains=f'"field": "{name}"')
            else:
                any_field |= Q(
                    changes_text__regex=f'"field": "{name}", "old": ("{value}"|'
                    f'(null|"[^"]*"), "new": "{value}")'
                )
        condition |= Q(model=model) & any_field
    return ledger.filter(condition)


# --- The feed entry (pure) -------------------------------------------------------------


@dataclass(frozen=True)
class ReleaseFacts:
    id: int
    slug: str
    status: str
    restricted: bool


def feed_entry(release: ReleaseFacts, partners: dict[int, str], approved: set[int]) -> dict:
    """R27 entry: ``allowed_partners`` is exactly the partners R15 allows (``partners``:
    id → country; ``approved``: the partner ids approved on the release's allowlist)."""
    candidates = partners if release.status == ReleaseStatus.GENERAL else approved
    allowed = sorted(
        p
        for p in candidates
        if p in partners
        and access_answer(release.status, release.restricted, partners[p], lambda: True)["allowed"]
    )
    return {
        "release": release.slug,
        "status": release.status,
        "open_to": OPEN_TO.get(release.status, "nobody"),
        "us_only": release.restricted,
        "allowed_partners": allowed,
    }


def _entries(releases: Iterable[ReleaseFacts], partners, approved) -> list[dict]:
    return [
        feed_entry(r, partners, approved.get(r.id, set()))
        for r in sorted(releases, key=lambda r: r.slug)
    ]


# --- Now ---------------------------------------------------------------------------------


def _current_facts(release_ids: Iterable[int] | None = None):
    releases = Release.objects.all()
    entries = AllowlistEntry.objects.filter(status=AllowlistStatus.APPROVED)
    if release_ids is not None:
        ids = list(release_ids)
        releases, entries = releases.filter(pk__in=ids), entries.filter(release_id__in=ids)
    facts = [
        ReleaseFacts(*row)
        for row in releases.values_list("id", "slug", "status", "foreign_access_restricted")
    ]
    partners = {pk: str(country) for pk, country in Partner.objects.values_list("id", "country")}
    approved: dict[int, set[int]] = {}
    for release_id, partner_id in entries.values_list("release_id", "partner_id"):
        approved.setdefault(release_id, set()).add(partner_id)
    return facts, partners, approved


def entitlement_snapshot() -> dict:
    """GET /api/v1/entitlements/: every release's entry, by slug, at one revision."""
    with snapshot():
        revision = access_revision()
        return {"revision": revision, "releases": _entries(*_current_facts())}


# --- At a past revision ------------------------------------------------------------------


def _as_of(model, revision: int, object_ids=None):
    """The history rows of ``model`` as they stood at ``revision``: for each object, the
    row of its newest ledger entry with seq ≤ revision (deleted objects dropped)."""
    name = model._meta.model_name
    ledger = AuditRecord.objects.filter(model=name, seq__lte=revision)
    if object_ids is not None:
        ledger = ledger.filter(object_id__in=object_ids)
    newest = ledger.order_by().values("object_id").annotate(last=Max("seq")).values("last")
    history_ids = AuditRecord.objects.filter(seq__in=newest).values("history_id")
    return model.history.model.objects.filter(history_id__in=history_ids).exclude(history_type="-")


def _facts_at(revision: int, release_ids: list[int]):
    ids = [str(i) for i in release_ids]
    facts = [
        ReleaseFacts(*row)
        for row in _as_of(Release, revision, ids).values_list(
            "id", "slug", "status", "foreign_access_restricted"
        )
    ]
    entry_ids = (
        AllowlistEntry.history.model.objects.filter(release_id__in=release_ids)
        .annotate(key=Cast("id", CharField()))
        .values("key")
    )
    approved: dict[int, set[int]] = {}
    for release_id, partner_id in (
        _as_of(AllowlistEntry, revision, entry_ids)
        .filter(status=AllowlistStatus.APPROVED)
        .values_list("release_id", "partner_id")
    ):
        approved.setdefault(release_id, set()).add(partner_id)
    partners = {
        pk: str(country) for pk, country in _as_of(Partner, revision).values_list("id", "country")
    }
    return facts, partners, approved


def _changed_release_ids(since: int, revision: int) -> list[int] | None:
    """Releases whose entry may differ between ``since`` and ``revision``: those named by an
    access change in between (None: every release, after a partner's country changed)."""
    records = access_changes(AuditRecord.objects.filter(seq__gt=since, seq__lte=revision))
    records = records.values_list("model", "object_id", "history_id", "changes")
    release_ids: set[int] = set()
    entry_history_ids = []
    for model, object_id, history_id, changes in records:
        if not is_access_change(model, changes):
            continue
        if model == "partner":
            return None
        if model == "release":
            release_ids.add(int(object_id))
        else:
            entry_history_ids.append(history_id)
    if entry_history_ids:
        release_ids.update(
            AllowlistEntry.history.model.objects.filter(
                history_id__in=entry_history_ids
            ).values_list("release_id", flat=True)
        )
    return sorted(release_ids)


def access_changed(since: int, revision: int) -> bool:
    """Is an access change (R29) committed in (``since``, ``revision``]? Also one that
    alters no entry (a partner approved on a suspended release): the stream announces its
    revision all the same, so that gateways report it (R28) and none lags on it (R30)."""
    records = access_changes(AuditRecord.objects.filter(seq__gt=since, seq__lte=revision))
    rows = records.values_list("model", "changes").iterator()  # any(): stops at the first
    return any(is_access_change(m, c) for m, c in rows)


def announced_changes(since: int) -> dict:
    """``entitlement_changes(since)`` and ``access_changed``: whether the stream must make a
    gateway report this revision (an entry differs, or an access change that altered none
    lies in between). The hub's pushed batches and a subscriber's catch-up both ask this."""
    changes = entitlement_changes(since)
    revision = changes["revision"]
    changed = bool(changes["releases"]) or (revision > since and access_changed(since, revision))
    return {**changes, "access_changed": changed}


def entitlement_changes(since: int) -> dict:
    """GET /api/v1/entitlements/changes/?since=N: the entries that differ from what they
    were at revision N (a release that did not exist then differs), at one revision M.
    The audit history says what they were; the work grows with the changes since N."""
    with snapshot():
        revision = access_revision()
        if since >= revision:
            return {"revision": revision, "releases": []}
        if since == 0:
            return {"revision": revision, "releases": _entries(*_current_facts())}
        candidates = _changed_release_ids(since, revision)
        now = _entries(*_current_facts(candidates))
        if candidates is None:
            candidates = [r["id"] for r in Release.objects.values("id")]
        then = {e["release"]: e for e in _entries(*_facts_at(since, candidates))}
        return {"revision": revision, "releases": [e for e in now if then.get(e["release"]) != e]}


# --- AuthZEN decisions (R26) --------------------------------------------------------------


@dataclass(frozen=True)
class AccessQuery:
    """One evaluation: ``partner`` as given (a string id), the release slug, the action.
    None: the subject (resource) is not a partner (release) at all."""

    partner: str | None
    release: str | None
    action: str


def _partner_pk(value: str | None) -> int | None:
    if value is None:
        return None
    text = str(value)
    if not text.isascii() or not text.isdigit():
        return None
    pk = int(text)
    return pk if 0 < pk <= MAX_ID else None


def evaluate_access(queries: list[AccessQuery]) -> tuple[int, list[dict]]:
    """R26: each query's decision ``{"decision", "context": {"reason", "revision"}}``, all
    from one snapshot, in a constant number of queries whatever their number. An unknown
    partner or release, or another action than ``use``, is a refusal, not an error.

    On PostgreSQL the facts are ONE statement (``batch_sql``: one statement sees one
    committed state, no snapshot transaction needed): the snapshot transaction of four
    ORM reads (``access_facts``, kept for SQLite and as the reference of the equivalence
    tests) costs seven round trips (docs/benchmarks.md, issue 15)."""
    slugs = sorted({q.release for q in queries if q.release and "\x00" not in q.release})
    partner_pks = sorted({pk for q in queries if (pk := _partner_pk(q.partner)) is not None})
    if connection.vendor == "postgresql":
        revision, releases, partners, approved = batch_facts(slugs, partner_pks)
    else:
        revision, releases, partners, approved = access_facts(slugs, partner_pks)
    out = [
        _decision(q, releases.get(q.release), _partner_pk(q.partner), partners, approved, revision)
        for q in queries
    ]
    return revision, out


def access_facts(slugs: list[str], partner_pks: list[int]):
    """(revision, releases by slug, partners' countries by id, approved (release, partner)
    pairs) for the named releases and partners, read through the ORM in one snapshot."""
    with snapshot():
        revision = access_revision()
        releases = {
            slug: ReleaseFacts(pk, slug, status, restricted)
            for slug, pk, status, restricted in Release.objects.filter(slug__in=slugs).values_list(
                "slug", "id", "status", "foreign_access_restricted"
            )
        }
        partners = dict(Partner.objects.filter(pk__in=partner_pks).values_list("id", "country"))
        approved = set(
            AllowlistEntry.objects.filter(
                release_id__in=[r.id for r in releases.values()],
                partner_id__in=list(partners),
                status=AllowlistStatus.APPROVED,
            ).values_list("release_id", "partner_id")
        )
    return revision, releases, {pk: str(c) for pk, c in partners.items()}, approved


def batch_sql(arg=lambda n: "%s") -> str:
    """``access_facts`` in one statement (PostgreSQL): the revision, then each set as a
    JSON array (none: null). Parameters: slugs, partner ids, slugs, partner ids, the
    approved status."""
    q = connection.ops.quote_name
    ledger, release = q(AuditRecord._meta.db_table), q(Release._meta.db_table)
    partner, entry = q(Partner._meta.db_table), q(AllowlistEntry._meta.db_table)
    return (
        f"SELECT (SELECT {q('seq')} FROM {ledger} ORDER BY {q('seq')} DESC LIMIT 1),"
        f" (SELECT json_agg(json_build_array(r.{q('slug')}, r.{q('id')}, r.{q('status')},"
        f" r.{q('foreign_access_restricted')})) FROM {release} r"
        f" WHERE r.{q('slug')} = ANY({arg(1)})),"
        f" (SELECT json_agg(json_build_array(p.{q('id')}, p.{q('country')})) FROM {partner} p"
        f" WHERE p.{q('id')} = ANY({arg(2)})),"
        f" (SELECT json_agg(json_build_array(e.{q('release_id')}, e.{q('partner_id')}))"
        f" FROM {entry} e JOIN {release} r ON r.{q('id')} = e.{q('release_id')}"
        f" WHERE r.{q('slug')} = ANY({arg(3)}) AND e.{q('partner_id')} = ANY({arg(4)})"
        f" AND e.{q('status')} = {arg(5)})"
    )


def _json_rows(value) -> list:
    if value is None:
        return []
    return json.loads(value) if isinstance(value, str | bytes) else value


def batch_facts(slugs: list[str], partner_pks: list[int]):
    """``access_facts`` from ``batch_sql`` (prepared on a connection's second run)."""
    params = [slugs, partner_pks, slugs, partner_pks, str(AllowlistStatus.APPROVED)]
    ((revision, releases, partners, approved),) = fetch_all(
        "clearance_evaluate_batch", batch_sql, params
    )
    return (
        revision or 0,
        {slug: ReleaseFacts(pk, slug, st, bool(r)) for slug, pk, st, r in _json_rows(releases)},
        {pk: str(country) for pk, country in _json_rows(partners)},
        {(release_id, pk) for release_id, pk in _json_rows(approved)},
    )


def _decision(q: AccessQuery, release, pk, partners: dict, approved: set, revision: int) -> dict:
    """One AuthZEN answer from the facts read for it (``release`` None: unknown slug)."""
    if q.action != ACTION_USE:
        answer = {"allowed": False, "reason": "unsupported_action"}
    elif release is None:
        answer = {"allowed": False, "reason": "unknown_release"}
    elif pk not in partners:
        answer = {"allowed": False, "reason": "unknown_partner"}
    else:
        answer = access_answer(
            release.status,
            release.restricted,
            partners[pk],
            lambda r=release, p=pk: (r.id, p) in approved,
        )
    return {
        "decision": answer["allowed"],
        "context": {"reason": answer["reason"], "revision": revision},
    }


def evaluation_sql(arg=lambda n: "%s") -> str:
    """The revision, the release's facts, the partner's country and whether its allowlist
    entry is approved, in ONE statement that returns exactly one row: one statement sees one
    committed state (a statement snapshot on PostgreSQL, on SQLite too), so it needs no
    transaction of its own. The outer one-row select keeps the revision when the slug names
    no release. ``arg(n)`` spells the n-th parameter (``$n`` in a prepared statement); the
    parameters are ``evaluation_params(query)``."""
    q = connection.ops.quote_name
    ledger, release = q(AuditRecord._meta.db_table), q(Release._meta.db_table)
    partner, entry = q(Partner._meta.db_table), q(AllowlistEntry._meta.db_table)
    return (
        f"SELECT (SELECT {q('seq')} FROM {ledger} ORDER BY {q('seq')} DESC LIMIT 1),"
        f" r.{q('id')}, r.{q('status')}, r.{q('foreign_access_restricted')},"
        f" (SELECT p.{q('country')} FROM {partner} p WHERE p.{q('id')} = {arg(1)}),"
        f" EXISTS (SELECT 1 FROM {entry} e WHERE e.{q('release_id')} = r.{q('id')}"
        f" AND e.{q('partner_id')} = {arg(2)} AND e.{q('status')} = {arg(3)})"
        f" FROM (SELECT 1 AS one) AS one LEFT JOIN {release} r ON r.{q('slug')} = {arg(4)}"
    )


def evaluation_params(query: AccessQuery) -> list:
    pk = _partner_pk(query.partner)
    slug = query.release if query.release and "\x00" not in query.release else None
    return [pk, pk, str(AllowlistStatus.APPROVED), slug]


def evaluation_from_row(query: AccessQuery, row: tuple) -> dict:
    """R26's answer to ``query`` from the row of ``evaluation_sql`` (its six columns)."""
    revision, release_id, status, restricted, country, approved = row
    pk = _partner_pk(query.partner)
    release = None
    if release_id is not None:
        release = ReleaseFacts(release_id, query.release, status, bool(restricted))
    partners = {pk: str(country)} if country is not None else {}
    pairs = {(release_id, pk)} if approved else set()
    return _decision(query, release, pk, partners, pairs, revision or 0)


def evaluate_one(query: AccessQuery) -> dict:
    """R26 for a single evaluation (``POST /access/v1/evaluation`` when the token check
    cannot carry it: a session, SQLite): the same answer as ``evaluate_access([query])`` in
    one read instead of a snapshot transaction of four (prepared on a connection's second
    run, ``compliance.prepared``)."""
    (row,) = fetch_all("clearance_evaluate_one", evaluation_sql, evaluation_params(query))
    return evaluation_from_row(query, row)


__all__ = [
    "ACCESS_FIELDS",
    "DOMESTIC_COUNTRY",
    "AccessQuery",
    "access_changed",
    "access_changes",
    "announced_changes",
    "entitlement_changes",
    "entitlement_snapshot",
    "access_facts",
    "batch_facts",
    "evaluate_access",
    "evaluate_one",
    "evaluation_from_row",
    "evaluation_params",
    "evaluation_sql",
    "feed_entry",
    "is_access_change",
]

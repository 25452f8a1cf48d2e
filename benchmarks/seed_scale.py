"""``python -m benchmarks.seed_scale --releases N``: a lab with years of releases, for ``make bench``.

Benchmark tooling, not part of the app: it lives under ``benchmarks/`` (issue 14).

Bulk inserts (this is the one writer that is not a service: replaying thousands of releases
through the services would take hours), but every object's history is a real record written
through simple-history's own bulk helpers:

- ``bulk_create_with_history`` for each object's creation ("+", in its initial state),
- ``HistoryManager.bulk_history_create(update=True)`` for the intermediate states
  (submitted, decided, …) as "~" records,
- ``bulk_update_with_history`` for the final state (the object row and its last "~" record),
- the many-to-many snapshots (``required_agencies``, ``releases``) of every "~" record after the
  set, as simple-history writes them for a ``.set()``.

History rows carry who (``history_user`` and ``history_actor``), when (spread over ~3 years,
in each object's order) and why. The data follows the rules: a release is only live with its
stage's sign-offs approved and an approved allowlist; binding postpone/limit/suspend requests
in force only name releases that are not live; restricted releases approve only US partners.

The default size gives about 1,000,000 history rows (see ``ROWS_PER_RELEASE``)."""

from __future__ import annotations

import argparse
import copy
import os
import random
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import django
from django.apps import apps

if not apps.ready:  # run as a program (python -m benchmarks.seed_scale), not imported by a test
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.db import connection, models, transaction  # noqa: E402
from simple_history.utils import bulk_create_with_history, bulk_update_with_history  # noqa: E402

from compliance import clock  # noqa: E402
from compliance.audit.backfill import chain_unchained  # noqa: E402
from compliance.audit.context import system_actor  # noqa: E402
from compliance.models import (  # noqa: E402
    Agency,
    AllowlistEntry,
    AllowlistStatus,
    GovernmentRequest,
    Partner,
    Release,
    ReleaseStatus,
    RequestKind,
    RequestStatus,
    Role,
    SignOff,
    SignOffStatus,
    Stage,
)
from compliance.models.base import writes_without_history  # noqa: E402

# Measured (965,727 rows for 31,746 releases): history rows per release, requests included, at the
# default mix; the default --releases aims at ~1,000,000 history rows.
ROWS_PER_RELEASE = 30.4
DEFAULT_HISTORY_ROWS = 1_000_000
SLUG_PREFIX = "scale-"
CREATE_BATCH = 2000
# bulk_update writes CASE WHEN id=… per field: cost grows with the square of the batch.
UPDATE_BATCH = 250

AGENCIES = [
    ("DOC", "Department of Commerce"),
    ("ONCD", "Office of the National Cyber Director"),
    ("OSTP", "Office of Science and Technology Policy"),
    ("CAISI", "Center for AI Standards and Innovation"),
    ("DHS", "Department of Homeland Security"),
    ("DOE", "Department of Energy"),
    ("STATE", "Department of State"),
    ("NSC", "National Security Council"),
]
COUNTRIES = ["US"] * 16 + ["GB", "CA", "DE", "FR", "JP"]
# Final release statuses and their shares.
STATUS_MIX = [
    (ReleaseStatus.DRAFT, 0.08),
    (ReleaseStatus.IN_REVIEW, 0.35),
    (ReleaseStatus.LIMITED, 0.15),
    (ReleaseStatus.GENERAL, 0.25),
    (ReleaseStatus.SUSPENDED, 0.09),
    (ReleaseStatus.RETIRED, 0.08),
]
BLOCKING_KINDS = (
    RequestKind.POSTPONE_RELEASE,
    RequestKind.LIMIT_RELEASE,
    RequestKind.SUSPEND_ACCESS,
)
REQUEST_KIND_MIX = [
    (RequestKind.INFORMATION_REQUEST, 0.30),
    (RequestKind.REVIEW_REQUEST, 0.25),
    (RequestKind.VET_USERS, 0.10),
    (RequestKind.RESTRICT_FOREIGN_ACCESS, 0.08),
    (RequestKind.POSTPONE_RELEASE, 0.12),
    (RequestKind.LIMIT_RELEASE, 0.08),
    (RequestKind.SUSPEND_ACCESS, 0.07),
]
REQUEST_STATUS_MIX = [
    (RequestStatus.OPEN, 0.10),
    (RequestStatus.ACKNOWLEDGED, 0.10),
    (RequestStatus.COMPLIED, 0.20),
    (RequestStatus.CONTESTED, 0.05),
    (RequestStatus.CLOSED, 0.55),
]
REQUEST_PATHS = {
    RequestStatus.OPEN: [],
    RequestStatus.ACKNOWLEDGED: [RequestStatus.ACKNOWLEDGED],
    RequestStatus.COMPLIED: [RequestStatus.ACKNOWLEDGED, RequestStatus.COMPLIED],
    RequestStatus.CONTESTED: [RequestStatus.ACKNOWLEDGED, RequestStatus.CONTESTED],
    RequestStatus.CLOSED: [
        RequestStatus.ACKNOWLEDGED,
        RequestStatus.COMPLIED,
        RequestStatus.CLOSED,
    ],
}


def history_models() -> list[type[models.Model]]:
    """Every history table of the app (the objects' records; many-to-many snapshots apart)."""
    return [
        m
        for m in apps.get_app_config("compliance").get_models()
        if m.__name__.startswith("Historical")
        and hasattr(m, "history_id")
        and "_" not in m.__name__
    ]


def history_row_count() -> int:
    return sum(m.objects.count() for m in history_models())


def default_releases() -> int:
    return int(DEFAULT_HISTORY_ROWS / ROWS_PER_RELEASE)


@dataclass
class Snap:
    """One recorded state of an object: the fields that differ from the object's initial
    state, when, by whom, why."""

    fields: dict
    at: datetime
    user: models.Model
    reason: str


@dataclass
class Track:
    obj: models.Model
    snaps: list[Snap] = field(default_factory=list)

    def record(self, at, user, why, /, **fields) -> None:
        self.snaps.append(Snap(fields, at, user, why))


def _pick(rng: random.Random, mix):
    x = rng.random()
    for value, share in mix:
        x -= share
        if x < 0:
            return value
    return mix[-1][0]


def _stamp(obj, snap: Snap) -> None:
    for name, value in snap.fields.items():
        setattr(obj, name, value)
    obj._history_user = snap.user
    obj._history_date = snap.at
    obj._change_reason = snap.reason


def _by_user(objs):
    groups = defaultdict(list)
    for obj in objs:
        groups[obj._history_user].append(obj)
    return groups.items()


def _actor_attrs(user) -> dict:
    # bulk helpers do not send pre_create_historical_record, so the actor label is passed here.
    return {"history_actor": user.get_username()}


def write_tracks(model, tracks: list[Track]) -> int:
    """Insert ``tracks``' objects with their whole history; returns history rows written."""
    history = model.history
    written = 0
    for t in tracks:
        _stamp(t.obj, t.snaps[0])
    for user, objs in _by_user([t.obj for t in tracks]):
        bulk_create_with_history(
            objs, model, batch_size=CREATE_BATCH, custom_historical_attrs=_actor_attrs(user)
        )
        written += len(objs)
    middle = []
    for t in tracks:
        for snap in t.snaps[1:-1]:
            state = copy.copy(t.obj)
            _stamp(state, snap)
            t.obj.__dict__.update({k: v for k, v in snap.fields.items()})
            middle.append(state)
    for user, objs in _by_user(middle):
        history.bulk_history_create(
            objs, batch_size=CREATE_BATCH, update=True, custom_historical_attrs=_actor_attrs(user)
        )
        written += len(objs)
    final = [t for t in tracks if len(t.snaps) > 1]
    names = set()
    for t in final:
        _stamp(t.obj, t.snaps[-1])
        names.update(t.snaps[-1].fields)
    for t in final:
        names.update(k for s in t.snaps[1:-1] for k in s.fields)
    objs = [t.obj for t in final]
    if connection.vendor == "postgresql":
        # What bulk_update_with_history does (rows, then their "~" records, one transaction),
        # without Django's CASE WHEN per row and field, which took most of the seeding time.
        with transaction.atomic(savepoint=False):
            _update_from_values(model, objs, sorted(names))
            for user, group in _by_user(objs):
                history.bulk_history_create(
                    group,
                    batch_size=CREATE_BATCH,
                    update=True,
                    custom_historical_attrs=_actor_attrs(user),
                )
    else:
        for user, group in _by_user(objs):
            bulk_update_with_history(
                group,
                model,
                sorted(names),
                batch_size=UPDATE_BATCH,
                custom_historical_attrs=_actor_attrs(user),
            )
    return written + len(objs)


def _update_from_values(model, objs, names: list[str], batch: int = CREATE_BATCH) -> None:
    """UPDATE … FROM (VALUES …): one statement per batch, PostgreSQL only."""
    fields = [model._meta.get_field(n) for n in names]
    qn = connection.ops.quote_name
    table = qn(model._meta.db_table)
    cols = ", ".join(qn(f.column) for f in fields)
    sets = ", ".join(f"{qn(f.column)} = v.{qn(f.column)}" for f in fields)
    row_sql = "(%s::bigint, " + ", ".join(f"%s::{f.db_type(connection)}" for f in fields) + ")"
    with connection.cursor() as cursor:
        for i in range(0, len(objs), batch):
            chunk = objs[i : i + batch]
            params = []
            for obj in chunk:
                params.append(obj.pk)
                params += [f.get_db_prep_save(getattr(obj, f.attname), connection) for f in fields]
            values = ", ".join([row_sql] * len(chunk))
            cursor.execute(
                f"UPDATE {table} SET {sets} FROM (VALUES {values}) AS v(id, {cols}) "
                f"WHERE {table}.id = v.id",
                params,
            )


def write_m2m_snapshots(model, m2m_name: str, members: dict[int, list[int]], after: dict) -> int:
    """The many-to-many rows of every "~" history record of ``model`` made at or after the
    ``.set()`` (``after[pk]``), as simple-history stores them for each record."""
    through = getattr(model, m2m_name).through
    src = getattr(model, m2m_name).field.m2m_field_name()
    dst = getattr(model, m2m_name).field.m2m_reverse_field_name()
    hist_m2m = apps.get_model(model._meta.app_label, f"Historical{model.__name__}_{m2m_name}")
    links = {}
    rows = [
        through(**{f"{src}_id": pk, f"{dst}_id": other})
        for pk, others in members.items()
        for other in others
    ]
    # The through table has no history of its own: its changes are the owner's "~" records.
    for row in through.objects.bulk_create(rows, batch_size=CREATE_BATCH):
        links.setdefault(getattr(row, f"{src}_id"), []).append(row)
    out = []
    records = (
        model.history.filter(id__in=list(members), history_type="~")
        .values_list("history_id", "id", "history_date")
        .iterator(chunk_size=5000)
    )
    for history_id, pk, at in records:
        if at < after[pk]:
            continue
        for row in links.get(pk, ()):
            out.append(
                hist_m2m(
                    history_id=history_id,
                    id=row.pk,
                    **{f"{src}_id": pk, f"{dst}_id": getattr(row, f"{dst}_id")},
                )
            )
    hist_m2m.objects.bulk_create(out, batch_size=CREATE_BATCH)
    return len(out)


class Seeder:
    def __init__(self, *, releases: int, seed: int, chunk: int, out, all_due: bool = False):
        self.n = releases
        self.all_due = all_due
        self.rng = random.Random(seed)
        self.chunk = chunk
        self.out = out
        self.now = clock.now().replace(microsecond=0)
        self.counts: dict[str, int] = defaultdict(int)
        self.m2m_rows = 0

    # --- reference data ---------------------------------------------------------------
    def users(self):
        User = get_user_model()
        groups = {g.name: g for g in Group.objects.filter(name__in=Role.values)}
        made = {}
        for role, count in ((Role.STAFF, 20), (Role.ADMIN, 5), (Role.AUDITOR, 3)):
            made[role] = []
            for i in range(count):
                username = f"{SLUG_PREFIX}{role}-{i:02d}"
                user = User.objects.filter(username=username).first()
                if user is None:
                    user = User(username=username, email=f"{username}@lab.example")
                    user.set_unusable_password()
                    user.save()
                    user.groups.add(groups[role])
                made[role].append(user)
        return made

    def agencies(self) -> list[Agency]:
        existing = {a.code: a for a in Agency.objects.all()}
        missing = [
            Agency(code=code, name=name, contact_email=f"{code.lower()}@gov.example")
            for code, name in AGENCIES
            if code not in existing
        ]
        if missing:
            for a in missing:
                a._change_reason = "agency registered"
                a._history_date = self.now - timedelta(days=1200)
            bulk_create_with_history(
                missing, Agency, custom_historical_attrs={"history_actor": "system:seed_scale"}
            )
            self.counts["agency"] += len(missing)
        return list(Agency.objects.filter(code__in=[c for c, _ in AGENCIES]).order_by("code"))

    def partners(self, admin) -> list[Partner]:
        count = max(50, min(2000, self.n // 10))
        tracks = []
        for i in range(count):
            t = Track(
                Partner(
                    name=f"Scale Partner {i:05d}",
                    country=self.rng.choice(COUNTRIES),
                    contact_email=f"partner{i}@partner.example",
                )
            )
            t.record(self.now - timedelta(days=1100 - i % 100), admin, "partner registered")
            tracks.append(t)
        self.counts["partner"] += write_tracks(Partner, tracks)
        return [t.obj for t in tracks]

    # --- releases ---------------------------------------------------------------------
    def days(self, lo: float, hi: float) -> timedelta:
        return timedelta(seconds=int(self.rng.uniform(lo, hi) * 86400))

    def release_chunk(self, start: int, stop: int) -> list[tuple[int, str, bool]]:
        rng = self.rng
        rel_tracks, so_tracks, al_tracks = [], [], []
        plan = []  # (release track, required agency ids, time the set happened)
        for i in range(start, stop):
            status = ReleaseStatus.IN_REVIEW if self.all_due else _pick(rng, STATUS_MIX)
            owner = rng.choice(self.staff)
            recent = status == ReleaseStatus.IN_REVIEW
            rounds = 1 if self.all_due else 1 + (rng.random() < 0.3) + (rng.random() < 0.1)
            # In-review releases: the current round opened 9–19 days ago, so its sign-offs are
            # due around now (some overdue, some due within days: the reminder sweep's load).
            last_submit = self.now - (self.days(11, 16) if self.all_due else self.days(9, 19))
            if recent:
                created = last_submit - self.days(6 * rounds, 6 * rounds + 20)
            else:
                created = self.now - self.days(400, 1100)
            restricted = rng.random() < 0.12
            release = Release(
                slug=f"{SLUG_PREFIX}{i:07d}",
                name=f"Scale model {i}",
                description="Frontier model release (benchmark data).",
                owner=owner,
                artifact_digest=f"sha256:{rng.getrandbits(128):032x}",
                partner_cap=20,
                review_days=14,
                foreign_access_restricted=restricted,
            )
            rt = Track(release)
            rt.record(created, owner, "release created", status=ReleaseStatus.DRAFT, review_round=0)
            chosen = ["DOC"] + rng.sample([a for a in self.agency_codes if a != "DOC"], 3)
            if rng.random() < 0.3 and not self.all_due:
                chosen = chosen[:3]
            agencies = [self.agency_by_code[c] for c in sorted(chosen)]
            t = created + timedelta(hours=1)
            rt.record(t, owner, "required agencies set")
            plan.append((rt, [a.pk for a in agencies], t))
            rel_tracks.append(rt)
            if status == ReleaseStatus.DRAFT or (
                status == ReleaseStatus.RETIRED and rng.random() < 0.3
            ):
                if status == ReleaseStatus.RETIRED:
                    rt.record(t + self.days(5, 60), owner, "plans cancelled", status=status)
                continue
            goes_live = status not in (ReleaseStatus.IN_REVIEW,)
            for r in range(1, rounds + 1):
                last = r == rounds
                if last and recent:
                    t = last_submit
                else:
                    t = t + (self.days(1, 3) if recent else self.days(1, 20))
                actor = rng.choice(self.staff)
                if r == 1:
                    rt.record(
                        t,
                        actor,
                        "submitted for review",
                        status=ReleaseStatus.IN_REVIEW,
                        review_round=1,
                    )
                else:
                    rt.record(
                        t,
                        actor,
                        "review restarted: artifact digest changed",
                        status=ReleaseStatus.IN_REVIEW,
                        review_round=r,
                        artifact_digest=f"sha256:{rng.getrandbits(128):032x}",
                    )
                due = t + timedelta(days=14)
                latest = t
                for agency in agencies:
                    for stage in (Stage.LIMITED, Stage.GENERAL):
                        st = Track(
                            SignOff(
                                release=release, round=r, agency=agency, stage=stage, due_at=due
                            )
                        )
                        st.record(t, actor, f"review round {r} opened", status="pending")
                        outcome = (
                            SignOffStatus.PENDING
                            if self.all_due
                            else self.signoff_outcome(status, stage, last)
                        )
                        if outcome != SignOffStatus.PENDING:
                            if recent:
                                span = (self.now - t) if last else timedelta(days=2)
                            else:
                                span = timedelta(days=12)
                            at = t + timedelta(
                                seconds=int(rng.uniform(0.05, 0.95) * span.total_seconds())
                            )
                            latest = max(latest, at)
                            rec = rng.choice(self.staff)
                            if outcome == SignOffStatus.REJECTED:
                                st.record(
                                    at,
                                    rec,
                                    "insufficient red-team evidence",
                                    status=outcome,
                                    decided_at=at,
                                    recorded_by=rec,
                                    reason="insufficient red-team evidence",
                                )
                            else:
                                st.record(
                                    at,
                                    rec,
                                    f"{agency.code} approved",
                                    status=SignOffStatus.APPROVED,
                                    decided_at=at,
                                    recorded_by=rec,
                                    evidence=f"letter {agency.code}-{i}-{r}",
                                )
                                if outcome == SignOffStatus.WITHDRAWN:
                                    w = self.now - self.days(1, 10)
                                    st.record(
                                        w,
                                        rec,
                                        "agency withdrew its approval",
                                        status=outcome,
                                        decided_at=w,
                                        reason="agency withdrew its approval",
                                    )
                        so_tracks.append(st)
                t = latest
            if not goes_live:
                continue
            t += self.days(1, 5)
            al_tracks += self.allowlist(release, restricted, t)
            t += self.days(6, 10)
            actor = rng.choice(self.staff)
            went_general = status == ReleaseStatus.GENERAL or rng.random() < 0.6
            if not (status == ReleaseStatus.GENERAL and rng.random() < 0.4):
                rt.record(t, actor, "limited preview approved", status=ReleaseStatus.LIMITED)
                t += self.days(10, 60)
            if status != ReleaseStatus.LIMITED and went_general:
                rt.record(t, actor, "all agencies reviewed", status=ReleaseStatus.GENERAL)
                t += self.days(10, 200)
            if status == ReleaseStatus.SUSPENDED:
                rt.record(t, actor, "suspended under binding directive", status=status)
            elif status == ReleaseStatus.RETIRED:
                rt.record(t, actor, "superseded by a successor model", status=status)
        self.counts["release"] += write_tracks(Release, rel_tracks)
        self.m2m_rows += write_m2m_snapshots(
            Release,
            "required_agencies",
            {rt.obj.pk: ids for rt, ids, _ in plan},
            {rt.obj.pk: at for rt, _, at in plan},
        )
        self.counts["signoff"] += write_tracks(SignOff, so_tracks)
        self.counts["allowlistentry"] += write_tracks(AllowlistEntry, al_tracks)
        return [(t.obj.pk, t.obj.status, t.obj.foreign_access_restricted) for t in rel_tracks]

    def signoff_outcome(self, status: str, stage: str, last: bool) -> str:
        x = self.rng.random()
        if not last:
            return (
                SignOffStatus.APPROVED
                if x < 0.6
                else SignOffStatus.REJECTED
                if x < 0.7
                else SignOffStatus.PENDING
            )
        if status == ReleaseStatus.IN_REVIEW:
            share = 0.65 if stage == Stage.LIMITED else 0.4
            return (
                SignOffStatus.APPROVED
                if x < share
                else SignOffStatus.REJECTED
                if x > 0.97
                else SignOffStatus.PENDING
            )
        if status == ReleaseStatus.LIMITED and stage == Stage.GENERAL:
            return SignOffStatus.APPROVED if x < 0.5 else SignOffStatus.PENDING
        if status == ReleaseStatus.GENERAL and stage == Stage.GENERAL and x < 0.01:
            return SignOffStatus.WITHDRAWN  # a live release with a withdrawal: an R16 alert
        return SignOffStatus.APPROVED

    def allowlist(self, release: Release, restricted: bool, t: datetime) -> list[Track]:
        rng = self.rng
        pool = self.us_partners if restricted else self.partners_all
        out = []
        for n, partner in enumerate(rng.sample(pool, rng.randint(2, 14))):
            proposer = rng.choice(self.staff)
            admin = rng.choice(self.admins)
            at = t + timedelta(hours=n)
            entry = AllowlistEntry(release=release, partner=partner, proposed_by=proposer)
            tr = Track(entry)
            tr.record(at, proposer, "partner proposed", status=AllowlistStatus.PROPOSED)
            x = rng.random() if n else 0.0  # the first entry is approved: limited needs one
            decided = at + self.days(0.2, 3)
            if x < 0.8:
                tr.record(
                    decided,
                    admin,
                    "partner approved",
                    status=AllowlistStatus.APPROVED,
                    decided_by=admin,
                    decided_at=decided,
                )
                if 0.72 < x:
                    gone = decided + self.days(20, 200)
                    tr.record(
                        gone,
                        admin,
                        "partner breached terms",
                        status=AllowlistStatus.REVOKED,
                        decided_at=gone,
                        reason="partner breached terms",
                    )
            elif x < 0.93:
                tr.record(
                    decided,
                    admin,
                    "not vetted",
                    status=AllowlistStatus.REJECTED,
                    decided_by=admin,
                    decided_at=decided,
                    reason="not vetted",
                )
            out.append(tr)
        return out

    # --- government requests ------------------------------------------------------------
    def requests(self, released: list[tuple[int, str, bool]]) -> None:
        rng = self.rng
        live = [
            pk for pk, st, _ in released if st in (ReleaseStatus.LIMITED, ReleaseStatus.GENERAL)
        ]
        live_set = set(live)
        not_live = [pk for pk, _, _ in released if pk not in live_set]
        restricted = [pk for pk, _, r in released if r]
        every = [pk for pk, _, _ in released]
        count = max(1, len(released) // 4)
        tracks, members, after = [], {}, {}
        serial = defaultdict(int)
        for _ in range(count):
            kind = _pick(rng, REQUEST_KIND_MIX)
            final = _pick(rng, REQUEST_STATUS_MIX)
            binding = rng.random() < 0.45
            in_force = final != RequestStatus.CLOSED
            if in_force:
                received = self.now - self.days(1, 40)
            else:
                received = self.now - self.days(60, 1100)
            if binding and in_force and kind in BLOCKING_KINDS:
                pool = not_live or every
            elif binding and in_force and kind == RequestKind.RESTRICT_FOREIGN_ACCESS:
                pool = restricted or every
            else:
                pool = every
            agency = rng.choice(self.agency_list)
            serial[agency.code] += 1
            assignee = rng.choice(self.staff) if rng.random() < 0.8 else None
            actor = assignee or rng.choice(self.staff)
            req = GovernmentRequest(
                agency=agency,
                reference=f"{agency.code}-SC-{serial[agency.code]:06d}",
                kind=kind,
                binding=binding,
                received_at=received,
                due_at=received + self.days(3, 30) if rng.random() < 0.7 else None,
                summary=f"{kind.replace('_', ' ')} from {agency.code}",
                assignee=assignee,
            )
            tr = Track(req)
            tr.record(received, actor, "request recorded", status=RequestStatus.OPEN)
            t = received + timedelta(minutes=10)
            tr.record(t, actor, "releases named")
            pks = sorted(set(rng.sample(pool, min(len(pool), rng.randint(1, 3)))))
            t_span = (self.now - t) / 4
            for step in REQUEST_PATHS[final]:
                t = t + timedelta(seconds=int(rng.uniform(0.1, 1.0) * t_span.total_seconds()))
                fields = {"status": step}
                if step == RequestStatus.COMPLIED:
                    fields["complied_at"] = t
                    fields["lab_position"] = "agree"
                elif step == RequestStatus.CONTESTED:
                    fields["lab_position"] = "disagree"
                elif step == RequestStatus.CLOSED:
                    fields["closed_at"] = t
                tr.record(t, actor, f"status → {step}", **fields)
            tracks.append(tr)
            members[id(tr)] = pks
            after[id(tr)] = received + timedelta(minutes=10)
        self.counts["governmentrequest"] += write_tracks(GovernmentRequest, tracks)
        self.m2m_rows += write_m2m_snapshots(
            GovernmentRequest,
            "releases",
            {tr.obj.pk: members[id(tr)] for tr in tracks},
            {tr.obj.pk: after[id(tr)] for tr in tracks},
        )

    # --- the whole run ------------------------------------------------------------------
    def run(self) -> dict:
        started = time.monotonic()
        with system_actor("seed_scale"), transaction.atomic():
            users = self.users()
            self.staff, self.admins = users[Role.STAFF], users[Role.ADMIN]
            self.agency_list = self.agencies()
            self.agency_by_code = {a.code: a for a in self.agency_list}
            self.agency_codes = sorted(self.agency_by_code)
            self.partners_all = self.partners(self.admins[0])
            self.us_partners = [p for p in self.partners_all if p.country == "US"]
        released: list[tuple[int, str, bool]] = []
        for start in range(0, self.n, self.chunk):
            stop = min(self.n, start + self.chunk)
            with system_actor("seed_scale"), transaction.atomic():
                released += self.release_chunk(start, stop)
            self.out(
                f"releases {stop}/{self.n}: {sum(self.counts.values())} history rows, "
                f"{time.monotonic() - started:.0f}s"
            )
        with system_actor("seed_scale"), transaction.atomic():
            self.requests(released)
        chain_started = time.monotonic()
        # Bulk-written history sends no signal: chain it now, as the ledger would have (R23).
        chained = chain_unchained(out=self.out)
        return {
            "ledger_entries": chained,
            "ledger_seconds": round(time.monotonic() - chain_started, 1),
            "releases": self.n,
            "history_rows": history_row_count(),
            "history_rows_written": sum(self.counts.values()),
            "history_rows_by_model": dict(self.counts),
            "m2m_history_rows": self.m2m_rows,
            "seconds": round(time.monotonic() - started, 1),
        }


class SeedError(Exception):
    """The seed cannot run on this database (already seeded, bad size)."""


@writes_without_history()  # the bulk helpers write each object's history rows themselves
def seed(
    *, releases: int, seed: int = 1, chunk: int = 2000, all_due: bool = False, out=None
) -> dict:
    """Seed the configured database; returns the summary (counts and timings)."""
    if releases < 1:
        raise SeedError("--releases must be at least 1.")
    if Release.objects.filter(slug__startswith=SLUG_PREFIX).exists():
        raise SeedError("This database is already seeded by seed_scale: use a fresh one.")
    return Seeder(
        releases=releases, seed=seed, all_due=all_due, chunk=chunk, out=out or (lambda m: None)
    ).run()


def summary_line(summary: dict) -> str:
    return (
        f"seed_scale: {summary['releases']} releases, {summary['history_rows']} history rows "
        f"({summary['m2m_history_rows']} many-to-many history rows) in {summary['seconds']}s, "
        f"{summary['ledger_entries']} ledger entries chained in {summary['ledger_seconds']}s"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.seed_scale",
        description="Bulk-create a large, rule-abiding data set with real history rows (make bench).",
    )
    parser.add_argument(
        "--releases",
        type=int,
        default=default_releases(),
        help=f"How many releases (default {default_releases()}: ~1,000,000 history rows).",
    )
    parser.add_argument("--seed", type=int, default=1, help="Random seed (default 1).")
    parser.add_argument(
        "--all-due",
        action="store_true",
        help="Every release in review with 4 agencies and its 8 sign-offs pending, due "
        "between 2 days ago and 3 days from now (the reminder sweep's load: 8 per release).",
    )
    parser.add_argument(
        "--chunk", type=int, default=2000, help="Releases per transaction (default 2000)."
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="Print only the summary.")
    args = parser.parse_args(argv)
    try:
        summary = seed(
            releases=args.releases,
            seed=args.seed,
            chunk=args.chunk,
            all_due=args.all_due,
            out=None if args.quiet else print,
        )
    except SeedError as exc:
        print(f"seed_scale: {exc}", file=sys.stderr)
        return 2
    print(summary_line(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())

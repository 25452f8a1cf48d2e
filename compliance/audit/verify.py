"""R23: walk the chain and recompute every entry from the HISTORY TABLES.

Reported as broken (the first one found, in sequence order):
- ``sequence_gap``: a ledger entry is missing (seq is not the previous one + 1);
- ``link_broken``: ``prev_hash`` is not the previous entry's ``hash``;
- ``history_missing``: the history row an entry names is gone;
- ``content_mismatch``: the history row (or its m2m rows) differs from what was chained;
- ``ledger_mismatch``: the entry's who/when/why/what no longer matches its history row;
- ``hash_mismatch``: the entry's own columns differ from what its hash covers;
- ``ledger_missing`` (after the walk): a history row that no entry chains.

Then (``"kind": "live"``) every live row of every tracked model is compared with the latest
history record of its object, so a row written around the services (a raw UPDATE with the
app's own database role needs no trigger bypass) is caught:
- ``live_mismatch``: a tracked field or m2m set differs from the latest history record;
- ``history_missing``: a live row without history (or whose latest record is a deletion);
- ``live_missing``: no live row, but the latest history record says the object exists.

Last (``"kind": "evidence"``, R37), every evidence document's stored bytes are hashed again:
- ``evidence_mismatch``: they no longer hash to the ``sha256`` the chain recorded;
- ``evidence_missing``: they are gone from the folder or the bucket.

Memory stays flat: the ledger and each live table are read in chunks of ``CHUNK``.

Speed (issue 18, item 7): the walk does not load the ledger in sequence order with the
history rows it names. Instead
1. one SQL statement finds the first entry whose ``seq`` or ``prev_hash`` does not follow
   the entry before it (a window over the ledger: the gaps and links of the whole chain);
2. each history table is checked with its m2m history rows and its ledger entries: on
   PostgreSQL the database recomputes every entry's content digest, columns and own hash
   from the chain's canonical bytes written in SQL (``pgcanonical``) and returns the
   candidates (every entry that may fail; those it cannot write exactly included), else
   (SQLite) the three are merged in ``history_id`` order in Python; a history row that no
   entry names is the ``ledger_missing`` candidate;
3. the candidates, smallest ``seq`` first, are then checked again, one by one, by the
   original record-by-record check (``_check``) against their predecessor: the first it
   rejects is named exactly as the walk in sequence order would (kind, detail,
   ``checked``); candidates it passes are skipped. Should a table have more candidates than
   the scan lists (``scan.LIMIT``) and none of them fail, the original walk
   (``_walk_chain``) decides.
With ``VERIFY_WORKERS`` > 1 on PostgreSQL, the history tables (step 2) and the live tables
are shared among worker processes that read the same snapshot (``pg_export_snapshot``)."""

from __future__ import annotations

from collections import defaultdict

from django.db import connection, transaction
from django.db.models import Exists, Max, OuterRef

from compliance.audit.chain import GENESIS_HASH, entry_hash, jsonable
from compliance.audit.evidence import altered_document
from compliance.audit.ledger import entry_of, snapshot_columns
from compliance.audit.paging import keyset_chunks
from compliance.audit.registry import Tracked, snapshots, tracked_models
from compliance.audit.scan import live_suspect, scan_chain
from compliance.models.audit import AuditRecord

CHUNK = 2000


def verify_chain(workers: int = 1) -> dict:
    """``{"ok", "checked", "broken"}``; ``checked`` counts ledger entries; ``broken`` is None
    or the first problem: ``{"kind", "problem", "seq", "model", "history_table",
    "history_id", "detail"}``, plus ``"object_id"`` and ``"fields"`` when ``kind`` is
    ``"live"`` (a live row that its history does not explain). ``workers`` > 1 shares the
    history tables among that many processes (PostgreSQL; ``verify_audit --workers``)."""
    outer = connection.in_atomic_block  # inside a caller's transaction: use its snapshot
    with transaction.atomic():
        if connection.vendor == "postgresql" and not outer:
            # One consistent snapshot of ledger and history tables, even while writers run.
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        # Forked workers cannot see a caller's uncommitted writes: one process then.
        checked, broken, unchained = _fast_walk(1 if outer else workers)
        if broken is None and unchained is not None:
            broken = _ledger_missing(*unchained)
        if broken is None:
            broken = _unexplained_live_row()
        if broken is None:
            broken = altered_document()
    return {"ok": broken is None, "checked": checked, "broken": broken}


def verify_chain_reference() -> dict:
    """``verify_chain`` as it was before the fast scan (the walk in sequence order): what the
    tests compare the fast scan with, and the benchmark's "before"."""
    outer = connection.in_atomic_block
    with transaction.atomic():
        if connection.vendor == "postgresql" and not outer:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        checked, broken = _walk_chain()
        if broken is None:
            broken = _unchained_history_row()
        if broken is None:
            broken = _unexplained_live_row(fast=False)
        if broken is None:
            broken = altered_document()
    return {"ok": broken is None, "checked": checked, "broken": broken}


def _broken(record: AuditRecord | None, problem: str, detail: str, **where) -> dict:
    if record is not None:
        where = {
            "seq": record.seq,
            "model": record.model,
            "history_table": record.history_table,
            "history_id": record.history_id,
        }
    return {"kind": "chain", **where, "problem": problem, "detail": detail}


def _fast_walk(workers: int = 1) -> tuple[int, dict | None, tuple | None]:
    """(checked, the first broken entry or None, the ledger_missing candidate or None): the
    same answer as ``_walk_chain`` followed by ``_unchained_history_row``. Every entry that
    the original check rejects is among the scan's candidates; each candidate, smallest
    first, is checked the original way (``_check``, against its predecessor), and the first
    it rejects is the answer."""
    scan = scan_chain(workers)
    tables = tracked_models()
    for seq in scan.candidates:
        if scan.horizon is not None and seq > scan.horizon:
            break  # beyond what the scan listed: the original decides
        record = AuditRecord.objects.filter(seq=seq).first()
        problem = None if record is None else _check_alone(record, tables)
        if problem is not None:
            checked = AuditRecord.objects.filter(seq__lte=record.seq).count()
            return checked, _broken(record, *problem), None
    if scan.horizon is None:
        return scan.entries, None, scan.unchained
    # More candidates than were listed, and none of those failed: the original decides.
    checked, broken = _walk_chain()
    return checked, broken, None if broken else _unchained_key()


def _check_alone(record: AuditRecord, tables) -> tuple[str, str] | None:
    """``_check`` of one entry against the entry before it."""
    before = AuditRecord.objects.filter(seq__lt=record.seq).order_by("-seq").first()
    expected_seq, prev_hash = (before.seq + 1, before.hash) if before else (1, GENESIS_HASH)
    snaps = {}
    if record.history_table in tables:
        snaps = {record.history_table: snapshots(tables[record.history_table], [record.history_id])}
    return _check(record, expected_seq, prev_hash, tables, snaps)


def _walk_chain() -> tuple[int, dict | None]:
    return walk_chain()


def walk_chain(*, after: int = 0, prev_hash: str | None = None) -> tuple[int, dict | None]:
    """(entries checked, first problem or None) over the entries after seq ``after``, the
    one before them having hash ``prev_hash`` (``--since-checkpoint`` starts mid-chain). The
    original walk in sequence order: the reference the fast scan is checked against."""
    tables = tracked_models()
    expected_seq, prev_hash, checked = after + 1, prev_hash or GENESIS_HASH, 0
    for chunk in keyset_chunks(AuditRecord.objects.filter(seq__gt=after), "seq", CHUNK):
        wanted: dict[str, list[int]] = defaultdict(list)
        for record in chunk:
            wanted[record.history_table].append(record.history_id)
        snaps = {
            table: snapshots(tables[table], ids) for table, ids in wanted.items() if table in tables
        }
        for record in chunk:
            checked += 1
            problem = _check(record, expected_seq, prev_hash, tables, snaps)
            if problem is not None:
                return checked, _broken(record, *problem)
            expected_seq, prev_hash = record.seq + 1, record.hash
    return checked, None


def _check(record, expected_seq, prev_hash, tables, snaps) -> tuple[str, str] | None:
    if record.seq != expected_seq:
        return "sequence_gap", f"expected seq {expected_seq}, found {record.seq}"
    if record.prev_hash != prev_hash:
        return "link_broken", "prev_hash is not the previous entry's hash"
    snap = snaps.get(record.history_table, {}).get(record.history_id)
    if snap is None:
        return "history_missing", f"{record.history_table} row {record.history_id} is gone"
    expected = snapshot_columns(tables[record.history_table], snap)
    if expected.pop("content_digest") != record.content_digest:
        return "content_mismatch", f"{record.history_table} row {record.history_id} was altered"
    differing = sorted(k for k, v in expected.items() if getattr(record, k) != v)
    if differing:
        return "ledger_mismatch", "ledger differs from history in " + ", ".join(differing)
    if entry_hash(entry_of(record)) != record.hash:
        return "hash_mismatch", "the entry's columns do not match its hash"
    return None


def _unchained_history_row() -> dict | None:
    """The earliest history row (any table) that has no ledger entry, else None."""
    key = _unchained_key()
    return None if key is None else _ledger_missing(*key)


def _unchained_key() -> tuple | None:
    """(history_date, table, model, history_id) of the earliest unchained history row."""
    found = []
    for table, tracked in tracked_models().items():
        chained = AuditRecord.objects.filter(history_table=table, history_id=OuterRef("history_id"))
        row = (
            tracked.history_model.objects.filter(~Exists(chained))
            .order_by("history_date", "history_id")
            .values("history_id", "history_date")
            .first()
        )
        if row is not None:
            found.append((row["history_date"], table, tracked.name, row["history_id"]))
    return min(found) if found else None


def _ledger_missing(_date, table: str, model: str, history_id: int) -> dict:
    return _broken(
        None,
        "ledger_missing",
        f"{table} row {history_id} has no ledger entry",
        seq=None,
        model=model,
        history_table=table,
        history_id=history_id,
    )


def _unexplained_live_row(fast: bool = True) -> dict | None:
    """The first live row (table by table, in primary-key order) that its latest history
    record does not explain, else the first object whose history says it exists but whose
    row is gone."""
    for table in sorted(tables := tracked_models()):
        tracked = tables[table]
        live = tracked.model._default_manager.order_by().values(*_compared(tracked))
        if fast and connection.vendor == "postgresql":
            # One statement finds the first row that may be unexplained; the rows before it
            # are explained, so the original check starts there (or skips the table).
            suspect = live_suspect(tracked, _compared(tracked))
            if suspect is None:
                rows_from = None
            else:
                rows_from = live.filter(**{f"{tracked.pk_attname}__gte": suspect})
        else:
            rows_from = live
        for rows in (
            () if rows_from is None else keyset_chunks(rows_from, tracked.pk_attname, CHUNK)
        ):
            problem = _first_unexplained(tracked, rows)
            if problem is not None:
                return problem
        problem = _vanished_row(tracked)
        if problem is not None:
            return problem
    return None


def _compared(tracked: Tracked) -> list[str]:
    """The columns a history row copies from its live row (untracked ones, e.g. a user's
    password and last_login, are not in history and not compared)."""
    m2m = {m.name for m in tracked.m2m}
    return [f.attname for f in tracked.history_model.tracked_fields if f.name not in m2m]


def _first_unexplained(tracked: Tracked, rows: list[dict]) -> dict | None:
    """One chunk of live rows against their objects' latest history records: four queries,
    plus two per m2m field."""
    pk = tracked.pk_attname
    ids = [row[pk] for row in rows]
    latest = dict(
        tracked.history_model.objects.filter(**{f"{pk}__in": ids})
        .order_by()
        .values_list(pk)
        .annotate(latest=Max("history_id"))
    )
    snaps = snapshots(tracked, latest.values())
    live_m2m = {m.name: defaultdict(list) for m in tracked.m2m}
    for m in tracked.m2m:
        pairs = m.through.objects.filter(**{f"{m.source_attname}__in": ids}).values_list(
            m.source_attname, m.target_attname
        )
        for source, target in pairs:
            live_m2m[m.name][source].append(target)
    for row in rows:
        snap = snaps.get(latest.get(row[pk]))
        if snap is None or snap["fields"]["history_type"] == "-":
            what = "has no history record" if snap is None else "was deleted, says its history"
            return _live(tracked, "history_missing", row[pk], [], snap, what)
        fields = snap["fields"]
        differing = [name for name, value in jsonable(row).items() if fields[name] != value]
        differing = [tracked.model._meta.get_field(n).name for n in differing] + [
            m.name
            for m in tracked.m2m
            if sorted(r[m.target_attname] for r in snap["m2m"][m.name])
            != sorted(live_m2m[m.name][row[pk]])
        ]
        if differing:
            what = "differs from its latest history record in " + ", ".join(sorted(differing))
            return _live(tracked, "live_mismatch", row[pk], sorted(differing), snap, what)
    return None


def _vanished_row(tracked: Tracked) -> dict | None:
    """The earliest object whose latest history record is not a deletion but has no row."""
    pk = tracked.pk_attname
    history = tracked.history_model.objects
    later = history.filter(**{pk: OuterRef(pk), "history_id__gt": OuterRef("history_id")})
    live = tracked.model._default_manager.filter(pk=OuterRef(pk))
    row = (
        history.exclude(history_type="-")
        .filter(~Exists(later), ~Exists(live))
        .order_by("history_id")
        .values(pk, "history_id")
        .first()
    )
    if row is None:
        return None
    snap = snapshots(tracked, [row["history_id"]])[row["history_id"]]
    what = "is gone but its history says it exists"
    return _live(tracked, "live_missing", row[pk], [], snap, what)


def _live(tracked: Tracked, problem: str, object_id, fields: list[str], snap, what) -> dict:
    history_id = snap["fields"]["history_id"] if snap is not None else None
    seq = None
    if history_id is not None:
        seq = (
            AuditRecord.objects.filter(history_table=tracked.table, history_id=history_id)
            .values_list("seq", flat=True)
            .first()
        )
    return {
        "kind": "live",
        "problem": problem,
        "model": tracked.name,
        "object_id": str(object_id),
        "fields": fields,
        "seq": seq,
        "history_table": tracked.table,
        "history_id": history_id,
        "detail": f"{tracked.name} {object_id} {what}",
    }

"""R23: walk the chain and recompute every entry from the HISTORY TABLES.

Reported as broken (the first one found, in sequence order):
- ``sequence_gap``: a ledger entry is missing (seq is not the previous one + 1);
- ``link_broken``: ``prev_hash`` is not the previous entry's ``hash``;
- ``history_missing``: the history row an entry names is gone;
- ``content_mismatch``: the history row (or its m2m rows) differs from what was chained;
- ``ledger_mismatch``: the entry's who/when/why/what no longer matches its history row;
- ``hash_mismatch``: the entry's own columns differ from what its hash covers;
- ``ledger_missing`` (after the walk): a history row that no entry chains.

Memory stays flat: the ledger is read in keyset chunks of ``CHUNK`` entries."""

from __future__ import annotations

from collections import defaultdict

from django.db import connection, transaction
from django.db.models import Exists, OuterRef

from compliance.audit.chain import GENESIS_HASH, content_digest, entry_hash, jsonable
from compliance.audit.export import seq_chunks
from compliance.audit.ledger import ACTIONS, entry_of
from compliance.audit.registry import snapshots, tracked_models
from compliance.models.audit import AuditRecord

CHUNK = 2000


def verify_chain() -> dict:
    """``{"ok", "checked", "broken"}``; ``broken`` is None or the first broken record:
    ``{"seq", "model", "history_table", "history_id", "problem", "detail"}``."""
    outer = connection.in_atomic_block  # inside a caller's transaction: use its snapshot
    with transaction.atomic():
        if connection.vendor == "postgresql" and not outer:
            # One consistent snapshot of ledger and history tables, even while writers run.
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        checked, broken = _walk_chain()
        if broken is None:
            broken = _unchained_history_row()
    return {"ok": broken is None, "checked": checked, "broken": broken}


def _broken(record: AuditRecord | None, problem: str, detail: str, **where) -> dict:
    if record is not None:
        where = {
            "seq": record.seq,
            "model": record.model,
            "history_table": record.history_table,
            "history_id": record.history_id,
        }
    return {**where, "problem": problem, "detail": detail}


def _walk_chain() -> tuple[int, dict | None]:
    tables = tracked_models()
    expected_seq, prev_hash, checked = 1, GENESIS_HASH, 0
    for chunk in seq_chunks(AuditRecord.objects.all(), CHUNK):
        wanted: dict[str, list[int]] = defaultdict(list)
        for record in chunk:
            wanted[record.history_table].append(record.history_id)
        snaps = {
            table: snapshots(tables[table], ids) for table, ids in wanted.items() if table in tables
        }
        for record in chunk:
            checked += 1
            problem = _check(record, expected_seq, prev_hash, snaps)
            if problem is not None:
                return checked, _broken(record, *problem)
            expected_seq, prev_hash = record.seq + 1, record.hash
    return checked, None


def _check(record, expected_seq, prev_hash, snaps) -> tuple[str, str] | None:
    if record.seq != expected_seq:
        return "sequence_gap", f"expected seq {expected_seq}, found {record.seq}"
    if record.prev_hash != prev_hash:
        return "link_broken", "prev_hash is not the previous entry's hash"
    snap = snaps.get(record.history_table, {}).get(record.history_id)
    if snap is None:
        return "history_missing", f"{record.history_table} row {record.history_id} is gone"
    if content_digest(snap) != record.content_digest:
        return "content_mismatch", f"{record.history_table} row {record.history_id} was altered"
    fields = snap["fields"]
    expected = {
        "actor": fields["history_actor"] or "system",
        "at": fields["history_date"],
        "reason": fields["history_change_reason"] or "",
        "action": ACTIONS.get(fields["history_type"]),
        "user_id": fields["history_user_id"],
    }
    actual = {
        "actor": record.actor,
        "at": jsonable(record.at),
        "reason": record.reason,
        "action": record.action,
        "user_id": record.user_id,
    }
    differing = sorted(k for k in expected if expected[k] != actual[k])
    if differing:
        return "ledger_mismatch", "ledger differs from history in " + ", ".join(differing)
    if entry_hash(entry_of(record)) != record.hash:
        return "hash_mismatch", "the entry's columns do not match its hash"
    return None


def _unchained_history_row() -> dict | None:
    """The earliest history row (any table) that has no ledger entry, else None."""
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
    if not found:
        return None
    _date, table, model, history_id = min(found)
    return _broken(
        None,
        "ledger_missing",
        f"{table} row {history_id} has no ledger entry",
        seq=None,
        model=model,
        history_table=table,
        history_id=history_id,
    )

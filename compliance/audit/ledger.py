"""Append one ledger entry per history record, in the writer's transaction (R21, R23).

simple-history sends ``post_create_historical_record`` after it wrote the history row and
its m2m history rows; the receiver in ``compliance.audit.signals`` calls ``append``. The
chain is extended under one lock (a transaction-level advisory lock on PostgreSQL, the
write lock of an IMMEDIATE transaction on SQLite), so concurrent writers queue instead of
forking the chain, and a rolled-back transaction takes its history rows and its ledger
entries with it: sequence numbers stay gap-free.

``build_entry`` is the one builder of an entry from a history snapshot (``append`` here,
``backfill.chain_unchained`` for bulk-written history); ``snapshot_columns`` is the one
mapping of history fields to ledger columns, which ``verify`` checks every entry against."""

from __future__ import annotations

import datetime as dt
import threading

from django.db import connections, models, transaction
from django.db.models.expressions import RawSQL

from compliance.audit.chain import (
    GENESIS_HASH,
    content_digest,
    entry_hash,
    jsonable,
    sha256_plain,
)
from compliance.audit.registry import Tracked, snapshots_of, snapshots_of_rows
from compliance.audit.tree import append_leaf, tree_in_database
from compliance.models.audit import AuditAction, AuditRecord

# pg_advisory_xact_lock key for the chain head ("CLRA"), taken inside the SQL function
# clearance_audit_chain_head() (migration audit_append_only).
CHAIN_LOCK_KEY = 0x434C5241
ACTIONS = {"+": AuditAction.CREATED, "~": AuditAction.CHANGED, "-": AuditAction.DELETED}
LABEL_FIELDS = ("username", "code", "slug", "name")
_taken = threading.local()  # per thread, like Django's database connections


def chain_locks_taken(using: str = "default") -> int:
    """How often this thread took the chain lock on ``using``: the services' lock helpers
    (services.common) refuse a row lock once it grew during the service."""
    return getattr(_taken, using, 0)


def _count_lock(using: str) -> None:
    setattr(_taken, using, chain_locks_taken(using) + 1)


def lock_chain_head(using: str) -> tuple[int, str] | None:
    """Take the chain lock (held until commit) and read the head (seq, hash), or None."""
    _count_lock(using)
    connection = connections[using]
    if connection.vendor == "postgresql":
        # Lock and read in one round trip: see migration audit_append_only.
        with connection.cursor() as cursor:
            cursor.execute("SELECT seq, hash FROM clearance_audit_chain_head()")
            return cursor.fetchone()
    # SQLite: the IMMEDIATE transaction already holds the database's only write lock.
    return AuditRecord.objects.using(using).order_by("-seq").values_list("seq", "hash").first()


def append(tracked: Tracked, history_instance, instance, using: str = "default") -> AuditRecord:
    if connections[using].in_atomic_block:
        return _append(tracked, history_instance, instance, using)
    # A write outside a transaction (a shell, a fixture): still take the lock for the append.
    with transaction.atomic(using=using):
        return _append(tracked, history_instance, instance, using)


def _append(tracked: Tracked, history_instance, instance, using: str) -> AuditRecord:
    hid = history_instance.pk
    object_pk = getattr(history_instance, tracked.pk_attname)
    # This record and the one before it for the same object, and the chain head.
    rows = tracked.history_model.objects.using(using).filter(
        **{tracked.pk_attname: object_pk, "history_id__lte": hid}
    )
    snaps, head = _snapshots_and_head(tracked, rows.order_by("-history_id")[:2], using)
    previous = next((s for h, s in snaps.items() if h != hid), None)
    seq, prev_hash = (head[0] + 1, head[1]) if head else (1, GENESIS_HASH)
    record = build_entry(
        tracked,
        snaps[hid],
        previous,
        seq=seq,
        prev_hash=prev_hash,
        object_repr=str(instance),
        using=using,
        instance=instance,
    )
    record.save(using=using, force_insert=True)
    if not tree_in_database(using):  # PostgreSQL: the ledger's trigger adds the leaf
        append_leaf(seq, record.hash, using)  # R33: the tree grows with the entry, same lock
    return record


# The chain head under the chain lock, as one column of the statement that reads the history
# rows: an uncorrelated scalar subquery, run once per statement. The function takes the lock
# and reads the head in a snapshot of its own (migration audit_append_only), so what the
# outer statement's snapshot saw does not matter.
_HEAD_COLUMN = "_clearance_chain_head"
_HEAD_SQL = "SELECT h.seq::text || ' ' || h.hash FROM clearance_audit_chain_head() h"


def _snapshots_and_head(
    tracked: Tracked, rows, using: str
) -> tuple[dict[int, dict], tuple[int, str] | None]:
    """The snapshots of history ``rows`` (at least one) and the chain head, lock taken: on
    PostgreSQL in one round trip (issue 18: a round trip is most of an audited write's
    cost), elsewhere as ``snapshots_of`` then ``lock_chain_head``."""
    if connections[using].vendor != "postgresql":
        return snapshots_of(tracked, rows), lock_chain_head(using)
    _count_lock(using)
    read = list(
        rows.annotate(**{_HEAD_COLUMN: RawSQL(_HEAD_SQL, ())}).values(
            *tracked.attnames, _HEAD_COLUMN
        )
    )
    if not read:  # no row, so the subquery never ran and no lock is held: refuse
        raise LookupError(f"no {tracked.name} history rows to append")
    head = read[0][_HEAD_COLUMN]
    for row in read:
        del row[_HEAD_COLUMN]
    if head is None:
        return snapshots_of_rows(tracked, read), None
    seq, hash_ = head.split(" ")
    return snapshots_of_rows(tracked, read), (int(seq), hash_)


def snapshot_columns(tracked: Tracked, snap: dict, *, plain: bool = False) -> dict:
    """The ledger columns that one history snapshot determines by itself: which record,
    what happened, who, when and why, and the digest of its content. The one mapping from
    history fields to an entry: ``append`` and ``backfill`` write it, ``verify`` checks it.
    ``plain``: ``snap`` is already JSON-ready (as ``snapshots`` returns it), which spares
    the digest a second walk over it."""
    fields = snap["fields"]
    return {
        "model": tracked.name,
        "history_table": tracked.table,
        "history_id": fields["history_id"],
        "object_id": str(fields[tracked.pk_attname]),
        "action": ACTIONS.get(fields["history_type"]),
        "actor": fields["history_actor"] or "system",
        "user_id": fields["history_user_id"],
        "at": dt.datetime.fromisoformat(fields["history_date"]),
        "reason": fields["history_change_reason"] or "",
        "content_digest": sha256_plain(snap) if plain else content_digest(snap),
    }


def build_entry(
    tracked: Tracked,
    snap: dict,
    previous: dict | None,
    *,
    seq: int,
    prev_hash: str,
    object_repr: str,
    using: str,
    instance=None,
    labels: dict | None = None,
) -> AuditRecord:
    """The (unsaved) ledger entry of history snapshot ``snap``, ``previous`` being the
    snapshot before it of the same object (None for its first): its columns, its changes and
    its hash. ``instance`` and ``labels`` only spare queries (see ``changes_between``)."""
    columns = snapshot_columns(tracked, snap)
    record = AuditRecord(
        seq=seq,
        prev_hash=prev_hash,
        object_repr=object_repr[:200],
        changes=changes_between(
            tracked,
            previous,
            snap,
            columns["action"],
            using=using,
            instance=instance,
            labels=labels,
        ),
        **columns,
    )
    record.hash = entry_hash(entry_of(record))
    return record


def entry_of(record: AuditRecord) -> dict:
    """The ledger row as the dict ``chain.entry_hash`` hashes."""
    return {
        "seq": record.seq,
        "model": record.model,
        "history_table": record.history_table,
        "history_id": record.history_id,
        "object_id": record.object_id,
        "object_repr": record.object_repr,
        "action": record.action,
        "actor": record.actor,
        "user_id": record.user_id,
        "at": jsonable(record.at),
        "reason": record.reason,
        "changes": record.changes,
        "content_digest": record.content_digest,
        "prev_hash": record.prev_hash,
    }


def changes_between(
    tracked: Tracked,
    previous: dict | None,
    current: dict,
    action: str,
    *,
    using: str,
    instance=None,
    labels: dict | None = None,
) -> list[dict]:
    """Field-by-field changes ({field, old, new}) from the previous history record of the
    same object; m2m fields as sorted lists; related objects by username/code/slug/name.
    ``labels`` ({(model, pk): label}, e.g. from ``backfill``) spares the label queries."""
    if action == AuditAction.DELETED:
        return []
    old_fields = previous["fields"] if previous else {}
    new_fields = current["fields"]
    changes = []
    relations: dict[str, type[models.Model]] = {}
    known: dict[tuple[type, object], str] = {} if labels is None else labels
    for field in tracked.diff_fields:
        old, new = old_fields.get(field.attname), new_fields[field.attname]
        if old == new or (previous is None and new in (None, "")):
            continue
        changes.append({"field": field.name, "old": old, "new": new})
        if field.is_relation:
            relations[field.name] = field.related_model
            _remember_label(field, instance, new, known)
    for m in tracked.m2m:
        old = sorted(r[m.target_attname] for r in previous["m2m"][m.name]) if previous else []
        new = sorted(r[m.target_attname] for r in current["m2m"][m.name])
        if old != new:
            changes.append({"field": m.name, "old": old, "new": new})
            relations[m.name] = m.target_model
    for change in changes:
        model = relations.get(change["field"])
        if model is not None:
            _label(change, model, using, known)
    return sorted(changes, key=lambda c: c["field"])


def _remember_label(field: models.Field, instance, pk, known: dict) -> None:
    """The object being saved usually holds the related object already: no query."""
    if instance is None or not field.is_cached(instance):
        return
    related = field.get_cached_value(instance)
    if related is None or related.pk != pk:
        return
    label = _label_field(field.related_model)
    if label is not None:
        known[(field.related_model, pk)] = getattr(related, label)


def _label_field(model: type[models.Model]) -> str | None:
    names = {f.name for f in model._meta.get_fields()}
    return next((f for f in LABEL_FIELDS if f in names), None)


def _label(change: dict, model: type[models.Model], using: str, known: dict) -> None:
    """Show related objects by their natural key (a username outlives a user id's meaning)."""
    label = _label_field(model)
    if label is None:
        return
    values = [change["old"], change["new"]]
    ids = {i for v in values for i in (v if isinstance(v, list) else [v]) if i is not None}
    labels = {pk: known[(model, pk)] for pk in ids if (model, pk) in known}
    if ids - set(labels):
        labels.update(
            model._default_manager.using(using)
            .filter(pk__in=ids - set(labels))
            .values_list("pk", label)
        )

    def show(v):
        if isinstance(v, list):
            return sorted((labels.get(i, i) for i in v), key=str)
        return labels.get(v, v)

    change["old"], change["new"] = show(change["old"]), show(change["new"])

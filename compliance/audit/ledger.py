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
from dataclasses import dataclass
from functools import cache

from django.db import connections, models, router, transaction
from django.db.models.expressions import RawSQL
from django.db.models.signals import post_save, pre_save

from compliance.audit.chain import (
    GENESIS_HASH,
    content_digest,
    entry_hash,
    jsonable,
    sha256_plain,
)
from compliance.audit.registry import Tracked, by_history_model, snapshots_of, snapshots_of_rows
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
    snaps, head = _read_for_append(tracked, history_instance, using)
    hid = history_instance.pk
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
    _insert_entry(record, using)
    if not tree_in_database(using):  # PostgreSQL: the ledger's trigger adds the leaf
        append_leaf(seq, record.hash, using)  # R33: the tree grows with the entry, same lock
    return record


def _insert_entry(record: AuditRecord, using: str) -> None:
    """``record.save(force_insert=True)`` without the ORM's per-save work (signals, the
    compiler): the ledger has no receivers, no defaults to compute and no column the database
    returns, so one INSERT of its columns (the statement made once per database) is the same
    row, for less CPU (issue 18)."""
    connection = connections[using]
    fields = AuditRecord._meta.concrete_fields
    with connection.cursor() as cursor:
        cursor.execute(
            _entry_insert_sql(using),
            [f.get_db_prep_save(getattr(record, f.attname), connection) for f in fields],
        )
    record._state.adding, record._state.db = False, using


@cache
def _entry_insert_sql(using: str) -> str:
    qn = connections[using].ops.quote_name
    fields = AuditRecord._meta.concrete_fields
    return (
        f"INSERT INTO {qn(AuditRecord._meta.db_table)} "
        f"({', '.join(qn(f.column) for f in fields)}) VALUES ({', '.join(['%s'] * len(fields))})"
    )


def _read_for_append(
    tracked: Tracked, history_instance, using: str
) -> tuple[dict[int, dict], tuple[int, str] | None]:
    """The snapshots of the history record and of the one before it for the same object, and
    the chain head, lock taken. On PostgreSQL the history INSERT read them already
    (``insert_history``); otherwise (SQLite, a row saved outside a transaction) one query
    here, with the head as a column of it on PostgreSQL."""
    hid = history_instance.pk
    fold = _take_fold(history_instance)
    if fold is not None and fold.rows is not None and fold.rows[0]["history_id"] == hid:
        return snapshots_of_rows(tracked, fold.rows), _parse_head(fold.head)
    object_pk = getattr(history_instance, tracked.pk_attname)
    rows = tracked.history_model.objects.using(using).filter(
        **{tracked.pk_attname: object_pk, "history_id__lte": hid}
    )
    return _snapshots_and_head(tracked, rows.order_by("-history_id")[:2], using)


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
    return snapshots_of_rows(tracked, read), _parse_head(head)


def _parse_head(head: str | None) -> tuple[int, str] | None:
    if head is None:
        return None
    seq, hash_ = head.split(" ")
    return int(seq), hash_


# The per-instance state of the fold, an ordinary attribute of our own history instance:
# set by ``compliance.audit.signals.stamp_actor`` just before simple-history saves it (the row
# is chained next), filled by ``insert_history`` with what it read, taken by ``_append``.
FOLD_ATTRIBUTE = "clearance_fold"


@dataclass
class Fold:
    rows: list[dict] | None = None  # the new row as stored, then the one before it, if any
    head: str | None = None  # the chain head as read under the lock ("seq hash"), if any


def mark_for_fold(history_instance) -> None:
    setattr(history_instance, FOLD_ATTRIBUTE, Fold())


def _take_fold(history_instance) -> Fold | None:
    fold = getattr(history_instance, FOLD_ATTRIBUTE, None)
    if fold is not None:
        delattr(history_instance, FOLD_ATTRIBUTE)
    return fold


def insert_history(history_instance, using: str | None) -> bool:
    """``AuditedHistory.save(using=…)`` for a row simple-history is about to chain, on
    PostgreSQL inside a transaction: one statement that inserts it, returns it as stored,
    reads the record before it of the same object and the chain head (lock taken): what
    ``_append`` reads, without a round trip of its own (issue 18). It does what
    ``Model.save`` does for a new row of a model without parents: ``pre_save``, the fields'
    ``pre_save`` and ``get_db_prep_save``, the INSERT (in ``atomic(savepoint=False)``, so an
    error marks the transaction for rollback as Django's does), the primary key from the
    database, ``_state.adding``/``db``, ``post_save``. The rows read are left on the instance
    (``Fold``) for ``_read_for_append``. Returns False, having done nothing, for anything
    else (SQLite, no transaction, a row saved by hand or raw, an expression or an unsaved
    related object among its values): the caller then saves it through ``Model.save``."""
    using = using or router.db_for_write(type(history_instance), instance=history_instance)
    connection = connections[using]
    fold = getattr(history_instance, FOLD_ATTRIBUTE, None)
    statement = _foldable(history_instance, fold, connection, using)
    if statement is None:
        return False
    sender = type(history_instance)
    pre_save.send(
        sender=sender, instance=history_instance, raw=False, using=using, update_fields=None
    )
    params = [
        f.get_db_prep_save(f.pre_save(history_instance, True), connection) for f in statement.fields
    ]
    params.append(
        statement.key.get_db_prep_value(
            getattr(history_instance, statement.key.attname), connection
        )
    )
    _count_lock(using)
    with transaction.atomic(using=using, savepoint=False), connection.cursor() as cursor:
        cursor.execute(statement.sql, params)
        rows = cursor.fetchall()
    rows = _converted(rows, statement, connection)
    # The new row first: the record before it has the lower history_id.
    rows.sort(key=lambda row: row[statement.hid_at], reverse=True)
    width = len(statement.attnames)
    fold.rows = [dict(zip(statement.attnames, row[:width], strict=True)) for row in rows]
    fold.head = rows[0][width]
    history_instance.pk = fold.rows[0][statement.pk_attname]
    history_instance._state.adding, history_instance._state.db = False, using
    post_save.send(
        sender=sender,
        instance=history_instance,
        created=True,
        update_fields=None,
        raw=False,
        using=using,
    )
    return True


def _foldable(history_instance, fold: Fold | None, connection, using: str):
    """The statement, when the row can be folded: marked for it (``mark_for_fold``, not yet
    used), a new row of a tracked model the statement fits, on PostgreSQL inside a
    transaction (the lock is then held until commit), plain values (no expressions; no
    related object that ``Model.save`` would refuse or take the key from). Else None."""
    if fold is None or fold.rows is not None or connection.vendor != "postgresql":
        return None
    if transaction.get_autocommit(using=using) or not history_instance._state.adding:
        return None
    if history_instance.pk is not None:
        return None
    model = type(history_instance)
    if by_history_model(model) is None or not _fits(model):
        return None
    statement = _fold_statement(model, using)
    for f in statement.fields:
        value = getattr(history_instance, f.attname)
        if hasattr(value, "resolve_expression"):
            return None
        # A related object assigned unsaved (its key is then None): Model.save refuses it,
        # or takes its key if it was saved since. Reading it is no query: the key is None.
        if value is None and f.many_to_one and getattr(history_instance, f.name) is not None:
            return None
    return statement


@cache
def _fits(model: type[models.Model]) -> bool:
    """A history model the statement is written for: an auto primary key (the database
    makes it, RETURNING gives it), no other column the database fills or computes."""
    meta = model._meta
    return isinstance(meta.pk, models.AutoField) and not any(
        f.generated or f.db_default is not models.NOT_PROVIDED
        for f in meta.get_fields()
        if f.concrete and not f.primary_key
    )


@dataclass(frozen=True)
class _FoldStatement:
    sql: str
    fields: tuple  # the columns inserted: every concrete one but the primary key
    key: models.Field  # the history column naming the object
    pk_attname: str
    attnames: tuple[str, ...]  # every column of the history row (Tracked.attnames)
    # (index, converters, column) of those with a converter (a JSONField's from_db_value)
    converters: tuple[tuple[int, list, object], ...]
    hid_at: int  # where history_id is among them


@cache
def _fold_statement(history_model: type[models.Model], using: str) -> _FoldStatement:
    """The INSERT of the row returning every column, as a CTE; then one row for it with the
    chain head (an uncorrelated scalar subquery: run once, lock taken, see ``_HEAD_SQL``) and
    one for the record before it of the same object, if any. The outer SELECT does not see
    the CTE's row, so that is the latest earlier record, as ``_append``'s read
    (``history_id <= hid … LIMIT 2``) finds it. Made once per model."""
    connection = connections[using]
    qn = connection.ops.quote_name
    tracked = by_history_model(history_model)
    meta = history_model._meta
    columns = tuple(f for f in meta.get_fields() if f.concrete)
    fields = tuple(f for f in columns if not f.primary_key)
    table = qn(meta.db_table)
    key = meta.get_field(tracked.pk_attname)
    hid = qn(meta.get_field("history_id").column)
    insert = (
        f"INSERT INTO {table} ({', '.join(qn(f.column) for f in fields)}) "
        f"VALUES ({', '.join('%s' for _ in fields)}) "
        f"RETURNING {', '.join(f'{table}.{qn(f.column)}' for f in columns)}"
    )
    earlier = ", ".join(f"p.{qn(f.column)}" for f in columns)
    sql = (
        f"WITH clearance_new AS ({insert}) "
        f"SELECT n.*, ({_HEAD_SQL}) FROM clearance_new n "
        f"UNION ALL (SELECT {earlier}, NULL FROM {table} p "
        f"WHERE p.{qn(key.column)} = %s AND p.{hid} < (SELECT {hid} FROM clearance_new) "
        f"ORDER BY p.{hid} DESC LIMIT 1)"
    )
    attnames = tuple(f.attname for f in columns)
    # Found once with the statement: they are the fields' own (PostgreSQL's operations add
    # none), the same in every thread's connection.
    cols = [f.get_col(meta.db_table) for f in columns]
    return _FoldStatement(
        sql,
        fields,
        key,
        meta.pk.attname,
        attnames,
        column_converters(cols, connection),
        attnames.index("history_id"),
    )


def column_converters(cols, connection) -> tuple[tuple[int, list, object], ...]:
    """Django's converters of each column expression in ``cols`` that has any, as (index,
    converters, column): what ``SQLCompiler.get_converters`` finds for a query's columns."""
    found = (
        (i, [*connection.ops.get_db_converters(col), *col.get_db_converters(connection)], col)
        for i, col in enumerate(cols)
    )
    return tuple((i, funcs, col) for i, funcs, col in found if funcs)


def _converted(rows: list, statement: _FoldStatement, connection) -> list:
    """``rows`` with Django's converters applied, as a query's ``values()`` returns them
    (``SQLCompiler.apply_converters``), for the columns that have any."""
    if not statement.converters:
        return list(rows)
    out = []
    for row in map(list, rows):
        for i, convs, col in statement.converters:
            for convert in convs:
                row[i] = convert(row[i], col, connection)
        out.append(row)
    return out


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

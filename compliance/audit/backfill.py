"""Chain history rows that were written in bulk (R23).

simple-history's bulk helpers (``bulk_create_with_history``, ``bulk_history_create``) send no
``post_create_historical_record``, so their rows get no ledger entry from
``compliance.audit.signals``. ``chain_unchained()`` appends the entries ``ledger.append``
would have written (both build them with ``ledger.build_entry``), many at a time: used by
``seed_scale`` after its bulk inserts. Table by table, object by object in history-id order
(as ``append`` finds an object's previous record), one transaction per batch under the chain
lock, so concurrent writers queue behind it and the chain stays gap-free."""

from __future__ import annotations

from collections.abc import Callable

from django.db import models, transaction
from django.db.models import Exists, OuterRef

from compliance.audit.chain import GENESIS_HASH
from compliance.audit.ledger import _label_field, build_entry, lock_chain_head
from compliance.audit.registry import Tracked, snapshots, snapshots_of, tracked_models
from compliance.audit.tree import sync_tree
from compliance.models.audit import AuditRecord

BATCH = 5000


def preload_labels(tracked: dict[str, Tracked]) -> dict:
    """{(model, pk): label} for every model a tracked field or m2m points at."""
    targets: set[type[models.Model]] = set()
    for t in tracked.values():
        targets.update(f.related_model for f in t.diff_fields if f.is_relation)
        targets.update(m.target_model for m in t.m2m)
    labels = {}
    for model in targets:
        field = _label_field(model)
        if field is not None:
            for pk, label in model._default_manager.values_list("pk", field).iterator():
                labels[(model, pk)] = label
    return labels


def unchained_ids(tracked: Tracked) -> list[int]:
    chained = AuditRecord.objects.filter(
        history_table=tracked.table, history_id=OuterRef("history_id")
    )
    return list(
        tracked.history_model.objects.filter(~Exists(chained))
        .order_by(tracked.pk_attname, "history_id")
        .values_list("history_id", flat=True)
    )


def _object_repr(tracked: Tracked, fields: dict) -> str:
    values = {
        f.attname: fields[f.attname]
        for f in tracked.model._meta.concrete_fields
        if f.attname in fields
    }
    return str(tracked.model(**values))[:200]


def _previous_snapshot(tracked: Tracked, object_pk, history_id: int) -> dict | None:
    rows = tracked.history_model.objects.filter(
        **{tracked.pk_attname: object_pk, "history_id__lt": history_id}
    ).order_by("-history_id")[:1]
    return next(iter(snapshots_of(tracked, rows).values()), None)


def chain_unchained(*, batch: int = BATCH, out: Callable[[str], None] | None = None) -> int:
    """Append a ledger entry for every history row that has none; returns how many."""
    tables = tracked_models()
    labels = preload_labels(tables)
    total = 0
    for table in sorted(tables):
        tracked = tables[table]
        ids = unchained_ids(tracked)
        last_object, last_snap = None, None
        for start in range(0, len(ids), batch):
            chunk = ids[start : start + batch]
            snaps = snapshots(tracked, chunk)
            with transaction.atomic():
                head = lock_chain_head("default")
                seq, prev_hash = (head[0], head[1]) if head else (0, GENESIS_HASH)
                records = []
                for hid in chunk:
                    snap = snaps[hid]
                    fields = snap["fields"]
                    object_pk = fields[tracked.pk_attname]
                    if object_pk == last_object:
                        previous = last_snap
                    elif fields["history_type"] == "+":
                        previous = None
                    else:  # its earlier records were chained one by one: read the last one
                        previous = _previous_snapshot(tracked, object_pk, hid)
                    seq += 1
                    record = build_entry(
                        tracked,
                        snap,
                        previous,
                        seq=seq,
                        prev_hash=prev_hash,
                        object_repr=_object_repr(tracked, fields),
                        using="default",
                        labels=labels,
                    )
                    prev_hash = record.hash
                    records.append(record)
                    last_object, last_snap = object_pk, snap
                AuditRecord.objects.bulk_create(records)
                sync_tree("default")  # R33: their leaves, under the same chain lock
            total += len(records)
            if out is not None:
                out(f"ledger: {tracked.name} {start + len(chunk)}/{len(ids)} ({total} in all)")
    return total

"""Which history tables exist and how to read one history record canonically.

Both the ledger (at write time) and the verifier (later) read history rows through
``snapshots()``, so they see exactly the same values: what the database holds."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from django.apps import apps
from django.db import models
from simple_history.utils import get_m2m_field_name, get_m2m_reverse_field_name

from compliance.audit.chain import jsonable

HISTORY_META = (
    "history_id",
    "history_date",
    "history_type",
    "history_user_id",
    "history_change_reason",
    "history_actor",
)


@dataclass(frozen=True)
class TrackedM2M:
    name: str  # the m2m field on the tracked model, e.g. required_agencies
    history_model: type[models.Model]  # e.g. HistoricalRelease_required_agencies
    attnames: tuple[str, ...]
    target_attname: str  # the column naming the other side, e.g. agency_id
    target_model: type[models.Model]
    through: type[models.Model]  # the live m2m table, e.g. Release.required_agencies.through
    source_attname: str  # its column naming the tracked object, e.g. release_id


@dataclass(frozen=True)
class Tracked:
    model: type[models.Model]
    history_model: type[models.Model]
    name: str  # lower-case model name, the API's ``model``
    pk_attname: str
    attnames: tuple[str, ...]  # every column of the history row
    diff_fields: tuple[models.Field, ...]  # tracked, editable fields of the model
    m2m: tuple[TrackedM2M, ...]

    @property
    def table(self) -> str:
        return self.history_model._meta.db_table

    def m2m_tables(self) -> list[str]:
        return [m.history_model._meta.db_table for m in self.m2m]


def _tracked(model) -> Tracked:
    history_model = getattr(model, model._meta.simple_history_manager_attribute).model
    m2m = []
    for field in model._meta.many_to_many:
        # simple-history gives the history model one attribute per m2m field it tracks
        # (``m2m_fields=[...]``): a manager of that field's history rows, as in
        # ``record.required_agencies.all()``. Untracked m2m fields have none.
        tracked_rows = getattr(history_model, field.name, None)
        if tracked_rows is None:
            continue
        m2m_model = tracked_rows.model
        target_field = m2m_model._meta.get_field(get_m2m_reverse_field_name(field))
        through = field.remote_field.through
        m2m.append(
            TrackedM2M(
                name=field.name,
                history_model=m2m_model,
                attnames=tuple(f.attname for f in m2m_model._meta.concrete_fields),
                target_attname=target_field.attname,
                target_model=target_field.related_model,
                through=through,
                source_attname=through._meta.get_field(get_m2m_field_name(field)).attname,
            )
        )
    m2m_names = {m.name for m in m2m}
    diff_fields = tuple(
        f
        for f in history_model.tracked_fields
        if f.editable and not f.primary_key and f.name not in m2m_names
    )
    return Tracked(
        model=model,
        history_model=history_model,
        name=model._meta.model_name,
        pk_attname=model._meta.pk.attname,
        attnames=tuple(f.attname for f in history_model._meta.concrete_fields),
        diff_fields=diff_fields,
        m2m=tuple(m2m),
    )


@cache
def tracked_models() -> dict[str, Tracked]:
    """Every model with simple-history, keyed by its history table."""
    out = {}
    for model in apps.get_models():
        if getattr(model._meta, "simple_history_manager_attribute", None):
            t = _tracked(model)
            out[t.table] = t
    return out


def by_history_model(history_model) -> Tracked | None:
    return tracked_models().get(history_model._meta.db_table)


def tracked(model: type[models.Model]) -> Tracked:
    """The history of ``model`` (KeyError when it has none)."""
    return tracked_models()[
        getattr(model, model._meta.simple_history_manager_attribute).model._meta.db_table
    ]


def tracked_m2m(model: type[models.Model], name: str) -> TrackedM2M:
    """The history of ``model``'s m2m field ``name``, e.g. a request's ``releases``."""
    return next(m for m in tracked(model).m2m if m.name == name)


def model_names() -> list[str]:
    return sorted({t.name for t in tracked_models().values()})


def history_tables() -> list[str]:
    """Every history table, m2m history tables included (all append-only)."""
    out = []
    for t in tracked_models().values():
        out += [t.table, *t.m2m_tables()]
    return sorted(out)


def snapshots(tracked: Tracked, history_ids) -> dict[int, dict]:
    """{history_id: {"fields": {...}, "m2m": {field: [rows]}}} as stored, JSON-ready."""
    return snapshots_of(tracked, tracked.history_model.objects.filter(history_id__in=history_ids))


def snapshots_of(tracked: Tracked, queryset) -> dict[int, dict]:
    """Snapshots of the history rows in ``queryset`` (one query, plus one per m2m field)."""
    return snapshots_of_rows(tracked, queryset.values(*tracked.attnames))


def snapshots_of_rows(tracked: Tracked, rows) -> dict[int, dict]:
    """Snapshots of history rows already read as dicts of exactly ``tracked.attnames`` (plus
    one query per m2m field): for a caller that reads them in a statement of its own."""
    out: dict[int, dict] = {}
    for row in rows:
        out[row["history_id"]] = {
            "fields": jsonable(row),
            "m2m": {m.name: [] for m in tracked.m2m},
        }
    for m in tracked.m2m:
        if not out:
            break
        m2m_rows = (
            m.history_model.objects.filter(history_id__in=list(out))
            .order_by("m2m_history_id")
            .values(*m.attnames)
        )
        for row in m2m_rows:
            out[row["history_id"]]["m2m"][m.name].append(jsonable(row))
    return out

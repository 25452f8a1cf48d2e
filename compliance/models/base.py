from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache

import pgtrigger
import pgtrigger.compiler
from django.db import models
from django.db.models.signals import class_prepared
from simple_history.manager import HistoryManager
from simple_history.models import HistoricalChanges, HistoricalRecords

from compliance.audit.context import history_user_getter


class AuditedHistory(models.Model):
    """Extra columns on every history table: a durable actor label next to the user FK."""

    history_actor = models.CharField(max_length=150, blank=True, default="")

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        # simple-history calls save(using=…). A row about to be chained is inserted, read
        # back and the chain head locked in one statement on PostgreSQL (issue 18), with
        # the signals Model.save sends; anything else is Model.save.
        from compliance.audit.ledger import insert_history

        if args or kwargs.keys() - {"using"} or not insert_history(self, kwargs.get("using")):
            super().save(*args, **kwargs)

    save.alters_data = True


class AuditedHistoryManager(HistoryManager):
    """simple-history's manager, built once per queryset class. Its history descriptor calls
    ``from_queryset`` on every access (``Release.history``, and once for every history row
    it writes), and each call makes a new class with ``inspect.getmembers`` over the
    queryset: ~9% of the CPU time of an audited write (issue 18, cProfile).
    The class depends on nothing but the queryset class, so it is made once."""

    @classmethod
    def from_queryset(cls, queryset_class, class_name=None):
        return _manager_class(cls, queryset_class, class_name)


@cache
def _manager_class(manager: type, queryset_class: type, class_name: str | None) -> type:
    return super(AuditedHistoryManager, manager).from_queryset(queryset_class, class_name)


def audited_history(**kwargs) -> HistoricalRecords:
    """HistoricalRecords as every Clearance model uses it (actor label, reason, user hook)."""
    return HistoricalRecords(
        bases=[AuditedHistory],
        get_user=history_user_getter,
        history_manager=AuditedHistoryManager,
        **kwargs,
    )


class UntrackedWriteError(RuntimeError):
    """A write that would leave no history row (R21): a programming error, never a 409."""


_writes_without_history = ContextVar("clearance_writes_without_history", default=False)


@contextmanager
def writes_without_history() -> Iterator[None]:
    """Allow ``update()``/``bulk_create()``/``bulk_update()`` on tracked models inside: only
    for a caller that writes the history rows itself (simple-history's
    ``bulk_*_with_history``, the scale seeder) or a test arranging data."""
    token = _writes_without_history.set(True)
    try:
        yield
    finally:
        _writes_without_history.reset(token)


class TrackedQuerySet(models.QuerySet):
    """The default queryset of every tracked model. ``update()``, ``bulk_create()`` and
    ``bulk_update()`` write rows without history (R21), so they are refused unless the
    caller says it writes the history itself (``writes_without_history()``). ``save()``
    and deletes go through the base manager and signals: unaffected."""

    def _refuse_untracked(self, method: str) -> None:
        if not _writes_without_history.get():
            raise UntrackedWriteError(
                f"QuerySet.{method}() on {self.model.__name__} leaves no history (R21): "
                "save through a service instead"
            )

    def update(self, **kwargs):
        self._refuse_untracked("update")
        return super().update(**kwargs)

    def bulk_create(self, objs, *args, **kwargs):
        self._refuse_untracked("bulk_create")
        return super().bulk_create(objs, *args, **kwargs)

    def bulk_update(self, objs, fields, *args, **kwargs):
        self._refuse_untracked("bulk_update")
        return super().bulk_update(objs, fields, *args, **kwargs)


class AppendOnlySql(pgtrigger.compiler.UpsertTriggerSql):
    """pgtrigger's trigger installation without its ignore clause. pgtrigger's own template
    lets a session skip any trigger it names in the ``pgtrigger.ignore`` setting, which
    every role may set: append-only protection that any connection can switch off is no
    protection. This template installs the function and the trigger only; the one way past
    it is PostgreSQL's own (a superuser's ``session_replication_role``)."""

    def get_template(self) -> str:
        return """
            CREATE OR REPLACE FUNCTION {pgid}()
            RETURNS TRIGGER AS $$
                {declare}
                BEGIN
                    {func}
                END;
            $$ LANGUAGE plpgsql;

            DROP TRIGGER IF EXISTS {pgid} ON {table};
            CREATE {constraint} TRIGGER {pgid}
                {when} {operation} ON {table}
                {timing}
                {referencing}
                FOR EACH {level} {condition}
                EXECUTE PROCEDURE {execute};

            COMMENT ON TRIGGER {pgid} ON {table} IS '{hash}';
        """


class AppendOnly(pgtrigger.Protect):
    """R22: PostgreSQL refuses the operation, naming it and the table; no session setting
    (``pgtrigger.ignore``) exempts a connection (``AppendOnlySql``)."""

    def get_func(self, model):
        return (
            "RAISE EXCEPTION 'Clearance audit history is append-only: % on % refused', "
            "TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';"
        )

    def compile(self, model) -> pgtrigger.compiler.Trigger:
        declared = super().compile(model)
        kwargs = {k: v for k, v in declared.sql.kwargs.items() if k != "ignore_func_name"}
        return pgtrigger.compiler.Trigger(name=declared.name, sql=AppendOnlySql(**kwargs))


# Row triggers refuse UPDATE and DELETE; TRUNCATE fires statement triggers only.
APPEND_ONLY = (
    AppendOnly(name="append_only", operation=pgtrigger.Update | pgtrigger.Delete),
    AppendOnly(
        name="append_only_truncate", operation=pgtrigger.Truncate, level=pgtrigger.Statement
    ),
)


def protect_history_model(sender, **_kwargs) -> None:
    """Every model simple-history generates (history and m2m history tables alike) derives
    from ``HistoricalChanges``: it gets the append-only triggers when its class is created,
    so a tracked model added later is protected without being listed anywhere."""
    if issubclass(sender, HistoricalChanges) and not sender._meta.abstract:
        pgtrigger.register(*APPEND_ONLY)(sender)


# Connected before any tracked model exists: every model module imports this one first.
class_prepared.connect(protect_history_model, dispatch_uid="clearance_append_only")


def append_only_uris() -> list[str]:
    """The pgtrigger URIs (``app.Model:name``) of every append-only trigger."""
    return sorted(
        trigger.get_uri(model)
        for model, trigger in pgtrigger.registered()
        if trigger in APPEND_ONLY
    )

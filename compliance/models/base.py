import pgtrigger
from django.db import models
from django.db.models.signals import class_prepared
from simple_history.models import HistoricalChanges, HistoricalRecords

from compliance.audit.context import history_user_getter


class AuditedHistory(models.Model):
    """Extra columns on every history table: a durable actor label next to the user FK."""

    history_actor = models.CharField(max_length=150, blank=True, default="")

    class Meta:
        abstract = True


def audited_history(**kwargs) -> HistoricalRecords:
    """HistoricalRecords as every Clearance model uses it (actor label, reason, user hook)."""
    return HistoricalRecords(bases=[AuditedHistory], get_user=history_user_getter, **kwargs)


class AppendOnly(pgtrigger.Protect):
    """R22: PostgreSQL refuses the operation, naming it and the table."""

    def get_func(self, model):
        return (
            "RAISE EXCEPTION 'Clearance audit history is append-only: % on % refused', "
            "TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';"
        )


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

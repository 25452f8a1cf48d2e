from django.db import models
from simple_history.models import HistoricalRecords

from compliance.audit.context import history_user_getter


class AuditedHistory(models.Model):
    """Extra columns on every history table: a durable actor label next to the user FK."""

    history_actor = models.CharField(max_length=150, blank=True, default="")

    class Meta:
        abstract = True


def audited_history(**kwargs) -> HistoricalRecords:
    """HistoricalRecords as every Clearance model uses it (actor label, reason, user hook)."""
    return HistoricalRecords(bases=[AuditedHistory], get_user=history_user_getter, **kwargs)

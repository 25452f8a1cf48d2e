"""The audit ledger: one hash-chained row per history record (R21–R24).

The history tables written by simple-history are the source of truth; ``AuditRecord`` is
the canonical, denormalised view of each history record (who, when, why, what changed)
plus its place in the hash chain. Both are append-only in PostgreSQL (the ``APPEND_ONLY``
triggers of ``compliance.models.base``)."""

from django.db import models

from compliance.audit.chain import GENESIS_HASH  # noqa: E402,F401  (one definition)
from compliance.models.base import APPEND_ONLY


class AuditAction(models.TextChoices):
    CREATED = "created"
    CHANGED = "changed"
    DELETED = "deleted"


class AuditRecord(models.Model):
    """One history record in the chain. ``seq`` has no gaps; ``hash`` covers every column
    below and the history row itself (``content_digest``); ``prev_hash`` links the chain."""

    Action = AuditAction

    seq = models.PositiveBigIntegerField(primary_key=True)
    model = models.CharField(max_length=64, help_text="Lower-case model name, e.g. release.")
    history_table = models.CharField(max_length=100)
    history_id = models.BigIntegerField()
    object_id = models.CharField(max_length=64)
    object_repr = models.CharField(max_length=200, blank=True)
    action = models.CharField(max_length=8, choices=AuditAction.choices)
    actor = models.CharField(max_length=150, help_text="Username, or system:<task>.")
    # No foreign key: deleting or renaming a user must not touch the ledger.
    user_id = models.BigIntegerField(null=True, blank=True)
    at = models.DateTimeField()
    reason = models.TextField(blank=True)
    changes = models.JSONField(default=list, blank=True)
    content_digest = models.CharField(max_length=64)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["-seq"]
        triggers = [*APPEND_ONLY]
        constraints = [
            models.UniqueConstraint(
                fields=["history_table", "history_id"], name="audit_one_entry_per_history_row"
            ),
        ]
        # Every API filter combined with the keyset order (seq) has an index to walk.
        indexes = [
            models.Index(fields=["model", "object_id", "seq"], name="audit_model_object_seq"),
            models.Index(fields=["actor", "seq"], name="audit_actor_seq"),
            models.Index(fields=["action", "seq"], name="audit_action_seq"),
            models.Index(fields=["at", "seq"], name="audit_at_seq"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.model}:{self.object_id} by {self.actor}"

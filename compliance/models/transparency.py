"""The transparency log over the audit ledger (R33–R36): tree nodes, signed checkpoints,
witnesses and their cosignatures. Nodes, checkpoints, cosignatures and verifications are
append-only in PostgreSQL (the ``APPEND_ONLY`` triggers); a witness registration is a
tracked model, so registering one is in the audit history itself."""

from django.conf import settings
from django.db import models

from compliance.models.base import APPEND_ONLY, TrackedQuerySet, audited_history

# A node's key packs (level, index): level < 2**15, index < 2**48 (see MerkleNode.key_of).
LEVEL_SHIFT = 48


class MerkleNode(models.Model):
    """One complete subtree of the RFC 9162 tree: ``level`` 0 is a leaf (leaf index =
    seq − 1), the node at (L, i) covers leaves [i·2^L, (i+1)·2^L). One row per node, keyed
    by ``key_of(level, index)``: a proof reads its O(log n) nodes in one primary-key query."""

    key = models.BigIntegerField(primary_key=True)
    hash = models.BinaryField(max_length=32)

    class Meta:
        triggers = [*APPEND_ONLY]

    def __str__(self) -> str:
        return f"node ({self.level}, {self.index})"

    @staticmethod
    def key_of(level: int, index: int) -> int:
        return (level << LEVEL_SHIFT) | index

    @property
    def level(self) -> int:
        return self.key >> LEVEL_SHIFT

    @property
    def index(self) -> int:
        return self.key & ((1 << LEVEL_SHIFT) - 1)


class AuditCheckpoint(models.Model):
    """A signed checkpoint (C2SP tlog-checkpoint): ``note`` is the signed note as the log
    signed it (body and the log's signature line); cosignatures are kept beside it."""

    tree_size = models.PositiveBigIntegerField(primary_key=True)
    root_hash = models.BinaryField(max_length=32)
    origin = models.CharField(max_length=200)
    key_name = models.CharField(max_length=200)
    note = models.TextField()
    created_at = models.DateTimeField()
    # RFC 3161 TimeStampResp token (DER) over the note body, when AUDIT_TSA_URL is set.
    timestamp_token = models.BinaryField(null=True, blank=True)

    class Meta:
        ordering = ["-tree_size"]
        triggers = [*APPEND_ONLY]

    def __str__(self) -> str:
        return f"checkpoint {self.tree_size}"


class AuditWitness(models.Model):
    """A witness admins registered (R36): its note verifier key (type 0x04, cosignature/v1)."""

    name = models.CharField(max_length=200, unique=True)
    verifier_key = models.CharField(max_length=400, unique=True)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )

    history = audited_history()
    objects = TrackedQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "audit witnesses"

    def __str__(self) -> str:
        return self.name


class AuditCosignature(models.Model):
    """A witness's cosignature line over one checkpoint, kept only once verified."""

    checkpoint = models.ForeignKey(
        AuditCheckpoint, on_delete=models.PROTECT, related_name="cosignatures"
    )
    witness = models.ForeignKey(AuditWitness, on_delete=models.PROTECT, related_name="+")
    line = models.TextField()
    signed_at = models.DateTimeField(help_text="The cosignature's own timestamp.")
    received_at = models.DateTimeField()

    class Meta:
        ordering = ["checkpoint", "witness__name"]
        triggers = [*APPEND_ONLY]
        constraints = [
            models.UniqueConstraint(
                fields=["checkpoint", "witness", "signed_at"], name="audit_cosignature_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.witness} on {self.checkpoint}"


class AuditCheckpointVerification(models.Model):
    """A full verification that found the chain intact and this checkpoint's root equal to
    the tree recomputed from the ledger: ``verify_audit --since-checkpoint`` starts here."""

    checkpoint = models.ForeignKey(AuditCheckpoint, on_delete=models.PROTECT, related_name="+")
    verified_at = models.DateTimeField()
    checked = models.PositiveBigIntegerField(help_text="Entries walked by that verification.")

    class Meta:
        ordering = ["-checkpoint", "-verified_at"]
        triggers = [*APPEND_ONLY]

    def __str__(self) -> str:
        return f"{self.checkpoint} verified {self.verified_at:%Y-%m-%d %H:%M}"

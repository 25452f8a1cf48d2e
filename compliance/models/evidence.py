from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models

from compliance.models.base import TrackedQuerySet, audited_history


class EvidenceKind(models.TextChoices):
    AGENCY_LETTER = "agency_letter"
    DIRECTIVE = "directive"
    APPROVAL = "approval"
    VETTING = "vetting"
    RESPONSE = "response"
    OTHER = "other"


def evidence_path(instance: "EvidenceDocument", _filename: str) -> str:
    """Content-addressed: the name is the SHA-256, never the uploader's file name."""
    return f"evidence/{instance.sha256[:2]}/{instance.sha256}"


class EvidenceDocument(models.Model):
    """An agency letter, directive or other file beside the decisions it supports (R37).

    The bytes never change and are never deleted: a new version is a new document that
    ``supersedes`` the old one. ``sha256`` is in every history row, so in the audit chain."""

    Kind = EvidenceKind
    # Every column is "editable" so the audit log's field-by-field changes show the hash and
    # the file; what a user may change is the service's EDITABLE_FIELDS.

    title = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=EvidenceKind.choices)
    agency = models.ForeignKey(
        "compliance.Agency",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="documents",
    )
    file = models.FileField(upload_to=evidence_path, max_length=255)
    sha256 = models.CharField(
        max_length=64,
        unique=True,
        validators=[RegexValidator(r"^[0-9a-f]{64}$", "A lower-case hex SHA-256.")],
    )
    size = models.PositiveBigIntegerField()
    content_type = models.CharField(max_length=127)
    original_name = models.CharField(max_length=255)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="uploaded_documents",
    )
    uploaded_at = models.DateTimeField()
    received_at = models.DateTimeField(
        null=True, blank=True, help_text="The letter's own date, when it has one."
    )
    supersedes = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="superseded_by",
    )
    releases = models.ManyToManyField("compliance.Release", related_name="documents", blank=True)
    requests = models.ManyToManyField(
        "compliance.GovernmentRequest", related_name="documents", blank=True
    )
    signoffs = models.ManyToManyField("compliance.SignOff", related_name="documents", blank=True)
    allowlist_entries = models.ManyToManyField(
        "compliance.AllowlistEntry", related_name="documents", blank=True
    )

    history = audited_history(m2m_fields=[releases, requests, signoffs, allowlist_entries])
    objects = TrackedQuerySet.as_manager()

    class Meta:
        ordering = ["-uploaded_at", "-id"]
        indexes = [models.Index(fields=["kind", "uploaded_at"], name="evidence_kind_uploaded")]

    def __str__(self) -> str:
        return f"{self.title} ({self.sha256[:12]})"

    @property
    def short_hash(self) -> str:
        return self.sha256[:12]

from django.conf import settings
from django.db import models

from compliance.models.base import TrackedQuerySet, audited_history


class AllowlistStatus(models.TextChoices):
    PROPOSED = "proposed"
    APPROVED = "approved"
    REJECTED = "rejected"
    REVOKED = "revoked"


class AllowlistEntry(models.Model):
    """A partner on a release's allowlist (R14)."""

    Status = AllowlistStatus

    release = models.ForeignKey(
        "compliance.Release", on_delete=models.CASCADE, related_name="allowlist"
    )
    partner = models.ForeignKey(
        "compliance.Partner", on_delete=models.PROTECT, related_name="allowlist_entries"
    )
    status = models.CharField(
        max_length=16, choices=AllowlistStatus.choices, default=AllowlistStatus.PROPOSED
    )
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="proposed_entries"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="decided_entries",
    )
    vetted_by = models.ForeignKey(
        "compliance.Agency",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="vetted_entries",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True)
    reason = models.TextField(blank=True, help_text="Why it was rejected or revoked.")
    created_at = models.DateTimeField(auto_now_add=True)

    history = audited_history()
    objects = TrackedQuerySet.as_manager()

    class Meta:
        ordering = ["release_id", "id"]
        verbose_name_plural = "allowlist entries"
        constraints = [
            models.UniqueConstraint(
                fields=["release", "partner"],
                name="allowlist_unique_release_partner",
                violation_error_message="This partner is already on the release's allowlist.",
            ),
        ]
        indexes = [models.Index(fields=["release", "status"], name="allowlist_release_status")]

    def __str__(self) -> str:
        return f"{self.release_id}/{self.partner_id}: {self.status}"

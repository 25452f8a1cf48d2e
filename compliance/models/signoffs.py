from django.conf import settings
from django.db import models

from compliance.models.base import TrackedQuerySet, audited_history


class Stage(models.TextChoices):
    LIMITED = "limited"
    GENERAL = "general"


class SignOffStatus(models.TextChoices):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class SignOff(models.Model):
    """One agency's decision on one stage of one review round (R1, R9, R10)."""

    Stage = Stage
    Status = SignOffStatus

    release = models.ForeignKey(
        "compliance.Release", on_delete=models.CASCADE, related_name="signoffs"
    )
    round = models.PositiveIntegerField()
    agency = models.ForeignKey(
        "compliance.Agency", on_delete=models.PROTECT, related_name="signoffs"
    )
    stage = models.CharField(max_length=16, choices=Stage.choices)
    status = models.CharField(
        max_length=16, choices=SignOffStatus.choices, default=SignOffStatus.PENDING
    )
    due_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="recorded_signoffs",
    )
    evidence = models.TextField(blank=True)
    conditions = models.TextField(blank=True)
    reason = models.TextField(blank=True, help_text="Why it was rejected or withdrawn.")

    history = audited_history()
    objects = TrackedQuerySet.as_manager()

    class Meta:
        ordering = ["release_id", "round", "stage", "agency_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["release", "round", "agency", "stage"],
                name="signoff_unique_per_round_agency_stage",
                violation_error_message="This agency already has a sign-off for this stage and round.",
            ),
        ]
        indexes = [
            models.Index(fields=["release", "round"], name="signoff_release_round"),
            models.Index(fields=["status", "due_at"], name="signoff_status_due"),
        ]

    def __str__(self) -> str:
        return f"{self.release_id}/r{self.round}/{self.agency_id}/{self.stage}: {self.status}"

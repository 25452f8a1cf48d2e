from django.conf import settings
from django.db import models

from compliance.models.base import TrackedQuerySet, audited_history


class RequestKind(models.TextChoices):
    REVIEW_REQUEST = "review_request"
    POSTPONE_RELEASE = "postpone_release"
    LIMIT_RELEASE = "limit_release"
    RESTRICT_FOREIGN_ACCESS = "restrict_foreign_access"
    SUSPEND_ACCESS = "suspend_access"
    VET_USERS = "vet_users"
    INFORMATION_REQUEST = "information_request"


class RequestStatus(models.TextChoices):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    COMPLIED = "complied"
    CONTESTED = "contested"
    CLOSED = "closed"


class LabPosition(models.TextChoices):
    AGREE = "agree"
    DISAGREE = "disagree"
    UNDECIDED = "undecided"


class GovernmentRequestQuerySet(TrackedQuerySet):
    def in_force(self):
        """R12: a request is in force until it is closed."""
        return self.exclude(status=RequestStatus.CLOSED)

    def binding(self):
        return self.filter(binding=True)


class GovernmentRequest(models.Model):
    """A request or directive received from an agency (R12, R13)."""

    Kind = RequestKind
    Status = RequestStatus
    Position = LabPosition

    agency = models.ForeignKey(
        "compliance.Agency", on_delete=models.PROTECT, related_name="requests"
    )
    reference = models.CharField(max_length=100)
    kind = models.CharField(max_length=32, choices=RequestKind.choices)
    binding = models.BooleanField(default=False, help_text="Mandatory directive, not voluntary.")
    received_at = models.DateTimeField()
    due_at = models.DateTimeField(null=True, blank=True)
    releases = models.ManyToManyField("compliance.Release", related_name="requests", blank=True)
    summary = models.TextField(blank=True)
    status = models.CharField(
        max_length=16, choices=RequestStatus.choices, default=RequestStatus.OPEN, db_index=True
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="assigned_requests",
    )
    lab_position = models.CharField(
        max_length=16, choices=LabPosition.choices, default=LabPosition.UNDECIDED
    )
    response = models.TextField(blank=True)
    complied_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    history = audited_history(m2m_fields=[releases])
    objects = GovernmentRequestQuerySet.as_manager()

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "reference"],
                name="request_reference_unique_per_agency",
                violation_error_message="This agency already has a request with this reference.",
            ),
        ]
        indexes = [models.Index(fields=["kind", "binding", "status"], name="request_kind_binding")]

    def __str__(self) -> str:
        return f"{self.agency_id}:{self.reference}"

    @property
    def in_force(self) -> bool:
        return self.status != RequestStatus.CLOSED

    @property
    def time_to_comply(self):
        if self.complied_at is None:
            return None
        return self.complied_at - self.received_at

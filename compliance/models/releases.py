from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models

from compliance.models.base import TrackedQuerySet, audited_history


class ReleaseStatus(models.TextChoices):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    LIMITED = "limited"
    GENERAL = "general"
    SUSPENDED = "suspended"
    RETIRED = "retired"


LIVE_STATUSES = (ReleaseStatus.LIMITED, ReleaseStatus.GENERAL)


class Release(models.Model):
    """One model release, moving draft → in_review → limited → general (R1–R6)."""

    Status = ReleaseStatus

    slug = models.SlugField(max_length=100, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_releases"
    )
    target_date = models.DateField(null=True, blank=True)
    artifact_digest = models.CharField(
        max_length=200,
        blank=True,
        validators=[RegexValidator(r"^[A-Za-z0-9:._-]*$", "Use a digest such as sha256:…")],
    )
    required_agencies = models.ManyToManyField("compliance.Agency", related_name="releases")
    partner_cap = models.PositiveIntegerField(
        default=20, validators=[MinValueValidator(0), MaxValueValidator(100000)]
    )
    review_days = models.PositiveIntegerField(
        default=14, validators=[MinValueValidator(1), MaxValueValidator(3650)]
    )
    foreign_access_restricted = models.BooleanField(default=False)
    status = models.CharField(
        max_length=16, choices=ReleaseStatus.choices, default=ReleaseStatus.DRAFT, db_index=True
    )
    review_round = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = audited_history(m2m_fields=[required_agencies])
    objects = TrackedQuerySet.as_manager()

    class Meta:
        ordering = ["slug"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=ReleaseStatus.values),
                name="release_status_valid",
                violation_error_message="Unknown release status.",
            ),
        ]

    def __str__(self) -> str:
        return self.slug

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_STATUSES

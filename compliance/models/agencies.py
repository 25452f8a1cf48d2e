from django.core.validators import RegexValidator
from django.db import models

from compliance.models.base import TrackedQuerySet, audited_history


class AgencyQuerySet(TrackedQuerySet):
    def active(self):
        return self.filter(active=True)


class Agency(models.Model):
    """A government body that reviews releases or sends requests."""

    code = models.CharField(
        max_length=16,
        unique=True,
        validators=[
            RegexValidator(r"^[A-Z][A-Z0-9_-]*$", "Use upper-case letters, digits, - or _.")
        ],
        help_text="Short unique code, e.g. DOC, ONCD, OSTP, CAISI.",
    )
    name = models.CharField(max_length=200)
    contact_email = models.EmailField(blank=True)
    active = models.BooleanField(default=True)

    history = audited_history()
    objects = AgencyQuerySet.as_manager()

    class Meta:
        ordering = ["code"]
        verbose_name_plural = "agencies"

    def __str__(self) -> str:
        return self.code

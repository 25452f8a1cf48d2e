from django.db import models
from django_countries.fields import CountryField

from compliance.models.base import TrackedQuerySet, audited_history


class Partner(models.Model):
    """An outside organisation that may get early access to a release."""

    name = models.CharField(max_length=200)
    country = CountryField(help_text="ISO 3166-1 alpha-2 code, e.g. US, GB.")
    contact_email = models.EmailField(blank=True)
    notes = models.TextField(blank=True)

    history = audited_history()
    objects = TrackedQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.country})"

from django.conf import settings
from django.db import models

from compliance.models.base import TrackedQuerySet, audited_history


class Gateway(models.Model):
    """A model-serving gateway that enforces Clearance's access decisions (R25–R30).

    Its user (role ``gateway``) authenticates it; ``applied_revision`` is the newest access
    revision it reported enforcing. Each receipt that advances it is a history row (in the
    audit chain); ``last_seen_at`` moves on every call and is deliberately not history (a
    heartbeat would otherwise flood the log)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="gateway"
    )
    name = models.CharField(max_length=150, unique=True, help_text="The gateway user's name.")
    active = models.BooleanField(default=True)
    applied_revision = models.PositiveBigIntegerField(default=0)
    applied_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    history = audited_history(excluded_fields=["last_seen_at"])
    objects = TrackedQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

"""Webhook endpoints and their deliveries (R31).

An endpoint is configuration admins manage, so it keeps its history (the secret is never in
it: the history and the audit export are readable by auditors). A delivery is the outbox row
of one event for one endpoint, made on the worker from the event's ``PendingWebhookEvent``:
that row is written in the transaction of the change that caused it, so an event exists
exactly when its cause does, and it becomes one delivery per endpoint after commit (at least
once, the same ``webhook-id`` on every attempt). Attempts are the delivery log."""

from django.conf import settings
from django.db import models

from compliance.models.base import TrackedQuerySet, audited_history


class WebhookEvent(models.TextChoices):
    RELEASE_STATUS_CHANGED = "release.status_changed"
    SIGNOFF_DECIDED = "signoff.decided"
    SIGNOFF_WITHDRAWN = "signoff.withdrawn"
    REQUEST_RECORDED = "request.recorded"
    REQUEST_STATUS_CHANGED = "request.status_changed"
    ALLOWLIST_PROPOSED = "allowlist.proposed"
    ALLOWLIST_DECIDED = "allowlist.decided"
    ALLOWLIST_REVOKED = "allowlist.revoked"
    ACCESS_CHANGED = "access.changed"
    ALERT_RAISED = "alert.raised"
    AUDIT_CHECKPOINT = "audit.checkpoint"
    PING = "ping"


class WebhookEndpoint(models.Model):
    url = models.URLField(max_length=2000)
    description = models.CharField(max_length=500, blank=True)
    events = models.JSONField(
        default=list, blank=True, help_text="Event types to send; empty: every event."
    )
    secret = models.CharField(max_length=100, help_text="whsec_… (shown once)")
    secret_rotated_at = models.DateTimeField(null=True, blank=True)
    active = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    history = audited_history(excluded_fields=["secret"])
    objects = TrackedQuerySet.as_manager()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.url

    def wants(self, event: str) -> bool:
        return event == WebhookEvent.PING or not self.events or event in self.events


class PendingWebhookEvent(models.Model):
    """An event as its cause committed it, not yet fanned out into deliveries: the cause
    writes one row whatever the number of endpoints. ``endpoints`` are the ids of the
    endpoints that wanted it at that moment (an endpoint registered later does not get it).
    The fan-out writes their deliveries and deletes this row in one transaction."""

    event = models.CharField(max_length=40, choices=WebhookEvent.choices)
    payload = models.JSONField(help_text='The body: {"type", "timestamp", "data"}.')
    endpoints = models.JSONField(help_text="Ids of the endpoints that wanted the event.")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.event} for {len(self.endpoints)} endpoint(s), not yet fanned out"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"  # not yet delivered; attempted again at next_attempt_at
    DELIVERED = "delivered"
    FAILED = "failed"  # the last scheduled attempt failed: the endpoint was disabled


class WebhookDelivery(models.Model):
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.CharField(max_length=40, choices=WebhookEvent.choices)
    message_id = models.CharField(max_length=64, unique=True, help_text="webhook-id")
    payload = models.JSONField(help_text='The body: {"type", "timestamp", "data"}.')
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    response_status = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField()
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="webhook_due")]

    def __str__(self) -> str:
        return f"{self.event} → {self.endpoint_id}: {self.status}"


class WebhookAttempt(models.Model):
    """One HTTP attempt of a delivery: what the receiver answered and how long it took."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="log")
    at = models.DateTimeField()
    response_status = models.PositiveIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField()
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"attempt of {self.delivery_id} at {self.at}: {self.response_status or self.error}"


class RaisedAlert(models.Model):
    """A compliance alert as webhooks announced it: ``alert.raised`` goes out once when an
    alert appears, and again only after it has cleared and come back."""

    key = models.CharField(max_length=300)
    kind = models.CharField(max_length=40)
    raised_at = models.DateTimeField()
    cleared_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-raised_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["key"],
                condition=models.Q(cleared_at__isnull=True),
                name="raised_alert_once_while_standing",
            )
        ]

    def __str__(self) -> str:
        return f"{self.key} raised {self.raised_at}"

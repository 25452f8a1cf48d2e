"""Reminder bookkeeping (R17–R20): claims that make reminders at-most-once per interval, the
log of every reminder sent, and the outbox of immediate notifications.

These rows are themselves the record (append-mostly operational logs), so they carry no
simple-history table; claims change state with compare-and-swap updates."""

from django.conf import settings
from django.db import models


class ClaimState(models.TextChoices):
    CLAIMED = "claimed"  # a sweep owns it and may be sending right now
    SENT = "sent"


class ReminderClaim(models.Model):
    """ "(item, recipient) is reminded in the window starting at ``window_start``".

    Taken in its own committed transaction before any e-mail is sent; the unique constraint
    is what makes two sweeps, two workers or a retried task unable to remind twice (R19)."""

    State = ClaimState

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reminder_claims"
    )
    item_key = models.CharField(max_length=200, help_text="e.g. signoff:12, request:3, alert:…")
    window_start = models.DateTimeField()
    sweep_id = models.UUIDField(help_text="The sweep that owns (or owned) this claim.")
    state = models.CharField(max_length=16, choices=ClaimState.choices, default=ClaimState.CLAIMED)
    claimed_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-window_start", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "item_key", "window_start"],
                name="reminder_claim_once_per_window",
                violation_error_message="This item was already reminded in this window.",
            ),
            models.CheckConstraint(
                condition=models.Q(state__in=ClaimState.values),
                name="reminder_claim_state_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["recipient", "item_key", "-window_start"], name="claim_latest"),
            models.Index(fields=["state", "claimed_at"], name="claim_state_age"),
        ]

    def __str__(self) -> str:
        return f"{self.item_key} → {self.recipient_id} @ {self.window_start:%Y-%m-%d %H:%M %Z}"


class ReminderKind(models.TextChoices):
    DIGEST = "digest"  # the periodic sweep's digest (R17–R19)
    NOTIFICATION = "notification"  # an immediate notification to a release owner (R20)


class Reminder(models.Model):
    """One e-mail that went out: the reminder log auditors read (R19)."""

    Kind = ReminderKind

    kind = models.CharField(max_length=16, choices=ReminderKind.choices, db_index=True)
    # SET_NULL: deleting a user must not erase what they were told; ``email`` stays.
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="reminders",
    )
    email = models.EmailField(help_text="The address it was sent to.")
    subject = models.CharField(max_length=300)
    items = models.JSONField(default=list, help_text="What it reminded of: key, kind, summary…")
    sweep_id = models.UUIDField(null=True, blank=True, db_index=True)
    sent_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-sent_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} to {self.email} at {self.sent_at:%Y-%m-%d %H:%M %Z}"


class OutboxState(models.TextChoices):
    PENDING = "pending"
    SENT = "sent"


class Notification(models.Model):
    """Transactional outbox (R20): written in the service's transaction, delivered after
    commit by a task, or by the next sweep if the broker was down."""

    State = OutboxState

    release = models.ForeignKey(
        "compliance.Release", on_delete=models.CASCADE, related_name="notifications"
    )
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    event = models.CharField(max_length=32)
    payload = models.JSONField(default=dict)
    state = models.CharField(
        max_length=16, choices=OutboxState.choices, default=OutboxState.PENDING
    )
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["state", "created_at"], name="outbox_pending")]

    def __str__(self) -> str:
        return f"{self.event} for {self.release_id} → {self.recipient_id}: {self.state}"

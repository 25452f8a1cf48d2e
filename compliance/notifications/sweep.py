"""The reminder sweep (R17–R19).

One sweep: collect what is due (pending current-round sign-offs and open/acknowledged
requests due within the lead time or overdue, and the computed compliance alerts) and choose
the recipients (R18). Then, recipient by recipient over one SMTP connection: **claim** that
recipient's (item, recipient) pairs for their interval window in one short committed
transaction, send the digest, mark its claims ``sent`` and log it. Finally deliver any
notification the broker could not take (R20 outbox).

Why claim each digest just before sending it: the unique constraint on (recipient, item,
window start) lets exactly one of two overlapping sweeps, two workers or a retried task have
a given reminder, and a worker that dies mid-sweep strands at most the one digest it was
sending; the recipients after it hold no claim, so the next sweep reminds them at once. The
stranded claim is taken over by a later sweep once it is older than
``REMINDER_CLAIM_TIMEOUT``, which is longer than the sweep task's hard time limit, so a send
that may still be in flight is never duplicated and a lost one is never lost for good.

Windows: the first reminder of an item to a recipient opens a window at that moment; later
windows follow back to back, each ``REMINDER_INTERVAL`` long (anchored at the first one), so
two reminders of the same item to the same person are always at least one window apart."""

from __future__ import annotations

import logging
import smtplib
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import get_connection
from django.db import IntegrityError, transaction
from django.db import connection as db_connection
from django.db.models import Q
from django.utils import timezone

from compliance import selectors
from compliance.enforcement import gateway_alerts
from compliance.models import (
    ClaimState,
    GovernmentRequest,
    Reminder,
    ReminderClaim,
    ReminderKind,
    RequestStatus,
    Role,
)
from compliance.notifications import outbox
from compliance.notifications.rendering import (
    ALERT,
    DUE_SOON,
    OVERDUE,
    ReminderItem,
    render_digest,
    site_url,
)
from compliance.selectors import compliance_alerts, webhook_alerts
from compliance.zones import load_time_zones

logger = logging.getLogger(__name__)

REMINDED_REQUEST_STATUSES = (RequestStatus.OPEN, RequestStatus.ACKNOWLEDGED)
# Sent claims are only needed to anchor the next window; older ones are deleted.
CLAIM_RETENTION = timedelta(days=30)
# pg_advisory_xact_lock key serialising the claim step of concurrent sweeps ("CLRNCREM").
CLAIM_LOCK_KEY = 0x434C524E43524D


@dataclass
class SweepResult:
    sweep_id: uuid.UUID
    items: int = 0
    digests: int = 0
    reminded: int = 0  # (item, recipient) pairs sent
    skipped: int = 0  # pairs already reminded in this window or in flight elsewhere
    notifications: int = 0
    recipients: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # addresses the SMTP server refused

    def as_dict(self) -> dict:
        return {
            "sweep_id": str(self.sweep_id),
            "items": self.items,
            "digests": self.digests,
            "reminded": self.reminded,
            "skipped": self.skipped,
            "notifications": self.notifications,
            "recipients": self.recipients,
            "refused": self.refused,
        }


# --- what is due (R17) ------------------------------------------------------------------


def _urgency(due_at: datetime, now: datetime) -> tuple[str, timedelta | None]:
    if due_at < now:
        return OVERDUE, now - due_at
    return DUE_SOON, None


def due_signoffs(now: datetime) -> list[dict]:
    """R17's due sign-offs (``selectors.due_signoffs``, the dashboard's list too) as plain
    rows: a sweep at scale reads 100k of them, and model instances (with their release, owner
    and agency) cost several seconds more than the rows."""
    return list(
        selectors.due_signoffs(now).values(
            "pk",
            "stage",
            "round",
            "due_at",
            "release__slug",
            "release__name",
            "release__owner_id",
            "agency__code",
            "agency__name",
        )
    )


def due_requests(now: datetime) -> list[GovernmentRequest]:
    """In-force open/acknowledged requests due within the lead time or past due."""
    return list(
        GovernmentRequest.objects.filter(
            status__in=REMINDED_REQUEST_STATUSES,
            due_at__isnull=False,
            due_at__lte=now + settings.REMINDER_LEAD_TIME,
        )
        .select_related("agency", "assignee")
        .prefetch_related("releases")
        .order_by("due_at", "pk")
    )


def admins() -> list:
    User = get_user_model()
    return list(
        User.objects.filter(is_active=True)
        .filter(Q(is_superuser=True) | Q(groups__name=Role.ADMIN))
        .distinct()
        .order_by("pk")
    )


def collect(now: datetime) -> dict[int, tuple[object, list[ReminderItem]]]:
    """R17 + R18: every due item, grouped by recipient ``{user_id: (user, [items])}``."""
    escalation = settings.REMINDER_ESCALATION
    admin_users = admins()
    by_user: dict[int, tuple[object, list[ReminderItem]]] = {}
    # Keys each recipient already has: a set, not a scan of their list (quadratic at scale).
    given: dict[int, set[str]] = defaultdict(set)

    def give(user, item: ReminderItem, *, escalated: bool = False) -> None:
        if user is None or not user.is_active:
            return
        _user, items = by_user.setdefault(user.pk, (user, []))
        if item.key in given[user.pk]:
            return  # already theirs (the owner who is also an admin gets it once)
        given[user.pk].add(item.key)
        items.append(item)
        if escalated:
            item.escalated_to.add(user.pk)

    def give_primary_then_escalate(primary: list, item: ReminderItem) -> None:
        for user in primary:
            give(user, item)
        if item.overdue_by is not None and item.overdue_by > escalation:
            primary_ids = {u.pk for u in primary}
            for admin in admin_users:
                give(admin, item, escalated=admin.pk not in primary_ids)

    signoffs = due_signoffs(now)
    owners = get_user_model().objects.in_bulk({so["release__owner_id"] for so in signoffs})
    for so in signoffs:
        urgency, overdue_by = _urgency(so["due_at"], now)
        slug = so["release__slug"]
        item = ReminderItem(
            key=f"signoff:{so['pk']}",
            kind="signoff",
            urgency=urgency,
            title=f"{slug}: {so['agency__code']} sign-off on the {so['stage']} stage",
            detail=f"{so['release__name']}, review round {so['round']}: "
            f"{so['agency__name']} has not decided.",
            url=site_url(f"/releases/{slug}/"),
            due_at=so["due_at"],
            overdue_by=overdue_by,
        )
        give_primary_then_escalate([owners[so["release__owner_id"]]], item)

    for req in due_requests(now):
        urgency, overdue_by = _urgency(req.due_at, now)
        slugs = ", ".join(r.slug for r in req.releases.all()) or "no release"
        item = ReminderItem(
            key=f"request:{req.pk}",
            kind="request",
            urgency=urgency,
            title=f"{req.agency.code} {req.reference}: "
            f"{'binding' if req.binding else 'voluntary'} {req.kind.replace('_', ' ')}",
            detail=f"Status {req.status}, concerns {slugs}."
            + (f" {req.summary}" if req.summary else ""),
            url=site_url(f"/requests/{req.pk}/"),
            due_at=req.due_at,
            overdue_by=overdue_by,
        )
        primary = [req.assignee] if req.assignee and req.assignee.is_active else admin_users
        give_primary_then_escalate(primary, item)

    for item in alert_items(now):  # R16, R30, R31: every admin hears of each alert
        for admin in admin_users:
            give(admin, item)

    for user_id, (user, _items) in list(by_user.items()):
        if not user.email:
            logger.warning("reminders: %s has no e-mail address; nothing sent", user)
            del by_user[user_id]
    return by_user


def alert_items(now) -> list[ReminderItem]:
    """The digest lines of every current alert: R16's (a release), R30's (a gateway lagging
    or silent), R31's (a webhook endpoint disabled after its last failed delivery)."""

    def line(alert, key: str, title: str, path: str) -> ReminderItem:
        return ReminderItem(
            key=f"alert:{alert['kind']}:{key}",
            kind="alert",
            urgency=ALERT,
            title=title,
            detail=alert["detail"],
            url=site_url(path),
        )

    items = []
    for alert in compliance_alerts():
        extra = alert.get("stage") or alert.get("request") or alert.get("partner") or ""
        title = f"{alert['release']}: {alert['kind'].replace('_', ' ')}"
        items.append(
            line(alert, f"{alert['release']}:{extra}", title, f"/releases/{alert['release']}/")
        )
    for alert in gateway_alerts(now):
        title = f"gateway {alert['gateway']}: {alert['kind'].replace('_', ' ')}"
        items.append(line(alert, alert["gateway"], title, "/gateways/"))
    for alert in webhook_alerts():
        title = f"webhook {alert['webhook']}: disabled"
        items.append(line(alert, alert["webhook"], title, f"/webhooks/{alert['webhook']}/"))
    return items


# --- claims (R19) -----------------------------------------------------------------------


def _window_for(latest: ReminderClaim | None, now: datetime) -> datetime | None:
    """The window start ``now`` falls in for this (item, recipient), or None if ``now`` is
    still inside the window of the latest claim."""
    if latest is None:
        return now.replace(microsecond=0)
    interval = settings.REMINDER_INTERVAL
    elapsed = int((now - latest.window_start) / interval)
    if elapsed < 1:
        return None
    return latest.window_start + elapsed * interval


def _serialise_claims() -> None:
    # Two sweeps claiming the same recipient at once would otherwise each claim part of their
    # items and both send a (partial) digest; on PostgreSQL they take turns for this short
    # step (one recipient's claims, no e-mail), so one of them gets all of that recipient's.
    # SQLite already runs one writing transaction at a time (IMMEDIATE transactions).
    if db_connection.vendor == "postgresql":
        with db_connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CLAIM_LOCK_KEY])


def claim_digest(
    user_id: int, items: list[ReminderItem], *, sweep_id: uuid.UUID, now: datetime
) -> tuple[list[tuple[ReminderItem, int]], int]:
    """Claim one recipient's wanted items for their current windows, committed before the
    digest goes out. Returns ``[(item, claim_pk)]`` (what this sweep may send) and how many
    were skipped (already reminded in this window, or in flight elsewhere)."""
    timeout = settings.REMINDER_CLAIM_TIMEOUT
    ours: list[tuple[ReminderItem, int]] = []
    skipped = 0
    with transaction.atomic():
        _serialise_claims()
        latest: dict[str, ReminderClaim] = {}
        rows = ReminderClaim.objects.filter(
            recipient_id=user_id, item_key__in=[i.key for i in items]
        ).order_by("item_key", "-window_start")
        if db_connection.vendor == "postgresql":
            rows = rows.distinct("item_key")  # only the latest per item
        for c in rows:
            latest.setdefault(c.item_key, c)
        fresh: list[tuple[ReminderItem, ReminderClaim]] = []
        for item in items:
            last = latest.get(item.key)
            if last is not None and last.state == ClaimState.CLAIMED:
                # Unfinished: in flight elsewhere, or its sweep died. Take it over only once
                # it is older than any sweep can run (compare-and-swap on its owner).
                taken = last.claimed_at <= now - timeout and _take_over(
                    last, sweep_id=sweep_id, now=now
                )
                if taken:
                    logger.warning("reminders: reclaimed stale claim %s", last)
                    ours.append((item, last.pk))
                else:
                    skipped += 1
                continue
            window = _window_for(last, now)
            if window is None:
                skipped += 1
                continue
            row = ReminderClaim(
                recipient_id=user_id,
                item_key=item.key,
                window_start=window,
                sweep_id=sweep_id,
                claimed_at=now,
            )
            fresh.append((item, row))
        inserted = _insert_claims(fresh)
        skipped += len(fresh) - len(inserted)  # windows another sweep holds
        ours.extend((item, row.pk) for item, row in inserted)
    return ours, skipped


def _take_over(stale: ReminderClaim, *, sweep_id: uuid.UUID, now: datetime) -> bool:
    """Compare-and-swap a stale claim to this sweep. If its window is over by now, the claim
    moves to the window ``now`` is in, so the late send still counts for the current window
    and the next reminder is not due right after it."""
    window = _window_for(stale, now) or stale.window_start
    try:
        with transaction.atomic():
            return (
                ReminderClaim.objects.filter(
                    pk=stale.pk, state=ClaimState.CLAIMED, sweep_id=stale.sweep_id
                ).update(sweep_id=sweep_id, claimed_at=now, window_start=window)
                == 1
            )
    except IntegrityError:
        return False


def _insert_claims(
    fresh: list[tuple[ReminderItem, ReminderClaim]],
) -> list[tuple[ReminderItem, ReminderClaim]]:
    """Insert new claims in one statement; if any window is already taken (the unique
    constraint fired), insert one by one and keep only the ones that got in."""
    if not fresh:
        return []
    try:
        with transaction.atomic():
            ReminderClaim.objects.bulk_create([row for _item, row in fresh])
        return fresh
    except IntegrityError:
        pass
    won = []
    for item, row in fresh:
        row.pk = None
        try:
            with transaction.atomic():
                row.save(force_insert=True)
        except IntegrityError:
            continue  # another sweep holds this window
        won.append((item, row))
    return won


def release_claims(claim_ids: list[int], *, sweep_id: uuid.UUID) -> None:
    """Give back the claims of a digest that did not go out (the send failed and we are still
    alive), so the task's retry can claim and send it at once instead of after the timeout."""
    if claim_ids:
        ReminderClaim.objects.filter(
            pk__in=claim_ids, sweep_id=sweep_id, state=ClaimState.CLAIMED
        ).delete()


def _record_sent(
    user, message, sent: list[tuple[ReminderItem, int]], *, sweep_id: uuid.UUID
) -> None:
    now = timezone.now()
    with transaction.atomic():
        ReminderClaim.objects.filter(
            pk__in=[pk for _i, pk in sent], sweep_id=sweep_id, state=ClaimState.CLAIMED
        ).update(state=ClaimState.SENT, sent_at=now)
        Reminder.objects.create(
            kind=ReminderKind.DIGEST,
            recipient=user,
            email=user.email,
            subject=message.subject,
            items=[item.for_log(user.pk) for item, _pk in sent],
            sweep_id=sweep_id,
            sent_at=now,
        )


# --- the sweep --------------------------------------------------------------------------


def run_sweep(*, now: datetime | None = None) -> SweepResult:
    """One sweep, now. Used by the beat task and by ``manage.py send_reminders``."""
    now = now or timezone.now()
    result = SweepResult(sweep_id=uuid.uuid4())
    wanted = collect(now)
    result.items = len({i.key for _u, items in wanted.values() for i in items})
    pending = outbox.pending_notification_ids()
    if not wanted and not pending:
        return result

    load_time_zones(user for user, _items in wanted.values())  # each digest in its zone
    mail = get_connection()  # one SMTP connection for the whole sweep, opened when needed
    opened = False
    try:
        for user_id in sorted(wanted):
            user, items = wanted[user_id]
            pairs, skipped = claim_digest(user_id, items, sweep_id=result.sweep_id, now=now)
            result.skipped += skipped
            if not pairs:
                continue
            claim_ids = [pk for _i, pk in pairs]
            message = render_digest(user, [i for i, _pk in pairs], now=now)
            message.connection = mail
            try:
                if not opened:
                    opened = True
                    mail.open()
                message.send()
            except smtplib.SMTPRecipientsRefused:
                # This address is refused; the others must not wait behind it. Its claims go
                # back, so a later sweep tries again.
                logger.error("reminders: %s refused for %s", user.email, user, exc_info=True)
                release_claims(claim_ids, sweep_id=result.sweep_id)
                result.refused.append(user.get_username())
                continue
            except Exception:
                # Not sent, and we are alive to say so: hand the claims back for the retry.
                # (A process that dies here leaves them claimed: see claim_digest.)
                release_claims(claim_ids, sweep_id=result.sweep_id)
                raise
            # Sent: from here on a failure must not hand its claims back for a resend.
            _record_sent(user, message, pairs, sweep_id=result.sweep_id)
            result.digests += 1
            result.reminded += len(pairs)
            result.recipients.append(user.get_username())
        for notification_id in pending:
            if not opened:
                opened = True
                mail.open()
            try:
                sent = outbox.deliver_notification(notification_id, connection=mail, wait=False)
            except smtplib.SMTPRecipientsRefused:
                logger.error("reminders: notification %s refused", notification_id)
                continue  # stays pending
            result.notifications += sent
    finally:
        if opened:
            mail.close()
    prune_claims(now)
    logger.info("reminder sweep %s: %s", result.sweep_id, result.as_dict())
    return result


def prune_claims(now: datetime) -> int:
    """Forget sent claims long past their window. Safe: without an earlier claim the next
    reminder opens a new window, and by then more than two intervals have passed. The
    reminder log (``Reminder``) is kept."""
    keep = max(CLAIM_RETENTION, 2 * settings.REMINDER_INTERVAL)
    deleted, _ = ReminderClaim.objects.filter(
        state=ClaimState.SENT, window_start__lt=now - keep
    ).delete()
    return deleted

"""Webhook events (R31): written to the outbox in the cause's transaction, delivered after
commit, signed as Standard Webhooks, retried with backoff, then the endpoint is disabled.

- ``emit(event, data)`` runs inside the service's transaction: **one** ``PendingWebhookEvent``
  row naming the endpoints that want the event, whatever their number. After commit the
  broker gets one task for it (``deliver_events``; a burst's events in one message), which
  on the worker fans it out into one ``WebhookDelivery`` per endpoint and one task per
  delivery; if the broker cannot be reached the event stays pending and the periodic
  ``deliver_due`` fans it out and sends it.
- ``deliver(delivery_id)`` locks the row (a concurrent delivery skips it), POSTs, records the
  attempt, and either marks it delivered or schedules the next attempt from
  ``WEBHOOK_RETRY_SECONDS``. The body and the ``webhook-id`` never change between attempts;
  ``webhook-timestamp`` and the signature are the attempt's own (receivers refuse stale ones).
- The destination is checked when the endpoint is saved and again, on the resolved addresses,
  before every attempt: loopback, link-local, private and other non-global addresses are
  refused unless ``WEBHOOK_ALLOWED_NETWORKS`` admits them. Redirects are not followed."""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
import time
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from compliance.models import (
    DeliveryStatus,
    PendingWebhookEvent,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

logger = logging.getLogger(__name__)
DELIVER_TASK = "compliance.tasks.deliver_webhook"
DELIVER_EVENTS_TASK = "compliance.tasks.deliver_webhook_events"
USER_AGENT = "Clearance-Webhooks/1"
# Pending events fanned out per transaction (the sweep loops until none is left).
FAN_OUT_BATCH = 500


class DestinationRefused(ValueError):
    """The URL's host is (or resolves to) an address webhooks may not reach."""


def new_secret() -> str:
    import base64
    import secrets

    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def _allowed_networks() -> list:
    return [ipaddress.ip_network(n, strict=False) for n in settings.WEBHOOK_ALLOWED_NETWORKS]


def check_destination(url: str) -> None:
    """Refuse a URL whose host resolves to a non-global address (loopback, link-local,
    private, reserved…) unless an allowed network contains it. Every address the host
    resolves to must pass."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DestinationRefused("Use an http:// or https:// URL with a host.")
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise DestinationRefused(f"The host {parts.hostname} does not resolve.") from exc
    allowed = _allowed_networks()
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if address.is_global or any(address in net for net in allowed):
            continue
        raise DestinationRefused(
            f"{parts.hostname} resolves to {address}, a loopback, link-local or private "
            "address: refused (WEBHOOK_ALLOWED_NETWORKS admits such networks)."
        )


def emit(event: str, data: dict) -> int | None:
    """Queue ``event`` for every active endpoint that wants it; call inside the transaction
    of the change. One statement finds the endpoints and writes **one** row for the event
    (a ``PendingWebhookEvent`` naming them), whatever their number; after commit one
    hand-off asks a worker to fan it out into one delivery per endpoint. So the emitting
    call pays one small row for ten subscribers, and nothing for none (docs/benchmarks.md).
    Returns the pending event's id, or None when no endpoint wants the event."""
    now = timezone.now()
    payload = json.dumps({"type": event, "timestamp": now.isoformat(), "data": data})
    event_id = _insert_event(event, payload, now)
    if event_id is not None:
        transaction.on_commit(lambda: hand_off_events([event_id]))
    return event_id


# INSERT … SELECT: the endpoints that want the event, read and written in one round trip;
# no row at all when none does. Every value is a bound parameter; the filter is
# ``WebhookEndpoint.wants``.
_EMIT_SQL = {
    "postgresql": """
        INSERT INTO compliance_pendingwebhookevent (event, payload, endpoints, created_at)
        SELECT %(event)s, %(payload)s::jsonb, wanting.ids, %(now)s
        FROM (SELECT jsonb_agg(id ORDER BY id) AS ids FROM compliance_webhookendpoint
              WHERE active AND (%(event)s = %(ping)s OR events = '[]'::jsonb
                                OR events @> jsonb_build_array(%(event)s::text))) AS wanting
        WHERE wanting.ids IS NOT NULL
        RETURNING id""",
    "sqlite": """
        INSERT INTO compliance_pendingwebhookevent (event, payload, endpoints, created_at)
        SELECT %(event)s, %(payload)s, wanting.ids, %(now)s
        FROM (SELECT json_group_array(id) AS ids, count(*) AS n
              FROM (SELECT id FROM compliance_webhookendpoint
                    WHERE active AND (%(event)s = %(ping)s OR json_array_length(events) = 0
                                      OR EXISTS (SELECT 1 FROM json_each(events)
                                                 WHERE value = %(event)s))
                    ORDER BY id)) AS wanting
        WHERE wanting.n > 0
        RETURNING id""",
}


def _insert_event(event: str, payload: str, now) -> int | None:
    sql = _EMIT_SQL.get(connection.vendor)
    if sql is None:  # another database: the ORM, two round trips
        wanting = [e.pk for e in WebhookEndpoint.objects.filter(active=True) if e.wants(event)]
        if not wanting:
            return None
        return PendingWebhookEvent.objects.create(
            event=event, payload=json.loads(payload), endpoints=wanting, created_at=now
        ).pk
    params = {
        "event": event,
        "payload": payload,
        "ping": WebhookEvent.PING.value,
        "now": connection.ops.adapt_datetimefield_value(now),
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return None if row is None else row[0]


def fan_out(event_ids: list[int]) -> list[int]:
    """Turn these pending events into one delivery per endpoint they named, and delete
    them, in one transaction; returns the new deliveries' ids in order. Safe to run twice
    and concurrently (the task and the sweep): each event is locked, and one that is gone
    or locked by another fan-out is skipped, so it is fanned out once and each delivery
    gets its ``webhook-id`` once. An endpoint deleted since is left out."""
    return _fan_out(PendingWebhookEvent.objects.filter(pk__in=event_ids))[0]


def fan_out_pending() -> int:
    """Fan out every pending event (the sweep: events whose hand-off never reached a
    worker), in batches; returns how many deliveries were written."""
    written = 0
    while True:
        deliveries, events = _fan_out(PendingWebhookEvent.objects.all(), limit=FAN_OUT_BATCH)
        written += len(deliveries)
        if events < FAN_OUT_BATCH:
            return written


def _fan_out(pending, *, limit: int | None = None) -> tuple[list[int], int]:
    """(new delivery ids, events fanned out)."""
    with transaction.atomic():
        events = list(pending.select_for_update(skip_locked=True).order_by("pk")[:limit])
        if not events:
            return [], 0
        wanted = {pk for e in events for pk in e.endpoints}
        existing = set(WebhookEndpoint.objects.filter(pk__in=wanted).values_list("pk", flat=True))
        rows = [
            _new_delivery(pk, e.event, e.payload, e.created_at)
            for e in events
            for pk in e.endpoints
            if pk in existing
        ]
        created = WebhookDelivery.objects.bulk_create(rows)
        PendingWebhookEvent.objects.filter(pk__in=[e.pk for e in events]).delete()
    return [d.pk for d in created], len(events)


def _new_delivery(endpoint_id: int, event: str, payload: dict, at) -> WebhookDelivery:
    return WebhookDelivery(
        endpoint_id=endpoint_id,
        event=event,
        message_id=f"msg_{uuid.uuid4().hex}",
        payload=payload,
        created_at=at,
        next_attempt_at=at,
    )


def queue(endpoint: WebhookEndpoint, event: str, data: dict) -> WebhookDelivery:
    """One event for one endpoint (a test ping): its delivery is written at once."""
    now = timezone.now()
    payload = {"type": event, "timestamp": now.isoformat(), "data": data}
    delivery = _new_delivery(endpoint.pk, event, payload, now)
    delivery.save()
    transaction.on_commit(lambda: hand_off(delivery.pk))
    return delivery


def hand_off(delivery_id: int, *, countdown: float | None = None) -> None:
    """Ask the broker to deliver, off the caller's path (the outbox's publisher thread); the
    periodic sweep delivers whatever never reached it."""
    from compliance.notifications.outbox import hand_off as publish

    publish(DELIVER_TASK, delivery_id, countdown=countdown)


def hand_off_events(event_ids: list[int]) -> None:
    """After commit: one hand-off for the event, which the publisher thread may send in one
    message with other events' waiting hand-offs (a burst); ``deliver_events`` fans out."""
    from compliance.notifications.outbox import hand_off_ids

    hand_off_ids(DELIVER_EVENTS_TASK, event_ids)


def deliver_events(event_ids: list[int]) -> int:
    """On the worker: fan the events out, then one task per delivery for all but the first
    (a slow endpoint holds up only its own delivery) and the first one here. A fan-out the
    broker refuses leaves its deliveries due for ``deliver_due``; a delivery already sent
    is skipped. Returns how many were delivered here (0 or 1)."""
    from compliance.notifications.outbox import publish_now

    first, *rest = fan_out(event_ids) or [None]
    for pk in rest:
        publish_now(DELIVER_TASK, pk)
    return int(first is not None and deliver(first))


def signed_headers(endpoint: WebhookEndpoint, delivery: WebhookDelivery, body: str) -> dict:
    at = datetime.now(UTC)
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": delivery.message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(endpoint.secret).sign(delivery.message_id, at, body),
    }


def body_of(delivery: WebhookDelivery) -> str:
    return json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True)


def _post(endpoint: WebhookEndpoint, delivery: WebhookDelivery) -> tuple[int | None, str]:
    """One attempt: (HTTP status or None, error text)."""
    body = body_of(delivery)
    try:
        check_destination(endpoint.url)
        response = requests.post(
            endpoint.url,
            data=body.encode(),
            headers=signed_headers(endpoint, delivery, body),
            timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
            allow_redirects=False,
        )
    except DestinationRefused as exc:
        return None, str(exc)[:500]
    except requests.RequestException as exc:
        return None, f"{type(exc).__name__}: {exc}"[:500]
    return response.status_code, "" if 200 <= response.status_code < 300 else response.reason[:500]


def deliver(delivery_id: int) -> bool:
    """One attempt of a due delivery; True when it was delivered now. Safe to run twice: a
    delivery that is not due (a retry whose time has not come) or already sent is skipped."""
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("endpoint")
            .filter(
                pk=delivery_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=timezone.now()
            )
            .first()
        )
        if delivery is None or not delivery.endpoint.active:
            return False
        started = time.monotonic()
        status, error = _post(delivery.endpoint, delivery)
        now = timezone.now()
        WebhookAttempt.objects.create(
            delivery=delivery,
            at=now,
            response_status=status,
            latency_ms=round((time.monotonic() - started) * 1000),
            error=error,
        )
        delivery.attempts += 1
        delivery.response_status = status
        delivery.last_attempt_at = now
        ok = status is not None and 200 <= status < 300
        retry_in = _next_delay(delivery.attempts)
        if ok:
            delivery.status, delivery.delivered_at, delivery.next_attempt_at = (
                DeliveryStatus.DELIVERED,
                now,
                None,
            )
        elif retry_in is None:
            delivery.status, delivery.next_attempt_at = DeliveryStatus.FAILED, None
        else:
            delivery.next_attempt_at = now + timedelta(seconds=retry_in)
        delivery.save()
        if delivery.status == DeliveryStatus.FAILED:
            _disable_after_failures(delivery, error or f"HTTP {status}")
        elif not ok:
            transaction.on_commit(lambda: hand_off(delivery.pk, countdown=retry_in))
    return ok


def _next_delay(attempts: int) -> float | None:
    """Seconds before attempt ``attempts + 1``; None when no attempt is left."""
    schedule = settings.WEBHOOK_RETRY_SECONDS
    return schedule[attempts - 1] if attempts <= len(schedule) else None


def _disable_after_failures(delivery: WebhookDelivery, last_error: str) -> None:
    from compliance.services.webhooks import disable_failed_endpoint

    disable_failed_endpoint(
        delivery.endpoint,
        reason=f"{delivery.attempts} attempts of {delivery.event} ({delivery.message_id}) "
        f"failed; last: {last_error}",
    )


def due_delivery_ids(limit: int = 500) -> list[int]:
    return list(
        WebhookDelivery.objects.filter(
            status=DeliveryStatus.PENDING,
            next_attempt_at__lte=timezone.now(),
            endpoint__active=True,
        )
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


def deliver_due() -> int:
    """Deliver every due delivery now (beat, and the sweep): events the broker never
    received are fanned out first, then retries whose time has come and new deliveries are
    sent. Returns how many were delivered."""
    fan_out_pending()
    return sum(deliver(pk) for pk in due_delivery_ids())

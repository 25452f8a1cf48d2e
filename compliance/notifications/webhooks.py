"""Webhook events (R31): written to the outbox in the cause's transaction, delivered after
commit, signed as Standard Webhooks, retried with backoff, then the endpoint is disabled.

- ``emit(event, data)`` runs inside the service's transaction: one ``WebhookDelivery`` per
  endpoint that wants the event. After commit the broker gets **one** task for the event
  (``deliver_event``), which fans out on the worker to one task per delivery; if the broker
  cannot be reached the rows stay due and the periodic ``deliver_due`` sends them.
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
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

logger = logging.getLogger(__name__)
DELIVER_TASK = "compliance.tasks.deliver_webhook"
DELIVER_EVENT_TASK = "compliance.tasks.deliver_webhook_event"
USER_AGENT = "Clearance-Webhooks/1"


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


def emit(event: str, data: dict) -> list[int]:
    """Queue ``event`` for every active endpoint that wants it; call inside the transaction
    of the change. Returns the delivery ids. One statement finds the endpoints and writes
    their deliveries (deliveries keep no history: they are the outbox, not a record), and
    one broker hand-off for the event follows the commit, so the emitting call pays about
    the same for ten subscribers as for none (docs/benchmarks.md): the fan-out to the
    endpoints happens on the worker."""
    now = timezone.now()
    payload = json.dumps({"type": event, "timestamp": now.isoformat(), "data": data})
    ids = _insert_deliveries(event, payload, now)
    if ids:
        transaction.on_commit(lambda: hand_off_event(ids))
    return ids


# INSERT … SELECT: the endpoints that want the event, read and written in one round trip,
# each row with its own random webhook-id (msg_ + 32 hex digits, as ``_new_delivery``).
# Every value is a bound parameter; the filter is ``WebhookEndpoint.wants``.
_EMIT_SQL = {
    "postgresql": """
        INSERT INTO compliance_webhookdelivery
            (endpoint_id, event, message_id, payload, status, attempts, created_at,
             next_attempt_at)
        SELECT id, %(event)s, 'msg_' || replace(gen_random_uuid()::text, '-', ''),
               %(payload)s::jsonb, %(pending)s, 0, %(now)s, %(now)s
        FROM compliance_webhookendpoint
        WHERE active AND (%(event)s = %(ping)s OR events = '[]'::jsonb
                          OR events @> jsonb_build_array(%(event)s::text))
        ORDER BY id
        RETURNING id""",
    "sqlite": """
        INSERT INTO compliance_webhookdelivery
            (endpoint_id, event, message_id, payload, status, attempts, created_at,
             next_attempt_at)
        SELECT id, %(event)s, 'msg_' || lower(hex(randomblob(16))), %(payload)s,
               %(pending)s, 0, %(now)s, %(now)s
        FROM compliance_webhookendpoint
        WHERE active AND (%(event)s = %(ping)s OR json_array_length(events) = 0
                          OR EXISTS (SELECT 1 FROM json_each(events) WHERE value = %(event)s))
        ORDER BY id
        RETURNING id""",
}


def _insert_deliveries(event: str, payload: str, now) -> list[int]:
    sql = _EMIT_SQL.get(connection.vendor)
    if sql is None:  # another database: the ORM, two round trips
        endpoints = [e for e in WebhookEndpoint.objects.filter(active=True) if e.wants(event)]
        rows = [_new_delivery(e, event, json.loads(payload), now) for e in endpoints]
        return [d.pk for d in WebhookDelivery.objects.bulk_create(rows)]
    params = {
        "event": event,
        "payload": payload,
        "pending": DeliveryStatus.PENDING.value,
        "ping": WebhookEvent.PING.value,
        "now": connection.ops.adapt_datetimefield_value(now),
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return sorted(row[0] for row in cursor.fetchall())


def _new_delivery(endpoint: WebhookEndpoint, event: str, data: dict, now) -> WebhookDelivery:
    return WebhookDelivery(
        endpoint=endpoint,
        event=event,
        message_id=f"msg_{uuid.uuid4().hex}",
        payload={"type": event, "timestamp": now.isoformat(), "data": data},
        created_at=now,
        next_attempt_at=now,
    )


def queue(endpoint: WebhookEndpoint, event: str, data: dict) -> WebhookDelivery:
    delivery = _new_delivery(endpoint, event, data, timezone.now())
    delivery.save()
    transaction.on_commit(lambda: hand_off(delivery.pk))
    return delivery


def hand_off(delivery_id: int, *, countdown: float | None = None) -> None:
    """Ask the broker to deliver, off the caller's path (the outbox's publisher thread); the
    periodic sweep delivers whatever never reached it."""
    from compliance.notifications.outbox import hand_off as publish

    publish(DELIVER_TASK, delivery_id, countdown=countdown)


def hand_off_event(delivery_ids: list[int]) -> None:
    """After commit: one hand-off for all of an event's deliveries (the publisher thread
    sends one message, not one per endpoint); ``deliver_event`` fans them out."""
    from compliance.notifications.outbox import hand_off as publish

    publish(DELIVER_EVENT_TASK, list(delivery_ids))


def deliver_event(delivery_ids: list[int]) -> int:
    """On the worker: one task per delivery for all but the first (a slow endpoint holds up
    only its own delivery), then the first one here. A fan-out the broker refuses leaves
    its rows due for ``deliver_due``; a delivery already sent is skipped. Returns how many
    were delivered here (0 or 1)."""
    from compliance.notifications.outbox import publish_now

    first, *rest = delivery_ids or [None]
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
    """Deliver every due delivery now (beat, and the sweep): retries whose time has come and
    events the broker never received. Returns how many were delivered."""
    return sum(deliver(pk) for pk in due_delivery_ids())

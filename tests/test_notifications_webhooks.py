"""R31 webhooks against a real HTTP receiver: Standard Webhooks signatures (verified with the
standardwebhooks library), the outbox, retries with a stable webhook-id, disabling."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from compliance import services
from compliance.models import (
    AuditRecord,
    DeliveryStatus,
    PendingWebhookEvent,
    WebhookDelivery,
    WebhookEndpoint,
)
from compliance.notifications import webhooks
from tests.factories import PartnerFactory
from tests.helpers import history_rows
from tests.webhook_receiver import Receiver


@pytest.fixture
def receiver(settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    settings.WEBHOOK_RETRY_SECONDS = [5, 300]
    settings.WEBHOOK_TIMEOUT_SECONDS = 10  # a receiver thread in this process, on a busy machine
    r = Receiver().start()
    yield r
    r.stop()


def register(admin, url, **kwargs):
    return services.create_webhook(actor=admin, url=url, **kwargs)


def verified(secret: str, received) -> dict:
    """Verified as a receiver would on arrival (the library refuses stale timestamps)."""
    at = int(received.headers["webhook-timestamp"])
    with time_machine.travel(at, tick=False):
        return Webhook(secret).verify(received.body, received.headers)


def test_ping_is_signed_as_standard_webhooks(receiver, admin_user):
    endpoint, secret = register(admin_user, receiver.url, description="SIEM")
    assert secret.startswith("whsec_") and len(Webhook(secret)._whsecret) == 32  # noqa: SLF001
    delivery = services.send_test_ping(endpoint, actor=admin_user)
    assert webhooks.deliver(delivery.pk) is True

    [got] = receiver.received
    body = verified(secret, got)
    assert body["type"] == "ping" and body["data"] == {
        "webhook": endpoint.pk,
        "requested_by": "ada",
    }
    assert got.headers["webhook-id"] == delivery.message_id
    assert got.headers["webhook-signature"].startswith("v1,")
    with pytest.raises(WebhookVerificationError):
        Webhook(webhooks.new_secret()).verify(got.body, got.headers)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("delivered", 1, 200)


def test_failing_receiver_gets_the_same_id_until_it_answers(receiver, admin_user):
    receiver.statuses = [500, 500, 200]
    endpoint, secret = register(admin_user, receiver.url)
    delivery = services.send_test_ping(endpoint, actor=admin_user)
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        assert webhooks.deliver_due() == 0  # 500
        assert webhooks.deliver_due() == 0  # not due again for 5 s
        clock.shift(timedelta(seconds=5))
        assert webhooks.deliver_due() == 0  # 500
        clock.shift(timedelta(seconds=299))
        assert webhooks.deliver_due() == 0  # not yet
        clock.shift(timedelta(seconds=1))
        assert webhooks.deliver_due() == 1  # 200
    ids = {r.headers["webhook-id"] for r in receiver.received}
    assert ids == {delivery.message_id} and len(receiver.received) == 3
    assert [verified(secret, r)["type"] for r in receiver.received] == ["ping"] * 3
    delivery.refresh_from_db()
    assert delivery.attempts == 3 and delivery.status == "delivered"
    assert [a.response_status for a in delivery.log.all()] == [500, 500, 200]


def test_after_the_last_failure_the_endpoint_is_disabled_and_admins_told(
    receiver, admin_user, admin2
):
    receiver.statuses = [503]
    endpoint, _ = register(admin_user, receiver.url)
    delivery = services.send_test_ping(endpoint, actor=admin_user)
    mail.outbox.clear()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        for wait in (0, 5, 300):
            clock.shift(timedelta(seconds=wait))
            webhooks.deliver_due()
    delivery.refresh_from_db()
    endpoint.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.FAILED, 3)
    assert endpoint.active is False and "3 attempts of ping" in endpoint.disabled_reason
    last = history_rows(endpoint)[-1]
    assert (last.history_actor, last.history_change_reason) == (
        "system:deliver_webhook",
        "webhook disabled: deliveries kept failing",
    )
    # Nothing more is sent to a disabled endpoint, not even new events.
    services.send_test_ping(endpoint, actor=admin_user)
    assert webhooks.deliver_due() == 0 and len(receiver.received) == 3


def test_a_receiver_that_never_answers_times_out_and_is_retried(receiver, admin_user, settings):
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.3
    receiver.hang = 1.0
    endpoint, _ = register(admin_user, receiver.url)
    delivery = services.send_test_ping(endpoint, actor=admin_user)
    assert webhooks.deliver(delivery.pk) is False
    delivery.refresh_from_db()
    [attempt] = delivery.log.all()
    assert attempt.response_status is None and "Timeout" in attempt.error
    assert delivery.status == "pending" and delivery.next_attempt_at > delivery.last_attempt_at


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/x",
        "http://localhost/x",
        "http://10.1.2.3/x",
        "http://192.168.0.10/x",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/x",
        "ftp://example.com/x",
    ],
)
def test_private_destinations_are_refused_at_save(url, admin_user):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as refused:
        register(admin_user, url)
    assert set(refused.value.message_dict) == {"url"}
    assert not WebhookEndpoint.objects.exists()


def test_the_resolved_address_is_checked_again_at_send_time(receiver, admin_user, settings):
    endpoint, _ = register(admin_user, receiver.url)
    delivery = services.send_test_ping(endpoint, actor=admin_user)
    settings.WEBHOOK_ALLOWED_NETWORKS = []  # e.g. the name now resolves somewhere private
    assert webhooks.deliver(delivery.pk) is False
    assert receiver.received == []
    assert "loopback, link-local or private" in delivery.log.get().error


def test_rotate_secret_signs_the_next_attempt_with_the_new_one(receiver, admin_user):
    endpoint, old = register(admin_user, receiver.url)
    delivery = services.send_test_ping(endpoint, actor=admin_user)
    endpoint, new = services.rotate_webhook_secret(endpoint, actor=admin_user)
    assert new != old
    webhooks.deliver(delivery.pk)
    [got] = receiver.received
    assert verified(new, got)["type"] == "ping"
    with pytest.raises(WebhookVerificationError):
        verified(old, got)
    # The secret never reaches the history (auditors read it).
    assert all(not hasattr(row, "secret") for row in history_rows(endpoint))


def test_emit_writes_one_row_and_the_fan_out_one_delivery_per_wanting_endpoint(
    receiver, admin_user
):
    a, _ = register(admin_user, receiver.url, events=["signoff.decided"])
    b, _ = register(admin_user, receiver.url)
    c, _ = register(admin_user, receiver.url, events=["allowlist.revoked"])
    event_id = webhooks.emit("signoff.decided", {"signoff": 1})
    [pending] = PendingWebhookEvent.objects.all()
    assert (pending.pk, pending.event) == (event_id, "signoff.decided")
    assert pending.endpoints == [a.pk, b.pk]
    assert not WebhookDelivery.objects.exists()  # the cause paid one row, not two
    late, _ = register(admin_user, receiver.url)  # after the event: does not get it

    ids = webhooks.fan_out([event_id])
    deliveries = WebhookDelivery.objects.filter(pk__in=ids).order_by("endpoint")
    assert [d.endpoint_id for d in deliveries] == [a.pk, b.pk]
    assert not PendingWebhookEvent.objects.exists()
    assert webhooks.fan_out([event_id]) == [] and WebhookDelivery.objects.count() == 2
    assert len({d.message_id for d in deliveries}) == 2
    for d in deliveries:
        assert (d.event, d.status) == ("signoff.decided", "pending")
        assert d.created_at == d.next_attempt_at == pending.created_at
        assert d.payload == pending.payload and d.payload["data"] == {"signoff": 1}
        assert set(d.payload) == {"type", "timestamp", "data"}
    assert c.pk not in WebhookDelivery.objects.values_list("endpoint", flat=True)
    assert late.pk not in WebhookDelivery.objects.values_list("endpoint", flat=True)


def test_an_event_no_endpoint_wants_writes_nothing(receiver, admin_user):
    register(admin_user, receiver.url, events=["allowlist.revoked"])
    off, _ = register(admin_user, receiver.url)
    services.update_webhook(off, actor=admin_user, active=False)
    assert webhooks.emit("signoff.decided", {"signoff": 1}) is None
    assert not PendingWebhookEvent.objects.exists() and not WebhookDelivery.objects.exists()


def test_the_sweep_fans_out_what_no_worker_did_and_delivers_it(receiver, admin_user):
    _, secret = register(admin_user, receiver.url)
    first = webhooks.emit("signoff.decided", {"signoff": 1})
    second = webhooks.emit("signoff.withdrawn", {"signoff": 1})
    assert PendingWebhookEvent.objects.count() == 2
    assert webhooks.deliver_due() == 2 and webhooks.deliver_due() == 0
    assert not PendingWebhookEvent.objects.exists()
    assert [verified(secret, r)["type"] for r in receiver.received] == [
        "signoff.decided",
        "signoff.withdrawn",
    ]
    assert webhooks.deliver_events([first, second]) == 0  # a late task: nothing twice
    assert len(receiver.received) == 2


# --- every event type, from the service that causes it ----------------------------------


def _events() -> list[tuple[str, dict]]:
    """The events as their causes wrote them (one row each; no worker ran)."""
    rows = PendingWebhookEvent.objects.order_by("id")
    return [(e.event, e.payload["data"]) for e in rows]


def test_each_event_fires_once_per_cause(receiver, staff, admin_user, admin2, agencies):
    from tests.helpers import approve, signoff, submitted

    register(admin_user, receiver.url)
    release = submitted(staff, agencies)
    doc = signoff(release, "DOC", "limited")
    services.decide_signoff(doc, actor=admin_user, decision="approved", evidence="letter 7")
    services.withdraw_signoff(doc, actor=staff, reason="DOC took it back")
    entry = services.propose_allowlist_entry(
        release, actor=staff, partner=PartnerFactory(country="US")
    )
    services.decide_allowlist_entry(entry, actor=admin2, decision="approved")
    services.revoke_allowlist_entry(entry, actor=admin2, reason="contract ended")
    request = services.record_request(
        actor=staff,
        agency=agencies[1],
        reference="BIS-1",
        kind="restrict_foreign_access",
        binding=True,
        releases=[release],
    )
    services.set_request_status(request, actor=staff, status="acknowledged", note="seen")
    approve(release, staff, stages=("general",))
    got = _events()
    kinds = [k for k, _ in got]
    assert kinds == [
        "release.status_changed",  # draft → in_review
        "access.changed",
        "signoff.decided",
        "signoff.withdrawn",
        "allowlist.proposed",
        "allowlist.decided",
        "access.changed",
        "allowlist.revoked",
        "access.changed",
        "access.changed",  # the directive restricted foreign access
        "request.recorded",
        "request.status_changed",
        *["signoff.decided"] * 4,
    ]
    status = got[0][1]
    assert {k: status[k] for k in ("release", "from", "to", "round", "actor")} == {
        "release": "frontier-1",
        "from": "draft",
        "to": "in_review",
        "round": 1,
        "actor": "sam",
    }
    decided = got[2][1]
    assert {k: decided[k] for k in ("release", "agency", "stage", "status", "evidence")} == {
        "release": "frontier-1",
        "agency": "DOC",
        "stage": "limited",
        "status": "approved",
        "evidence": "letter 7",
    }
    assert got[3][1]["reason"] == "DOC took it back"
    access = got[9][1]
    assert {k: access[k] for k in access if k != "revision"} == {
        "release": "frontier-1",
        "status": "in_review",
        "open_to": "nobody",
        "us_only": True,
        "allowed_partners": [],
    }
    # The revision is the restricting transaction's own newest ledger entry.
    assert 0 < access["revision"] < AuditRecord.objects.order_by("-seq").first().seq
    recorded = got[10][1]
    assert (recorded["reference"], recorded["binding"], recorded["releases"]) == (
        "BIS-1",
        True,
        ["frontier-1"],
    )
    assert (got[11][1]["from"], got[11][1]["to"]) == ("open", "acknowledged")


def test_a_refused_action_emits_nothing(receiver, staff, admin_user, agencies):
    from compliance.errors import RuleViolation
    from tests.helpers import submitted

    register(admin_user, receiver.url)
    release = submitted(staff, agencies)
    before = PendingWebhookEvent.objects.count()
    with pytest.raises(RuleViolation):
        services.transition_release(release, to="general", actor=staff, reason="go")
    assert PendingWebhookEvent.objects.count() == before > 0


@pytest.mark.django_db(transaction=True)
def test_broker_down_the_event_arrives_after_the_sweep_once_per_endpoint(
    receiver, staff, admin_user, agencies
):
    from tests.helpers import submitted
    from tests.test_notifications_worker import CLOSED_PORT_BROKER, broker

    first, s1 = register(admin_user, receiver.url, events=["release.status_changed"])
    second, s2 = register(admin_user, receiver.url, events=["release.status_changed"])
    with broker(CLOSED_PORT_BROKER):
        release = submitted(staff, agencies)
    assert release.status == "in_review"
    assert receiver.received == []
    assert PendingWebhookEvent.objects.count() == 1  # one row for the two endpoints
    assert webhooks.deliver_due() == 2
    assert webhooks.deliver_due() == 0
    assert not PendingWebhookEvent.objects.exists()
    by_id = {r.headers["webhook-id"]: r for r in receiver.received}
    assert len(receiver.received) == 2 == len(by_id)
    for endpoint, secret in ((first, s1), (second, s2)):
        delivery = WebhookDelivery.objects.get(endpoint=endpoint)
        assert verified(secret, by_id[delivery.message_id])["data"]["to"] == "in_review"


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_one_hand_off_per_event_and_the_worker_fans_out_to_every_endpoint(
    receiver, staff, admin_user, agencies
):
    """The emitting process publishes one task for an event, however many endpoints want
    it; a real worker fans it out and each endpoint gets its own signed delivery, once."""
    import redis
    from celery.contrib.testing.worker import start_worker

    from compliance.notifications import outbox
    from tests.conftest import TEST_REDIS_URL
    from tests.test_notifications_worker import broker

    registered = [register(admin_user, receiver.url) for _ in range(3)]
    queue = redis.Redis.from_url(TEST_REDIS_URL)
    queue.flushdb()  # our own DB number only
    with broker(TEST_REDIS_URL) as app:
        services.record_request(
            actor=staff, agency=agencies[0], reference="BIS-7", kind="information_request"
        )
        assert outbox.wait_for_handoffs(10)
        assert queue.llen("celery") == 1  # one message for three deliveries
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
            deadline = time.monotonic() + 20
            while len(receiver.received) < 3 and time.monotonic() < deadline:
                time.sleep(0.05)
    queue.flushdb()
    assert len(receiver.received) == 3
    by_id = {r.headers["webhook-id"]: r for r in receiver.received}
    for endpoint, secret in registered:
        delivery = WebhookDelivery.objects.get(endpoint=endpoint)
        assert (delivery.status, delivery.attempts) == (DeliveryStatus.DELIVERED, 1)
        body = verified(secret, by_id[delivery.message_id])
        assert (body["type"], body["data"]["reference"]) == ("request.recorded", "BIS-7")
    assert webhooks.deliver_due() == 0


@pytest.mark.django_db(transaction=True)
def test_a_fan_out_the_broker_refuses_is_left_to_the_sweep(receiver, admin_user):
    """On the worker, the event's task delivers its first delivery itself and hands the
    others to the broker; with the broker down those stay due and the sweep sends them."""
    from compliance.notifications import outbox
    from tests.test_notifications_worker import CLOSED_PORT_BROKER, broker

    for _ in range(3):
        register(admin_user, receiver.url)
    with broker(CLOSED_PORT_BROKER):
        event_id = webhooks.emit("signoff.decided", {"signoff": 1})  # its hand-off fails too
        assert outbox.wait_for_handoffs(10) and receiver.received == []
        assert webhooks.deliver_events([event_id]) == 1
    assert len(receiver.received) == 1
    ids = sorted(WebhookDelivery.objects.values_list("pk", flat=True))
    pending = WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING)
    assert len(ids) == 3 and sorted(pending.values_list("pk", flat=True)) == ids[1:]
    assert webhooks.deliver_due() == 2 and webhooks.deliver_due() == 0
    assert sorted(r.headers["webhook-id"] for r in receiver.received) == sorted(
        WebhookDelivery.objects.values_list("message_id", flat=True)
    )


def _messages(queue) -> list[tuple[str, list]]:
    """The Celery messages waiting in the Redis list, oldest first: (task, args)."""
    import base64

    got = []
    for raw in reversed(queue.lrange("celery", 0, -1)):
        message = json.loads(raw)
        args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        got.append((message["headers"]["task"], args))
    return got


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_burst_of_events_goes_to_the_broker_as_one_message(receiver, admin_user, settings):
    """After one message of events, those that come within OUTBOX_COALESCE_SECONDS wait
    and go together; a single hand-off (an e-mail notification) does not wait behind them.
    A real worker then delivers every event to the endpoint, each with its own id."""
    import redis
    from celery.contrib.testing.worker import start_worker

    from compliance.notifications import outbox
    from tests.conftest import TEST_REDIS_URL
    from tests.test_notifications_worker import broker

    # The window outlasts every step below even on a loaded machine (the last hand-off waits it out).
    settings.OUTBOX_COALESCE_SECONDS = 8
    _, secret = register(admin_user, receiver.url)
    queue = redis.Redis.from_url(TEST_REDIS_URL)
    queue.flushdb()  # our own DB number only
    with broker(TEST_REDIS_URL) as app:
        first = webhooks.emit("signoff.decided", {"n": 0})
        assert outbox.wait_for_handoffs(10)
        burst = [webhooks.emit("signoff.decided", {"n": n}) for n in (1, 2)]
        outbox.hand_off(outbox.DELIVER_TASK, 0)  # no such notification: a no-op task
        deadline = time.monotonic() + 5
        while queue.llen("celery") < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _messages(queue)[1] == (outbox.DELIVER_TASK, [0])  # not held back
        burst += [webhooks.emit("signoff.decided", {"n": n}) for n in (3, 4)]
        assert outbox.wait_for_handoffs(20)
        assert _messages(queue) == [
            (webhooks.DELIVER_EVENTS_TASK, [[first]]),
            (outbox.DELIVER_TASK, [0]),
            (webhooks.DELIVER_EVENTS_TASK, [burst]),
        ]
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
            deadline = time.monotonic() + 20
            while len(receiver.received) < 5 and time.monotonic() < deadline:
                time.sleep(0.05)
    queue.flushdb()
    assert sorted(verified(secret, r)["data"]["n"] for r in receiver.received) == [0, 1, 2, 3, 4]
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 5
    assert not PendingWebhookEvent.objects.exists() and webhooks.deliver_due() == 0

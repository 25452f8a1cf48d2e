"""End to end on real services: a Celery worker on Redis, an SMTP server (aiosmtpd), two
sweeps at once on PostgreSQL, a broker that is down and one that never answers."""

from __future__ import annotations

import email
import socket
import threading
import time
from contextlib import contextmanager
from email import policy

import pytest
import redis
from aiosmtpd.controller import Controller
from celery.contrib.testing.worker import start_worker
from django.core import mail
from django.db import connection

import compliance.tasks  # noqa: F401  (registers the tasks on the app)
from compliance import services
from compliance.models import (
    Notification,
    OutboxState,
    Reminder,
    ReminderClaim,
    RequestKind,
    SignOff,
)
from compliance.notifications import outbox, sweep
from compliance.notifications.sweep import run_sweep
from config.celery import app as celery_app
from tests.asgi_support import free_port
from tests.conftest import TEST_REDIS_URL
from tests.factories import make_release

CLOSED_PORT_BROKER = "redis://127.0.0.1:1/0"


# --- a real SMTP server ------------------------------------------------------------------


class Inbox:
    """aiosmtpd handler keeping every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], email.message.EmailMessage, tuple]] = []
        self._changed = threading.Condition()
        # Called with each incoming message's recipients before it is accepted; a reply
        # string it returns refuses the message instead.
        self.before_accept = None

    async def handle_DATA(self, server, session, envelope):
        if self.before_accept is not None:
            refusal = self.before_accept(list(envelope.rcpt_tos))
            if refusal:
                return refusal
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        with self._changed:
            self.messages.append((list(envelope.rcpt_tos), message, session.peer))
            self._changed.notify_all()
        return "250 Message accepted for delivery"

    def wait_for(self, count: int, timeout: float = 20.0) -> list:
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.messages) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(self.messages)} of {count} e-mails arrived")
                self._changed.wait(left)
            return list(self.messages)


@pytest.fixture
def smtp(settings):
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    try:
        yield inbox
    finally:
        controller.stop()


def _text(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def _html(message) -> str:
    return message.get_body(preferencelist=("html",)).get_content()


# --- the Celery app pointed at another broker ---------------------------------------------


def _reset_broker_pools() -> None:
    celery_app._pool = None
    amqp = celery_app.__dict__.get("amqp")
    if amqp is not None:
        amqp._producer_pool = None


# As config/settings.py sets them for Redis.
REDIS_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": 2,
    "socket_timeout": 10,
    "visibility_timeout": 3600,
}


@contextmanager
def broker(url: str):
    """Run the project's Celery app against ``url`` for real (no eager mode)."""
    conf = celery_app.conf
    keys = ("broker_url", "broker_transport_options", "task_always_eager")
    saved = {k: conf[k] for k in keys}
    conf.update(
        broker_url=url,
        broker_transport_options=dict(REDIS_TRANSPORT_OPTIONS),
        task_always_eager=False,
    )
    _reset_broker_pools()
    try:
        yield celery_app
    finally:
        # The publisher thread hands off to this broker, not to the one restored below.
        assert outbox.wait_for_handoffs(30), "a broker hand-off did not finish"
        conf.update(saved)
        _reset_broker_pools()


class SilentBroker:
    """A TCP server that accepts connections and never answers (a hung broker, a black-holing
    proxy). ``close()`` drops the connections, as a broker restart would."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"redis://127.0.0.1:{self.listener.getsockname()[1]}/0"
        self.accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _addr = self.listener.accept()
            except OSError:
                return  # closed
            self.accepted.append(conn)

    def wait_connected(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self.accepted and time.monotonic() < deadline:
            time.sleep(0.02)
        return bool(self.accepted)

    def close(self) -> None:
        # shutdown() first: close() alone does not wake the accept() blocked in the thread,
        # and the socket would go on accepting.
        try:
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already closed
        self.listener.close()
        self._thread.join(5)
        for conn in self.accepted:
            conn.close()


@pytest.fixture
def silent_broker():
    server = SilentBroker()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def redis_broker():
    redis.Redis.from_url(TEST_REDIS_URL).flushdb()  # our own DB number only
    with broker(TEST_REDIS_URL) as app:
        yield app
    redis.Redis.from_url(TEST_REDIS_URL).flushdb()


def _queued() -> int:
    return redis.Redis.from_url(TEST_REDIS_URL).llen("celery")


@pytest.fixture
def doc(agencies):
    return next(a for a in agencies if a.code == "DOC")


# --- tests ------------------------------------------------------------------------------


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_real_worker_delivers_the_approval_mail_and_the_sweep_digest(
    doc, staff, admin_user, smtp, redis_broker
):
    release = make_release(staff, slug="frontier-1", agencies=[doc], review_days=2)
    release = services.submit_release(release, actor=staff)
    limited = SignOff.objects.get(release=release, stage="limited")

    services.decide_signoff(limited, actor=admin_user, decision="approved", evidence="letter 7")
    # Committed (no atomic block around a transaction=True test): the publisher thread puts
    # the task on Redis.
    assert outbox.wait_for_handoffs(10)
    assert _queued() == 1
    assert Notification.objects.get().state == OutboxState.PENDING

    with start_worker(
        redis_broker, pool="solo", perform_ping_check=False, shutdown_timeout=30
    ) as _worker:
        [(to, message, _peer)] = smtp.wait_for(1)
        assert to == ["sam@lab.example"]
        assert message["Subject"] == "[Clearance] frontier-1: DOC approved limited"
        assert "DOC approved the limited stage of frontier-1." in _text(message)
        assert "http://127.0.0.1:8000/releases/frontier-1/" in _html(message)

        compliance.tasks.reminder_sweep.delay()
        [_, (to, digest, _peer)] = smtp.wait_for(2)
    assert to == ["sam@lab.example"]
    assert digest["Subject"] == "[Clearance] Due soon: 1 sign-off"
    assert "frontier-1: DOC sign-off on the general stage" in _text(digest)
    assert Notification.objects.get().state == OutboxState.SENT
    assert sorted(Reminder.objects.values_list("kind", "recipient__username")) == [
        ("digest", "sam"),
        ("notification", "sam"),
    ]
    assert _queued() == 0


def _sweep_in_threads(count: int = 2) -> list:
    start = threading.Barrier(count)
    results, errors = [], []

    def one_sweep():
        try:
            start.wait()
            results.append(run_sweep())
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=one_sweep) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    return results


@pytest.fixture
def due_work(doc, agencies, staff, staff2, admin_user, admin2):
    """sam: 2 sign-offs due tomorrow; sasha: an assigned request; the admins: an unassigned
    one."""
    release = make_release(staff, slug="frontier-1", agencies=[doc], review_days=1)
    services.submit_release(release, actor=staff)
    from django.utils import timezone

    soon = timezone.now() + timezone.timedelta(hours=6)
    for ref, assignee in (("A-1", staff2), ("A-2", None)):
        services.record_request(
            actor=staff,
            agency=agencies[0],
            reference=ref,
            kind=RequestKind.INFORMATION_REQUEST,
            due_at=soon,
            assignee=assignee,
        )
    return {
        "sam@lab.example": 2,
        "sasha@lab.example": 1,
        "ada@lab.example": 1,
        "alan@lab.example": 1,
    }


def _pairs() -> list[tuple[str, str]]:
    return sorted(
        (r.recipient.email, item["key"])
        for r in Reminder.objects.select_related("recipient")
        for item in r.items
    )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_send_one_digest_per_recipient(due_work, smtp):
    """Claims are taken per digest, so two overlapping sweeps may share the recipients
    between them; each recipient still gets one whole digest, each item once."""
    results = _sweep_in_threads()
    messages = smtp.wait_for(4)
    time.sleep(0.5)  # nothing else may arrive
    assert sorted(to[0] for to, _m, _p in smtp.messages) == sorted(due_work)
    assert len({peer for _t, _m, peer in smtp.messages}) <= 2  # one SMTP connection a sweep
    assert sum(r.digests for r in results) == 4
    assert sum(r.reminded for r in results) == 5 and sum(r.skipped for r in results) == 5
    for reminder in Reminder.objects.select_related("recipient"):  # whole digests, no halves
        assert len(reminder.items) == due_work[reminder.recipient.email]
    pairs = _pairs()
    assert len(pairs) == len(set(pairs)) == sum(due_work.values())
    assert ReminderClaim.objects.filter(state="sent").count() == 5
    assert len(messages) == 4


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_without_the_claim_lock_the_unique_constraint_still_reminds_each_item_once(
    due_work, monkeypatch
):
    """Both sweeps inside their claim transaction at the same time, neither seeing the
    other's rows: the unique (recipient, item, window) constraint alone decides."""
    inside = threading.Barrier(2)
    monkeypatch.setattr(sweep, "_serialise_claims", lambda: inside.wait(10))
    mail.outbox.clear()
    results = _sweep_in_threads()
    pairs = _pairs()
    assert len(pairs) == len(set(pairs)) == sum(due_work.values())
    assert sum(r.reminded for r in results) == 5
    per_recipient = {}
    for m in mail.outbox:
        per_recipient[m.to[0]] = per_recipient.get(m.to[0], 0) + 1
    assert per_recipient == dict.fromkeys(due_work, 1)


def _subprocess_env(settings, **extra) -> dict:
    """The environment of a ``manage.py``/``celery`` child on this test's database."""
    import os

    db = settings.DATABASES["default"]
    return {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "EMAIL_HOST", "CI")} | {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "1",
        "DATABASE_URL": f"postgres://{db['USER']}:{db.get('PASSWORD') or ''}@"
        f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        **extra,
    }


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_sweep_killed_mid_digest_strands_only_that_digest(due_work, smtp, settings, tmp_path):
    """Issue 13 defect 9, with a real process: ``send_reminders`` is SIGKILLed while the SMTP
    server holds its second digest (not accepted). The recipients after it were never
    claimed, so the next sweep reminds them at once; the interrupted digest goes out once,
    after the claim timeout."""
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    from django.utils import timezone

    victim: dict = {}

    def kill_on_the_second(rcpt_tos):
        if len(smtp.messages) == 1:  # the second digest: its sender dies before the reply
            victim["to"] = rcpt_tos[0]  # before the kill: the test thread wakes up on it
            os.kill(victim["proc"].pid, signal.SIGKILL)
            victim["proc"].wait(10)
            return "451 sender is gone"
        return None

    smtp.before_accept = kill_on_the_second
    env = _subprocess_env(
        settings,
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(settings.EMAIL_PORT),
        CELERY_BROKER_FOLDER=str(tmp_path / "broker"),
    )
    log = tmp_path / "send_reminders.log"
    with open(log, "w") as out:
        victim["proc"] = subprocess.Popen(
            [sys.executable, "manage.py", "send_reminders"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=Path(__file__).resolve().parent.parent,
        )
        try:
            assert victim["proc"].wait(60) == -signal.SIGKILL, log.read_text()
        finally:
            if victim["proc"].poll() is None:
                victim["proc"].kill()
    killed_at = timezone.now()  # after every claim the dead sweep made
    smtp.before_accept = None
    [(first, _m, _p)] = smtp.messages
    interrupted = victim["to"]
    assert first[0] != interrupted
    stranded = ReminderClaim.objects.filter(recipient__email=interrupted)
    assert set(stranded.values_list("state", flat=True)) == {"claimed"}
    # Those after it were never claimed.
    assert not ReminderClaim.objects.exclude(recipient__email__in=[first[0], interrupted]).exists()

    # The next sweep, right away: every recipient but the interrupted one has a digest.
    retry = run_sweep()
    assert retry.digests == len(due_work) - 2
    delivered = [to[0] for to, _m, _p in smtp.wait_for(len(due_work) - 1)]
    assert sorted(delivered) == sorted(set(due_work) - {interrupted})

    # After the claim timeout the interrupted digest goes out, once.
    assert run_sweep(now=killed_at + settings.REMINDER_CLAIM_TIMEOUT / 2).digests == 0
    late = run_sweep(now=killed_at + settings.REMINDER_CLAIM_TIMEOUT)
    assert late.digests == 1
    delivered = [to[0] for to, _m, _p in smtp.wait_for(len(due_work))]
    assert sorted(delivered) == sorted(due_work)
    assert run_sweep().digests == 0
    time.sleep(0.3)
    assert len(smtp.messages) == len(due_work)
    pairs = _pairs()
    assert len(pairs) == len(set(pairs)) == sum(due_work.values())


@pytest.mark.django_db(transaction=True)
def test_broker_down_the_approval_succeeds_and_the_next_sweep_delivers(doc, staff, admin_user):
    release = make_release(staff, slug="frontier-1", agencies=[doc])
    release = services.submit_release(release, actor=staff)
    limited = SignOff.objects.get(release=release, stage="limited")
    mail.outbox.clear()
    with broker(CLOSED_PORT_BROKER):
        started = time.monotonic()
        services.decide_signoff(limited, actor=admin_user, decision="approved", evidence="ok")
        took = time.monotonic() - started
    assert took < 5, f"the approval waited {took:.1f}s for the broker"
    limited.refresh_from_db()
    assert limited.status == "approved"
    notification = Notification.objects.get()
    assert notification.state == OutboxState.PENDING and mail.outbox == []

    assert run_sweep().notifications == 1
    assert [(m.to, m.subject) for m in mail.outbox] == [
        (["sam@lab.example"], "[Clearance] frontier-1: DOC approved limited")
    ]
    notification.refresh_from_db()
    assert notification.state == OutboxState.SENT
    assert run_sweep().notifications == 0 and len(mail.outbox) == 1


@pytest.mark.django_db(transaction=True)
def test_a_broker_that_never_answers_does_not_hold_up_the_action(
    doc, staff, admin_user, silent_broker
):
    """Issue 13 defect 8: a broker that accepts the connection and then says nothing cost
    every notifying action its 10 s socket timeout. The action returns at once; the outbox
    row is the commitment and a sweep delivers it, once."""
    release = make_release(staff, slug="frontier-1", agencies=[doc])
    release = services.submit_release(release, actor=staff)
    limited = SignOff.objects.get(release=release, stage="limited")
    mail.outbox.clear()
    with broker(silent_broker.url):
        started = time.monotonic()
        services.decide_signoff(limited, actor=admin_user, decision="approved", evidence="ok")
        took = time.monotonic() - started
        # under the 10 s socket timeout, with room for a loaded machine
        assert took < 7, f"the approval waited {took:.1f}s for a silent broker (timeout 10 s)"
        limited.refresh_from_db()
        assert limited.status == "approved"
        notification = Notification.objects.get()
        assert notification.state == OutboxState.PENDING and mail.outbox == []
        # The hand-off did reach the broker, and is stuck there, off the request path.
        assert silent_broker.wait_connected(15)
        assert not outbox.wait_for_handoffs(0.5)

        assert run_sweep().notifications == 1
        assert [(m.to, m.subject) for m in mail.outbox] == [
            (["sam@lab.example"], "[Clearance] frontier-1: DOC approved limited")
        ]
        silent_broker.close()  # the stuck hand-off fails now; it must not send again
        assert outbox.wait_for_handoffs(10)
    notification.refresh_from_db()
    assert notification.state == OutboxState.SENT
    assert run_sweep().notifications == 0
    assert outbox.deliver_notification(notification.pk) is False  # a late task: no-op
    assert len(mail.outbox) == 1 and Reminder.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_embedded_broker_worker_with_beat_sweeps_to_the_console(doc, staff, tmp_path, settings):
    """`make run` without Redis: `celery -A config worker -B` on the filesystem broker starts,
    sweeps once, and the digest shows in its console output."""
    import subprocess
    import sys
    from pathlib import Path

    release = make_release(staff, slug="frontier-1", agencies=[doc], review_days=1)
    services.submit_release(release, actor=staff)
    env = _subprocess_env(
        settings,
        CELERY_BROKER_FOLDER=str(tmp_path / "broker"),
        REMINDER_SWEEP_ON_START="1",
    )
    celery = Path(sys.executable).with_name("celery")
    log = open(tmp_path / "worker.log", "w+")  # noqa: SIM115
    worker = subprocess.Popen(
        [
            str(celery),
            "-A",
            "config",
            "worker",
            "-B",
            "--pool=solo",
            "--loglevel=INFO",
            "-s",
            str(tmp_path / "beat-schedule"),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=Path(__file__).resolve().parent.parent,
    )
    try:
        deadline = time.monotonic() + 40
        while not Reminder.objects.exists() and time.monotonic() < deadline:
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()
            time.sleep(0.5)
    finally:
        worker.terminate()
        worker.wait(20)
    output = (tmp_path / "worker.log").read_text()
    assert Reminder.objects.get().subject == "[Clearance] Due soon: 2 sign-offs", output
    assert "Subject: [Clearance] Due soon: 2 sign-offs" in output
    assert "beat: Starting..." in output
    assert (tmp_path / "broker" / "out").is_dir()

"""Immediate notifications to the release owner (R20), eager Celery, locmem e-mail."""

from __future__ import annotations

import pytest
from django.core import mail
from kombu.exceptions import OperationalError

from compliance import services
from compliance.models import Notification, OutboxState, Reminder, SignOff
from compliance.notifications import outbox
from compliance.notifications.sweep import run_sweep
from config.celery import app as celery_app
from tests.factories import make_release

SITE = "https://clearance.example"


@pytest.fixture(autouse=True)
def _site(settings):
    settings.SITE_URL = SITE


@pytest.fixture
def release(agencies, staff):
    doc = next(a for a in agencies if a.code == "DOC")
    rel = make_release(staff, slug="frontier-1", agencies=[doc])
    return services.submit_release(rel, actor=staff)


def _signoff(release, stage="limited") -> SignOff:
    return SignOff.objects.get(release=release, stage=stage, round=release.review_round)


def test_approval_by_someone_else_mails_the_owner_after_commit(
    release, admin_user, django_capture_on_commit_callbacks
):
    signoff = _signoff(release)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.decide_signoff(
            signoff, actor=admin_user, decision="approved", evidence="DOC letter 12", conditions="c"
        )
        # Written in the service's transaction, sent only after commit.
        [pending] = Notification.objects.all()
        assert (pending.state, pending.event, pending.recipient.username) == (
            OutboxState.PENDING,
            "signoff_approved",
            "sam",
        )
        assert mail.outbox == []
    assert len(callbacks) == 1
    callbacks[0]()  # commit: enqueue → the (eager) task delivers

    [message] = mail.outbox
    assert message.to == ["sam@lab.example"]
    assert message.subject == "[Clearance] frontier-1: DOC approved limited"
    assert "DOC approved the limited stage of frontier-1." in message.body
    assert "By: ada" in message.body and "Evidence: DOC letter 12" in message.body
    assert f"{SITE}/releases/frontier-1/" in message.body
    assert message.alternatives[0][1] == "text/html"
    pending.refresh_from_db()
    assert pending.state == OutboxState.SENT and pending.sent_at is not None
    log = Reminder.objects.get()
    assert (log.kind, log.recipient.username, log.subject, log.sweep_id) == (
        "notification",
        "sam",
        message.subject,
        None,
    )
    assert log.items[0]["kind"] == "signoff_approved" and log.items[0]["agency"] == "DOC"


@pytest.mark.parametrize(
    ("action", "subject", "line"),
    [
        (
            "reject",
            "[Clearance] REJECTED: frontier-1 limited by DOC",
            "Reason: incomplete evals",
        ),
        (
            "withdraw",
            "[Clearance] WITHDRAWN: frontier-1 limited by DOC",
            "Reason: incomplete evals",
        ),
        (
            "suspend",
            "[Clearance] frontier-1 is now suspended (was in_review)",
            "Reason: incomplete evals",
        ),
    ],
)
def test_rejection_withdrawal_and_state_change_notify_the_owner(
    release, staff, staff2, action, subject, line, django_capture_on_commit_callbacks
):
    signoff = _signoff(release)
    if action == "withdraw":
        services.decide_signoff(signoff, actor=staff, decision="approved", evidence="e")
    with django_capture_on_commit_callbacks(execute=True):
        if action == "reject":
            services.decide_signoff(
                signoff, actor=staff2, decision="rejected", reason="incomplete evals"
            )
        elif action == "withdraw":
            services.withdraw_signoff(signoff, actor=staff2, reason="incomplete evals")
        else:
            services.transition_release(
                release, to="suspended", actor=staff2, reason="incomplete evals"
            )
    [message] = mail.outbox
    assert (message.to, message.subject) == (["sam@lab.example"], subject)
    assert line in message.body and "By: sasha" in message.body


def test_owner_acting_themselves_gets_no_notification(
    release, staff, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.decide_signoff(_signoff(release), actor=staff, decision="approved", evidence="e")
        services.transition_release(release, to="retired", actor=staff, reason="done")
    assert Notification.objects.count() == 0
    assert mail.outbox == []


def test_refused_action_leaves_no_notification(release, staff2, django_capture_on_commit_callbacks):
    from compliance.errors import RuleViolation

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuleViolation):
        services.transition_release(release, to="general", actor=staff2)
    assert Notification.objects.count() == 0 and mail.outbox == []


def test_delivery_is_idempotent(release, admin_user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        services.decide_signoff(
            _signoff(release), actor=admin_user, decision="approved", evidence="e"
        )
    [notification] = Notification.objects.all()
    assert outbox.deliver_notification(notification.pk) is True
    assert outbox.deliver_notification(notification.pk) is False  # task redelivered
    assert run_sweep().notifications == 0  # and the sweep does not send it again
    assert len(mail.outbox) == 1 and Reminder.objects.count() == 1


def test_broker_down_the_action_succeeds_and_the_sweep_delivers(
    release, admin_user, monkeypatch, django_capture_on_commit_callbacks, caplog
):
    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:1. Connection refused.")

    monkeypatch.setitem(celery_app.conf, "task_always_eager", False)
    monkeypatch.setattr(celery_app, "send_task", broker_down)
    signoff = _signoff(release)
    with django_capture_on_commit_callbacks(execute=True):
        services.decide_signoff(signoff, actor=admin_user, decision="approved", evidence="e")
    assert outbox.wait_for_handoffs(5)
    signoff.refresh_from_db()
    assert signoff.status == "approved"
    [notification] = Notification.objects.all()
    assert notification.state == OutboxState.PENDING
    assert mail.outbox == []
    assert "stays pending for the next sweep" in caplog.text

    result = run_sweep()
    assert result.notifications == 1
    assert [m.subject for m in mail.outbox] == ["[Clearance] frontier-1: DOC approved limited"]
    notification.refresh_from_db()
    assert notification.state == OutboxState.SENT
    assert run_sweep().notifications == 0
    assert len(mail.outbox) == 1


def test_the_outbox_sends_the_task_by_name_without_importing_tasks():
    """No import cycle: the outbox names the task; compliance.tasks imports the outbox."""
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(outbox))
    imported = {
        node.module if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert "compliance.tasks" not in imported and "compliance" not in imported
    assert outbox.DELIVER_TASK in celery_app.tasks  # the name the worker registers

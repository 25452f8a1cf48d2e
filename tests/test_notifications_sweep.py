"""The reminder sweep (R17–R19) at the function level: locmem e-mail, time-machine clock."""

from __future__ import annotations

import json
import smtplib
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.core.management import call_command

from compliance import services
from compliance.models import (
    ClaimState,
    GovernmentRequest,
    Reminder,
    ReminderClaim,
    RequestKind,
    RequestStatus,
    SignOff,
)
from compliance.notifications import sweep
from compliance.notifications.sweep import run_sweep
from tests.factories import PartnerFactory, UserFactory, make_release

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday morning
SITE = "https://clearance.example"


@pytest.fixture(autouse=True)
def _site(settings):
    settings.SITE_URL = SITE
    settings.EMAIL_BACKEND = "tests.test_notifications_sweep.CountingBackend"
    CountingBackend.opened = 0


class CountingBackend(LocmemBackend):
    """locmem, counting connections opened (one per sweep, R18)."""

    opened = 0

    def open(self):
        type(self).opened += 1
        return super().open()


class WorkerDied(BaseException):
    """Stands for the process being killed: nothing in the sweep gets to clean up."""


def at(moment: datetime):
    return time_machine.travel(moment, tick=False)


def sweep_at(moment: datetime):
    mail.outbox.clear()
    with at(moment):
        return run_sweep()


def by_recipient() -> dict[str, list]:
    out: dict[str, list] = {}
    for m in mail.outbox:
        out.setdefault(m.to[0], []).append(m)
    return out


@pytest.fixture
def doc(agencies):
    return next(a for a in agencies if a.code == "DOC")


@pytest.fixture
def release(doc, staff):
    """sam's release under review since T0, DOC due T0 + 5 days (both stages)."""
    with at(T0):
        rel = make_release(staff, slug="frontier-1", agencies=[doc], review_days=5)
        return services.submit_release(rel, actor=staff, reason="ready")


def _request(actor, agency, *, due_at, assignee=None, reference="REQ-1", releases=()):
    with at(T0):
        return services.record_request(
            actor=actor,
            agency=agency,
            reference=reference,
            kind=RequestKind.INFORMATION_REQUEST,
            due_at=due_at,
            assignee=assignee,
            releases=releases,
        )


# --- due windows and lead time (R17) ----------------------------------------------------


def test_signoffs_are_reminded_only_from_the_lead_time_on(release, staff, admin_user):
    due = T0 + timedelta(days=5)
    assert sweep_at(due - timedelta(days=3, minutes=1)).digests == 0
    assert mail.outbox == []

    result = sweep_at(due - timedelta(days=3))
    assert result.digests == 1
    [message] = mail.outbox
    assert message.to == ["sam@lab.example"]
    assert message.subject == "[Clearance] Due soon: 2 sign-offs"
    assert "due 7 Mar 2026, 09:00 UTC, in 3 days" in message.body


def test_decided_older_round_and_suspended_signoffs_are_not_reminded(release, staff, doc):
    limited = SignOff.objects.get(release=release, stage="limited")
    with at(T0):
        services.decide_signoff(limited, actor=staff, decision="approved", evidence="letter")
    result = sweep_at(T0 + timedelta(days=4))
    assert [i["key"] for i in Reminder.objects.get().items] == [
        f"signoff:{SignOff.objects.get(release=release, stage='general').pk}"
    ]
    assert result.reminded == 1

    with at(T0 + timedelta(days=4)):
        services.transition_release(release, to="suspended", actor=staff, reason="hold")
    assert sweep_at(T0 + timedelta(days=10)).items == 0
    with at(T0 + timedelta(days=10)):
        services.submit_release(release, actor=staff)  # round 2, due in 5 days
    assert sweep_at(T0 + timedelta(days=11)).items == 0  # round 1 is stale, round 2 not due


def test_requests_due_soon_or_past_while_open_or_acknowledged(agencies, staff, staff2):
    doc = agencies[1]
    req = _request(staff, doc, due_at=T0 + timedelta(days=1), assignee=staff2)
    _request(staff, doc, due_at=None, assignee=staff2, reference="NO-DUE")
    _request(staff, doc, due_at=T0 + timedelta(days=4), assignee=staff2, reference="LATER")

    sweep_at(T0)
    [message] = mail.outbox
    assert message.to == ["sasha@lab.example"]
    assert message.subject == "[Clearance] Due soon: 1 request"
    assert f"{SITE}/requests/{req.pk}/" in message.body

    with at(T0):
        services.set_request_status(req, actor=staff, status=RequestStatus.ACKNOWLEDGED)
    result = sweep_at(T0 + timedelta(days=2))  # past due, and LATER is now within lead
    assert result.reminded == 2
    assert mail.outbox[0].subject == "[Clearance] OVERDUE: 1 request; due soon: 1 request"

    with at(T0):
        services.set_request_status(req, actor=staff, status=RequestStatus.COMPLIED)
    result = sweep_at(T0 + timedelta(days=5))
    later = GovernmentRequest.objects.get(reference="LATER")
    assert [i["key"] for i in Reminder.objects.get(sweep_id=result.sweep_id).items] == [
        f"request:{later.pk}"
    ]


# --- recipients and escalation (R18) ----------------------------------------------------


def test_request_without_assignee_goes_to_every_admin(agencies, staff, admin_user, admin2):
    _request(staff, agencies[1], due_at=T0 + timedelta(hours=5))
    sweep_at(T0)
    assert sorted(by_recipient()) == ["ada@lab.example", "alan@lab.example"]
    assert {m.subject for m in mail.outbox} == {"[Clearance] Due soon: 1 request"}


def test_overdue_items_escalate_to_every_admin_after_the_threshold(
    release, staff, admin_user, admin2
):
    due = T0 + timedelta(days=5)
    sweep_at(due + timedelta(days=2))  # overdue by exactly 2 days: not more than the threshold
    assert list(by_recipient()) == ["sam@lab.example"]

    sweep_at(due + timedelta(days=3, hours=1))  # a new window for sam, and escalation
    mails = by_recipient()
    assert sorted(mails) == ["ada@lab.example", "alan@lab.example", "sam@lab.example"]
    assert mails["ada@lab.example"][0].subject == "[Clearance] OVERDUE: 2 sign-offs"
    assert "[ESCALATED] frontier-1: DOC sign-off" in mails["ada@lab.example"][0].body
    assert "ESCALATED" not in mails["sam@lab.example"][0].body
    assert "overdue by 3 days" in mails["sam@lab.example"][0].body


def test_owner_who_is_admin_gets_each_item_once(doc, admin_user, admin2):
    with at(T0):
        rel = make_release(admin_user, slug="own", agencies=[doc], review_days=1)
        services.submit_release(rel, actor=admin_user)
    sweep_at(T0 + timedelta(days=4))  # overdue by 3 days: escalated
    mails = by_recipient()
    assert sorted(mails) == ["ada@lab.example", "alan@lab.example"]
    assert [len(Reminder.objects.get(recipient=u).items) for u in (admin_user, admin2)] == [2, 2]
    assert "ESCALATED" not in mails["ada@lab.example"][0].body


def test_alerts_go_to_every_admin(doc, staff, admin_user, admin2):
    """A live release whose sign-off was withdrawn (R16) is an alert for the admins."""
    with at(T0):
        rel = make_release(staff, slug="live-1", agencies=[doc], review_days=30)
        services.submit_release(rel, actor=staff)
        limited = SignOff.objects.get(release=rel, stage="limited")
        services.decide_signoff(limited, actor=staff, decision="approved", evidence="ok")
        entry = services.propose_allowlist_entry(rel, actor=staff, partner=PartnerFactory())
        services.decide_allowlist_entry(entry, actor=admin_user, decision="approved")
        services.transition_release(rel, to="limited", actor=staff)
        services.withdraw_signoff(limited, actor=staff, reason="agency letter")
    sweep_at(T0 + timedelta(hours=1))
    mails = by_recipient()
    assert sorted(mails) == ["ada@lab.example", "alan@lab.example"]
    message = mails["ada@lab.example"][0]
    assert message.subject == "[Clearance] ALERT: 1 compliance alert"
    assert f"{SITE}/releases/live-1/" in message.body
    assert "live-1 is limited but DOC withdrew its limited approval." in message.body
    assert [i["key"] for i in Reminder.objects.get(recipient=admin_user).items] == [
        "alert:live_without_signoffs:live-1:limited"
    ]


def test_gateway_alerts_go_to_every_admin(doc, staff, admin_user, admin2):
    """R30: a gateway silent past GATEWAY_SILENT_SECONDS (and lagging behind an access
    change older than GATEWAY_LAG_SECONDS) is an alert for the admins."""
    with at(T0):
        services.create_gateway(actor=admin_user, name="gw-us-east")
        make_release(staff, slug="new-1", agencies=[doc])
    sweep_at(T0 + timedelta(hours=1))
    mails = by_recipient()
    assert sorted(mails) == ["ada@lab.example", "alan@lab.example"]
    assert f"{SITE}/gateways/" in mails["ada@lab.example"][0].body
    assert "gateway gw-us-east has not been seen since never" in mails["ada@lab.example"][0].body
    assert [i["key"] for i in Reminder.objects.get(recipient=admin_user).items] == [
        "alert:gateway_lagging:gw-us-east",
        "alert:gateway_silent:gw-us-east",
    ]


# --- digests (R18) ----------------------------------------------------------------------


def test_one_digest_per_recipient_over_one_connection(release, agencies, staff, staff2, admin2):
    req = _request(staff, agencies[0], due_at=T0 + timedelta(days=4), assignee=staff, reference="A")
    _request(staff, agencies[0], due_at=T0 + timedelta(days=4), assignee=staff2, reference="B")
    _request(staff, agencies[0], due_at=T0 + timedelta(days=4), reference="C")

    result = sweep_at(T0 + timedelta(days=6))  # sign-offs overdue 1 day, requests 2 days
    assert CountingBackend.opened == 1
    mails = by_recipient()
    assert {k: len(v) for k, v in mails.items()} == {
        "sam@lab.example": 1,
        "sasha@lab.example": 1,
        "alan@lab.example": 1,
    }
    assert result.digests == 3 and result.reminded == 5
    sam = mails["sam@lab.example"][0]
    assert sam.subject == "[Clearance] OVERDUE: 2 sign-offs, 1 request"
    assert sam.body.count(f"{SITE}/releases/frontier-1/") == 2
    assert f"{SITE}/requests/{req.pk}/" in sam.body
    [(html, mimetype)] = sam.alternatives
    assert mimetype == "text/html"
    assert f'<a href="{SITE}/requests/{req.pk}/">' in html
    log = Reminder.objects.get(recipient=staff)
    assert log.kind == "digest" and log.sweep_id == result.sweep_id
    assert log.subject == sam.subject and log.email == "sam@lab.example"
    assert sorted(i["key"] for i in log.items) == sorted(
        [f"signoff:{s.pk}" for s in release.signoffs.all()] + [f"request:{req.pk}"]
    )


def test_nothing_due_opens_no_connection(release):
    assert sweep_at(T0).digests == 0
    assert CountingBackend.opened == 0


# --- at most once per interval (R19) ----------------------------------------------------


def test_same_item_same_recipient_at_most_once_per_interval(release, staff):
    first = T0 + timedelta(days=2, hours=3)
    assert sweep_at(first).reminded == 2
    for later in (timedelta(minutes=15), timedelta(hours=12), timedelta(hours=23, minutes=59)):
        result = sweep_at(first + later)
        assert (result.digests, result.skipped) == (0, 2)
    assert sweep_at(first + timedelta(hours=24)).reminded == 2
    assert sweep_at(first + timedelta(hours=30)).digests == 0
    # Windows stay anchored at the first reminder: a sweep 3 days later opens the window
    # starting at first + 72h, not a new grid.
    assert sweep_at(first + timedelta(days=3, minutes=20)).reminded == 2
    starts = sorted({c.window_start for c in ReminderClaim.objects.all()})
    assert starts == [first, first + timedelta(days=1), first + timedelta(days=3)]
    assert set(ReminderClaim.objects.values_list("state", flat=True)) == {ClaimState.SENT}
    assert Reminder.objects.count() == 3


def test_interval_knob(release, settings):
    settings.REMINDER_INTERVAL = timedelta(hours=6)
    first = T0 + timedelta(days=2, hours=3)
    sweep_at(first)
    assert sweep_at(first + timedelta(hours=5)).digests == 0
    assert sweep_at(first + timedelta(hours=6)).digests == 1


def test_failed_smtp_send_hands_claims_back_so_the_retry_sends_once(
    release, agencies, staff, staff2, monkeypatch
):
    _request(staff, agencies[0], due_at=T0 + timedelta(days=4), assignee=staff2)
    moment = T0 + timedelta(days=3)
    sent_before_failure = []

    def flaky_send(self, messages):
        if messages[0].to == ["sasha@lab.example"]:
            raise smtplib.SMTPServerDisconnected("connection dropped")
        sent_before_failure.extend(messages)
        return LocmemBackend.send_messages(self, messages)

    monkeypatch.setattr(CountingBackend, "send_messages", flaky_send)
    mail.outbox.clear()
    with at(moment), pytest.raises(smtplib.SMTPServerDisconnected):
        run_sweep()
    assert [m.to for m in sent_before_failure] == [["sam@lab.example"]]
    assert ReminderClaim.objects.filter(recipient=staff2).count() == 0  # handed back

    monkeypatch.undo()
    retry = sweep_at(moment + timedelta(minutes=1))
    assert [m.to for m in mail.outbox] == [["sasha@lab.example"]]  # sam not twice
    assert retry.skipped == 2
    assert sweep_at(moment + timedelta(minutes=15)).digests == 0


def test_claim_whose_send_never_finished_is_retried_after_the_claim_timeout(
    release, staff, monkeypatch, settings
):
    settings.REMINDER_CLAIM_TIMEOUT = timedelta(minutes=30)
    moment = T0 + timedelta(days=3)

    def killed(self, messages):
        raise WorkerDied

    monkeypatch.setattr(CountingBackend, "send_messages", killed)
    with at(moment), pytest.raises(WorkerDied):
        run_sweep()
    [claim_a, claim_b] = ReminderClaim.objects.order_by("pk")
    assert {claim_a.state, claim_b.state} == {ClaimState.CLAIMED}
    dead_sweep = claim_a.sweep_id
    monkeypatch.undo()

    # The task's retry and another sweep, both while the send may still be in flight.
    for later in (timedelta(seconds=5), timedelta(minutes=15), timedelta(minutes=29)):
        result = sweep_at(moment + later)
        assert (result.digests, result.skipped) == (0, 2)
    assert Reminder.objects.count() == 0

    result = sweep_at(moment + timedelta(minutes=30))
    [message] = mail.outbox
    assert message.to == ["sam@lab.example"] and message.subject.endswith("2 sign-offs")
    claims = list(ReminderClaim.objects.order_by("pk"))
    assert [(c.pk, c.state, c.sweep_id) for c in claims] == [
        (claim_a.pk, ClaimState.SENT, result.sweep_id),
        (claim_b.pk, ClaimState.SENT, result.sweep_id),
    ]
    assert result.sweep_id != dead_sweep
    assert claims[0].window_start == moment  # the same window: no extra reminder
    assert sweep_at(moment + timedelta(hours=2)).digests == 0


def test_user_without_email_is_skipped_without_claims(doc):
    owner = UserFactory(username="mailless", email="", role="staff")
    with at(T0):
        rel = make_release(owner, slug="quiet", agencies=[doc], review_days=1)
        services.submit_release(rel, actor=owner)
    assert sweep_at(T0 + timedelta(hours=2)).digests == 0
    assert ReminderClaim.objects.count() == 0


def test_send_reminders_command_runs_one_sweep(release):
    out = StringIO()
    with at(T0 + timedelta(days=3)):
        mail.outbox.clear()
        call_command("send_reminders", stdout=out)
    report = json.loads(out.getvalue())
    assert (report["digests"], report["reminded"], report["recipients"]) == (1, 2, ["sam"])
    assert [m.to for m in mail.outbox] == [["sam@lab.example"]]


def _count_sweep_queries(moment) -> tuple[int, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    mail.outbox.clear()
    with at(moment), CaptureQueriesContext(connection) as queries:
        result = run_sweep()
    return result.reminded, len(queries)


def test_sweep_query_count_does_not_grow_with_items(doc, staff, staff2, admin_user):
    """Twice the items and twice the recipients: the same number of queries, except for the
    bookkeeping of the extra digest (its claims taken, then marked sent, its log row)."""

    def releases(owner, *slugs):
        with at(T0):
            for slug in slugs:
                rel = make_release(owner, slug=slug, agencies=[doc], review_days=1)
                services.submit_release(rel, actor=owner)

    releases(staff, "r1", "r2")
    small = _count_sweep_queries(T0 + timedelta(hours=1))
    releases(staff2, "r3", "r4")
    ReminderClaim.objects.all().delete()  # remind everything again
    big = _count_sweep_queries(T0 + timedelta(hours=2))
    assert (small[0], big[0]) == (4, 8)
    # Claim: SAVEPOINT, (PostgreSQL: advisory lock), SELECT claims, SAVEPOINT, INSERT claims,
    # RELEASE, RELEASE; sent: SAVEPOINT, UPDATE claims, INSERT log, RELEASE.
    from django.db import connection

    per_digest = 11 if connection.vendor == "postgresql" else 10
    assert big[1] == small[1] + per_digest
    assert sweep.admins() == [admin_user]


def test_sweep_task_retries_after_smtp_failure_without_duplicates(
    release, agencies, staff, staff2, monkeypatch
):
    """The Celery task (eager here) retries on an SMTP error; the retry sends only what the
    failed attempt did not."""
    from compliance.tasks import reminder_sweep

    _request(staff, agencies[0], due_at=T0 + timedelta(days=4), assignee=staff2)
    failures = []

    def fails_once_for_sasha(self, messages):
        if messages[0].to == ["sasha@lab.example"] and not failures:
            failures.append(messages[0])
            raise smtplib.SMTPDataError(451, "try again later")
        return LocmemBackend.send_messages(self, messages)

    monkeypatch.setattr(CountingBackend, "send_messages", fails_once_for_sasha)
    mail.outbox.clear()
    with at(T0 + timedelta(days=3)):
        result = reminder_sweep.apply()
    assert result.successful(), result.traceback
    assert len(failures) == 1
    assert sorted(m.to[0] for m in mail.outbox) == ["sam@lab.example", "sasha@lab.example"]
    assert Reminder.objects.count() == 2
    assert result.result["recipients"] == ["sasha"]  # the retry's own report


def test_a_refused_address_does_not_hold_back_the_other_digests(
    release, agencies, staff, staff2, monkeypatch
):
    _request(staff, agencies[0], due_at=T0 + timedelta(days=4), assignee=staff2)

    def refuses_sam(self, messages):
        if messages[0].to == ["sam@lab.example"]:
            raise smtplib.SMTPRecipientsRefused({"sam@lab.example": (550, b"no such user")})
        return LocmemBackend.send_messages(self, messages)

    monkeypatch.setattr(CountingBackend, "send_messages", refuses_sam)
    result = sweep_at(T0 + timedelta(days=3))
    assert (result.recipients, result.refused) == (["sasha"], ["sam"])
    assert [m.to for m in mail.outbox] == [["sasha@lab.example"]]
    assert ReminderClaim.objects.filter(recipient=staff).count() == 0  # tried again later
    monkeypatch.undo()
    assert sweep_at(T0 + timedelta(days=3, minutes=15)).recipients == ["sam"]


def test_subject_says_what_and_how_urgent():
    from compliance.notifications.rendering import ReminderItem, digest_subject

    def item(kind, urgency):
        return ReminderItem(key="k", kind=kind, urgency=urgency, title="", detail="", url="")

    items = [
        item("alert", "alert"),
        item("signoff", "overdue"),
        item("signoff", "overdue"),
        item("request", "overdue"),
        item("request", "due_soon"),
    ]
    assert digest_subject(items) == (
        "[Clearance] ALERT: 1 compliance alert; OVERDUE: 2 sign-offs, 1 request; "
        "due soon: 1 request"
    )


def test_old_sent_claims_are_pruned_but_not_the_log(release):
    first = T0 + timedelta(days=3)
    sweep_at(first)
    assert ReminderClaim.objects.count() == 2
    sweep_at(first + timedelta(days=31))  # the second window's claims are new
    assert (
        sorted(c.window_start for c in ReminderClaim.objects.all())
        == [first + timedelta(days=31)] * 2
    )
    assert Reminder.objects.count() == 2


def test_a_claim_stuck_past_its_window_is_sent_in_the_current_window(release, staff, monkeypatch):
    moment = T0 + timedelta(days=2, hours=1)

    def killed(self, messages):
        raise WorkerDied

    monkeypatch.setattr(CountingBackend, "send_messages", killed)
    with at(moment), pytest.raises(WorkerDied):
        run_sweep()
    monkeypatch.undo()

    late = moment + timedelta(days=2, hours=5)  # no sweep ran for two days
    assert sweep_at(late).reminded == 2
    assert {c.window_start for c in ReminderClaim.objects.all()} == {moment + timedelta(days=2)}
    assert sweep_at(late + timedelta(minutes=15)).digests == 0  # not again right away
    assert sweep_at(moment + timedelta(days=3)).reminded == 2  # next window


# --- a crash mid-sweep strands at most one digest (issue 13 defect 9) --------------------


@pytest.fixture
def three_recipients(release, agencies, staff, staff2):
    """At T0 + 3 days: sam has 2 sign-offs due, sasha and sid one request each (in that
    order of user id, the order a sweep sends in)."""
    sid = UserFactory(username="sid", role="staff")
    _request(staff, agencies[0], due_at=T0 + timedelta(days=4), assignee=staff2, reference="A")
    _request(staff, agencies[0], due_at=T0 + timedelta(days=4), assignee=sid, reference="B")
    assert staff.pk < staff2.pk < sid.pk
    return staff, staff2, sid


def _received() -> list[str]:
    return [m.to[0] for m in mail.outbox]


def test_a_worker_killed_between_digests_strands_only_the_digest_it_was_sending(
    three_recipients, monkeypatch, settings
):
    sam, sasha, sid = three_recipients
    settings.REMINDER_CLAIM_TIMEOUT = timedelta(minutes=30)
    moment = T0 + timedelta(days=3)
    calls = []

    def killed_during_the_second(self, messages):
        calls.append(messages[0].to[0])
        if len(calls) == 2:
            raise WorkerDied  # before the SMTP server accepted it
        return LocmemBackend.send_messages(self, messages)

    monkeypatch.setattr(CountingBackend, "send_messages", killed_during_the_second)
    mail.outbox.clear()
    with at(moment), pytest.raises(WorkerDied):
        run_sweep()
    monkeypatch.undo()
    assert _received() == ["sam@lab.example"]
    states = {
        u.username: sorted(
            ReminderClaim.objects.filter(recipient=u).values_list("state", flat=True)
        )
        for u in (sam, sasha, sid)
    }
    # sam's digest went out and is recorded; sasha's was in flight; sid was never claimed.
    assert states == {"sam": ["sent", "sent"], "sasha": ["claimed"], "sid": []}

    # The next sweep (the task's retry, seconds later) reminds sid at once, and leaves
    # sasha's claim alone while its send may still be in flight.
    retry = sweep_at(moment + timedelta(seconds=5))
    assert (_received(), retry.recipients, retry.skipped) == (["sid@lab.example"], ["sid"], 3)
    assert sweep_at(moment + timedelta(minutes=29)).digests == 0

    # Once the claim is older than any sweep can run, sasha's digest goes out: once.
    late = sweep_at(moment + timedelta(minutes=30))
    assert (_received(), late.recipients) == (["sasha@lab.example"], ["sasha"])
    assert sweep_at(moment + timedelta(hours=2)).digests == 0
    assert sorted(Reminder.objects.values_list("recipient__username", flat=True)) == [
        "sam",
        "sasha",
        "sid",
    ]
    assert set(ReminderClaim.objects.values_list("state", flat=True)) == {ClaimState.SENT}


def test_the_one_duplicate_a_digest_accepted_but_not_recorded(
    three_recipients, monkeypatch, settings
):
    """README "At most once, and never lost": the SMTP server accepted sasha's digest and the
    worker died before recording it. Nothing tells that apart from a send that never
    happened, so after the claim timeout sasha gets it again: the one duplicate there is."""
    sam, sasha, sid = three_recipients
    settings.REMINDER_CLAIM_TIMEOUT = timedelta(minutes=30)
    moment = T0 + timedelta(days=3)
    record_sent = sweep._record_sent

    def dies_after_sashas_send(user, *args, **kwargs):
        if user == sasha:
            raise WorkerDied
        return record_sent(user, *args, **kwargs)

    monkeypatch.setattr(sweep, "_record_sent", dies_after_sashas_send)
    mail.outbox.clear()
    with at(moment), pytest.raises(WorkerDied):
        run_sweep()
    monkeypatch.undo()
    assert _received() == ["sam@lab.example", "sasha@lab.example"]  # both accepted

    assert sweep_at(moment + timedelta(seconds=5)).recipients == ["sid"]
    assert sweep_at(moment + timedelta(minutes=30)).recipients == ["sasha"]  # the duplicate
    assert _received() == ["sasha@lab.example"]
    assert sweep_at(moment + timedelta(hours=2)).digests == 0
    assert sorted(Reminder.objects.values_list("recipient__username", flat=True)) == [
        "sam",
        "sasha",
        "sid",
    ]


# --- one definition of "due" (R17): the dashboard lists what the sweep reminds -----------


def test_dashboard_lists_exactly_the_signoffs_the_sweep_reminds(client, doc, staff, auditor):
    """A ``general`` release reached straight from review keeps its pending ``limited``
    sign-off: the sweep reminds it, so the dashboard shows it too; draft, suspended and
    retired releases' sign-offs are in neither."""
    with at(T0):
        services.submit_release(
            make_release(staff, slug="in-review", agencies=[doc], review_days=2), actor=staff
        )
        general = services.submit_release(
            make_release(staff, slug="general", agencies=[doc], review_days=2), actor=staff
        )
        ga = SignOff.objects.get(release=general, stage="general")
        services.decide_signoff(ga, actor=staff, decision="approved", evidence="letter")
        services.transition_release(general, to="general", actor=staff, reason="GA")
        quiet = services.submit_release(
            make_release(staff, slug="suspended", agencies=[doc], review_days=2), actor=staff
        )
        services.transition_release(quiet, to="suspended", actor=staff, reason="hold")
        make_release(staff, slug="draft", agencies=[doc], review_days=2)
    expected = {
        ("in-review", "limited"),
        ("in-review", "general"),
        ("general", "limited"),
    }

    sweep_at(T0 + timedelta(days=1))
    [digest] = Reminder.objects.filter(kind="digest")
    reminded = SignOff.objects.filter(
        pk__in=[int(i["key"].removeprefix("signoff:")) for i in digest.items]
    )
    client.force_login(auditor)
    with at(T0 + timedelta(days=1)):
        listed = list(client.get("/").context["due_signoffs"])

    assert {(so.release.slug, so.stage) for so in reminded.select_related("release")} == expected
    assert [so.pk for so in listed] == list(
        reminded.order_by("due_at", "pk").values_list("pk", flat=True)
    )
    assert len(listed) == len(digest.items) == 3

"""E-mails show times in each recipient's display zone (SPEC "Pages": every time names its
zone), whatever zone the sending process has active: digests of one sweep and immediate
notifications, text and HTML parts alike. locmem e-mail, eager Celery, a fixed clock."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from compliance import services
from compliance.notifications.sweep import run_sweep
from compliance.services import preferences
from tests.factories import make_release

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _site(settings):
    settings.SITE_URL = "https://clearance.example"


def _zone(user, name: str) -> None:
    preferences.set_time_zone(user, actor=user, time_zone=name)


def _html(message) -> str:
    [(html, kind)] = message.alternatives
    assert kind == "text/html"
    return html


def test_each_digest_of_a_sweep_shows_its_recipients_zone(agencies, staff, staff2, admin_user):
    doc = next(a for a in agencies if a.code == "DOC")
    _zone(staff, "America/New_York")
    _zone(staff2, "Asia/Tokyo")  # admin_user keeps TIME_ZONE (UTC)
    with time_machine.travel(T0, tick=False):
        for owner, slug in ((staff, "frontier-1"), (staff2, "frontier-2"), (admin_user, "f-3")):
            rel = make_release(owner, slug=slug, agencies=[doc], review_days=5)
            services.submit_release(rel, actor=owner)
    mail.outbox.clear()
    # The sending process has some other zone active: it must not leak into any e-mail.
    with (
        time_machine.travel(T0 + timedelta(days=2), tick=False),
        timezone.override(zoneinfo.ZoneInfo("Europe/Berlin")),
    ):
        result = run_sweep()
    assert result.digests == 3
    bodies = {m.to[0]: (m.body, _html(m)) for m in mail.outbox}
    due = {  # T0 + 5 days = 7 Mar 2026, 09:00 UTC
        "sam@lab.example": "due 7 Mar 2026, 04:00 EST",
        "sasha@lab.example": "due 7 Mar 2026, 18:00 JST",
        "ada@lab.example": "due 7 Mar 2026, 09:00 UTC",
    }
    assert set(bodies) == set(due)
    for address, text in due.items():
        body, html = bodies[address]
        assert text in body and text in html, (address, body)
        assert "CET" not in body and "CET" not in html


def test_a_notification_shows_the_owners_zone(
    agencies, staff, admin_user, django_capture_on_commit_callbacks
):
    doc = next(a for a in agencies if a.code == "DOC")
    _zone(staff, "Asia/Tokyo")
    with time_machine.travel(T0, tick=False):
        rel = services.submit_release(
            make_release(staff, slug="frontier-1", agencies=[doc]), actor=staff
        )
        signoff = rel.signoffs.get(stage="limited", round=rel.review_round)
        mail.outbox.clear()
        with (
            timezone.override(zoneinfo.ZoneInfo("America/New_York")),  # the approver's page
            django_capture_on_commit_callbacks(execute=True),  # commit: the outbox sends
        ):
            services.decide_signoff(signoff, actor=admin_user, decision="approved", evidence="x")
    [message] = mail.outbox
    assert message.to == ["sam@lab.example"]
    assert "At: 2 Mar 2026, 18:00 JST" in message.body
    assert "2 Mar 2026, 18:00 JST" in _html(message)
    assert "EST" not in message.body

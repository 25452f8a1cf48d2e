"""GET /api/v1/reminders/: the reminder log, for auditors and admins only."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from rest_framework.test import APIClient

from compliance.models import Reminder

URL = "/api/v1/reminders/"
SWEEP = uuid.UUID("00000000-0000-4000-8000-000000000001")


@pytest.fixture
def log(staff, admin_user):
    rows = [
        Reminder.objects.create(
            kind="digest",
            recipient=staff,
            email=staff.email,
            subject="[Clearance] OVERDUE: 2 sign-offs",
            items=[{"key": "signoff:1"}, {"key": "signoff:2"}],
            sweep_id=SWEEP,
            sent_at=datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
        ),
        Reminder.objects.create(
            kind="digest",
            recipient=admin_user,
            email=admin_user.email,
            subject="[Clearance] ALERT: 1 compliance alert",
            items=[{"key": "alert:live_without_signoffs:r:limited"}],
            sweep_id=SWEEP,
            sent_at=datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
        ),
        Reminder.objects.create(
            kind="notification",
            recipient=staff,
            email=staff.email,
            subject="[Clearance] r: DOC approved limited",
            items=[{"key": "notification:1"}],
            sent_at=datetime(2026, 3, 3, 10, 0, tzinfo=UTC),
        ),
    ]
    return rows


def _client(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def test_auditor_reads_the_log_newest_first(log, auditor, django_assert_max_num_queries):
    with django_assert_max_num_queries(4):
        response = _client(auditor).get(URL)
    assert response.status_code == 200
    body = response.json()
    assert (body["count"], body["next"], body["previous"]) == (3, None, None)
    assert body["results"][0] == {
        "id": log[2].pk,
        "kind": "notification",
        "recipient": "sam",
        "email": "sam@lab.example",
        "subject": "[Clearance] r: DOC approved limited",
        "items": [{"key": "notification:1"}],
        "sweep_id": None,
        "sent_at": "2026-03-03T10:00:00+00:00",
    }
    assert [r["id"] for r in body["results"]] == [log[2].pk, log[1].pk, log[0].pk]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("recipient=sam", [2, 0]),
        ("kind=digest", [1, 0]),
        (f"sweep={SWEEP}", [1, 0]),
        ("since=2026-03-03T00:00:00Z", [2]),
        ("until=2026-03-03T00:00:00Z&recipient=ada", [1]),
    ],
)
def test_filters(log, admin_user, query, expected):
    response = _client(admin_user).get(f"{URL}?{query}")
    assert response.status_code == 200
    assert [r["id"] for r in response.json()["results"]] == [log[i].pk for i in expected]


def test_bad_filter_is_400(log, auditor):
    response = _client(auditor).get(f"{URL}?kind=spam")
    assert response.status_code == 400
    assert "kind" in response.json()


def test_staff_is_refused_and_anonymous_must_log_in(log, staff):
    assert _client(staff).get(URL).status_code == 403
    assert _client().get(URL).status_code == 401


def test_the_log_is_read_only(log, admin_user):
    assert _client(admin_user).post(URL, {}, format="json").status_code in (403, 405)
    assert Reminder.objects.count() == 3

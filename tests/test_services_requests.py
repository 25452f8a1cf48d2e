"""Government requests at the service layer: recording (R13), editing, statuses (R12),
roles and history (m2m ``releases`` included)."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError

from compliance import services
from compliance.models import GovernmentRequest, Release
from tests.factories import make_release
from tests.helpers import (
    approve,
    assert_row,
    changes,
    close,
    denied,
    directive,
    history_rows,
    invalid,
    last_history_id,
    links,
    new_history,
    refused,
    submitted,
)

FRIDAY_1721_ET = datetime(2026, 3, 6, 22, 21, tzinfo=UTC)  # 17:21 US/Eastern


def test_record_request_history_with_releases(agencies, staff, staff2):
    a, b = make_release(staff, agencies=agencies), make_release(staff, slug="b", agencies=agencies)
    with time_machine.travel(FRIDAY_1721_ET, tick=False):
        req = services.record_request(
            actor=staff,
            agency=agencies[1],
            reference="DOC-2026-17",
            kind="information_request",
            releases=[b, a],
            assignee=staff2,
            due_at=FRIDAY_1721_ET + timedelta(days=3),
            reason="letter received",
        )
    assert (req.status, req.received_at, req.lab_position) == ("open", FRIDAY_1721_ET, "undecided")
    created, linked = history_rows(req)
    assert_row(created, user=staff, reason="letter received", kind="+")
    assert_row(linked, user=staff, reason="letter received")
    assert created.history_date == linked.history_date == FRIDAY_1721_ET
    assert changes(linked) == {
        "releases": ([], links("governmentrequest", req.pk, "release", [a.pk, b.pk]))
    }


def test_update_request_records_field_and_release_changes(agencies, staff):
    a, b = make_release(staff, agencies=agencies), make_release(staff, slug="b", agencies=agencies)
    req = directive(staff, agencies[1], "information_request", [a], binding=False)
    before = history_rows(req)[-1]
    since = last_history_id(GovernmentRequest)
    req = services.update_request(
        req, actor=staff, reason="scope widened", releases=[b], lab_position="agree"
    )
    [row] = new_history(req, since)
    assert_row(row, user=staff, reason="scope widened")
    assert changes(row, before) == {
        "lab_position": ("undecided", "agree"),
        "releases": (
            links("governmentrequest", req.pk, "release", [a.pk]),
            links("governmentrequest", req.pk, "release", [b.pk]),
        ),
    }


def test_reference_is_unique_per_agency(agencies, staff):
    directive(staff, agencies[1], "information_request", [], reference="L-1")
    directive(staff, agencies[2], "information_request", [], reference="L-1")  # other agency
    with invalid(ValidationError):
        directive(staff, agencies[1], "information_request", [], reference="L-1")


# --- R12 statuses -------------------------------------------------------------------------------

ALLOWED = {
    "open": ["acknowledged", "closed"],
    "acknowledged": ["complied", "contested", "closed"],
    "contested": ["complied", "closed"],
    "complied": ["closed"],
    "closed": [],
}
STATUSES = ["open", "acknowledged", "complied", "contested", "closed"]
PATH = {
    "open": [],
    "acknowledged": ["acknowledged"],
    "complied": ["acknowledged", "complied"],
    "contested": ["acknowledged", "contested"],
    "closed": ["closed"],
}


def _request_at(status, staff, agency):
    req = directive(staff, agency, "postpone_release", [])
    for step in PATH[status]:
        req = services.set_request_status(req, actor=staff, status=step)
    return req


@pytest.mark.parametrize("frm", STATUSES)
@pytest.mark.parametrize("to", STATUSES)
def test_r12_status_moves(frm, to, agencies, staff):
    req = _request_at(frm, staff, agencies[1])
    if to in ALLOWED[frm]:
        req = services.set_request_status(req, actor=staff, status=to)
        row = history_rows(req)[-1]
        assert_row(row, user=staff, reason=f"{frm} → {to}")
        assert changes(row)["status"] == (frm, to)
        assert changes(row).keys() == {"status"} | {
            "complied": {"complied_at"},
            "closed": {"closed_at"},
        }.get(to, set())
    else:
        with refused({"kind": "invalid_transition", "from": frm, "to": to}):
            services.set_request_status(req, actor=staff, status=to, note="try")


def test_r12_complied_at_and_time_to_comply(agencies, staff):
    with time_machine.travel(FRIDAY_1721_ET, tick=False):
        req = directive(staff, agencies[1], "restrict_foreign_access", [])
    with time_machine.travel(FRIDAY_1721_ET + timedelta(hours=2, minutes=9), tick=False):
        req = services.set_request_status(req, actor=staff, status="acknowledged")
        req = services.set_request_status(req, actor=staff, status="contested", note="overbroad")
        req = services.set_request_status(req, actor=staff, status="complied", note="done")
    assert req.complied_at == FRIDAY_1721_ET + timedelta(hours=2, minutes=9)
    assert req.time_to_comply == timedelta(hours=2, minutes=9)
    assert req.closed_at is None and req.in_force
    row = history_rows(req)[-1]
    assert_row(row, user=staff, reason="done")
    assert changes(row) == {
        "status": ("contested", "complied"),
        "complied_at": (None, req.complied_at),
    }
    req = close(req, staff)
    assert req.closed_at is not None and not req.in_force


def test_r12_in_force_until_closed(agencies, staff):
    release = submitted(staff, agencies)
    approve(release, staff)
    req = directive(staff, agencies[1], "suspend_access", [release])
    for status in ("acknowledged", "contested", "complied"):
        req = services.set_request_status(req, actor=staff, status=status)
        with refused({"kind": "request_in_force", "request": req.pk}):
            services.transition_release(release, to="general", actor=staff)
    close(req, staff)
    assert services.transition_release(release, to="general", actor=staff).status == "general"


# --- R13 recording a foreign-access restriction -----------------------------------------------


def test_r13_binding_restriction_flags_every_named_release(agencies, staff):
    a = make_release(staff, agencies=agencies)
    b = make_release(staff, slug="b", agencies=agencies)
    untouched = make_release(staff, slug="c", agencies=agencies)
    since = last_history_id(Release)
    req = services.record_request(
        actor=staff,
        agency=agencies[1],
        reference="BIS-2026-03",
        kind="restrict_foreign_access",
        binding=True,
        releases=[a, b],
    )
    flags = dict(Release.objects.values_list("slug", "foreign_access_restricted"))
    assert flags == {"frontier-1": True, "b": True, "c": False}
    for release in (a, b):
        [row] = new_history(release, since)
        assert_row(
            row,
            user=staff,
            reason=f"foreign access restricted by DOC request #{req.pk} (BIS-2026-03)",
        )
        assert changes(row) == {"foreign_access_restricted": (False, True)}
    assert new_history(untouched, since) == []


def test_r13_voluntary_or_other_kinds_do_not_restrict(agencies, staff):
    release = make_release(staff, agencies=agencies)
    directive(staff, agencies[1], "restrict_foreign_access", [release], binding=False)
    directive(staff, agencies[1], "limit_release", [release])
    release.refresh_from_db()
    assert not release.foreign_access_restricted


def test_r13_editing_a_request_into_a_restriction_restricts(agencies, staff):
    release = make_release(staff, agencies=agencies)
    req = directive(staff, agencies[1], "information_request", [release])
    services.update_request(req, actor=staff, kind="restrict_foreign_access", reason="reread")
    release.refresh_from_db()
    assert release.foreign_access_restricted
    assert history_rows(release)[-1].history_change_reason.startswith(
        f"foreign access restricted by DOC request #{req.pk}"
    )


# --- roles -------------------------------------------------------------------------------------


def test_auditor_cannot_write_requests(agencies, staff, auditor):
    release = make_release(staff, agencies=agencies)
    req = directive(staff, agencies[1], "postpone_release", [release])
    with denied():
        services.record_request(
            actor=auditor, agency=agencies[1], reference="X", kind="postpone_release"
        )
    with denied():
        services.update_request(req, actor=auditor, summary="edited")
    with denied():
        services.set_request_status(req, actor=auditor, status="acknowledged")

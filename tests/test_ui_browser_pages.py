# ruff: noqa: F811  (the browser fixtures are imported from test_ui_browser)
"""Issue 17 journeys in a real browser (Playwright + Debian Chromium): staff creates, edits
and submits a release and records a decision and a request with a time in their own zone;
admin adds an agency, a partner and a user with a role, and sets a cap; a double click on a
form changes things once and shows one message."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from compliance.models import Agency, GovernmentRequest, Partner, Release, SignOff
from compliance.models.roles import Role, role_of
from tests.test_ui_browser import browser, login, post_back, site  # noqa: F401

pytestmark = [
    pytest.mark.browser,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]


def test_staff_release_journey_in_their_own_zone(login, site, agencies, staff):
    page = login(staff.username)
    page.get_by_test_id("whoami").click()
    page.select_option("#id_time_zone", "America/New_York")
    page.get_by_role("button", name="Save time zone").click()
    page.wait_for_selector("text=Time zone saved.")

    page.goto(f"{site}/releases/")
    page.get_by_test_id("release-new").click()
    page.fill("#id_slug", "model-q")
    page.fill("#id_name", "Model Q")
    page.fill("#id_description", "first weights")
    page.get_by_role("button", name="Create release").click()
    page.wait_for_url(f"{site}/releases/model-q/")
    page.wait_for_selector("text=Release created as a draft.")

    page.get_by_test_id("release-edit").click()
    page.fill("#id_name", "Model Q1")
    page.uncheck("input[name=required_agencies][value=CAISI]")
    page.get_by_role("button", name="Save release").click()
    page.wait_for_url(f"{site}/releases/model-q/")
    release = Release.objects.get(slug="model-q")
    assert release.name == "Model Q1"
    assert sorted(release.required_agencies.values_list("code", flat=True)) == [
        "DOC",
        "ONCD",
        "OSTP",
    ]

    post_back(page, page.get_by_test_id("submit-release"))
    page.wait_for_selector("text=Submitted for review: a new review round is open.")
    # "Move to" preselects nothing (the current state is not even offered).
    assert page.input_value("#id_move_to") == ""
    page.select_option("#id_decide_signoff", label="DOC · limited")
    page.check("input[name=decision][value=approved]")
    page.fill("#id_decide_evidence", "DOC letter")
    page.get_by_test_id("record-decision").click()
    page.wait_for_selector("text=Decision recorded.")
    decided = SignOff.objects.get(release=release, agency__code="DOC", stage="limited")
    assert (decided.status, decided.recorded_by) == ("approved", staff)

    # A request received at 17:21 Eastern on a Friday, typed as the staff member reads it;
    # a double click records it once and shows one message.
    page.goto(f"{site}/requests/new/")
    assert "In your time zone, America/New_York." in page.content()
    page.select_option("#id_agency", "DOC")
    page.fill("#id_reference", "BIS-20261120")
    page.select_option("#id_kind", "restrict_foreign_access")
    page.fill("#id_received_at", "2026-11-20T17:21")
    page.select_option("#id_releases", "model-q")
    page.get_by_role("button", name="Record request").dblclick()
    page.wait_for_selector("text=Request recorded.")
    assert page.locator(".messages p").all_inner_texts() == ["Request recorded."]
    [req] = GovernmentRequest.objects.filter(reference="BIS-20261120")
    assert req.received_at == datetime(2026, 11, 20, 22, 21, tzinfo=UTC)
    assert "Fri 20 Nov 2026, 17:21 EST" in page.content()
    # Reloading the page it landed on records nothing more.
    page.reload()
    assert GovernmentRequest.objects.filter(reference="BIS-20261120").count() == 1


@pytest.fixture
def roles(db):
    # A transactional test flushes the tables afterwards, the roles migration's groups too.
    for role in Role:
        Group.objects.get_or_create(name=role.value)


def test_admin_adds_agency_partner_user_and_sets_a_cap(login, site, agencies, admin_user, roles):
    page = login(admin_user.username)
    page.get_by_role("link", name="Agencies").click()
    page.wait_for_url(f"{site}/agencies/")
    page.fill("#id_code", "BIS")
    page.fill("#id_name", "Bureau of Industry and Security")
    page.get_by_role("button", name="Add agency").dblclick()
    page.wait_for_selector("text=Agency added.")
    assert page.locator(".messages p").all_inner_texts() == ["Agency added."]
    assert Agency.objects.filter(code="BIS").count() == 1

    page.get_by_role("link", name="Partners").click()
    page.wait_for_url(f"{site}/partners/")  # the agencies page has an #id_name too
    page.fill("#id_name", "Gamma Research")
    page.select_option("#id_country", "GB")
    page.get_by_role("button", name="Add partner").click()
    page.wait_for_selector("text=Partner added.")
    assert str(Partner.objects.get(name="Gamma Research").country) == "GB"

    page.get_by_role("link", name="Users").click()
    page.wait_for_url(f"{site}/users/")
    page.fill("#id_username", "nadia")
    page.fill("#id_email", "nadia@lab.example")
    page.select_option("#id_role", "auditor")
    page.get_by_role("button", name="Add user").click()
    page.wait_for_selector("text=User added.")
    assert role_of(get_user_model().objects.get(username="nadia")) == "auditor"

    page.goto(f"{site}/releases/new/")
    page.fill("#id_slug", "capped")
    page.fill("#id_name", "Capped")
    page.fill("#id_partner_cap", "3")
    page.get_by_role("button", name="Create release").click()
    page.wait_for_url(f"{site}/releases/capped/")
    assert Release.objects.get(slug="capped").partner_cap == 3

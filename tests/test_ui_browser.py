"""Main journeys in a real browser: Playwright driving Debian's Chromium against live_server."""

from __future__ import annotations

import csv
import os
import re
import shutil
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone
from playwright.sync_api import expect

from compliance import clock, services
from compliance.audit.log import audit_records
from compliance.models import AllowlistEntry, AuditRecord, GovernmentRequest, Reminder, SignOff
from tests import factories
from tests.conftest import CHROMIUM

pytestmark = [
    pytest.mark.browser,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "test-artifacts" / "screenshots"
DOCS_SHOTS = ROOT / "docs" / "screenshots"
PASSWORD = "pw-for-tests"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls the test makes
    # between page actions are ordinary blocking calls. Only for this module's tests.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as pw:
            chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def site(settings, live_server):
    # The live server speaks plain http: let the browser keep its session and CSRF cookies.
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    return live_server.url


@pytest.fixture
def login(browser, site):
    contexts = []

    def _login(username):
        context = browser.new_context(viewport={"width": 1360, "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.goto(f"{site}/login/")
        if not (SHOTS / "login.png").exists():
            shot(page, "login")
        page.fill("#id_username", username)
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{site}/")
        return page

    yield _login
    for context in contexts:
        context.close()


def post_back(page, control):
    """Click a form's button whose answer redirects to the page the form is on, and wait for
    that new page. ``wait_for_url`` alone would return at once: the old page has that URL."""
    main = page.main_frame
    with page.expect_event("framenavigated", lambda frame: frame == main):
        control.click()
    page.wait_for_load_state()


def shot(page, name, *, docs=False):
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    # The README's screenshots are refreshed on request only, so a test run leaves git clean.
    if docs and os.environ.get("UPDATE_DOCS_SCREENSHOTS") == "1":
        DOCS_SHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOCS_SHOTS / f"{name}.png")


@pytest.fixture
def scene(site, agencies, staff, admin_user, admin2, auditor):
    # Recorded at past moments (as seed_demo does) so the timeline has a real time axis.
    now = timezone.now()
    with clock.replaying_at(now - timedelta(days=12)):
        release = factories.make_release(
            staff,
            slug="frontier-5",
            name="Frontier 5",
            agencies=agencies,
            description="Next frontier model; limited preview to vetted partners first.",
            artifact_digest="sha256:9f2c41d0b7",
        )
        other = factories.make_release(
            staff, slug="sibling-mini", name="Sibling Mini", agencies=agencies
        )
    with clock.replaying_at(now - timedelta(days=5)):
        other = services.submit_release(other, actor=staff)
        services.record_request(
            actor=staff,
            agency=agencies[1],
            reference="2026-017",
            kind="postpone_release",
            binding=True,
            releases=[other],
            summary="Postpone the sibling model until the export review ends.",
            due_at=now + timedelta(days=2),
        )
    with clock.replaying_at(now - timedelta(days=3)):
        services.record_request(
            actor=staff,
            agency=agencies[3],
            reference="INFO-4",
            kind="information_request",
            releases=[release],
            due_at=now + timedelta(days=6),
        )
    return {"release": release, "other": other, "agencies": agencies}


def test_staff_submits_and_records_approvals_until_only_oncd_is_pending(login, scene, site):
    page = login("sam")
    assert page.get_by_test_id("whoami").inner_text() == "sam"
    assert page.get_by_test_id("role").inner_text() == "Staff"
    page.goto(f"{site}/releases/frontier-5/")
    post_back(page, page.get_by_test_id("submit-release"))
    assert page.url == f"{site}/releases/frontier-5/"
    assert page.get_by_test_id("round").inner_text() == "1"
    for code in ("CAISI", "DOC", "OSTP"):
        page.select_option("#id_decide_signoff", label=f"{code} · general")
        page.check("input[name=decision][value=approved]")
        page.fill("#id_decide_evidence", f"{code} approval letter")
        post_back(page, page.get_by_test_id("record-decision"))
        assert page.url == f"{site}/releases/frontier-5/"
        assert page.get_by_test_id(f"cell-{code}-general").inner_text().startswith("Approved")
    gate = page.get_by_test_id("gate-general")
    assert gate.locator("li").all_inner_texts() == ["ONCD has not approved the general stage yet."]
    assert page.get_by_test_id("cell-ONCD-general").inner_text().startswith("Pending")
    assert "CAISI approved general (round 1)" in page.get_by_test_id("timeline").text_content()
    shot(page, "release", docs=True)
    statuses = dict(
        SignOff.objects.filter(release=scene["release"], stage="general").values_list(
            "agency__code", "status"
        )
    )
    assert statuses == {
        "CAISI": "approved",
        "DOC": "approved",
        "OSTP": "approved",
        "ONCD": "pending",
    }

    # A blocked GA shows its blockers in words, and nothing changes.
    page.select_option("#id_move_to", "general")
    page.fill("#id_move_reason", "launch window")
    page.get_by_test_id("transition").click()
    refusal = page.get_by_test_id("refusal")
    expect(refusal.locator("li")).to_have_text(["ONCD has not approved the general stage yet."])
    assert refusal.locator("h2").inner_text() == "Could not move Frontier 5 to general"
    assert page.input_value("#id_move_reason") == "launch window"
    shot(page, "release-blocked-ga")

    page.goto(f"{site}/")
    assert page.get_by_test_id("gate-frontier-5").inner_text() == "GA: 3/4 agencies — ONCD pending"
    assert page.get_by_test_id("gate-sibling-mini").inner_text() == (
        "GA: 0/4 agencies — CAISI, DOC, ONCD, OSTP pending; held by DOC 2026-017 (postpone release)"
    )
    shot(page, "dashboard", docs=True)
    page.goto(f"{site}/requests/")
    assert page.get_by_test_id("request-table").locator("tbody tr").count() == 2
    shot(page, "requests")
    page.get_by_role("link", name="DOC 2026-017").click()
    page.get_by_role("button", name="Mark acknowledged").click()
    page.wait_for_selector("text=Request status changed.")
    shot(page, "request")
    assert GovernmentRequest.objects.get(reference="2026-017").status == "acknowledged"
    page.goto(f"{site}/requests/new/")
    shot(page, "request-new")
    page.goto(f"{site}/releases/")
    shot(page, "releases")


def test_admin_approves_and_the_proposer_is_refused_by_four_eyes(login, scene, site):
    partner = factories.PartnerFactory(name="Acme Labs", country="US")
    second = factories.PartnerFactory(name="Borealis AI", country="CA")
    release = scene["release"]
    ada = Group.objects.get(name="admin").user_set.get(username="ada")
    own = services.propose_allowlist_entry(release, actor=ada, partner=partner, note="red team")
    staff_entry = services.propose_allowlist_entry(
        release, actor=release.owner, partner=second, note="eval partner"
    )

    page = login("ada")
    page.goto(f"{site}/allowlist/?release=frontier-5")
    post_back(page, page.get_by_test_id("decide-borealis-ai"))
    assert page.url == f"{site}/allowlist/?release=frontier-5"
    assert page.get_by_test_id("entry-borealis-ai").inner_text().count("Approved") == 1

    row = page.get_by_test_id("entry-acme-labs")
    row.locator("input[name=reason]").fill("I know them")
    page.get_by_test_id("decide-acme-labs").click()
    refusal = page.get_by_test_id("refusal")
    expect(refusal.locator("li")).to_have_text(
        ["The approver must not be the person who proposed it."]
    )
    assert page.get_by_test_id("entry-acme-labs").locator("input[name=reason]").input_value() == (
        "I know them"
    )
    shot(page, "allowlist-four-eyes")
    own.refresh_from_db()
    staff_entry.refresh_from_db()
    assert own.status == "proposed"
    assert (staff_entry.status, staff_entry.decided_by.username) == ("approved", "ada")

    other_admin = login("alan")
    other_admin.goto(f"{site}/allowlist/?release=frontier-5")
    post_back(other_admin, other_admin.get_by_test_id("decide-acme-labs"))
    assert other_admin.url == f"{site}/allowlist/?release=frontier-5"
    shot(other_admin, "allowlist")
    own.refresh_from_db()
    assert (own.status, own.decided_by.username) == ("approved", "alan")
    assert AllowlistEntry.objects.filter(release=release, status="approved").count() == 2
    other_admin.goto(f"{site}/releases/frontier-5/")
    assert other_admin.get_by_test_id("cap-meter").inner_text() == "2/20 partners approved"


def test_auditor_sees_no_write_buttons_and_gets_403_on_write_url(login, scene, site):
    release = services.submit_release(scene["release"], actor=scene["release"].owner)
    doc = SignOff.objects.get(release=release, agency__code="DOC", stage="limited")
    services.decide_signoff(doc, actor=release.owner, decision="approved", evidence="DOC memo")
    Reminder.objects.create(
        kind="digest",
        recipient=release.owner,
        email=release.owner.email,
        subject="Clearance: 1 sign-off due soon",
        items=[{"key": "signoff:1", "title": "ONCD general sign-off", "urgency": "due_soon"}],
        sweep_id=uuid.uuid4(),
        sent_at=timezone.now(),
    )
    page = login("audrey")
    assert page.get_by_test_id("role").inner_text() == "Auditor"

    # The audit log: filter, read the diffs, export what is shown, verify the chain.
    page.get_by_role("link", name="Audit", exact=True).click()
    page.wait_for_url(f"{site}/audit/")
    assert page.get_by_test_id("audit-row").count() == min(AuditRecord.objects.count(), 50)
    page.select_option("#id_model", "signoff")
    page.fill("#id_user", "sam")
    page.select_option("#id_action", "changed")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"/audit/\?model=signoff&.*user=sam&.*action=changed"))
    expected = list(
        audit_records(model="signoff", user="sam", action="changed").values_list("seq", flat=True)
    )
    rows = page.get_by_test_id("audit-row")
    assert [int(rows.nth(i).get_attribute("data-seq")) for i in range(rows.count())] == expected
    assert "status: pending → approved" in rows.first.inner_text()
    with page.expect_download() as download:
        page.get_by_test_id("export-csv").click()
    path = download.value.path()
    with open(path, newline="", encoding="utf-8") as f:
        exported = list(csv.DictReader(f))
    assert [int(r["seq"]) for r in exported] == sorted(expected)
    assert {(r["model"], r["user"], r["action"]) for r in exported} == {
        ("signoff", "sam", "changed")
    }
    assert '"new": "approved"' in exported[0]["changes"]
    page.get_by_test_id("verify-chain").click()
    page.wait_for_url(f"{site}/audit/?model=signoff&user=sam&action=changed")
    checked = AuditRecord.objects.count()
    assert (
        page.get_by_test_id("chain-status")
        .inner_text()
        .startswith(f"Chain intact: all {checked} history records check out")
    )
    shot(page, "audit")
    page.get_by_role("link", name="Reminders", exact=True).click()
    page.wait_for_url(f"{site}/reminders/")
    expect(page.get_by_test_id("reminder-row")).to_have_count(1)
    assert "ONCD general sign-off (due soon)" in page.get_by_test_id("reminder-table").inner_text()
    shot(page, "reminders")

    for path in ("/", "/releases/frontier-5/", "/requests/", "/allowlist/"):
        page.goto(f"{site}{path}")
        assert page.get_by_test_id("actions").count() == 0
        assert page.locator("form[method=post]:not([action='/logout/'])").count() == 0
        assert page.locator("text=Record a request").count() == 0
    page.goto(f"{site}/releases/frontier-5/")
    assert page.get_by_test_id("signoff-matrix").is_visible()
    shot(page, "release-auditor")
    page.get_by_test_id("full-history").click()
    page.wait_for_url(f"{site}/audit/?release={release.slug}")
    # The release's own rows and its sign-offs', allowlist entries' and requests'.
    rows = page.get_by_test_id("audit-table").inner_text()
    assert page.get_by_test_id("audit-row").count() == audit_records(release=release.slug).count()
    assert page.get_by_test_id("audit-row").count() > (
        AuditRecord.objects.filter(model="release", object_id=str(release.pk)).count()
    )
    assert "signoff" in rows and "governmentrequest" in rows
    response = page.goto(f"{site}/requests/new/")
    assert response.status == 403
    assert page.get_by_test_id("forbidden").is_visible()
    shot(page, "forbidden")

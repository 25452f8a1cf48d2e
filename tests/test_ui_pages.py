"""Every page, for every role, in a real browser (Playwright + Debian's Chromium): axe-core
(from npm, tests/axe/) finds no violation, element ids are unique, and at 390 px the page
itself does not scroll sideways. Then an auditor filters, sorts and searches the audit log.

One demo (``seed_demo``), one live server and one browser for the whole module, and one
signed-in browser context per role: the parametrised cases only navigate, so a case costs a
page load and an axe run. The demo's rows are committed (the server thread reads them), so
the module flushes the database when it is done, as a ``transaction=True`` test does."""

from __future__ import annotations

import os
import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.staticfiles.handlers import StaticFilesHandler
from django.core.management import call_command
from django.test import override_settings
from django.test.testcases import LiveServerThread

from compliance import services
from compliance.models import EvidenceDocument, GovernmentRequest, Partner
from compliance.models.roles import Role
from tests.conftest import AXE, CHROMIUM

User = get_user_model()

# django_db: pytest-django creates the test database only for a run that holds a test with
# this mark (run alone, the module would otherwise seed, and flush, DATABASE_URL itself).
pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.axe, pytest.mark.django_db]

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
PASSWORDS = {
    "staff": "clearance-staff",
    "auditor": "clearance-auditor",
    "admin": "clearance-admin",
}
PERSONS = ("staff", "auditor", "admin")
READERS = ("auditor", "admin")
WRITERS = ("staff", "admin")

# Every page of the app, with the roles that open it (other roles get the 403 page, itself
# checked once below). Demo objects: releases by slug, requests by agency and reference.
PAGES: list[tuple[str, tuple[str, ...]]] = [
    ("/", PERSONS),
    ("/releases/", PERSONS),
    ("/releases/?o=-target_date&q=atlas", PERSONS),
    ("/releases/frontier-2/", PERSONS),
    ("/releases/atlas-1/", PERSONS),  # suspended
    ("/releases/atlas-1-mini/", PERSONS),  # limited, held by a DOC letter
    ("/requests/", PERSONS),
    ("/requests/?o=-due_at&q=BIS", PERSONS),
    ("/requests/{BIS-LR}/", PERSONS),
    ("/requests/{BIS-FA}/", PERSONS),
    ("/requests/new/", WRITERS),
    ("/allowlist/", PERSONS),
    ("/allowlist/?release=frontier-2&o=partner", PERSONS),
    ("/audit/", READERS),
    ("/audit/?release=atlas-1&o=at", READERS),
    ("/reminders/", READERS),
    ("/gateways/", READERS),
    ("/audit/witnesses/", ("admin",)),
    ("/webhooks/", ("admin",)),
    ("/webhooks/{hook}/", ("admin",)),
    ("/evidence/", PERSONS),  # R37: documents, upload form for writers
    ("/evidence/?q=directive&o=-uploaded_at", PERSONS),
    ("/evidence/{doc}/", PERSONS),
    ("/evidence/{doc}/edit/", WRITERS),  # metadata and links (the API's PATCH)
    ("/requests/new/", ("auditor",)),  # the 403 page
    # The write pages (create and edit), the admin screens and the profile.
    ("/releases/new/", WRITERS),
    ("/releases/frontier-2/edit/", WRITERS),
    ("/requests/{BIS-LR}/edit/", WRITERS),
    ("/agencies/", ("admin",)),
    ("/agencies/DOC/", ("admin",)),
    ("/partners/", ("admin",)),
    ("/partners/?o=-country&q=bio", ("admin",)),
    ("/partners/{partner}/", ("admin",)),
    ("/users/", ("admin",)),
    ("/users/staff/", ("admin",)),
    ("/profile/", PERSONS),
]
# The elements that stick out of a narrow page (outside boxes that scroll on their own), to
# name the culprit when the 390 px check fails.
OVERFLOW = """(limit) => [...document.querySelectorAll('body *')]
  .filter(el => el.getBoundingClientRect().right > limit && !el.closest('.table-wrap'))
  .slice(0, 5).map(el => el.tagName + '.' + el.className + ' ' + Math.round(el.getBoundingClientRect().right))"""
# Routes that only take a POST (actions, not pages), and the login pages (checked apart:
# signed out). Every other route of compliance/web/urls.py must be in PAGES.
NOT_PAGES = {
    "login",
    "logout",
    "oidc_login",
    "oidc_callback",
    "release_submit",
    "release_transition",
    "signoff_decide",
    "signoff_withdraw",
    "allowlist_propose",
    "allowlist_decide",
    "allowlist_revoke",
    "request_status",
    "audit_verify",
    "checkpoint_verify",
    "webhook_rotate",
    "webhook_ping",
    "gateway_register",
    "gateway_active",
    "user_deactivate",
    "profile_time_zone",
    "token_create",
    "token_revoke",
    "calendar_regenerate",
    "calendar_revoke",
    "calendar",  # an iCalendar feed, not a page (tests/test_ui_pages_write.py)
    "evidence_upload",
    "evidence_file",  # a download (an attachment), not a page
}
CASES = [(role, path) for path, roles in PAGES for role in roles]

UNIQUE_IDS = """() => {
  const seen = {}, twice = [];
  for (const el of document.querySelectorAll('[id]')) {
    if (seen[el.id]) twice.push(el.id); seen[el.id] = true;
  }
  const emptyFor = [...document.querySelectorAll('label[for=""]')].length;
  return {twice, emptyFor};
}"""


def _violations(page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — "
        + "; ".join(n["target"][0] if n["target"] else "?" for n in v["nodes"][:4])
        for v in result["violations"]
    ]


@pytest.fixture(scope="module")
def demo_site(django_db_setup, django_db_blocker):
    """The demo scenario, served by a live server thread of its own (pytest-django's
    ``live_server`` would flush the database after every case)."""
    with django_db_blocker.unblock():
        # A flush by an earlier transaction=True test empties the roles' groups too.
        for role in (*PERSONS, Role.GATEWAY):
            Group.objects.get_or_create(name=role)
        call_command("seed_demo", "--with-demo-users", verbosity=0)
        ids = dict(
            GovernmentRequest.objects.filter(agency__code="DOC").values_list("reference", "pk")
        )
        with override_settings(WEBHOOK_ALLOWED_NETWORKS=["127.0.0.0/8"]):
            hook, _secret = services.create_webhook(
                actor=User.objects.get(username="admin"),
                url="http://127.0.0.1:9/clearance",
                description="Compliance chat channel",
            )
        refs = {
            "BIS-LR": next(pk for ref, pk in ids.items() if ref.endswith("-LR")),
            "BIS-FA": next(pk for ref, pk in ids.items() if ref.endswith("-FA")),
            "hook": hook.pk,
            "partner": Partner.objects.get(name="Pennine Bio").pk,
            "doc": EvidenceDocument.objects.order_by("pk").values_list("pk", flat=True)[0],
        }
        # Plain http: the browser keeps its session and CSRF cookies.
        insecure = override_settings(SESSION_COOKIE_SECURE=False, CSRF_COOKIE_SECURE=False)
        insecure.enable()
        server = LiveServerThread("127.0.0.1", static_handler=StaticFilesHandler, port=0)
        server.daemon = True
        server.start()
        server.is_ready.wait()
        if server.error:
            raise server.error
        try:
            yield {"url": f"http://127.0.0.1:{server.port}", "requests": refs}
        finally:
            server.terminate()
            insecure.disable()
            call_command("flush", interactive=False, verbosity=0)
            # The roles' groups (a data migration's rows) again, for the modules after this.
            for role in (*PERSONS, Role.GATEWAY):
                Group.objects.get_or_create(name=role)


@pytest.fixture(scope="module")
def browser(demo_site):
    """Closed before the server stops (it depends on ``demo_site``): its kept-alive
    connections hold the server's request threads, and their database sessions, open."""
    from playwright.sync_api import sync_playwright

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


@pytest.fixture(scope="module")
def pages(browser, demo_site):
    """One signed-in page per role (axe is injected past the strict CSP: ``bypass_csp``)."""
    opened = {}

    def page_for(role: str):
        if role not in opened:
            context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
            page = context.new_page()
            page.set_default_timeout(15_000)
            page.goto(f"{demo_site['url']}/login/")
            page.fill("#id_username", role)
            page.fill("#id_password", PASSWORDS[role])
            page.click("button[type=submit]")
            page.wait_for_url(f"{demo_site['url']}/")
            opened[role] = page
        return opened[role]

    yield page_for
    for page in opened.values():
        page.context.close()


def _url(demo_site, path: str) -> str:
    for key, pk in demo_site["requests"].items():
        path = path.replace("{" + key + "}", str(pk))
    return demo_site["url"] + path


@pytest.mark.parametrize(("role", "path"), CASES, ids=[f"{r}:{p}" for r, p in CASES])
def test_page_is_accessible_and_fits_a_phone(pages, demo_site, role, path):
    page = pages(role)
    page.set_viewport_size({"width": 1280, "height": 900})
    response = page.goto(_url(demo_site, path))
    expected = 403 if (role, path) == ("auditor", "/requests/new/") else 200
    assert response.status == expected, (role, path, response.status)
    # The header names who is signed in and their role.
    assert page.get_by_test_id("whoami").inner_text() == role
    assert page.get_by_test_id("role").inner_text() == role.capitalize()
    ids = page.evaluate(UNIQUE_IDS)
    assert ids == {"twice": [], "emptyFor": 0}, (role, path, ids)
    assert _violations(page) == [], (role, path)
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280, (role, path)

    page.set_viewport_size({"width": 390, "height": 844})
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, (role, path, width, page.evaluate(OVERFLOW, 390))


def test_every_page_of_the_app_is_in_the_list():
    """A new page is checked only if PAGES names it: every GET route of the pages' URLconf
    must be opened by one of the listed paths (or be an action in NOT_PAGES)."""
    from django.urls import resolve

    from compliance.web import urls

    listed = {resolve(re.sub(r"\{[^}]+\}", "1", p.split("?")[0])).url_name for p, _ in PAGES}
    routes = {u.name for u in urls.urlpatterns}
    assert routes - NOT_PAGES - listed == set(), "add these pages to PAGES"
    assert listed <= routes


def test_login_page_is_accessible_and_fits_a_phone(browser, demo_site):
    context = browser.new_context(viewport={"width": 390, "height": 844}, bypass_csp=True)
    try:
        page = context.new_page()
        page.goto(f"{demo_site['url']}/login/")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        assert _violations(page) == []
    finally:
        context.close()


def _audit_rows(page) -> list[dict]:
    return page.eval_on_selector_all(
        "[data-testid=audit-row]",
        "rows => rows.map(r => ({seq: +r.dataset.seq, text: r.innerText}))",
    )


def _go(page, action) -> None:
    """Run ``action`` (a click that loads a page) and wait until the new page has loaded."""
    with page.expect_navigation():
        action()


FILTER = "[data-testid=audit-filters] button[type=submit]"


def test_auditor_filters_sorts_and_searches_the_audit_log(pages, demo_site):
    page = pages("auditor")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{demo_site['url']}/audit/")
    newest = _audit_rows(page)
    assert len(newest) == 50
    assert [r["seq"] for r in newest] == sorted((r["seq"] for r in newest), reverse=True)

    # Filter: sign-off changes only (the page's form, as a person fills it).
    page.select_option("#id_model", "signoff")
    page.select_option("#id_action", "changed")
    _go(page, lambda: page.click(FILTER))
    rows = _audit_rows(page)
    assert rows and all("signoff" in r["text"] and "Changed" in r["text"] for r in rows)

    # Sort by the When column: oldest first, keeping the filters; again: newest first.
    _go(page, page.get_by_role("link", name="When").click)
    oldest = _audit_rows(page)
    assert "o=at" in page.url and "model=signoff" in page.url
    assert [r["seq"] for r in oldest] == sorted(r["seq"] for r in oldest)
    assert page.locator("th[aria-sort=ascending]").text_content().startswith("When")
    _go(page, page.get_by_role("link", name="When").click)
    assert "o=-at" in page.url
    assert page.locator("th[aria-sort=descending]").text_content().startswith("When")
    assert [r["seq"] for r in _audit_rows(page)] == [r["seq"] for r in rows]

    # Search: the text box narrows to records whose object, reason or actor contain it.
    page.goto(f"{demo_site['url']}/audit/")
    page.fill("#id_q", "BIS-20")
    _go(page, lambda: page.click(FILTER))
    found = _audit_rows(page)
    assert found and all("bis-20" in r["text"].lower() for r in found)
    assert len(found) < len(newest)
    page.fill("#id_q", "no-such-text-anywhere")
    _go(page, lambda: page.click(FILTER))
    assert _audit_rows(page) == []
    assert "No record matches." in page.get_by_test_id("audit-table").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

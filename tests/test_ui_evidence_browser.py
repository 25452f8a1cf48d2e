"""R37/R38 in a real browser (Playwright + Debian's Chromium): staff upload a letter from the
release page, see it with its hash, open its page and download it; the strict CSP holds."""

from __future__ import annotations

import hashlib

import pytest

from compliance import services
from compliance.evidence_samples import pdf_letter
from compliance.models import EvidenceDocument
from tests import factories
from tests import test_ui_browser as ui

pytestmark = [
    pytest.mark.browser,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]

# The browser journeys' own fixtures (one Chromium per module, live server, login).
browser = ui.browser
site = ui.site
login = ui.login


def test_staff_upload_a_letter_on_the_release_page_and_download_it(
    login, site, staff, agencies, media, tmp_path
):
    release = services.submit_release(factories.make_release(staff, agencies=agencies), actor=staff)
    letter = tmp_path / "june-26.pdf"
    letter.write_bytes(pdf_letter(["The Secretary of Commerce", "Limited release allowed."]))
    sha = hashlib.sha256(letter.read_bytes()).hexdigest()
    page = login("sam")
    violations = []
    page.on(
        "console", lambda m: violations.append(m.text) if "Content Security" in m.text else None
    )
    page.goto(f"{site}/releases/{release.slug}/")
    panel = page.get_by_test_id("evidence-panel")
    panel.locator("summary").click()
    panel.get_by_label("File").set_input_files(str(letter))
    panel.get_by_label("Title").fill("June 26 letter")
    panel.get_by_label("Agency").select_option("DOC")
    ui.post_back(page, panel.get_by_role("button", name="Upload"))
    assert page.url == f"{site}/releases/{release.slug}/"
    document = EvidenceDocument.objects.get()
    assert document.sha256 == sha
    assert page.get_by_test_id(f"sha256-{document.pk}").inner_text() == sha
    page.get_by_role("link", name="June 26 letter").click()
    page.wait_for_url(f"{site}/evidence/{document.pk}/")
    assert page.get_by_test_id("sha256").inner_text() == sha
    with page.expect_download() as info:
        page.get_by_test_id("download").click()
    download = info.value
    assert download.suggested_filename == "june-26.pdf"
    assert hashlib.sha256(open(download.path(), "rb").read()).hexdigest() == sha  # noqa: SIM115
    page.goto(f"{site}/evidence/?q=june")
    assert "June 26 letter" in page.get_by_test_id("evidence-table").inner_text()
    assert violations == []

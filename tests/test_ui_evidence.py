"""R37/R38 pages: upload from the release and request pages, the documents list with
search, a document's page and its download; cited documents shown with their hash."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from compliance import services
from compliance.evidence_samples import pdf_letter
from compliance.models import EvidenceDocument
from tests import factories
from tests.api_support import signoffs
from tests.helpers import page_form

pytestmark = pytest.mark.postgres


def ids_are_unique(html: str) -> bool:
    """The evidence panel's and pages' own ids are unique (``ev-`` fields, ``evidence-``)."""
    ids = re.findall(r'\sid="([^"]+)"', html)
    counts = Counter(i for i in ids if "ev-" in i or "evidence" in i or "sha256" in i)
    dups = [i for i, n in counts.items() if n > 1]
    assert not dups, dups
    return True


def test_upload_on_the_release_page_then_cite_it_in_a_decision(client, staff, agencies, media):
    release = services.submit_release(factories.make_release(staff, agencies=agencies), actor=staff)
    client.force_login(staff)
    page = client.get(f"/releases/{release.slug}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="evidence-upload"' in html and ids_are_unique(html)
    data = pdf_letter(["Commerce letter of June 26"])
    signoff = signoffs(release, "limited")[0]
    response = client.post(
        "/evidence/upload/",
        {
            "ev-file": SimpleUploadedFile("june-26.pdf", data),
            "ev-title": "June 26 letter",
            "ev-kind": "agency_letter",
            "ev-agency": "DOC",
            "ev-releases": release.slug,
            "ev-signoffs": "",
            "next": f"/releases/{release.slug}/",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == f"/releases/{release.slug}/"
    document = EvidenceDocument.objects.get()
    assert list(document.releases.all()) == [release]
    decided = client.post(
        f"/releases/{release.slug}/signoffs/decide/",
        {"signoff": signoff.pk, "decision": "approved", "documents": [document.pk]},
    )
    assert decided.status_code == 302, decided.content.decode()[:2000]
    assert list(document.signoffs.all()) == [signoff]
    html = client.get(f"/releases/{release.slug}/").content.decode()
    assert document.sha256 in html
    assert f"{signoff.agency.code} limited sign-off" in html

    detail = client.get(f"/evidence/{document.pk}/").content.decode()
    assert document.sha256 in detail and ids_are_unique(detail)
    download = client.get(f"/evidence/{document.pk}/file/")
    assert download["Content-Disposition"] == 'attachment; filename="june-26.pdf"'
    assert download["X-Content-Type-Options"] == "nosniff"
    assert b"".join(download.streaming_content) == data


def test_refused_upload_shows_the_error_and_stores_nothing(client, staff, media):
    client.force_login(staff)
    response = client.post(
        "/evidence/upload/",
        {
            "ev-file": SimpleUploadedFile("letter.pdf", b"<html><script>x()</script></html>"),
            "ev-title": "Not a letter",
            "ev-kind": "other",
        },
    )
    assert response.status_code == 400
    assert "not accepted" in response.content.decode()
    assert not EvidenceDocument.objects.exists()


def test_list_searches_and_auditors_cannot_upload(client, staff, auditor, agencies, media):
    request = services.record_request(
        actor=staff, agency=agencies[1], reference="DOC-FRI", kind="restrict_foreign_access"
    )
    for title, body in (("Friday directive", b"Block.\n"), ("ONCD decision", b"Approve.\n")):
        services.upload_evidence(
            actor=staff,
            file=SimpleUploadedFile("x.txt", body),
            title=title,
            kind="directive",
            requests=[request],
        )
    client.force_login(auditor)
    listing = client.get("/evidence/", {"q": "friday"}).content.decode()
    assert "Friday directive" in listing and "ONCD decision" not in listing
    assert 'data-testid="evidence-upload"' not in listing
    request_page = client.get(f"/requests/{request.pk}/").content.decode()
    assert "Friday directive" in request_page and ids_are_unique(request_page)
    refused = client.post(
        "/evidence/upload/",
        {"ev-file": SimpleUploadedFile("a.txt", b"a\n"), "ev-title": "a", "ev-kind": "other"},
    )
    assert refused.status_code == 403
    assert EvidenceDocument.objects.count() == 2


def test_admin_cites_a_release_document_when_deciding_on_the_allowlist_page(
    client, staff, admin_user, agencies, media
):
    release = factories.make_release(staff, agencies=agencies)
    entry = services.propose_allowlist_entry(
        release, actor=staff, partner=factories.PartnerFactory(name="Acme")
    )
    document, _ = services.upload_evidence(
        actor=staff,
        file=SimpleUploadedFile("vetting.txt", b"Acme vetted by CAISI.\n"),
        title="Vetting letter",
        kind="vetting",
        releases=[release],
    )
    client.force_login(admin_user)
    page = client.get("/allowlist/").content.decode()
    assert f'id="id_documents_{entry.pk}"' in page and ids_are_unique(page)
    response = client.post(
        f"/allowlist/{entry.pk}/decide/", {"decision": "approved", "documents": [document.pk]}
    )
    assert response.status_code == 302
    assert list(document.allowlist_entries.all()) == [entry]
    latest = entry.history.latest("history_id")
    assert f"cites document #{document.pk} sha256:{document.sha256}" in latest.history_change_reason
    page = client.get("/allowlist/").content.decode()
    assert document.sha256 in page  # the panel shows what the entry cites, with its hash


def test_staff_edit_a_documents_details_and_links_never_its_bytes(
    client, staff, auditor, agencies, media
):
    """The API's PATCH /evidence/{id}/ from the pages: title, kind, agency and links change,
    recorded with the reason; re-saving unchanged writes nothing; bad input is a 400 that
    changes nothing; auditors get neither the button nor the page."""
    release = services.submit_release(factories.make_release(staff, agencies=agencies), actor=staff)
    request = services.record_request(
        actor=staff, agency=agencies[1], reference="DOC-FRI", kind="restrict_foreign_access"
    )
    document, _ = services.upload_evidence(
        actor=staff, file=SimpleUploadedFile("x.txt", b"Block.\n"), title="Scan", kind="other"
    )
    sha256, signoff = document.sha256, signoffs(release, "limited")[0]
    url = f"/evidence/{document.pk}/edit/"
    client.force_login(staff)
    assert f'href="{url}"' in client.get(f"/evidence/{document.pk}/").content.decode()
    form = client.get(url)
    html = form.content.decode()
    assert form.status_code == 200 and sha256 in html
    assert f"{release.slug} · {signoff.agency.code} limited, round 1 (pending)" in html
    data = {
        "title": "Friday directive",
        "kind": "directive",
        "agency": agencies[1].code,
        "releases": [release.slug],
        "requests": [request.pk],
        "signoffs": [signoff.pk],
        "reason": "filed with the directive",
    }
    saved = client.post(url, data)
    assert saved.status_code == 302 and saved["Location"] == f"/evidence/{document.pk}/"
    document.refresh_from_db()
    assert (document.title, document.kind, document.agency) == (
        "Friday directive",
        "directive",
        agencies[1],
    )
    assert [list(document.releases.all()), list(document.requests.all())] == [[release], [request]]
    assert list(document.signoffs.all()) == [signoff] and document.sha256 == sha256
    latest = document.history.order_by("-history_id").first()
    assert (latest.history_change_reason, latest.sha256) == ("filed with the directive", sha256)
    rows = document.history.count()
    assert client.post(url, data).status_code == 302  # the same again: nothing to record
    assert document.history.count() == rows
    bad = client.post(url, {**data, "title": "", "kind": "poem", "releases": ["no-such"]})
    assert bad.status_code == 400
    assert {"title", "kind", "releases"} <= set(bad.context["form"].errors)
    document.refresh_from_db()
    assert document.title == "Friday directive" and document.history.count() == rows
    client.force_login(auditor)
    assert f'href="{url}"' not in client.get(f"/evidence/{document.pk}/").content.decode()
    assert client.get(url).status_code == 403
    assert client.post(url, {**data, "title": "x"}).status_code == 403
    document.refresh_from_db()
    assert document.title == "Friday directive"


def test_an_edit_saved_meanwhile_by_someone_else_is_kept(client, staff, staff2, agencies, media):
    """Two people on the same document: B opened the page, A saved a new title and a link,
    then B changed the kind, added a link and removed one: A's title and link stay."""
    first, second, _third = (
        services.submit_release(
            factories.make_release(staff, slug=slug, agencies=agencies), actor=staff
        )
        for slug in ("r-one", "r-two", "r-three")
    )
    document, _ = services.upload_evidence(
        actor=staff,
        file=SimpleUploadedFile("x.txt", b"Block.\n"),
        title="Scan",
        kind="other",
        releases=[first],
    )
    url = f"/evidence/{document.pk}/edit/"
    client.force_login(staff2)
    shown = page_form(client.get(url).content.decode())
    assert shown["initial-title"] == ["Scan"] and shown["releases"] == ["r-one"]
    services.update_evidence(
        document, actor=staff, title="Commerce letter", releases=[first, second]
    )
    edited = {**shown, "kind": ["agency_letter"], "releases": ["r-three"]}
    assert client.post(url, edited).status_code == 302
    document.refresh_from_db()
    assert (document.title, document.kind) == ("Commerce letter", "agency_letter")
    # B removed r-one and added r-three; A's r-two, added meanwhile, stays
    assert sorted(document.releases.values_list("slug", flat=True)) == ["r-three", "r-two"]

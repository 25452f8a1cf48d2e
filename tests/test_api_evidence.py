"""R37 over HTTP: upload (multipart), dedup, type and size checks, download headers, roles,
edits of metadata and links only, and R38 citing from decisions and requests."""

from __future__ import annotations

import hashlib

import pytest

from compliance import services
from compliance.models import EvidenceDocument
from tests import factories
from tests.api_support import API, client_for, results, signoffs
from tests.evidence_support import ALLOWED, REFUSED, upload
from tests.helpers import history_counts

pytestmark = pytest.mark.postgres


def post_file(client, name, data, **fields):
    body = {"title": fields.pop("title", f"Letter {name}"), "kind": "agency_letter", **fields}
    body["file"] = upload(name, data)
    return client.post(f"{API}/evidence/", body, format="multipart")


@pytest.mark.parametrize("name", sorted(ALLOWED))
def test_each_allowed_type_is_kept_with_its_hash_and_type(staff, media, name):
    make, content_type = ALLOWED[name]
    data = make()
    response = post_file(client_for(staff), name, data)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    assert body["size"] == len(data)
    assert body["content_type"] == content_type
    assert body["original_name"] == name
    assert body["uploaded_by"] == "sam"
    document = EvidenceDocument.objects.get(pk=body["id"])
    stored = media / document.file.name
    assert stored.read_bytes() == data
    [row] = document.history.all()
    assert (row.history_type, row.sha256, row.history_user) == ("+", body["sha256"], staff)


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused_types_are_a_400_on_file_and_store_nothing(staff, media, name):
    before = history_counts()
    response = post_file(client_for(staff), name, REFUSED[name])
    assert response.status_code == 400
    assert list(response.json()) == ["file"], response.json()
    assert not EvidenceDocument.objects.exists()
    assert history_counts() == before


def test_over_the_size_limit_is_a_400(staff, media, settings):
    settings.EVIDENCE_MAX_BYTES = 1000
    data = b"x" * 1001
    response = post_file(client_for(staff), "big.txt", data)
    assert response.status_code == 400
    assert "limit" in response.json()["file"][0]
    # A body announcing far more than the limit is refused before it is read.
    huge = post_file(client_for(staff), "huge.txt", b"y" * 200_000)
    assert huge.status_code == 400
    assert "limit" in huge.json()["file"][0]
    assert not EvidenceDocument.objects.exists()
    assert post_file(client_for(staff), "ok.txt", b"x" * 1000).status_code == 201


def test_the_same_bytes_twice_give_the_existing_document(staff, staff2, media):
    data = ALLOWED["letter.pdf"][0]()
    first = post_file(client_for(staff), "letter.pdf", data)
    assert first.status_code == 201
    again = post_file(client_for(staff2), "copy.pdf", data, title="Another title")
    assert again.status_code == 200
    assert again.json() == first.json()
    assert EvidenceDocument.objects.count() == 1
    assert EvidenceDocument.history.count() == 1
    assert len(list((media / "evidence").rglob("*"))) == 2  # one folder, one file


def test_download_is_an_attachment_with_nosniff_for_every_role(staff, auditor, media):
    data = ALLOWED["note.txt"][0]()
    doc = post_file(client_for(staff), "note.txt", data).json()
    response = client_for(auditor).get(f"{API}/evidence/{doc['id']}/file/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == data
    assert response["Content-Disposition"] == 'attachment; filename="note.txt"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert "sandbox" in response["Content-Security-Policy"]
    assert client_for(None).get(f"{API}/evidence/{doc['id']}/file/").status_code == 401


def test_auditor_reads_and_downloads_but_cannot_upload_or_edit(staff, auditor, media):
    doc = post_file(client_for(staff), "note.txt", b"letter\n").json()
    client = client_for(auditor)
    assert client.get(f"{API}/evidence/").status_code == 200
    assert client.get(f"{API}/evidence/{doc['id']}/").json()["sha256"] == doc["sha256"]
    assert post_file(client, "other.txt", b"other\n").status_code == 403
    patch = client.patch(f"{API}/evidence/{doc['id']}/", {"title": "x"}, format="json")
    assert patch.status_code == 403
    assert EvidenceDocument.objects.count() == 1


def test_patch_changes_metadata_and_links_never_bytes(staff, agencies, media):
    release = factories.make_release(staff, agencies=agencies)
    client = client_for(staff)
    doc = post_file(client, "note.txt", b"letter\n").json()
    response = client.patch(
        f"{API}/evidence/{doc['id']}/",
        {"title": "June 26 letter", "agency": "DOC", "releases": [release.slug], "reason": "tag"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["title"], body["agency"], body["releases"]) == (
        "June 26 letter",
        "DOC",
        [release.slug],
    )
    for field in ("sha256", "size", "file", "content_type", "original_name"):
        refused = client.patch(f"{API}/evidence/{doc['id']}/", {field: "x"}, format="json")
        assert refused.status_code == 400, field
        assert list(refused.json()) == [field]
    assert client.delete(f"{API}/evidence/{doc['id']}/").status_code == 405
    assert client.put(f"{API}/evidence/{doc['id']}/", {}, format="json").status_code == 405
    latest = EvidenceDocument.history.latest("history_id")
    assert latest.history_change_reason == "tag"
    assert latest.sha256 == doc["sha256"]


def test_new_version_supersedes_and_search_finds_it(staff, media):
    client = client_for(staff)
    old = post_file(client, "v1.txt", b"version one\n", title="Directive v1").json()
    new = post_file(
        client, "v2.txt", b"version two\n", title="Directive v2", supersedes=old["id"]
    ).json()
    assert new["supersedes"] == old["id"]
    assert client.get(f"{API}/evidence/{old['id']}/").json()["superseded_by"] == [new["id"]]
    found = results(client.get(f"{API}/evidence/", {"q": "v2"}))
    assert [d["id"] for d in found] == [new["id"]]
    by_hash = results(client.get(f"{API}/evidence/", {"q": old["sha256"][:10]}))
    assert [d["id"] for d in by_hash] == [old["id"]]


def test_decisions_cite_documents_and_the_audit_log_shows_them(
    staff, admin_user, admin2, agencies, media
):
    release = services.submit_release(factories.make_release(staff, agencies=agencies), actor=staff)
    client = client_for(staff)
    doc = post_file(client, "letter.pdf", ALLOWED["letter.pdf"][0]()).json()
    signoff = signoffs(release, "limited")[0]
    response = client.post(
        f"{API}/signoffs/{signoff.pk}/decide/",
        {"decision": "approved", "documents": [doc["id"]]},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["documents"] == [doc["id"]]
    assert doc["sha256"] in response.json()["evidence"]  # the document is the evidence
    audit = client_for(admin_user).get(
        f"{API}/audit/", {"model": "signoff", "object_id": signoff.pk}
    )
    reasons = [r["reason"] for r in audit.json()["results"]]
    assert any(f"cites document #{doc['id']} sha256:{doc['sha256']}" in r for r in reasons)
    doc_log = client_for(admin_user).get(
        f"{API}/audit/", {"model": "evidencedocument", "object_id": doc["id"]}
    )
    assert doc_log.json()["results"][0]["reason"].startswith(f"cited by sign-off #{signoff.pk}")
    # The release's full history covers the documents its sign-offs cite.
    history = client.get(f"{API}/releases/{release.slug}/history/").json()["results"]
    assert ("evidencedocument", str(doc["id"])) in {(r["model"], r["object_id"]) for r in history}

    entry = services.propose_allowlist_entry(
        release, actor=staff, partner=factories.PartnerFactory()
    )
    decided = client_for(admin_user).post(
        f"{API}/allowlist/{entry.pk}/decide/",
        {"decision": "approved", "documents": [doc["id"]]},
        format="json",
    )
    assert decided.status_code == 200, decided.json()
    assert decided.json()["documents"] == [doc["id"]]
    unknown = client_for(admin2).post(
        f"{API}/allowlist/{entry.pk}/decide/",
        {"decision": "approved", "documents": [999999]},
        format="json",
    )
    assert unknown.status_code == 400
    assert list(unknown.json()) == ["documents"]
    assert EvidenceDocument.objects.get().allowlist_entries.get() == entry


def test_requests_link_documents_through_patch(staff, agencies, media):
    client = client_for(staff)
    doc = post_file(client, "directive.txt", b"Block foreign access.\n").json()
    request = services.record_request(
        actor=staff, agency=agencies[1], reference="D-1", kind="restrict_foreign_access"
    )
    before = request.history.count()
    response = client.patch(
        f"{API}/requests/{request.pk}/", {"documents": [doc["id"]]}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["documents"] == [doc["id"]]
    assert request.history.count() == before  # only the document's links changed
    assert list(EvidenceDocument.objects.get().requests.all()) == [request]
    cleared = client.patch(f"{API}/requests/{request.pk}/", {"documents": []}, format="json")
    assert cleared.json()["documents"] == []
    assert EvidenceDocument.history.count() == 3  # created, linked, unlinked

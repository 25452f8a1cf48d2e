"""R39: evidence packs over HTTP, checked offline by clients/verify_pack.py run as a
subprocess (isolated Python, outside the project: no Django); then tampered with (one byte
of a document, one record dropped, one record edited), each reported."""

from __future__ import annotations

import http.client
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from compliance import services
from compliance.audit import notes
from compliance.evidence_samples import pdf_letter
from compliance.services.evidence import upload_evidence
from compliance.services.users import issue_token
from tests import factories
from tests.api_support import API, client_for, signoffs
from tests.asgi_support import LiveASGI
from tests.evidence_support import upload

pytestmark = pytest.mark.postgres

VERIFY_PACK = Path(__file__).resolve().parent.parent / "clients" / "verify_pack.py"


@pytest.fixture
def signing_key(settings):
    private, verifier = notes.generate_key("clearance.test/audit")
    settings.AUDIT_SIGNING_KEY = private
    return verifier


@pytest.fixture
def cited_release(staff, admin_user, agencies, media):
    """A release whose sign-off and allowlist decision cite a letter, with a directive
    linking another document."""
    release = services.submit_release(factories.make_release(staff, agencies=agencies), actor=staff)
    letter, _ = upload_evidence(
        actor=staff,
        file=upload("june-26.pdf", pdf_letter(["June 26 letter"])),
        title="June 26 letter",
        kind="agency_letter",
        agency=agencies[1],
    )
    directive, _ = upload_evidence(
        actor=staff,
        file=upload("directive.txt", b"Block foreign access by 23:59 ET.\n"),
        title="Friday directive",
        kind="directive",
    )
    services.decide_signoff(
        signoffs(release, "limited")[0], actor=staff, decision="approved", documents=[letter]
    )
    entry = services.propose_allowlist_entry(
        release, actor=staff, partner=factories.PartnerFactory()
    )
    services.decide_allowlist_entry(
        entry, actor=admin_user, decision="approved", documents=[letter]
    )
    request = services.record_request(
        actor=staff,
        agency=agencies[1],
        reference="DOC-FRI",
        kind="restrict_foreign_access",
        binding=True,
        releases=[release],
    )
    services.update_request(request, actor=staff, documents=[directive])
    return release, request, letter, directive


def run_verify(path: Path, key: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-I", str(VERIFY_PACK), str(path), "--verifier-key", key],
        capture_output=True,
        text=True,
        cwd=path.parent,
        timeout=60,
    )


def fetch_pack(user, url: str) -> bytes:
    response = client_for(user).get(url)
    assert response.status_code == 200, response
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"].startswith('attachment; filename="evidence-pack-')
    assert response.streaming
    return b"".join(response.streaming_content)


def rewrite(data: bytes, target: Path, change) -> Path:
    """A copy of the pack with ``change(name, bytes) -> bytes | None`` applied (None drops)."""
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(target, "w") as out:
        for name in src.namelist():
            body = change(name, src.read(name))
            if body is not None:
                out.writestr(name, body)
    return target


def test_release_pack_verifies_offline_and_each_tampering_is_reported(
    auditor, staff, cited_release, signing_key, tmp_path
):
    release, request, letter, directive = cited_release
    assert client_for(staff).get(f"{API}/releases/{release.slug}/evidence-pack/").status_code == 403
    data = fetch_pack(auditor, f"{API}/releases/{release.slug}/evidence-pack/")
    original = tmp_path / "pack.zip"
    original.write_bytes(data)

    with zipfile.ZipFile(original) as archive:
        names = set(archive.namelist())
        manifest = json.loads(archive.read("manifest.json"))
        records = [json.loads(line) for line in archive.read("records.jsonl").splitlines()]
        summary = archive.read("summary.html").decode()
    documents = {f"documents/{letter.pk}-june-26.pdf", f"documents/{directive.pk}-directive.txt"}
    assert names == {"manifest.json", "records.jsonl", "summary.html", *documents}
    assert manifest["subject"] == {"type": "release", "slug": release.slug, "id": release.pk}
    assert manifest["generated_by"] == "audrey"
    assert {f["path"] for f in manifest["files"]} == names - {"manifest.json"}
    assert manifest["checkpoint"].splitlines()[1] == str(manifest["tree_size"])
    models = {r["model"] for r in records}
    assert {"release", "signoff", "allowlistentry", "governmentrequest"} <= models
    assert "evidencedocument" in models
    assert all("inclusion_proof" in r and "hash" in r and "prev_hash" in r for r in records)
    assert manifest["record_seqs"] == [r["seq"] for r in records]
    assert letter.sha256 in summary and "June 26 letter" in summary

    ok = run_verify(original, signing_key)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.startswith("OK ")

    letter_path = f"documents/{letter.pk}-june-26.pdf"

    def flip(name, body):
        if name != letter_path:
            return body
        changed = bytearray(body)
        changed[len(changed) // 2] ^= 0x01
        return bytes(changed)

    flipped = run_verify(rewrite(data, tmp_path / "flipped.zip", flip), signing_key)
    assert flipped.returncode == 1
    assert f"FAIL {letter_path}: does not match the manifest" in flipped.stdout
    assert f"FAIL {letter_path}: not cited by any chained record" in flipped.stdout

    dropped_seq = records[len(records) // 2]["seq"]

    def drop(name, body):
        if name != "records.jsonl":
            return body
        kept = [line for line in body.splitlines() if json.loads(line)["seq"] != dropped_seq]
        return b"\n".join(kept) + b"\n"

    dropped = run_verify(rewrite(data, tmp_path / "dropped.zip", drop), signing_key)
    assert dropped.returncode == 1
    assert "FAIL records.jsonl: does not match the manifest" in dropped.stdout
    assert f"the record with seq {dropped_seq} is missing" in dropped.stdout

    def edit(name, body):
        if name != "records.jsonl":
            return body
        lines = body.splitlines()
        first = json.loads(lines[0])
        first["reason"] = "nothing to see here"
        lines[0] = json.dumps(first, sort_keys=True).encode()
        return b"\n".join(lines) + b"\n"

    edited = run_verify(rewrite(data, tmp_path / "edited.zip", edit), signing_key)
    assert edited.returncode == 1
    assert "(the record was edited)" in edited.stdout

    other_key = notes.generate_key("clearance.test/audit")[1]
    wrong_key = run_verify(original, other_key)
    assert wrong_key.returncode == 1
    assert "checkpoint" in wrong_key.stdout


def test_request_pack_has_the_request_and_its_documents(
    admin_user, cited_release, signing_key, tmp_path
):
    _release, request, _letter, directive = cited_release
    data = fetch_pack(admin_user, f"{API}/requests/{request.pk}/evidence-pack/")
    path = tmp_path / "request.zip"
    path.write_bytes(data)
    with zipfile.ZipFile(path) as archive:
        records = [json.loads(line) for line in archive.read("records.jsonl").splitlines()]
        docs = [n for n in archive.namelist() if n.startswith("documents/")]
    assert docs == [f"documents/{directive.pk}-directive.txt"]
    assert {r["model"] for r in records} == {"governmentrequest", "evidencedocument"}
    result = run_verify(path, signing_key)
    assert result.returncode == 0, result.stdout
    assert client_for(admin_user).get(f"{API}/requests/999999/evidence-pack/").status_code == 404


def test_verify_pack_needs_no_django():
    source = VERIFY_PACK.read_text()
    imports = [line for line in source.splitlines() if line.startswith(("import ", "from "))]
    assert not [line for line in imports if "django" in line or "compliance" in line]
    assert {line.split()[1].split(".")[0] for line in imports} <= {
        "__future__",
        "argparse",
        "base64",
        "hashlib",
        "json",
        "sys",
        "zipfile",
        "cryptography",
    }


@pytest.mark.django_db(transaction=True)
def test_pack_and_download_stream_under_the_asgi_server(
    staff, admin_user, agencies, media, tmp_path
):
    """Under uvicorn (what production runs) the pack and a download are served chunk by
    chunk from an async iterator (Django would read a sync iterator whole), and the pack
    still verifies."""
    private, verifier = notes.generate_key("clearance.test/audit")
    release = factories.make_release(staff, agencies=agencies)
    data = pdf_letter(["Letter served over ASGI"])
    document, _ = upload_evidence(
        actor=staff,
        file=upload("asgi.pdf", data),
        title="ASGI letter",
        kind="agency_letter",
        releases=[release],
    )
    token = issue_token(admin_user)
    server = LiveASGI(TEST_MEDIA_ROOT=str(media), AUDIT_SIGNING_KEY=private).start()
    try:
        for path, check in (
            (f"/api/v1/releases/{release.slug}/evidence-pack/", "application/zip"),
            (f"/api/v1/evidence/{document.pk}/file/", "application/pdf"),
        ):
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
            conn.request("GET", path, headers={"Authorization": f"Token {token}"})
            response = conn.getresponse()
            assert response.status == 200, response.read()[:300]
            assert response.getheader("Content-Type") == check
            body = response.read()
            conn.close()
            if check == "application/pdf":
                assert body == data
                assert response.getheader("X-Content-Type-Options") == "nosniff"
            else:
                assert response.getheader("Transfer-Encoding") == "chunked"
                (tmp_path / "asgi.zip").write_bytes(body)
    finally:
        server.stop()
    result = run_verify(tmp_path / "asgi.zip", verifier)
    assert result.returncode == 0, result.stdout


def test_a_log_that_cannot_sign_answers_503_before_any_byte(auditor, staff, agencies, settings):
    settings.AUDIT_SIGNING_KEY = ""
    release = factories.make_release(staff, agencies=agencies)
    response = client_for(auditor).get(f"{API}/releases/{release.slug}/evidence-pack/")
    assert response.status_code == 503
    assert "AUDIT_SIGNING_KEY" in response.json()["detail"]

"""Pages of the transparency log (R34, R36): the audit page's checkpoint, its cosigners and
the "verify against a checkpoint" form; the admins' witness registry."""

from __future__ import annotations

import re
import time

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from playwright.sync_api import expect

from compliance import services
from compliance.audit import checkpoints, notes
from compliance.models import AuditWitness
from tests import factories
from tests.test_ui_browser import browser, login, site  # noqa: F401  (fixtures)
from tests.transparency_support import forge

pytestmark = pytest.mark.postgres


@pytest.fixture
def log_key(settings):
    private, verifier = notes.generate_key("clearance.test/audit")
    settings.AUDIT_SIGNING_KEY = private
    settings.AUDIT_TSA_URL = ""
    return verifier


def _witness(name="w1.example"):
    private = Ed25519PrivateKey.generate()
    return private, notes.verifier_string(
        name, notes.COSIGNATURE_V1, private.public_key().public_bytes_raw()
    )


def _unique_ids(html: str) -> None:
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


def test_witness_page_registers_and_refuses(client, admin_user, staff, auditor):
    _private, vkey = _witness()
    for user in (staff, auditor):
        client.force_login(user)
        assert client.get("/audit/witnesses/").status_code == 403
    client.force_login(admin_user)
    bad = client.post("/audit/witnesses/", {"name": "w1.example", "verifier_key": "junk"})
    assert bad.status_code == 400 and "Not a cosignature/v1 verifier key" in bad.content.decode()
    assert not AuditWitness.objects.exists()
    page = client.post(
        "/audit/witnesses/", {"name": "w1.example", "verifier_key": vkey}, follow=True
    ).content.decode()
    assert AuditWitness.objects.get().verifier_key == vkey
    assert vkey in page and 'for="id_verifier_key"' in page
    assert "style=" not in page and "<script>" not in page
    _unique_ids(page)


def test_audit_page_shows_the_checkpoint_and_verifies_a_pasted_one(
    client, log_key, auditor, admin_user
):
    client.force_login(auditor)
    assert 'data-testid="checkpoint-none"' in client.get("/audit/").content.decode()
    private, vkey = _witness()
    services.register_witness(actor=admin_user, name="w1.example", verifier_key=vkey)
    for _ in range(4):
        factories.AgencyFactory()
    kept = checkpoints.make_checkpoint()
    line = notes.cosign(checkpoints.checkpoint_body(kept), "w1.example", private, int(time.time()))
    services.add_cosignatures(kept, text=line, actor=auditor)
    html = client.get("/audit/").content.decode()
    assert f'data-testid="checkpoint-size">{kept.tree_size}<' in html
    assert "w1.example" in html and log_key in html
    assert 'for="id_cp-note"' in html and "style=" not in html
    _unique_ids(html)
    done = client.post("/audit/checkpoint/verify/", {"cp-note": kept.note}, follow=True)
    assert "Consistent" in done.content.decode()
    forge(2)
    forked = client.post(
        "/audit/checkpoint/verify/", {"cp-note": kept.note, "cp-verifier_key": log_key}, follow=True
    ).content.decode()
    assert "Fork: the history was rewritten" in forked
    junk = client.post("/audit/checkpoint/verify/", {"cp-note": "junk"}, follow=True)
    assert "Not verified" in junk.content.decode()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_admin_registers_a_witness_and_an_auditor_proves_a_rewrite(login, log_key, settings):  # noqa: F811
    factories.UserFactory(username="ada", role="admin")
    factories.UserFactory(username="audrey", role="auditor")
    for _ in range(3):
        factories.AgencyFactory()
    private, vkey = _witness("w9.example")
    page = login("ada")
    page.goto(page.url + "audit/witnesses/")
    page.get_by_label("Name").fill("w9.example")
    page.get_by_label("Verifier key").fill(vkey)
    page.get_by_role("button", name="Register").click()
    page.get_by_text("Witness w9.example registered.").wait_for()
    kept = checkpoints.make_checkpoint()
    line = notes.cosign(checkpoints.checkpoint_body(kept), "w9.example", private, int(time.time()))
    services.add_cosignatures(kept, text=line, actor=None)

    page = login("audrey")
    page.goto(page.url + "audit/")
    assert page.get_by_test_id("checkpoint-size").inner_text() == str(kept.tree_size)
    assert "w9.example" in page.get_by_test_id("cosigners").inner_text()
    page.get_by_label("Checkpoint note").fill(kept.note)
    page.get_by_test_id("verify-checkpoint").click()
    expect(page.get_by_test_id("checkpoint-result")).to_contain_text("Consistent")
    forge(2)
    page.get_by_label("Checkpoint note").fill(kept.note)
    page.get_by_test_id("verify-checkpoint").click()
    expect(page.get_by_test_id("checkpoint-result")).to_contain_text("Fork")

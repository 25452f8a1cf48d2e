"""R36: witnesses, cosignatures, clients/witness.py; and the rewrite a superuser can hide
from ``verify_audit`` but not from a checkpoint kept outside."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import call_command
from django.core.management.base import CommandError

from compliance.audit import checkpoints, notes, tree
from compliance.audit.verify import verify_chain
from compliance.models import AuditCosignature, AuditRecord, AuditWitness
from compliance.services.users import issue_token
from tests import factories
from tests import transparency_support as rfc
from tests.api_support import API, client_for
from tests.transparency_support import forge

pytestmark = pytest.mark.postgres
WITNESS = Path(__file__).resolve().parent.parent / "clients" / "witness.py"


@pytest.fixture
def log_key(settings):
    private, verifier = notes.generate_key("clearance.test/audit")
    settings.AUDIT_SIGNING_KEY = private
    settings.AUDIT_LOG_ORIGIN = "clearance.test/audit"
    settings.AUDIT_TSA_URL = ""
    return verifier


def witness_key(name: str) -> tuple[Ed25519PrivateKey, str]:
    private = Ed25519PrivateKey.generate()
    vkey = notes.verifier_string(
        name, notes.COSIGNATURE_V1, private.public_key().public_bytes_raw()
    )
    return private, vkey


def _grow(count: int) -> None:
    for _ in range(count):
        factories.AgencyFactory()


def test_admins_register_witnesses_others_cannot(db, admin_user, staff):
    _private, vkey = witness_key("w1.example")
    assert (
        client_for(staff)
        .post(f"{API}/audit/witnesses/", {"name": "w1.example", "verifier_key": vkey})
        .status_code
        == 403
    )
    made = client_for(admin_user).post(
        f"{API}/audit/witnesses/", {"name": "w1.example", "verifier_key": vkey}
    )
    assert made.status_code == 201, made.content
    assert made.json()["name"] == "w1.example" and made.json()["verifier_key"] == vkey
    listed = client_for(staff).get(f"{API}/audit/witnesses/").json()
    assert [w["name"] for w in listed] == ["w1.example"]
    # registering is in the audit history (who, why)
    record = AuditRecord.objects.filter(model="auditwitness").get()
    assert (record.actor, record.reason) == ("ada", "witness w1.example registered")


@pytest.mark.parametrize(
    "body, field",
    [
        ({"name": "w2.example", "verifier_key": "junk"}, "verifier_key"),
        ({"name": "other.example", "verifier_key": None}, "verifier_key"),  # name mismatch
        ({"name": "", "verifier_key": None}, "name"),
        ({"name": "w2.example", "verifier_key": None, "extra": 1}, "extra"),
    ],
)
def test_bad_witness_registration_is_400_and_stores_nothing(db, admin_user, body, field):
    _private, vkey = witness_key("w2.example")
    body = {k: (vkey if v is None else v) for k, v in body.items()}
    response = client_for(admin_user).post(f"{API}/audit/witnesses/", body)
    assert response.status_code == 400 and field in response.json(), response.content
    assert AuditWitness.objects.count() == 0
    # a log (type 0x01) key is not a cosignature/v1 key
    _skey, log_vkey = notes.generate_key("w2.example")
    response = client_for(admin_user).post(
        f"{API}/audit/witnesses/", {"name": "w2.example", "verifier_key": log_vkey}
    )
    assert response.status_code == 400 and "verifier_key" in response.json()


def test_cosignatures_are_verified_kept_and_shown(db, log_key, admin_user, auditor):
    private, vkey = witness_key("w1.example")
    stranger, _ = witness_key("w1.example")  # same name, unregistered key
    client_for(admin_user).post(
        f"{API}/audit/witnesses/", {"name": "w1.example", "verifier_key": vkey}
    )
    _grow(3)
    first = checkpoints.make_checkpoint()
    _grow(2)
    second = checkpoints.make_checkpoint()
    body = checkpoints.checkpoint_body(second)
    now = int(time.time())
    url = f"{API}/audit/checkpoints/{second.tree_size}/cosignatures/"
    client = client_for(auditor)  # any role may post: the signature is the authority

    refused = [
        notes.cosign(body, "w1.example", stranger, now),  # unregistered key
        notes.cosign(checkpoints.checkpoint_body(first), "w1.example", private, now),  # other
        notes.cosign(body, "nobody.example", private, now),  # unregistered name
        notes.cosign(body, "w1.example", private, now + 3600),  # from the future
        "— w1.example AAAA\n",
        "not a signature line",
    ]
    for line in refused:
        response = client.post(url, line, content_type="text/plain")
        assert response.status_code == 400, (line, response.content)
        assert "cosignature" in response.json()
    assert AuditCosignature.objects.count() == 0

    line = notes.cosign(body, "w1.example", private, now)
    response = client.post(url, line, content_type="text/plain")
    assert response.status_code == 201, response.content
    assert response.json()["cosignatures"][0]["witness"] == "w1.example"
    note = client.get(f"{API}/audit/checkpoint/").content.decode()
    text, others = rfc.open_note(note, log_key)
    assert others == [line.rstrip("\n")]
    assert rfc.cosignature_time(others[0], text, vkey) == now
    shown = client.get(f"{API}/audit/checkpoints/{second.tree_size}/").json()
    assert shown["cosignatures"] == [
        {"witness": "w1.example", "time": shown["cosignatures"][0]["time"]}
    ]
    assert shown["cosignatures"][0]["time"].startswith(
        time.strftime("%Y-%m-%dT%H:%M", time.gmtime(now))
    )
    assert shown["note"] == note
    # the whole cosigned note posted again (the log's line included): kept once
    assert client.post(url, note, content_type="text/plain").status_code == 201
    assert AuditCosignature.objects.count() == 1
    # posted again: kept once
    assert client.post(url, line, content_type="text/plain").status_code == 201
    assert AuditCosignature.objects.count() == 1


def _witness(url, token, log_key, key_file, state) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            str(WITNESS),
            "--url",
            url,
            "--token",
            token,
            "--log-key",
            log_key,
            "--key",
            str(key_file),
            "--state",
            str(state),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.django_db(transaction=True)
def test_a_rewrite_hidden_from_verify_audit_is_a_fork_for_checkpoints_and_the_witness(
    live_server, log_key, admin_user, tmp_path
):
    wkey, wvkey = notes.generate_key("witness.test", notes.COSIGNATURE_V1)
    key_file = tmp_path / "witness.key"
    key_file.write_text(wkey + "\n")
    state = tmp_path / "state.json"
    from compliance import services

    services.register_witness(actor=admin_user, name="witness.test", verifier_key=wvkey)
    token = issue_token(factories.UserFactory(username="wit", role="auditor"))
    _grow(5)
    kept = checkpoints.make_checkpoint()  # what an auditor keeps
    kept_file = tmp_path / "kept.note"
    kept_file.write_text(kept.note)

    first = _witness(live_server.url, token, log_key, key_file, state)
    assert first.returncode == 0, first.stderr
    _grow(4)
    checkpoints.make_checkpoint()
    second = _witness(live_server.url, token, log_key, key_file, state)
    assert second.returncode == 0, second.stderr  # a consistency proof from its last one
    assert json.loads(state.read_text())["tree_size"] == tree.ledger_size()
    assert AuditCosignature.objects.count() == 2

    call_command("verify_audit", "--checkpoint", str(kept_file), "--verifier-key", log_key)

    forge(3)
    _grow(1)
    checkpoints.make_checkpoint()  # the log signs the rewritten tree
    # verify_audit alone cannot tell: every hash was recomputed
    assert verify_chain()["ok"] is True
    with pytest.raises(CommandError):
        call_command("verify_audit", "--checkpoint", str(kept_file), "--verifier-key", log_key)
    from compliance.audit.consistency import check_checkpoint

    result = check_checkpoint(kept.note, log_key)
    assert result["ok"] is False and result["problem"] == "fork", result
    before = state.read_text()
    forked = _witness(live_server.url, token, log_key, key_file, state)
    assert forked.returncode == 1, (forked.stdout, forked.stderr)
    assert "FORK" in forked.stderr
    assert state.read_text() == before  # nothing signed, the evidence kept
    assert AuditCosignature.objects.count() == 2

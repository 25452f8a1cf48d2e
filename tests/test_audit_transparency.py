"""R33–R35: the Merkle tree over the ledger, signed checkpoints and proofs, checked against
independent implementations of RFC 9162 and C2SP signed-note (tests/transparency_support)."""

from __future__ import annotations

import base64
import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from compliance.audit import checkpoints, notes, tree
from compliance.models import AuditCheckpoint, AuditRecord, MerkleNode, WebhookDelivery
from tests import factories
from tests import transparency_support as rfc
from tests.api_support import API, client_for

pytestmark = pytest.mark.postgres


@pytest.fixture
def log_key(settings):
    private, verifier = notes.generate_key("clearance.test/audit")
    settings.AUDIT_SIGNING_KEY = private
    settings.AUDIT_LOG_ORIGIN = "clearance.test/audit"
    settings.AUDIT_TSA_URL = ""
    return verifier


def _grow(count: int) -> None:
    for _ in range(count):
        factories.AgencyFactory()


def _leaves() -> list[bytes]:
    return [
        rfc.rfc_leaf(h) for h in AuditRecord.objects.order_by("seq").values_list("hash", flat=True)
    ]


def _b(values: list[str]) -> list[bytes]:
    return [base64.b64decode(v) for v in values]


def test_every_proof_of_a_1_to_70_entry_log_verifies_independently(
    db, django_assert_max_num_queries
):
    """R33, R35: for every size 1..70, every leaf's inclusion proof and every older size's
    consistency proof verify with RFC 9162's own algorithms, against roots computed from the
    ledger by the RFC's recursive definition."""
    _grow(70)
    leaves = _leaves()
    assert len(leaves) == 70
    roots = {n: rfc.rfc_mth(leaves[:n]) for n in range(1, 71)}
    for n in range(1, 71):
        assert tree.root_hash(n) == roots[n]
        for m in range(n):
            proof = tree.inclusion_proof(m + 1, n)
            assert proof["leaf_index"] == m and proof["tree_size"] == n
            assert base64.b64decode(proof["leaf_hash"]) == leaves[m]
            assert rfc.rfc_verify_inclusion(m, n, leaves[m], _b(proof["hashes"]), roots[n])
            # and a wrong root or another leaf does not verify
            assert not rfc.rfc_verify_inclusion(m, n, leaves[m], _b(proof["hashes"]), b"x" * 32)
        for m in range(1, n + 1):
            proof = tree.consistency_proof(m, n)
            assert (proof["from"], proof["to"]) == (m, n)
            assert rfc.rfc_verify_consistency(m, n, roots[m], roots[n], _b(proof["hashes"]))
            if m < n:
                assert not rfc.rfc_verify_consistency(
                    m, n, roots[m], b"y" * 32, _b(proof["hashes"])
                )
    # O(log n) reads: a proof is one query for its nodes, whatever the size.
    with django_assert_max_num_queries(1):
        tree.inclusion_proof(37, 70)
    with django_assert_max_num_queries(1):
        tree.consistency_proof(23, 70)


def test_tree_nodes_are_written_with_the_entry_and_are_append_only(db):
    """R33: each entry adds its leaf and the subtrees it completes in its own transaction."""
    _grow(4)  # leaves 0..3: nodes (0,0..3), (1,0), (1,1), (2,0)
    keys = set(MerkleNode.objects.values_list("key", flat=True))
    expected = {MerkleNode.key_of(0, i) for i in range(4)}
    expected |= {MerkleNode.key_of(1, 0), MerkleNode.key_of(1, 1), MerkleNode.key_of(2, 0)}
    assert expected <= keys
    assert tree.stored_size() == tree.ledger_size()


def test_a_tree_behind_the_ledger_catches_up(db):
    """Entries written without the tree (a database from before it, a bulk path) get their
    leaves on the next append, and the roots are the RFC's."""
    _grow(9)
    from django.db import connection

    from tests.audit_helpers import triggers_disabled

    with triggers_disabled(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM compliance_merklenode WHERE key >= 0")
    assert tree.stored_size() == 0
    _grow(1)
    leaves = _leaves()
    assert tree.stored_size() == len(leaves)
    assert tree.root_hash(len(leaves)) == rfc.rfc_mth(leaves)


def test_checkpoint_is_a_c2sp_signed_note(db, log_key, settings):
    """R34: origin, size, base64 root, a blank line and the log's Ed25519 signature line,
    verified by an independent reading of C2SP signed-note; signed once per size."""
    _grow(5)
    checkpoint = checkpoints.make_checkpoint()
    assert checkpoint is not None
    text, others = rfc.open_note(checkpoint.note, log_key)
    assert others == []
    origin, size, root = rfc.checkpoint_fields(text)
    assert (origin, size) == ("clearance.test/audit", tree.ledger_size())
    assert root == rfc.rfc_mth(_leaves())
    assert checkpoints.make_checkpoint() is None  # the tree did not grow
    _grow(1)
    assert checkpoints.make_checkpoint().tree_size == size + 1
    assert AuditCheckpoint.objects.count() == 2
    # The verifier key the API and the command hand out is the key's.
    assert checkpoints.verifier_key() == log_key


def test_checkpoint_fires_the_webhook_event(db, log_key, admin_user, settings):
    from compliance import services
    from compliance.notifications import webhooks

    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    services.create_webhook(
        actor=admin_user, url="http://127.0.0.1:9/hook", events=["audit.checkpoint"]
    )
    checkpoint = checkpoints.make_checkpoint()
    webhooks.fan_out_pending()  # as the worker does after commit
    delivery = WebhookDelivery.objects.get(event="audit.checkpoint")
    assert delivery.payload["data"]["tree_size"] == checkpoint.tree_size
    assert delivery.payload["data"]["note"] == checkpoint.note


def test_commands_keygen_and_checkpoint(db, settings, capsys):
    call_command("audit_keygen", "cmd.test/log")
    private, verifier = capsys.readouterr().out.strip().split("\n")
    assert private.startswith("PRIVATE+KEY+cmd.test/log+")
    assert notes.parse_private_key(private).verifier == notes.parse_verifier_key(verifier)
    settings.AUDIT_SIGNING_KEY = private
    _grow(3)
    call_command("audit_checkpoint")
    note = capsys.readouterr().out
    text, _ = rfc.open_note(note, verifier)
    assert rfc.checkpoint_fields(text)[1] == tree.ledger_size()


def test_checkpoint_and_proof_endpoints(db, log_key, staff, auditor):
    _grow(6)
    checkpoint = checkpoints.make_checkpoint()
    size = checkpoint.tree_size
    for user in (staff, auditor):
        client = client_for(user)
        latest = client.get(f"{API}/audit/checkpoint/", HTTP_ACCEPT="text/plain")
        assert latest.status_code == 200 and latest["Content-Type"].startswith("text/plain")
        rfc.open_note(latest.content.decode(), log_key)
        key = client.get(f"{API}/audit/verifier-key/")
        assert key.status_code == 200 and key.content.decode().strip() == log_key
        body = client.get(f"{API}/audit/checkpoints/{size}/").json()
        assert set(body) == {
            "tree_size",
            "root_hash",
            "note",
            "created_at",
            "timestamp_token",
            "cosignatures",
        }
        assert body["tree_size"] == size and body["timestamp_token"] is None
        assert body["cosignatures"] == []
        assert base64.b64decode(body["root_hash"]) == rfc.rfc_mth(_leaves()[:size])
        proof = client.get(f"{API}/audit/proof/inclusion/?seq=2&tree_size={size}").json()
        assert set(proof) == {"leaf_index", "tree_size", "leaf_hash", "hashes"}
        assert rfc.rfc_verify_inclusion(
            1,
            size,
            base64.b64decode(proof["leaf_hash"]),
            _b(proof["hashes"]),
            base64.b64decode(body["root_hash"]),
        )
        consistency = client.get(f"{API}/audit/proof/consistency/?from=3&to={size}").json()
        assert set(consistency) == {"from", "to", "hashes"}
    assert client_for(None).get(f"{API}/audit/checkpoint/").status_code in (401, 403)
    assert client_for(staff).get(f"{API}/audit/checkpoints/x1/").status_code == 404
    assert client_for(staff).get(f"{API}/audit/checkpoints/{size + 100}/").status_code == 404


@pytest.mark.parametrize(
    "query, field",
    [
        ("inclusion/?seq=0&tree_size=3", "seq"),
        ("inclusion/?seq=4&tree_size=3", "seq"),
        ("inclusion/?seq=1&tree_size=999999", "tree_size"),
        ("inclusion/?seq=x&tree_size=3", "seq"),
        ("inclusion/?tree_size=3", "seq"),
        ("inclusion/?seq=1&tree_size=", "tree_size"),
        ("consistency/?from=4&to=3", "from"),
        ("consistency/?from=0&to=3", "from"),
        ("consistency/?from=1&to=999999", "to"),
        ("consistency/?from=1&to=3.5", "to"),
        ("consistency/?from=%00&to=3", "from"),
        # Beyond what the tree can hold: leaf 2**48's key is the key of node (1, 0).
        ("inclusion/?seq=1&tree_size=281474976710657", "tree_size"),
        ("consistency/?from=2&to=281474976710657", "to"),
        ("inclusion/?seq=1&tree_size=18446744073709551616", "tree_size"),
        ("consistency/?from=1&to=99999999999999999999999", "to"),
    ],
)
def test_bad_proof_requests_are_400s(db, staff, query, field):
    _grow(3)
    before = MerkleNode.objects.count()
    response = client_for(staff).get(f"{API}/audit/proof/{query}")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert MerkleNode.objects.count() == before


def _verify(*args) -> dict:
    out = io.StringIO()
    try:
        call_command("verify_audit", *args, stdout=out)
    except CommandError:
        pass
    return json.loads(out.getvalue())


def test_since_checkpoint_walks_only_new_entries_and_sees_rewrites(db, log_key):
    """Item 6: the first run has nothing verified (whole ledger), then only what was
    appended after the last verified checkpoint is walked; a rewrite before it changes the
    stored subtrees (a fork), one after it gives another root than the later checkpoint."""
    _grow(5)
    checkpoints.make_checkpoint()
    first = _verify("--since-checkpoint")
    assert first["ok"] and first["since"] == 0 and first["checked"] == 5
    _grow(3)
    checkpoints.make_checkpoint()
    size = tree.ledger_size()
    second = _verify("--since-checkpoint")
    assert second["ok"] and second["since"] == 5 and second["checked"] == size - 5
    assert second["checkpoint"]["verified"] == size
    _grow(2)
    checkpoints.make_checkpoint()
    rfc.forge(size + 1)  # after the verified checkpoint, before the latest: its root breaks
    after = _verify("--since-checkpoint")
    assert after["ok"] is False and after["checkpoint"]["problem"] == "fork", after


def test_since_checkpoint_sees_a_rewrite_before_the_checkpoint(db, log_key):
    _grow(6)
    checkpoints.make_checkpoint()
    assert _verify("--since-checkpoint")["ok"]
    rfc.forge(2)
    result = _verify("--since-checkpoint")
    assert result["ok"] is False and result["checkpoint"]["problem"] == "fork", result


def test_verify_endpoint_reports_the_latest_checkpoint(db, log_key, auditor):
    _grow(4)
    client = client_for(auditor)
    assert set(client.get(f"{API}/audit/verify/").json()) == {"ok", "checked", "broken"}
    checkpoints.make_checkpoint()
    body = client.get(f"{API}/audit/verify/").json()
    assert body["ok"] is True and body["checkpoint"]["ok"] is True
    assert body["checkpoint"]["checkpoint_size"] == tree.ledger_size()
    rfc.forge(2)
    body = client.get(f"{API}/audit/verify/").json()
    assert body["ok"] is False and body["checkpoint"]["problem"] == "fork"


@pytest.fixture(scope="session")
def authority():
    from tests.tsa_support import Authority

    tsa = Authority()
    yield tsa
    tsa.close()


def test_checkpoints_are_timestamped_by_the_rfc3161_authority(
    db, log_key, settings, authority, staff
):
    """R34: with AUDIT_TSA_URL, each checkpoint carries a TimeStampToken over its signed
    note that OpenSSL verifies against the authority's CA; without an answer, no checkpoint."""
    settings.AUDIT_TSA_URL = authority.url
    _grow(3)
    checkpoint = checkpoints.make_checkpoint()
    token = bytes(checkpoint.timestamp_token)
    assert "Verification: OK" in authority.verify(checkpoint.note.encode(), token)
    with pytest.raises(RuntimeError):  # a token over other data does not verify
        authority.verify(checkpoint.note.encode() + b"x", token)
    body = client_for(staff).get(f"{API}/audit/checkpoints/{checkpoint.tree_size}/").json()
    assert base64.b64decode(body["timestamp_token"]) == token
    settings.AUDIT_TSA_URL = "http://127.0.0.1:9/tsr"  # nothing listens: fail closed
    _grow(1)
    with pytest.raises(checkpoints.CheckpointError):
        checkpoints.make_checkpoint()
    assert AuditCheckpoint.objects.count() == 1


def test_the_key_file_fallback_signs_when_no_key_is_set(db, settings, tmp_path):
    """`make run` writes var/audit-signing.key (audit_keygen --output): used when
    AUDIT_SIGNING_KEY is empty; with neither, checkpoints are refused, not unsigned."""
    settings.AUDIT_SIGNING_KEY = ""
    settings.AUDIT_SIGNING_KEY_FILE = str(tmp_path / "missing.key")
    _grow(1)
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured):
        checkpoints.make_checkpoint()
    with pytest.raises(CommandError):
        call_command("audit_checkpoint")
    key_file = tmp_path / "audit-signing.key"
    call_command("audit_keygen", "file.test/log", "--output", str(key_file), stdout=io.StringIO())
    settings.AUDIT_SIGNING_KEY_FILE = str(key_file)
    verifier = key_file.read_text().splitlines()[1]
    rfc.open_note(checkpoints.make_checkpoint().note, verifier)
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"


def test_the_first_checkpoint_is_signed_on_demand(db, log_key, staff, settings):
    """Before beat's first period a fresh server still answers GET /audit/checkpoint/;
    without a key (or entries) it is a 404, never an unsigned note."""
    client = client_for(staff)
    settings.AUDIT_SIGNING_KEY = ""
    settings.AUDIT_SIGNING_KEY_FILE = "/nonexistent/key"
    assert client.get(f"{API}/audit/checkpoint/").status_code == 404
    assert client.get(f"{API}/audit/verifier-key/").status_code == 404
    assert not AuditCheckpoint.objects.exists()
    settings.AUDIT_SIGNING_KEY = notes.generate_key("demand.test/log")[0]
    note = client.get(f"{API}/audit/checkpoint/").content.decode()
    verifier = client.get(f"{API}/audit/verifier-key/").content.decode().strip()
    text, _ = rfc.open_note(note, verifier)
    assert (
        rfc.checkpoint_fields(text)[1]
        == tree.ledger_size()
        == AuditCheckpoint.objects.get().tree_size
    )


def test_beat_signs_a_checkpoint_every_period_when_the_tree_grew(db, log_key, settings):
    from compliance import tasks
    from config.celery import app

    app.finalize()
    entry = next(
        e for e in app.conf.beat_schedule.values() if e["task"].endswith("audit_checkpoint")
    )
    assert entry["schedule"] == settings.AUDIT_CHECKPOINT_MINUTES * 60
    _grow(2)
    size = tasks.audit_checkpoint.delay().get()
    assert size == tree.ledger_size()
    assert tasks.audit_checkpoint.delay().get() is None  # not grown: nothing signed

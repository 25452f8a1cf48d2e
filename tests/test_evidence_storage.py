"""R37 storage: the bytes live in Django's default storage, a folder or an S3-compatible
bucket (django-storages, against a real S3 server started here: moto's standalone server in
its own process). Changed or missing bytes are reported by verify_audit (R23)."""

from __future__ import annotations

import hashlib
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.base import CommandError

from compliance.audit.verify import verify_chain
from compliance.services.evidence import upload_evidence
from tests.api_support import API, client_for
from tests.asgi_support import free_port
from tests.evidence_support import ALLOWED, upload

pytestmark = pytest.mark.postgres

BUCKET = "clearance-evidence"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@pytest.fixture(scope="session")
def s3_server():
    """An S3-compatible HTTP server in its own process (moto_server), for the whole session."""
    port = free_port()
    binary = Path(sys.executable).with_name("moto_server")
    proc = subprocess.Popen(
        [str(binary), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError("moto_server did not start") from None
            time.sleep(0.1)
    yield url
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def bucket(s3_server, settings):
    client = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1", **CREDENTIALS)
    client.create_bucket(Bucket=BUCKET)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": BUCKET,
                "endpoint_url": s3_server,
                "region_name": "us-east-1",
                "access_key": "testing",
                "secret_key": "testing",
                "location": "evidence-test",
                "file_overwrite": False,
                "default_acl": None,
            },
        },
    }
    yield client
    for obj in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=obj["Key"])
    client.delete_bucket(Bucket=BUCKET)


def _upload(actor, name="letter.pdf"):
    data = ALLOWED[name][0]()
    document, created = upload_evidence(
        actor=actor, file=upload(name, data), title="June 26 letter", kind="agency_letter"
    )
    assert created
    return document, data


def test_folder_bytes_changed_on_disk_are_reported(staff, media):
    document, data = _upload(staff)
    assert verify_chain()["ok"] is True
    path = media / document.file.name
    assert path.read_bytes() == data
    tampered = bytearray(data)
    tampered[20] ^= 0x01
    path.write_bytes(bytes(tampered))
    result = verify_chain()
    assert result["ok"] is False
    broken = result["broken"]
    assert (broken["kind"], broken["problem"], broken["object_id"]) == (
        "evidence",
        "evidence_mismatch",
        str(document.pk),
    )
    assert hashlib.sha256(tampered).hexdigest() in broken["detail"]
    assert broken["seq"] is not None
    with pytest.raises(CommandError):
        call_command("verify_audit", stdout=open("/dev/null", "w"))  # noqa: SIM115
    path.unlink()
    assert verify_chain()["broken"]["problem"] == "evidence_missing"


def test_bucket_storage_upload_download_and_changed_bytes(staff, auditor, bucket):
    document, data = _upload(staff, "scan.png")
    key = f"evidence-test/{document.file.name}"
    stored = bucket.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert stored == data
    assert default_storage.exists(document.file.name)
    response = client_for(auditor).get(f"{API}/evidence/{document.pk}/file/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == data
    assert response["Content-Type"] == "image/png"
    assert verify_chain()["ok"] is True

    # The same bytes again: the existing document, nothing new in the bucket.
    again, created = upload_evidence(
        actor=staff, file=upload("copy.png", data), title="Copy", kind="other"
    )
    assert (again.pk, created) == (document.pk, False)
    assert bucket.list_objects_v2(Bucket=BUCKET)["KeyCount"] == 1

    bucket.put_object(Bucket=BUCKET, Key=key, Body=data + b"tampered")
    result = verify_chain()
    assert result["ok"] is False
    assert result["broken"]["kind"] == "evidence"
    assert result["broken"]["problem"] == "evidence_mismatch"
    bucket.delete_object(Bucket=BUCKET, Key=key)
    assert verify_chain()["broken"]["problem"] == "evidence_missing"
    json.dumps(result)  # the API and the command print it as JSON


def test_evidence_s3_bucket_setting_selects_s3_storage(s3_server):
    """EVIDENCE_S3_BUCKET (+ AWS_*) in the environment: default storage is django-storages' S3
    backend on that endpoint; without it, the folder MEDIA_ROOT."""
    code = (
        "import django, json; django.setup();"
        "from django.core.files.storage import default_storage as s; s._setup();"
        "w = s._wrapped;"
        "print(json.dumps([type(w).__name__, getattr(w, 'bucket_name', None),"
        " getattr(w, 'endpoint_url', None), str(getattr(w, 'location', ''))]))"
    )
    base = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SECRET_KEY": "x",
        "MEDIA_ROOT": "/tmp/clearance-media-check",
    }
    root = Path(__file__).resolve().parent.parent
    s3 = subprocess.run(
        [sys.executable, "-c", code],
        env={
            **base,
            "EVIDENCE_S3_BUCKET": BUCKET,
            "AWS_S3_ENDPOINT_URL": s3_server,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        },
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(s3.stdout.splitlines()[-1]) == ["S3Storage", BUCKET, s3_server, "evidence"]
    folder = subprocess.run(
        [sys.executable, "-c", code], env=base, cwd=root, capture_output=True, text=True, check=True
    )
    assert json.loads(folder.stdout.splitlines()[-1])[0] == "FileSystemStorage"
    assert json.loads(folder.stdout.splitlines()[-1])[3] == "/tmp/clearance-media-check"

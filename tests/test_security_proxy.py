"""Behind a TLS-terminating proxy (issue 13 defect 11): SECURE_PROXY_SSL_HEADER comes from the
environment (off by default), so HSTS is sent and SECURE_SSL_REDIRECT does not loop."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from django.test import override_settings

ROOT = Path(__file__).resolve().parent.parent
PROXY = ("HTTP_X_FORWARDED_PROTO", "https")


def production_setting(name: str, **env: str) -> str:
    """The value of a setting as config.settings computes it in a fresh process."""
    code = f"from django.conf import settings; print(repr(settings.{name}))"
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DEBUG": "0",
            "SECRET_KEY": "x" * 50,
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()


def test_proxy_ssl_header_comes_from_the_environment_and_is_off_by_default():
    assert production_setting("SECURE_PROXY_SSL_HEADER") == "None"
    assert production_setting(
        "SECURE_PROXY_SSL_HEADER", SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto"
    ) == repr(PROXY)


@override_settings(
    SECURE_SSL_REDIRECT=True, SECURE_HSTS_SECONDS=3600, SECURE_PROXY_SSL_HEADER=PROXY
)
def test_behind_the_proxy_https_is_recognised_hsts_sent_and_no_redirect_loop(client):
    response = client.get("/login/", HTTP_X_FORWARDED_PROTO="https")
    assert response.status_code == 200
    assert response["Strict-Transport-Security"].startswith("max-age=3600")
    plain = client.get("/login/")  # the proxy says it was plain HTTP: redirect once
    assert plain.status_code == 301
    assert plain["Location"] == "https://testserver/login/"


@override_settings(SECURE_SSL_REDIRECT=True, SECURE_HSTS_SECONDS=3600, SECURE_PROXY_SSL_HEADER=None)
def test_without_the_setting_a_client_cannot_claim_https(client):
    response = client.get("/login/", HTTP_X_FORWARDED_PROTO="https")
    assert response.status_code == 301  # the header is not trusted
    assert "Strict-Transport-Security" not in response

"""A real OpenID provider for the single sign-on tests: panva's certified ``oidc-provider``
(tests/oidc/provider.mjs) run with the machine's Node.js, its users in a JSON file that it
reads at every lookup, so a test changes someone's groups at the provider mid-test."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.asgi_support import free_port

OIDC_DIR = Path(__file__).resolve().parent / "oidc"
CLIENT_ID = "clearance-tests"
CLIENT_SECRET = "clearance-tests-client-secret-0123456789"
PROVIDER_NAME = "Test IdP"
ROLE_MAP = {"idp-admins": "admin", "idp-compliance": "staff", "idp-audit": "auditor"}


class TestProvider:
    """One running provider process; ``set_user`` writes what it answers for a login."""

    __test__ = False  # not a test class

    def __init__(self, folder: Path, site_url: str) -> None:
        node = shutil.which("node")
        if node is None or not (OIDC_DIR / "node_modules" / "oidc-provider").is_dir():
            # Never a silent skip: .ci/run installs both (npm ci --prefix tests/oidc).
            pytest.fail(
                "the single sign-on tests need Node.js and tests/oidc/node_modules: "
                "run `npm ci --prefix tests/oidc` (.ci/run does)"
            )
        self.users_path = folder / "users.json"
        self.users: dict[str, dict] = {}
        self._write()
        config = {
            "clients": [
                {
                    "client_id": CLIENT_ID,
                    "client_secret": CLIENT_SECRET,
                    "redirect_uris": [f"{site_url}/auth/oidc/callback/"],
                    "post_logout_redirect_uris": [f"{site_url}/login/"],
                }
            ],
            "users": str(self.users_path),
        }
        config_path = folder / "provider.json"
        config_path.write_text(json.dumps(config))
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.log_path = folder / "provider.log"
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [node, str(OIDC_DIR / "provider.mjs"), str(self.port), str(config_path)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "NODE_ENV": "test"},
        )
        self._wait_ready()

    def _wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            if f"ready {self.issuer}" in self.log_path.read_text():
                return
            time.sleep(0.1)
        self.stop()
        pytest.fail(f"the OpenID provider did not start: {self.log_path.read_text()[-2000:]}")

    def _write(self) -> None:
        tmp = self.users_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.users))
        tmp.replace(self.users_path)  # the provider never reads half a file

    def set_user(self, login: str, *, groups: list[str], email: str | None = None, **claims):
        self.users[login] = {"groups": groups, "preferred_username": login, **claims}
        if email is not None:
            self.users[login]["email"] = email
        self._write()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()

    def settings_for(self, settings, site_url: str) -> None:
        """Point Clearance (the pytest-django ``settings`` fixture) at this provider."""
        settings.OIDC_ISSUER = self.issuer
        settings.OIDC_CLIENT_ID = CLIENT_ID
        settings.OIDC_CLIENT_SECRET = CLIENT_SECRET
        settings.OIDC_PROVIDER_NAME = PROVIDER_NAME
        settings.OIDC_ROLE_CLAIM = "groups"
        settings.OIDC_ROLE_MAP = dict(ROLE_MAP)
        settings.OIDC_ONLY = False
        settings.SITE_URL = site_url

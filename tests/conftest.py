"""Shared fixtures. Tests that need PostgreSQL, Redis or Chromium carry a marker; without the
service they are skipped on a developer machine but fail the run under CI=true."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests import factories

CI = os.environ.get("CI", "").lower() == "true"
CHROMIUM = "/usr/bin/chromium"
# axe-core from npm (tests/axe/package.json), installed by `npm ci --prefix tests/axe`.
AXE = Path(__file__).resolve().parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _port_open(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection(
            (parsed.hostname or "127.0.0.1", parsed.port or default_port), 1
        ):
            return True
    except OSError:
        return False


def _missing_services() -> dict[str, str]:
    from django.conf import settings

    missing = {}
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        missing["postgres"] = "PostgreSQL (DATABASE_URL is not a postgres:// URL)"
    if not _port_open(TEST_REDIS_URL, 6379):
        missing["redis"] = f"Redis at {TEST_REDIS_URL}"
    if not os.access(CHROMIUM, os.X_OK):
        missing["browser"] = f"Chromium at {CHROMIUM}"
    if not AXE.exists():
        missing["axe"] = f"axe-core at {AXE} (npm ci --prefix tests/axe)"
    return missing


@pytest.hookimpl(trylast=True)  # after -m has deselected what this run does not need
def pytest_collection_modifyitems(config, items):
    missing = _missing_services()
    needed = {m: why for m, why in missing.items() if any(m in i.keywords for i in items)}
    if not needed:
        return
    if CI:
        raise pytest.UsageError(
            "CI=true but tests need services that are missing: " + "; ".join(needed.values())
        )
    for item in items:
        for marker, why in needed.items():
            if marker in item.keywords:
                item.add_marker(pytest.mark.skip(reason=f"needs {why}"))


@pytest.fixture
def agencies(db):
    """The four agencies of the demo scenario, in code order."""
    return [
        factories.AgencyFactory(code=code, name=name)
        for code, name in [
            ("CAISI", "Center for AI Standards and Innovation"),
            ("DOC", "Department of Commerce"),
            ("ONCD", "Office of the National Cyber Director"),
            ("OSTP", "Office of Science and Technology Policy"),
        ]
    ]


@pytest.fixture
def staff(db):
    return factories.UserFactory(username="sam", role="staff")


@pytest.fixture
def staff2(db):
    return factories.UserFactory(username="sasha", role="staff")


@pytest.fixture
def admin_user(db):
    return factories.UserFactory(username="ada", role="admin")


@pytest.fixture
def admin2(db):
    return factories.UserFactory(username="alan", role="admin")


@pytest.fixture
def auditor(db):
    return factories.UserFactory(username="audrey", role="auditor")


@pytest.fixture
def media(settings, tmp_path):
    """R37: evidence stored in a folder of this test (Django resets its storages on the change)."""
    root = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(root)},
        },
    }
    return root

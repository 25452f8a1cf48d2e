"""Shared fixtures. Tests that need PostgreSQL, Redis or Chromium carry a marker; without the
service they are skipped on a developer machine but fail the run under CI=true."""

from __future__ import annotations

import os
import socket
from urllib.parse import urlparse

import pytest

from tests import factories

CI = os.environ.get("CI", "").lower() == "true"
CHROMIUM = "/usr/bin/chromium"
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


@pytest.fixture(scope="session", autouse=True)
def _no_untracked_writes_in_app_code():
    """QuerySet.update()/bulk_create()/bulk_update() on a model with history writes no
    history row (R21). Application code must never do it: in tests such a call from
    ``compliance/`` raises. (Tests themselves may still use them to arrange data.)"""
    from django.db.models import QuerySet

    originals = {name: getattr(QuerySet, name) for name in UNTRACKED_WRITES}

    def guarded(name):
        def method(self, *args, **kwargs):
            if _is_tracked(self.model) and _called_from_app():
                raise AssertionError(
                    f"QuerySet.{name}() on {self.model.__name__} leaves no history (R21): "
                    "save through a service instead"
                )
            return originals[name](self, *args, **kwargs)

        return method

    for name in UNTRACKED_WRITES:
        setattr(QuerySet, name, guarded(name))
    yield
    for name, method in originals.items():
        setattr(QuerySet, name, method)


UNTRACKED_WRITES = ("update", "bulk_create", "bulk_update")
# simple-history's bulk helpers: the write and its history rows together (seed_scale uses them).
HISTORY_WRITING_HELPERS = ("bulk_create_with_history", "bulk_update_with_history")
APP_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "compliance")


def _is_tracked(model) -> bool:
    return bool(getattr(model._meta, "simple_history_manager_attribute", None))


def _called_from_app() -> bool:
    import sys

    frame = sys._getframe(2)
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename.startswith(APP_DIR + os.sep):
            return True
        library = (
            "site-packages" in filename
            or filename.startswith(sys.base_prefix)
            or filename.startswith("<frozen")
        )
        if not library:
            return False  # the first caller outside libraries is not app code
        if frame.f_code.co_name in HISTORY_WRITING_HELPERS and "simple_history" in filename:
            return False  # simple-history's bulk helpers write the history rows themselves
        frame = frame.f_back
    return False


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

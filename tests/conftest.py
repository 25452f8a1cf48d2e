"""Shared fixtures. Tests that need PostgreSQL, Redis or Chromium carry a marker; without the
service they are skipped on a developer machine but fail the run under CI=true."""

from __future__ import annotations

import logging
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
# Under pytest-xdist (``-n 2``) each worker gets its own number: gw0 the base, gw1 the base
# plus one, and so on (Redis has 16 databases, 0-15: past 15 the numbers count down from the
# base instead), so no worker's flushdb or queue reaches another's.
BASE_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")


def worker_index() -> int:
    """This xdist worker's number (gw0 is 0); 0 outside xdist."""
    return int(XDIST_WORKER[2:]) if XDIST_WORKER.startswith("gw") else 0


def redis_url_for_worker(base: str, index: int) -> str:
    parsed = urlparse(base)
    number = int(parsed.path.strip("/") or 0)
    number = number + index if number + index <= 15 else number - index
    if not 0 <= number <= 15:
        raise pytest.UsageError(f"no Redis database number left for xdist worker {index}")
    return parsed._replace(path=f"/{number}").geturl()


TEST_REDIS_URL = redis_url_for_worker(BASE_REDIS_URL, worker_index())


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
        message = "CI=true but tests need services that are missing: " + "; ".join(needed.values())
        if not XDIST_WORKER:
            raise pytest.UsageError(message)
        # An xdist worker's UsageError reaches the controller as a bare crash (INTERNALERROR,
        # exit 3, the reason lost): fail every test that needs a missing service instead,
        # with the reason, and stop the worker at the first.
        config.stash[MISSING_SERVICES] = (message, tuple(needed))
        return
    for item in items:
        for marker, why in needed.items():
            if marker in item.keywords:
                item.add_marker(pytest.mark.skip(reason=f"needs {why}"))


# Under xdist the controller migrates one test database, and each worker's test database is
# made from it (PostgreSQL's CREATE DATABASE … TEMPLATE: a file copy; the worker's migrate then
# finds every migration applied): the migrations run once a run instead of once a worker.
TEST_DB_TEMPLATE = "CLEARANCE_TEST_DB_TEMPLATE"  # read by config/test_settings.py
TEMPLATE_DB = pytest.StashKey[str]()


def _xdist_controller(config) -> bool:
    return not hasattr(config, "workerinput") and bool(getattr(config.option, "numprocesses", 0))


@pytest.hookimpl(tryfirst=True)  # before xdist starts the workers (its hook is trylast)
def pytest_sessionstart(session):
    config = session.config
    if not _xdist_controller(config) or config.option.reuse_db:
        return
    from django.conf import settings
    from django.db import connections
    from pytest_django.plugin import blocking_manager_key

    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        return
    connection = connections["default"]
    original = connection.settings_dict["NAME"]
    with config.stash[blocking_manager_key].unblock():
        name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
        connection.close()  # a template has no session open while it is copied
    config.stash[TEMPLATE_DB] = original
    os.environ[TEST_DB_TEMPLATE] = name


def pytest_sessionfinish(session):
    config = session.config
    if TEMPLATE_DB not in config.stash or not _xdist_controller(config):
        return
    from django.db import connections
    from pytest_django.plugin import blocking_manager_key

    with config.stash[blocking_manager_key].unblock():
        connections["default"].creation.destroy_test_db(config.stash[TEMPLATE_DB], verbosity=0)
    os.environ.pop(TEST_DB_TEMPLATE, None)


@pytest.fixture(autouse=True)
def _root_logger_restored():
    """Celery's test worker (celery.contrib.testing.worker.start_worker) sets the root logger
    to ERROR and replaces its handlers, for the rest of the process: afterwards no WARNING
    reaches ``caplog``. Serially the tests that read warnings ran before the worker's; under
    xdist a worker may run them after it. Each test gets the root logger back as it found it."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield
    root.setLevel(level)
    root.handlers[:] = handlers


MISSING_SERVICES = pytest.StashKey[tuple[str, tuple[str, ...]]]()


def pytest_runtest_setup(item):
    message, markers = item.config.stash.get(MISSING_SERVICES, ("", ()))
    if any(marker in item.keywords for marker in markers):
        item.session.shouldstop = message
        pytest.fail(message, pytrace=False)


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

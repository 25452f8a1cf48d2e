"""Settings for pytest: production settings, with a throwaway secret and fast hashing."""

import os
import tempfile

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production")
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
# A test suite logs in (POST /api/v1/auth/token/) far more often than 20 times a minute from
# one address; throttling itself is tested on purpose, with its own rate (monkeypatched).
os.environ.setdefault("TOKEN_THROTTLE_RATE", "100000/min")
# The embedded Celery broker's folder (kombu's filesystem transport): one per test process, not
# the project's var/broker. An xdist worker inherits the environment of the pytest process that
# started it, so a folder made for another process (CLEARANCE_TEST_BROKER_FOR) is not reused;
# a live server a test starts inherits its worker's folder and shares it, as it should.
_process = os.environ.get("PYTEST_XDIST_WORKER", "main")
_made_for = os.environ.get("CLEARANCE_TEST_BROKER_FOR")
if not os.environ.get("CELERY_BROKER_FOLDER") or _made_for not in (None, _process):
    os.environ["CELERY_BROKER_FOLDER"] = tempfile.mkdtemp(prefix=f"clearance-broker-{_process}-")
    os.environ["CLEARANCE_TEST_BROKER_FOR"] = _process

from config.settings import *  # noqa: E402,F403

# The test run's flush, past the append-only triggers (tests/suite_app).
INSTALLED_APPS = ["tests.suite_app", *INSTALLED_APPS]  # noqa: F405
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CELERY_TASK_ALWAYS_EAGER = True
# Login throttling is tested on purpose (with override_settings); elsewhere it would only
# make `client.login` require a request object.
AXES_ENABLED = False
# Under pytest-xdist each worker's test database is a copy of the one the controller migrated
# (tests/conftest.py sets the variable only then; the worker's migrate finds nothing to do).
if os.environ.get("CLEARANCE_TEST_DB_TEMPLATE"):
    DATABASES["default"].setdefault("TEST", {})["TEMPLATE"] = os.environ[  # noqa: F405
        "CLEARANCE_TEST_DB_TEMPLATE"
    ]
# Tests open connections in threads and live servers: close them as Django's default does.
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
# The pytest process itself never pools (the test database's creation and each test's
# transaction work on its own connections); a live ASGI server a test starts pools as
# production's does (tests/asgi_support.py sets DB_POOL and CLEARANCE_LIVE_SERVER for it).
if os.environ.get("CLEARANCE_LIVE_SERVER") != "1":
    DATABASES["default"].get("OPTIONS", {}).pop("pool", None)  # noqa: F405
# Evidence files (R37) of a test run go to a throwaway folder, never the project's var/media
# (tests that look at the files set their own folder: the ``media`` fixture).
# A live server subprocess (uvicorn) is given its test's folder through TEST_MEDIA_ROOT.
MEDIA_ROOT = os.environ.get("TEST_MEDIA_ROOT") or tempfile.mkdtemp(prefix="clearance-test-media-")
STORAGES = {
    **STORAGES,  # noqa: F405
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT},
    },
}

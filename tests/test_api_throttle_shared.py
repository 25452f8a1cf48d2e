"""The token throttle is one limit for every worker process (issue 13 defect 5): its counters
live in the shared cache (Redis with REDIS_URL, else the database), not in each process's
memory. Two real processes take turns against one 3/min limit; with a per-process cache
(LocMem) each would be allowed 3."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.db import connection

from tests.conftest import TEST_REDIS_URL

ROOT = Path(__file__).resolve().parent.parent

WORKER = """
import json, sys
import django
django.setup()
from django.test import RequestFactory
from rest_framework.request import Request
from rest_framework.throttling import ScopedRateThrottle
from compliance.api.views import ClientAddressRateThrottle, TokenView

ScopedRateThrottle.THROTTLE_RATES = {"token": "3/min"}
address, tries = sys.argv[1], int(sys.argv[2])
allowed = []
for _ in range(tries):
    request = Request(RequestFactory().post("/api/v1/auth/token/", REMOTE_ADDR=address))
    allowed.append(ClientAddressRateThrottle().allow_request(request, TokenView()))
print(json.dumps(allowed))
"""


def worker(env: dict, address: str, tries: int) -> list[bool]:
    done = subprocess.run(
        [sys.executable, "-c", WORKER, address, str(tries)],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.test_settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def two_workers_share_one_limit(env: dict) -> None:
    address = f"198.18.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    assert worker(env, address, 2) == [True, True]
    assert worker(env, address, 2) == [True, False]  # the other process's two count


@pytest.mark.postgres
def test_database_cache_is_shared_by_processes(db):
    s = connection.settings_dict
    url = f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
    two_workers_share_one_limit({"DATABASE_URL": url, "REDIS_URL": ""})


@pytest.mark.redis
def test_redis_cache_is_shared_by_processes():
    two_workers_share_one_limit({"REDIS_URL": TEST_REDIS_URL})

"""Mixed load, CI version (issue 13, "Tests that must exist"): gunicorn on the test database
(PostgreSQL), 30+ concurrent real HTTP clients mixing reads (gate, access, lists, audit,
entitlements) and writes (decisions, allowlist proposals and decisions, request records and
status moves, submissions, transitions) with staff and admin tokens, for ~15 s
(``LOAD_SECONDS`` lengthens it). Afterwards: 0 responses >= 500, every 409 listed its
blockers, 0 rule violations over the whole history (four-eyes, partner cap, no release live
under a binding directive, no sign-off decided twice) and ``verify_audit`` ok.

The driver is benchmarks/mixed_load.py; ``make bench`` runs it for 60 s."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.db import connection

from benchmarks.mixed_load import ROOT, rule_violations, run_load, seed
from benchmarks.run import gunicorn_server, server_env
from compliance.api.auth import issue_token
from tests import factories

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

SECONDS = float(os.environ.get("LOAD_SECONDS", 15))
CLIENTS = 32


def test_mixed_load_has_no_server_error_and_breaks_no_rule(capsys):
    s = connection.settings_dict
    url = f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
    call_command("createcachetable")
    tokens = {
        role: [
            issue_token(factories.UserFactory(username=f"load-{role}-{i}", role=role))
            for i in range(3)
        ]
        for role in ("staff", "admin")
    }
    env = {**server_env(url), "REDIS_URL": "", "LOG_LEVEL": "ERROR", "PYTHONPATH": str(ROOT)}

    with gunicorn_server(env) as base:
        world = seed(base, tokens)
        result = run_load(base, tokens, world, seconds=SECONDS, clients=CLIENTS)

    summary = {k: result[k] for k in ("requests", "per_s", "counts", "stuck_clients")}
    print(json.dumps({**summary, "kinds": result["kinds"]}))
    assert result["stuck_clients"] == 0, result
    assert result["crashes"] == [], result["crashes"]
    assert result["counts"]["5xx"] == 0, result["server_errors"]
    assert result["bad_409"] == [], result["bad_409"]
    # the load did real work of every kind: writes succeeded and rules refused some
    for kind in ("decide", "allowlist_propose", "allowlist_decide", "request_record"):
        assert result["kinds"][kind]["2xx"] > 0, (kind, result["kinds"].get(kind))
    assert result["kinds"]["transition"]["409"] > 0, result["kinds"]["transition"]
    assert result["counts"]["2xx"] >= 2 * CLIENTS, result["counts"]  # work done, not only refusals

    assert rule_violations(world) == []

    verify = subprocess.run(
        [sys.executable, "manage.py", "verify_audit"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert json.loads(verify.stdout)["ok"] is True

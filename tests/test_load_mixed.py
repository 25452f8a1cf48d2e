"""Mixed load, CI version (issue 13, "Tests that must exist"): gunicorn on the test database
(PostgreSQL), 30+ concurrent real HTTP clients mixing reads (gate, access, lists, audit,
entitlements) and writes (decisions, allowlist proposals and decisions, request records and
status moves, submissions, transitions) with staff and admin tokens, for ~15 s
(``LOAD_SECONDS`` lengthens it). Afterwards: 0 responses >= 500, every 409 listed its
blockers, 0 rule violations over the whole history (four-eyes, partner cap, no release live
under a binding directive, no sign-off decided twice) and ``verify_audit`` ok.

The driver is benchmarks/mixed_load.py; ``make bench`` runs it for 60 s."""

from __future__ import annotations

import io
import json
import os

import pytest
from django.core.management import call_command
from django.db import connection

from benchmarks.mixed_load import ROOT, rule_violations, run_load, seed
from benchmarks.run import gunicorn_server, server_env
from compliance.api.auth import issue_token
from compliance.models import AllowlistEntry
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

    out = io.StringIO()
    call_command("verify_audit", "--workers", "1", stdout=out)  # CommandError unless ok
    verified = json.loads(out.getvalue())
    # every successful write left at least one history record, and the chain covers them all
    writes = sum(k["2xx"] for name, k in result["kinds"].items() if not name.startswith("read"))
    assert verified["ok"] is True and verified["checked"] >= writes, (verified, writes)


def test_rule_checks_find_what_the_services_would_refuse(agencies, admin_user):
    """The checks above can fail: rows written around the services (four-eyes broken, the cap
    exceeded, a release live under its directive) are each reported, from their history."""
    release = factories.make_release(admin_user, slug="held", agencies=agencies[:1])
    release.status, release.partner_cap = "general", 0
    release.save()  # around transition_release: simple-history still records it
    AllowlistEntry.objects.create(
        release=release,
        partner=factories.PartnerFactory(),
        status="approved",
        proposed_by=admin_user,
        decided_by=admin_user,
    )

    found = rule_violations({"releases": [], "blocked": ["held"], "directives": []})

    assert [f.split(":")[0] for f in found] == ["four-eyes", "partner cap", "directive"], found

"""Property-based run of the live OpenAPI schema (schemathesis 4): every operation, bounded
examples, an admin token. No response may be a 500, and every response must conform to the
schema: a documented status code, content type and body."""

from __future__ import annotations

import hypothesis
import pytest
import schemathesis
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from schemathesis import GenerationMode, checks

from compliance import services
from compliance.services.users import issue_token
from tests.api_support import approve, signoffs
from tests.factories import PartnerFactory, make_release

MAX_EXAMPLES = 12
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]


@pytest.fixture
def admin_token(db, agencies, staff, admin_user, settings):
    """Enough real data that some generated ids and slugs hit objects."""
    from compliance.audit.notes import generate_key

    settings.AUDIT_SIGNING_KEY = generate_key("schema.test/audit")[0]  # packs sign (R39)
    release = services.submit_release(make_release(staff, agencies=agencies), actor=staff)
    approve(signoffs(release, "limited"), staff)
    entry = services.propose_allowlist_entry(release, actor=staff, partner=PartnerFactory())
    services.record_request(
        actor=staff,
        agency=agencies[1],
        reference="DOC-1",
        kind="restrict_foreign_access",
        binding=True,
        releases=[release],
    )
    assert entry.pk
    cache.clear()
    return issue_token(admin_user)


@pytest.fixture
def api_schema(admin_token):
    # Like Django's test client: keep the test's connection (and its transaction) open
    # across requests instead of closing it when each request finishes.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi(
            "/api/v1/schema/",
            get_wsgi_application(),
            headers={"Authorization": f"Token {admin_token}"},
        )
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def test_api_conforms_to_its_schema(api_schema, admin_user):
    # schemathesis as a library (its pytest plugin does not run under pytest 9.2): one
    # bounded Hypothesis run per operation, valid inputs then invalid ones, every failure
    # collected so one run reports them all.
    failures = []
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 25
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                # A fresh token each: logout and DELETE /auth/tokens/{id}/ revoke theirs.
                _run(operation, mode, issue_token(admin_user))
            except hypothesis.errors.Unsatisfiable:
                continue  # nothing to make invalid (e.g. a GET without parameters)
            except Exception as exc:  # noqa: BLE001 - report every operation's failure
                failures.append(f"{mode.value} {operation.label}:\n{exc}")
    assert not failures, "\n\n".join(failures)


def _run(operation, mode, token):
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    @hypothesis.settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    def run(case):
        case.call_and_validate(headers={"Authorization": f"Token {token}"}, checks=CHECKS)

    run()

"""Property-based run of the live OpenAPI schema (schemathesis 4) with every built-in check,
for the staff, admin and auditor tokens: each operation on its own (valid inputs, then invalid
ones), then call sequences that follow the schema's OpenAPI links (stateful). No response may
be a server error, and every response must conform to the schema."""

from __future__ import annotations

import os

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

MAX_EXAMPLES = int(os.environ.get("ST_EXAMPLES", "3"))
STATEFUL_EXAMPLES = int(os.environ.get("ST_STATEFUL", "8"))


@pytest.fixture
def world(db, agencies, staff, admin_user, auditor, settings):
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
    return {"staff": staff, "admin": admin_user, "auditor": auditor}


@pytest.fixture
def api_schema(world):
    # Like Django's test client: keep the test's connection (and its transaction) open
    # across requests instead of closing it when each request finishes.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi(
            "/api/v1/schema/",
            get_wsgi_application(),
            headers={"Authorization": f"Token {issue_token(world['admin'])}"},
        )
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


# A schema cannot list the rows that exist: a well-formed code, slug, username or id that
# names nothing is a 400 on its field, which positive_data_acceptance would call a finding.
# So that check runs through this filter: a 400 passes only when every message says the
# named object does not exist (DRF's related fields, django-filter's model choices) or is
# taken already (a unique code, slug or name: state, not shape), or the
# webhook destination is refused (R31: a network rule on the resolved address). Any other
# 400 to schema-valid input is a finding, as is every other check's.
UNKNOWN_REFERENCE = (
    "does not exist.",
    "That choice is not one of the available choices.",
    "already exists.",  # a unique name another call (or role) took first
    "Beyond the log's current size.",  # a tree size the transparency log has not reached
    # One parameter bounded by another (R35: from <= to, seq <= tree_size): no schema says it.
    "Must not exceed to.",
    "Must not exceed tree_size.",
    "Name the model when filtering by object_id.",  # an object id means nothing alone
)
# Checked by decoding, beyond what a pattern says: a key (its algorithm byte and length), an
# evidence file's type (sniffed from its bytes, R37).
BEYOND_A_PATTERN = (
    "Not a cosignature/v1 verifier key",
    "Unknown binary file type",
    "This image type (",
)
REFUSED_DESTINATION = ("Enter a valid URL.", "WEBHOOK_ALLOWED_NETWORKS", "does not resolve")


def _names_only_unknown_objects(response) -> bool:
    try:
        body = response.json()
    except ValueError:
        return False
    messages = [m for ms in body.values() for m in ms] if isinstance(body, dict) else []
    return bool(messages) and all(
        isinstance(m, str)
        and (
            m.endswith(UNKNOWN_REFERENCE)
            or any(r in m for r in REFUSED_DESTINATION + BEYOND_A_PATTERN)
        )
        for m in messages
    )


def positive_data_accepted_unless_unknown(ctx, response, case):
    if response.status_code == 400 and _names_only_unknown_objects(response):
        return None
    return checks.positive_data_acceptance(ctx, response, case)


SETTINGS = dict(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(hypothesis.HealthCheck),
)


ROLES = ("auditor", "staff", "admin")


def test_api_conforms_to_its_schema(api_schema, world):
    # schemathesis as a library (its pytest plugin does not run under pytest 9.2): one
    # bounded Hypothesis run per operation, valid inputs then invalid ones, every failure
    # collected so one run reports them all. Each generated case is sent with each role's
    # token (generation is the expensive part; three roles share it).
    failures = []
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 25
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _run(operation, mode, world)
            except hypothesis.errors.Unsatisfiable:
                continue  # nothing to make invalid (e.g. a GET without parameters)
            except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - report them all
                failures.append(f"{mode.value} {operation.label}:\n{str(exc) or repr(exc)}")
    assert not failures, "\n\n".join(failures)


def _run(operation, mode, world):
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    @hypothesis.settings(max_examples=MAX_EXAMPLES, **SETTINGS)
    def run(case):
        for role in ROLES:
            # A fresh token each: logout and DELETE /auth/tokens/{id}/ revoke theirs.
            token = issue_token(world[role])
            # Every built-in check schemathesis has, positive_data_acceptance through the
            # filter above.
            case.call_and_validate(
                headers={"Authorization": f"Token {token}"},
                excluded_checks=[checks.positive_data_acceptance],
                additional_checks=[positive_data_accepted_unless_unknown],
            )

    run()


@pytest.mark.parametrize("role", ["staff", "admin", "auditor"])
def test_api_links_hold_statefully(api_schema, world, role):
    user = world[role]
    base = api_schema.as_state_machine()

    class Machine(base):
        def setup(self):
            self.token = issue_token(user)

        def get_call_kwargs(self, case):
            return {"headers": {"Authorization": f"Token {self.token}"}}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            # The token is the caller's own credential (as `--header` is on the command
            # line), so ignored_auth knows it is valid and probes without it.
            case.validate_response(
                response,
                headers=kwargs.get("headers"),
                excluded_checks=[checks.positive_data_acceptance],
                additional_checks=[positive_data_accepted_unless_unknown],
                transport_kwargs=kwargs,
                recorder=self.recorder,
            )

    Machine.run(
        settings=hypothesis.settings(
            max_examples=STATEFUL_EXAMPLES, stateful_step_count=6, **SETTINGS
        )
    )

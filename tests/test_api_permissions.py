"""The permission matrix: every endpoint × every role (SPEC "Who uses it"), one table."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.db import transaction
from django.test import override_settings

from compliance import services
from compliance.models import AllowlistEntry, Gateway, Release, SignOff
from tests import factories
from tests.api_support import API, approve, client_for
from tests.factories import make_release

ROLES = ("anonymous", "norole", "auditor", "staff", "admin", "gateway")
# AuthZEN lives at the site root, not under /api/v1/ (R26).
ROOT_PATHS = ("/access/", "/.well-known/")


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """A draft release, a release in review with one approved sign-off, two allowlist entries
    (one proposed, one approved) and an open request: every endpoint has something to act on.

    Built once for the module inside a transaction rolled back at the end; each test runs in
    its own savepoint (pytest-django's ``db``), so one test's writes never reach the next."""
    with django_db_blocker.unblock(), transaction.atomic(), LOOPBACK_HOOKS:
        yield _build_world()
        transaction.set_rollback(True)


# Webhook URLs in the matrix point at loopback, which R31 refuses unless admitted.
LOOPBACK_HOOKS = override_settings(WEBHOOK_ALLOWED_NETWORKS=["127.0.0.0/8"])


@pytest.fixture(autouse=True)
def _loopback_hooks(settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]


def _build_world():
    agencies = [factories.AgencyFactory(code=code) for code in ("CAISI", "DOC", "ONCD", "OSTP")]
    staff = factories.UserFactory(username="sam", role="staff")
    admin_user = factories.UserFactory(username="ada", role="admin")
    admin2 = factories.UserFactory(username="alan", role="admin")
    auditor = factories.UserFactory(username="audrey", role="auditor")
    draft = make_release(staff, slug="draft-1", agencies=agencies)
    review = services.submit_release(
        make_release(staff, slug="rev-1", agencies=agencies), actor=staff
    )
    approved = SignOff.objects.get(release=review, agency__code="DOC", stage="limited")
    approve([approved], staff)
    pending = SignOff.objects.get(release=review, agency__code="ONCD", stage="limited")
    p1, p2 = factories.PartnerFactory(), factories.PartnerFactory()
    proposed = services.propose_allowlist_entry(review, actor=staff, partner=p1)
    granted = services.propose_allowlist_entry(review, actor=staff, partner=p2)
    granted = services.decide_allowlist_entry(granted, actor=admin2, decision="approved")
    request = services.record_request(
        actor=staff,
        agency=agencies[1],
        reference="DOC-1",
        kind="information_request",
        releases=[review],
    )
    from knox.models import AuthToken

    from compliance.services.users import issue_token

    issue_token(admin2)
    token_id = AuthToken.objects.get(user=admin2).digest

    hook, _secret = services.create_webhook(actor=admin_user, url="http://127.0.0.1:9/hook")

    gateway, _token = services.create_gateway(actor=admin_user, name="gw-1")
    users = {
        "gateway": gateway.user,
        "anonymous": None,
        "norole": factories.UserFactory(username="nora"),
        "auditor": auditor,
        "staff": staff,
        "admin": admin_user,
    }
    return SimpleNamespace(
        draft=draft,
        review=review,
        approved=approved,
        pending=pending,
        partner=p1,
        proposed=proposed,
        granted=granted,
        request=request,
        token_id=token_id,
        hook=hook,
        users=users,
    )


R, W, A = "read", "write", "admin"  # who may: every role / staff+admin / admin only
# Any signed-in user, with a role or without (their own tokens); admins only, and to anyone
# else the object does not exist (someone else's token: 404, not 403).
SELF, HIDDEN = "self", "hidden"

X, AUD, GW = "access", "audit", "gateway"  # every role and gateways / auditors+admins / gateway
EVALUATION = {
    "subject": {"type": "partner", "id": "1"},
    "resource": {"type": "release", "id": "rev-1"},
    "action": {"name": "use"},
}
# (method, path, body, who may, status when allowed)
ENDPOINTS = [
    ("get", "/agencies/", None, R, 200),
    ("post", "/agencies/", {"code": "NSA", "name": "National Security Agency"}, A, 201),
    ("get", "/agencies/DOC/", None, R, 200),
    ("patch", "/agencies/DOC/", {"name": "Commerce"}, A, 200),
    ("get", "/partners/", None, R, 200),
    ("post", "/partners/", {"name": "Acme", "country": "US"}, A, 201),
    ("get", "/partners/{w.partner.pk}/", None, R, 200),
    ("patch", "/partners/{w.partner.pk}/", {"notes": "vetted"}, A, 200),
    ("get", "/releases/", None, R, 200),
    ("post", "/releases/", {"slug": "new-1", "name": "New"}, W, 201),
    ("get", "/releases/rev-1/", None, R, 200),
    ("patch", "/releases/rev-1/", {"description": "edited"}, W, 200),
    ("post", "/releases/draft-1/submit/", {"reason": "ready"}, W, 200),
    ("post", "/releases/rev-1/transition/", {"to": "suspended", "reason": "hold"}, W, 200),
    ("get", "/releases/rev-1/gate/", None, R, 200),
    ("get", "/releases/rev-1/access/?partner={w.partner.pk}", None, X, 200),
    ("get", "/signoffs/", None, R, 200),
    ("get", "/signoffs/{w.pending.pk}/", None, R, 200),
    ("post", "/signoffs/{w.pending.pk}/decide/", {"decision": "approved", "evidence": "x"}, W, 200),
    ("post", "/signoffs/{w.approved.pk}/withdraw/", {"reason": "taken back"}, W, 200),
    ("get", "/requests/", None, R, 200),
    ("post", "/requests/", {"agency": "OSTP", "reference": "O-1", "kind": "vet_users"}, W, 201),
    ("get", "/requests/{w.request.pk}/", None, R, 200),
    ("patch", "/requests/{w.request.pk}/", {"summary": "asks for evals"}, W, 200),
    ("post", "/requests/{w.request.pk}/status/", {"status": "acknowledged"}, W, 200),
    ("get", "/releases/rev-1/allowlist/", None, R, 200),
    ("post", "/releases/draft-1/allowlist/", {"partner": "{w.partner.pk}"}, W, 201),
    ("post", "/allowlist/{w.proposed.pk}/decide/", {"decision": "approved"}, A, 200),
    ("post", "/allowlist/{w.granted.pk}/revoke/", {"reason": "contract ended"}, A, 200),
    ("post", "/auth/logout/", None, SELF, 204),
    ("get", "/auth/tokens/", None, SELF, 200),
    ("delete", "/auth/tokens/{w.token_id}/", None, HIDDEN, 204),
    ("get", "/releases/rev-1/deploy-check/?stage=limited", None, R, 200),
    ("get", "/webhooks/", None, A, 200),
    ("post", "/webhooks/", {"url": "http://127.0.0.1:9/new", "events": ["ping"]}, A, 201),
    ("get", "/webhooks/{w.hook.pk}/", None, A, 200),
    ("patch", "/webhooks/{w.hook.pk}/", {"description": "SIEM"}, A, 200),
    ("post", "/webhooks/{w.hook.pk}/rotate-secret/", {}, A, 200),
    ("post", "/webhooks/{w.hook.pk}/test/", {}, A, 202),
    ("get", "/webhooks/{w.hook.pk}/deliveries/", None, A, 200),
    ("get", "/gateways/", None, AUD, 200),
    ("post", "/gateways/", {"name": "gw-new"}, A, 201),
    ("post", "/gateways/gw-1/receipts/", {"revision": 1}, GW, 200),
    ("get", "/entitlements/", None, X, 200),
    ("get", "/entitlements/changes/?since=1", None, X, 200),
    ("get", "/alerts/", None, R, 200),
    ("post", "/access/v1/evaluation", EVALUATION, X, 200),
    ("post", "/access/v1/evaluations", {"evaluations": [EVALUATION]}, X, 200),
    ("get", "/.well-known/authzen-configuration", None, X, 200),
    ("get", "/schema/", None, R, 200),
    ("get", "/docs/", None, R, 200),
]
ALLOWED = {
    R: {"auditor", "staff", "admin"},
    W: {"staff", "admin"},
    A: {"admin"},
    SELF: {"norole", "auditor", "staff", "admin"},
    HIDDEN: {"admin"},
    X: {"auditor", "staff", "admin", "gateway"},
    AUD: {"auditor", "admin"},
    GW: {"gateway"},
}


def expected_status(role: str, who: str, ok: int) -> int:
    if role == "anonymous":
        return 401
    if role in ALLOWED[who]:
        return ok
    # A gateway may call only its own endpoints: a 403, whatever the endpoint hides from people.
    return 404 if who == HIDDEN and role != "gateway" else 403


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    "method,path,body,who,ok", ENDPOINTS, ids=[f"{e[0]} {e[1]}" for e in ENDPOINTS]
)
def test_permission_matrix(db, world, role, method, path, body, who, ok):
    path = path.format(w=world)
    if body is not None:
        body = {k: (v.format(w=world) if isinstance(v, str) else v) for k, v in body.items()}
        if "partner" in body:
            body["partner"] = int(body["partner"])
    client = client_for(world.users[role])
    before = _snapshot()
    kwargs = {"format": "json"} if body is not None else {}
    url = path if path.startswith(ROOT_PATHS) else f"{API}{path}"
    response = getattr(client, method)(url, body, **kwargs)

    expected = expected_status(role, who, ok)
    assert response.status_code == expected, response.content[:300]
    if expected in (401, 403, 404):
        if path != "/docs/":  # an HTML page; its refusal is rendered as HTML
            assert set(response.json()) == {"detail"}
        assert _snapshot() == before, "a refused request must change nothing"
    if expected == 401:
        assert response.headers["WWW-Authenticate"] == "Token"


def _snapshot():
    """Every row a write endpoint could touch, with its history count."""
    from knox.models import AuthToken

    return (
        sorted(AuthToken.objects.values_list("digest", flat=True)),
        list(Release.objects.order_by("pk").values_list("slug", "status", "description")),
        list(SignOff.objects.order_by("pk").values_list("pk", "status")),
        list(AllowlistEntry.objects.order_by("pk").values_list("pk", "status")),
        list(Gateway.objects.order_by("pk").values_list("name", "applied_revision")),
        sum(m.history.count() for m in (Release, SignOff, AllowlistEntry, Gateway)),
    )


@pytest.mark.parametrize("role", ["staff", "admin"])
def test_partner_cap_is_set_by_admins_only(db, world, role):
    response = client_for(world.users[role]).patch(
        f"{API}/releases/rev-1/", {"partner_cap": 5}, format="json"
    )
    assert response.status_code == {"staff": 403, "admin": 200}[role]
    assert Release.objects.get(slug="rev-1").partner_cap == {"staff": 20, "admin": 5}[role]

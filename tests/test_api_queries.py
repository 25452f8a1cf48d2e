"""Query counts do not grow with the data: lists, the gate and the access check, 1 vs 50.

Each case measures one request with 1 object, then again with 50 (lists: 49 more rows of the
same kind; gate and access: a second release 50 times bigger), pins a maximum for both and
requires the two counts to be equal."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from compliance import services
from compliance.models import Release
from tests.api_support import API, approve, client_for, signoffs
from tests.factories import AgencyFactory, PartnerFactory, UserFactory

SMALL, BIG = 1, 50


def _release(slug, agencies, *, cap=100):
    admin = UserFactory(username="capsetter", role="admin")  # only admins set caps
    return services.create_release(
        actor=admin, slug=slug, name=slug, required_agencies=agencies, partner_cap=cap
    )


def _approved_partners(release, n, staff, country="US"):
    admin = UserFactory(username="decider", role="admin")
    for _ in range(n):
        entry = services.propose_allowlist_entry(
            release, actor=staff, partner=PartnerFactory(country=country)
        )
        services.decide_allowlist_entry(entry, actor=admin, decision="approved")


# --- lists: add n more rows, return the list's path ------------------------------------


def releases(n, tag, staff, agencies):
    for i in range(n):
        _release(f"r-{tag}-{i}", agencies)
    return "/releases/"


def signoff_rows(n, tag, staff, agencies):
    extra = [AgencyFactory(code=f"X{tag.upper()}{i}") for i in range(n)]
    services.submit_release(_release(f"s-{tag}", extra), actor=staff)
    return "/signoffs/"


def agency_rows(n, tag, staff, agencies):
    for i in range(n):
        AgencyFactory(code=f"A{tag.upper()}{i}")
    return "/agencies/"


def requests(n, tag, staff, agencies):
    linked = [_release(f"q-{tag}-{i}", agencies) for i in range(2)]
    for i in range(n):
        services.record_request(
            actor=staff,
            agency=agencies[i % 4],
            reference=f"R-{tag}-{i}",
            kind="information_request",
            releases=linked,
            assignee=staff,
        )
    return "/requests/"


def partners(n, tag, staff, agencies):
    for _ in range(n):
        PartnerFactory()
    return "/partners/"


def allowlist(n, tag, staff, agencies):
    release = Release.objects.filter(slug="listed").first() or _release("listed", agencies)
    _approved_partners(release, n, staff)
    return "/releases/listed/allowlist/"


# --- read models: a release of size n, return the path ----------------------------------


def gate(n, tag, staff, agencies):
    """n agencies, four review rounds, n approved partners, n binding requests in force."""
    panel = [AgencyFactory(code=f"G{tag.upper()}{i}") for i in range(n)]
    release = _release(f"g-{tag}", panel)
    for _ in range(3):
        release = services.submit_release(Release.objects.get(pk=release.pk), actor=staff)
        approve(signoffs(release, "general"), staff)
        services.transition_release(release, to="suspended", actor=staff, reason="again")
    release = services.submit_release(Release.objects.get(pk=release.pk), actor=staff)
    approve(signoffs(release, "limited"), staff)
    _approved_partners(release, n, staff, country="GB")
    for i in range(n):
        services.record_request(
            actor=staff,
            agency=panel[i],
            reference=f"P-{tag}-{i}",
            kind="limit_release",
            binding=True,
            releases=[release],
        )
    return f"/releases/g-{tag}/gate/"


def access(n, tag, staff, agencies):
    """A limited release with n approved partners; asks about one of them."""
    release = services.submit_release(_release(f"a-{tag}", agencies), actor=staff)
    approve(signoffs(release, "limited"), staff)
    _approved_partners(release, n, staff)
    services.transition_release(release, to="limited", actor=staff)
    partner = release.allowlist.order_by("-pk").first().partner
    return f"/releases/a-{tag}/access/?partner={partner.pk}"


# Authentication: the token, its user and (PostgreSQL) its roles in one query; on SQLite
# the roles are a second query (compliance/api/auth.py).
AUTH = 1 if connection.vendor == "postgresql" else 2

# build, queries per request after authentication (the view's own)
CASES = {
    "releases": (releases, 3),
    "signoffs": (signoff_rows, 3),  # 2, plus R38: the documents each cites (one prefetch)
    "agencies": (agency_rows, 2),
    "requests": (requests, 4),  # 3, plus R38's linked documents
    "partners": (partners, 2),
    "allowlist": (allowlist, 4),  # 3, plus R38's cited documents
    "gate": (gate, 8),  # 5, plus R29: the latest access change, the gateways, their receipts
    "access": (access, 1),  # release, partner and entry in one query
}


@pytest.mark.parametrize("name", list(CASES))
def test_query_count_is_constant(name, agencies, staff, django_assert_max_num_queries):
    build, limit = CASES[name]
    client = client_for(staff)
    counts = {}
    for n, tag in ((SMALL, "a"), (BIG - SMALL if name not in ("gate", "access") else BIG, "b")):
        path = build(n, tag, staff, agencies)
        with django_assert_max_num_queries(AUTH + limit), CaptureQueriesContext(connection) as ctx:
            response = client.get(f"{API}{path}")
        assert response.status_code == 200, response.content[:200]
        counts[tag] = len(ctx)
    assert counts["a"] == counts["b"], counts


def test_big_gate_is_complete(agencies, staff):
    """The constant-query gate still answers for every agency, request and partner."""
    path = gate(BIG, "b", staff, agencies)
    body = client_for(staff).get(f"{API}{path}").json()
    assert body["round"] == 4
    assert len(body["stages"]["limited"]["approved"]) == BIG
    assert len(body["stages"]["general"]["pending"]) == BIG
    kinds = [b["kind"] for b in body["stages"]["general"]["blockers"]]
    assert kinds.count("signoff_missing") == BIG
    assert kinds.count("request_in_force") == BIG
    assert body["stages"]["limited"]["cleared"] is True

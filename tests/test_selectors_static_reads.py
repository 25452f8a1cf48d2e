"""The API's hot reads in one static statement answer exactly as the ORM reads they replace:
check_access_by_keys as check_access, read_gate_facts as load_gate_facts."""

import itertools

import pytest
from django.core.management import call_command

from compliance.models import AllowlistEntry, AllowlistStatus, Release, ReleaseStatus
from compliance.selectors import (
    check_access,
    check_access_by_keys,
    gate_view,
    load_gate_facts,
    release_gate,
)
from tests.factories import PartnerFactory, make_release


@pytest.mark.parametrize(
    ("status", "restricted"),
    list(itertools.product(ReleaseStatus.values, (False, True))),
)
def test_by_keys_matches_check_access(agencies, staff, admin_user, status, restricted):
    release = make_release(staff, agencies=agencies, foreign_access_restricted=restricted)
    release.status = status
    release.save()
    us, gb, other = (
        PartnerFactory(country="US"),
        PartnerFactory(country="GB"),
        PartnerFactory(country="US"),
    )
    for partner in (us, gb):
        AllowlistEntry.objects.create(
            release=release,
            partner=partner,
            proposed_by=staff,
            decided_by=admin_user,
            status=AllowlistStatus.APPROVED,
        )
    for partner in (us, gb, other):
        expected = check_access(release, partner)
        assert check_access_by_keys(release.slug, partner.pk) == expected


def test_by_keys_returns_none_for_unknown_release_or_partner(agencies, staff):
    release = make_release(staff, agencies=agencies)
    partner = PartnerFactory()
    assert check_access_by_keys("no-such-release", partner.pk) is None
    assert check_access_by_keys(release.slug, partner.pk + 1000) is None


def test_by_keys_is_one_query(agencies, staff, django_assert_num_queries):
    release = make_release(staff, agencies=agencies)
    release.status = ReleaseStatus.LIMITED
    release.save()
    partner = PartnerFactory()
    with django_assert_num_queries(1):
        assert check_access_by_keys(release.slug, partner.pk) == {
            "allowed": False,
            "reason": "not_allowlisted",
        }


def test_static_gate_matches_the_orm_gate_for_every_seeded_release(db, django_assert_num_queries):
    # seed_scale's mix: drafts, several rounds, rejections, withdrawals, binding requests in
    # force, restricted releases with foreign partners (alerts), allowlists.
    call_command("seed_scale", releases=60, seed=11, verbosity=0)
    releases = list(Release.objects.order_by("pk"))
    gates = [release_gate(r) for r in releases]
    kinds = {b["kind"] for g in gates for st in g["stages"].values() for b in st["blockers"]}
    assert {"signoff_missing", "signoff_rejected", "request_in_force"} <= kinds, kinds
    for release, gate in zip(releases, gates, strict=True):
        assert gate == gate_view(load_gate_facts(release)), release.slug
    with django_assert_num_queries(1):
        release_gate(releases[0])

"""check_access_by_keys (the API's one-query access check) answers exactly as check_access."""

import itertools

import pytest

from compliance.models import AllowlistEntry, AllowlistStatus, ReleaseStatus
from compliance.selectors import check_access, check_access_by_keys
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

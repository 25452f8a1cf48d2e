"""A seeded world for the gateway tests (R25–R30): releases in every status, restricted and
not, partners in and outside the US, approved, proposed and revoked allowlist entries."""

from __future__ import annotations

from types import SimpleNamespace

from compliance import services
from compliance.models import Partner, Release
from compliance.selectors import check_access
from tests import factories
from tests.helpers import approved_entry, at_status, directive


def seeded_world(staff, admin, agencies) -> SimpleNamespace:
    us = [factories.PartnerFactory(country="US") for _ in range(3)]
    gb = [factories.PartnerFactory(country="GB") for _ in range(2)]
    releases = {s: at_status(s, staff, admin, agencies, slug=f"r-{s}") for s in STATUSES}
    limited, general = releases["limited"], releases["general"]
    approved_entry(limited, staff, admin, partner=us[0])
    approved_entry(limited, staff, admin, partner=gb[0])
    revoked = approved_entry(limited, staff, admin, partner=us[1])
    services.revoke_allowlist_entry(revoked, actor=admin, reason="contract ended")
    services.propose_allowlist_entry(limited, actor=staff, partner=us[2])
    # A restricted limited release and a restricted general one (R13).
    narrow = at_status("limited", staff, admin, agencies, slug="r-limited-us")
    approved_entry(narrow, staff, admin, partner=us[0])
    wide = at_status("general", staff, admin, agencies, slug="r-general-us")
    directive(staff, agencies[1], "restrict_foreign_access", [narrow, wide])
    return SimpleNamespace(us=us, gb=gb, releases=releases, limited=limited, general=general)


STATUSES = ("draft", "in_review", "limited", "general", "suspended", "retired")


def every_pair():
    """Every (partner, release) pair with R15's answer."""
    return [
        (p, r, check_access(r, p))
        for r in Release.objects.order_by("slug")
        for p in Partner.objects.order_by("pk")
    ]

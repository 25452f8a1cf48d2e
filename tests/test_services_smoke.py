from compliance import errors, services
from compliance.errors import RuleViolation
from compliance.models import ReleaseStatus, SignOff
from tests.factories import make_release


def test_submit_opens_round_with_one_pending_signoff_per_agency_and_stage(agencies, staff):
    release = make_release(staff, agencies=agencies)
    release = services.submit_release(release, actor=staff, reason="ready")
    assert release.status == ReleaseStatus.IN_REVIEW
    assert release.review_round == 1
    rows = SignOff.objects.filter(release=release, round=1)
    assert sorted((s.agency.code, s.stage, s.status) for s in rows) == sorted(
        (a.code, st, "pending") for a in agencies for st in ("limited", "general")
    )


def test_general_refused_lists_every_missing_agency(agencies, staff):
    release = services.submit_release(make_release(staff, agencies=agencies), actor=staff)
    try:
        services.transition_release(release, to="general", actor=staff)
    except RuleViolation as exc:
        assert exc.as_dict()["blockers"] == [
            {"kind": errors.SIGNOFF_MISSING, "agency": a.code, "stage": "general"} for a in agencies
        ]
    else:
        raise AssertionError("general availability must be refused")

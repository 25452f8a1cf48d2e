"""seed_scale (make bench's data): every object it bulk-creates has real history records."""

from django.db.models import Count

from benchmarks.seed_scale import history_row_count, seed
from compliance.audit.verify import verify_chain
from compliance.models import (
    AllowlistEntry,
    GovernmentRequest,
    Partner,
    Release,
    ReleaseStatus,
    SignOff,
    SignOffStatus,
)


def _history_ids(model) -> set[int]:
    return set(model.history.filter(history_type="+").values_list("id", flat=True))


def test_seed_scale_writes_history_for_every_object(db):
    seed(releases=40, seed=3)

    for model in (Release, SignOff, AllowlistEntry, GovernmentRequest, Partner):
        ids = set(model.objects.values_list("id", flat=True))
        assert ids, model.__name__
        # Exactly one creation record per object, and no record of an object that is not there.
        assert _history_ids(model) == ids, model.__name__
        assert model.history.filter(history_type="+").count() == len(ids), model.__name__
        # The latest record of each object is its current state.
        for obj in model.objects.all()[:50]:
            latest = obj.history.order_by("-history_date", "-history_id").first()
            assert latest.instance.__dict__.get("status") == obj.__dict__.get("status")
            assert latest.history_actor.startswith(("scale-", "system:seed_scale"))
            assert latest.history_change_reason

    assert Release.objects.count() == 40
    # Every history row, bulk-written or not, is on a valid hash chain (R23).
    assert verify_chain() == {"ok": True, "checked": history_row_count(), "broken": None}
    # Each decided sign-off has its "+" (pending) record and a "~" record of the decision.
    decided = SignOff.objects.exclude(status=SignOffStatus.PENDING)
    assert decided.exists()
    for so in decided[:20]:
        rows = list(so.history.order_by("history_date", "history_id"))
        assert rows[0].history_type == "+" and rows[0].status == SignOffStatus.PENDING
        assert rows[-1].history_type == "~" and rows[-1].status == so.status
        assert rows[-1].history_user_id == so.recorded_by_id


def test_seed_scale_m2m_snapshots_and_required_agencies(db):
    seed(releases=12, seed=5)
    for release in Release.objects.annotate(n=Count("required_agencies")):
        codes = sorted(release.required_agencies.values_list("code", flat=True))
        assert release.n >= 3 and "DOC" in codes
        records = list(release.history.order_by("history_date", "history_id"))
        # Created with no agencies (the set comes next), then every later record has them.
        assert list(records[0].required_agencies.all()) == []
        for rec in records[1:]:
            assert sorted(rec.required_agencies.values_list("agency__code", flat=True)) == codes
        if release.status != ReleaseStatus.DRAFT and release.review_round:
            assert SignOff.objects.filter(release=release, round=release.review_round).count() == (
                2 * len(codes)
            )


def test_seed_scale_all_due_puts_every_signoff_of_every_release_in_review_due(db):
    seed(releases=3, all_due=True)
    assert set(Release.objects.values_list("status", flat=True)) == {ReleaseStatus.IN_REVIEW}
    signoffs = SignOff.objects.all()
    assert signoffs.count() == 3 * 8
    assert set(signoffs.values_list("status", flat=True)) == {SignOffStatus.PENDING}
    assert SignOff.history.filter(history_type="+").count() == 24

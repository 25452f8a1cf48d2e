"""The rules hold under real concurrency (PostgreSQL, real threads, each on its own
connection): row locks taken by the services serialise the decisions that read each other."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
from django.db import connection, transaction

from compliance import services
from compliance.errors import RuleViolation
from compliance.models import AllowlistEntry, GovernmentRequest, Release, SignOff, Stage
from compliance.models.roles import Role, role_of
from tests import factories
from tests.helpers import approve, signoff, submitted

# No serialized_rollback: mixed with plain transactional tests it reloads content types that
# post_migrate already recreated. The factories re-create role groups a flush removed.
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]


def run_together(calls):
    """Run each ``call(start)`` in its own thread; ``start()`` is a barrier, so every thread
    loads what it needs, then all act at the same moment. Returns ``("ok", value)`` or
    ``("refused", RuleViolation)`` per call, in order."""
    barrier = threading.Barrier(len(calls), timeout=60)
    outcomes: list = [None] * len(calls)

    def target(i, call):
        try:
            outcomes[i] = ("ok", call(barrier.wait))
        except RuleViolation as exc:
            outcomes[i] = ("refused", exc)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            outcomes[i] = ("crashed", exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=target, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread is stuck (deadlock?)"
    crashed = [o for o in outcomes if o[0] == "crashed"]
    assert not crashed, crashed
    return outcomes


def blockers(outcome) -> list[dict]:
    return [b.as_dict() for b in outcome[1].blockers]


def test_25_admins_approve_25_partners_on_a_cap_20_release(agencies, staff):
    release = factories.make_release(staff, agencies=agencies)
    assert release.partner_cap == 20
    entries = [
        services.propose_allowlist_entry(release, actor=staff, partner=factories.PartnerFactory())
        for _ in range(25)
    ]
    admins = [factories.UserFactory(username=f"admin{i}", role="admin") for i in range(25)]

    def approve_one(entry_id, admin_id):
        def call(start):
            entry = AllowlistEntry.objects.get(pk=entry_id)
            admin = type(staff).objects.get(pk=admin_id)
            assert role_of(admin) == Role.ADMIN  # loaded (and cached) before the race
            start()
            return services.decide_allowlist_entry(entry, actor=admin, decision="approved")

        return call

    outcomes = run_together([approve_one(e.pk, a.pk) for e, a in zip(entries, admins, strict=True)])
    assert Counter(o[0] for o in outcomes) == {"ok": 20, "refused": 5}
    for o in outcomes:
        if o[0] == "refused":
            assert blockers(o) == [{"kind": "allowlist_full"}]
    statuses = Counter(
        AllowlistEntry.objects.filter(release=release).values_list("status", flat=True)
    )
    assert statuses == {"approved": 20, "proposed": 5}
    approvals = AllowlistEntry.history.filter(status="approved")
    assert approvals.count() == 20
    assert {h.history_change_reason for h in approvals} == {"partner approved"}
    won = {o[1].pk for o in outcomes if o[0] == "ok"}
    assert set(approvals.values_list("id", flat=True)) == won


def test_two_decisions_of_one_signoff_at_once(agencies, staff, staff2):
    release = submitted(staff, agencies)
    for code in ("CAISI", "DOC", "ONCD", "OSTP"):
        so = signoff(release, code, "general")

        def decide(actor, decision, so_id=so.pk):
            def call(start):
                target = SignOff.objects.get(pk=so_id)
                start()
                return services.decide_signoff(
                    target, actor=actor, decision=decision, evidence="letter", reason="no"
                )

            return call

        outcomes = run_together([decide(staff, "approved"), decide(staff2, "rejected")])
        assert sorted(o[0] for o in outcomes) == ["ok", "refused"]
        [loser] = [o for o in outcomes if o[0] == "refused"]
        assert blockers(loser) == [{"kind": "already_decided"}]
        [winner] = [o for o in outcomes if o[0] == "ok"]
        assert SignOff.objects.get(pk=so.pk).status == winner[1].status
        decisions = SignOff.history.filter(id=so.pk).exclude(status="pending")
        assert decisions.count() == 1


def test_directive_recorded_while_ga_runs_never_leaves_ga_under_it(agencies, staff, staff2):
    doc = agencies[1]
    seen = Counter()
    for i in range(10):
        release = submitted(staff, agencies, slug=f"race-{i}")
        approve(release, staff, stages=(Stage.GENERAL,))

        def go_general(start, release_id=release.pk):
            target = Release.objects.get(pk=release_id)
            start()
            with transaction.atomic():
                done = services.transition_release(target, to="general", actor=staff)
                # Still inside GA's transaction, holding its locks: a directive that had
                # committed by now would have been visible to the gate's read as well.
                visible = GovernmentRequest.objects.filter(releases=release_id).exists()
            return done, visible

        def record(start, release_id=release.pk, n=i):
            target = Release.objects.get(pk=release_id)
            start()
            return services.record_request(
                actor=staff2,
                agency=doc,
                reference=f"DOC-POSTPONE-{n}",
                kind="postpone_release",
                binding=True,
                releases=[target],
            )

        (ga, ga_value), (rec, req) = run_together([go_general, record])
        assert rec == "ok"
        if ga == "refused":
            assert blockers((ga, ga_value)) == [{"kind": "request_in_force", "request": req.pk}]
            assert Release.objects.get(pk=release.pk).status == "in_review"
            seen["refused"] += 1
        else:
            done, visible = ga_value
            assert not visible, "GA committed although the directive was already in force"
            ga_row = release.history.filter(status="general").get()
            req_row = req.history.order_by("history_id").first()
            assert ga_row.history_date < req_row.history_date
            seen["ga_first"] += 1
    assert sum(seen.values()) == 10


def test_two_edits_of_one_request_do_not_deadlock(agencies, staff, staff2):
    """update_request locks the request, then the releases it names (LOCK_ORDER)."""
    release = factories.make_release(staff, agencies=agencies)
    other = factories.make_release(staff, slug="sibling", agencies=agencies)
    req = services.record_request(
        actor=staff,
        agency=agencies[1],
        reference="L-9",
        kind="information_request",
        releases=[release],
    )
    holder_ready, let_go = threading.Event(), threading.Event()

    def hold_the_request(start):
        with transaction.atomic():
            GovernmentRequest.objects.select_for_update().get(pk=req.pk)
            start()
            holder_ready.set()
            let_go.wait(30)

    def edit_summary(start):
        start()
        holder_ready.wait(30)
        return services.update_request(req, actor=staff, summary="reread", reason="edit")

    def edit_releases(start):
        start()
        holder_ready.wait(30)
        time.sleep(0.3)  # queue behind edit_summary
        return services.update_request(req, actor=staff2, releases=[release, other], reason="scope")

    def conductor(start):
        start()
        holder_ready.wait(30)
        time.sleep(0.8)  # both edits are waiting now
        let_go.set()

    outcomes = run_together([hold_the_request, edit_summary, edit_releases, conductor])
    assert [o[0] for o in outcomes] == ["ok"] * 4
    req.refresh_from_db()
    assert (req.summary, list(req.releases.order_by("slug"))) == ("reread", [release, other])

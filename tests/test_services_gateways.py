"""Gateways at the service and read-model layer (R25–R30): registration, receipts, the
revision, the feed (snapshot and changes), AuthZEN decisions, enforcement and alerts."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import transaction

from compliance import clock, enforcement, entitlements, services
from compliance.entitlements import AccessQuery, evaluate_access, evaluate_one
from compliance.models import AuditRecord, Gateway, Partner, Release
from compliance.models.roles import can_read, can_read_access, role_of
from compliance.selectors import access_revision
from tests import factories
from tests.gateway_support import every_pair, seeded_world
from tests.helpers import (
    approved_entry,
    denied,
    directive,
    general,
    history_rows,
    invalid,
    limited,
)


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """The seeded world, built once for the module inside a transaction rolled back at the
    end; each test runs in its own savepoint (pytest-django's ``db``)."""
    with django_db_blocker.unblock(), transaction.atomic():
        staff = factories.UserFactory(username="sam", role="staff")
        admin = factories.UserFactory(username="ada", role="admin")
        agencies = [factories.AgencyFactory(code=c) for c in ("CAISI", "DOC", "ONCD", "OSTP")]
        yield seeded_world(staff, admin, agencies)
        transaction.set_rollback(True)


@pytest.fixture
def gateway(admin_user):
    gw, _token = services.create_gateway(actor=admin_user, name="gw-us-east")
    return gw


def receipt(gateway, revision=None):
    revision = access_revision() if revision is None else revision
    return services.record_receipt(gateway, actor=gateway.user, revision=revision)


# --- Registration (R25) ------------------------------------------------------------------


def test_admin_registers_a_gateway_with_its_role_record_and_token(admin_user):
    gateway, token = services.create_gateway(actor=admin_user, name="gw-1")
    assert (gateway.name, gateway.active, gateway.applied_revision) == ("gw-1", True, 0)
    assert (gateway.applied_at, gateway.last_seen_at) == (None, None)
    assert role_of(gateway.user) == "gateway"
    assert can_read_access(gateway.user) and not can_read(gateway.user)
    assert not gateway.user.has_usable_password() and not gateway.user.is_staff
    assert len(token) > 20
    [row] = history_rows(gateway)
    assert (row.history_type, row.history_user, row.history_change_reason) == (
        "+",
        admin_user,
        "gateway registered",
    )


def test_only_admins_register_and_names_are_unique(staff, admin_user):
    with denied():
        services.create_gateway(actor=staff, name="gw-1")
    with invalid(ValidationError) as exc:
        services.create_gateway(actor=admin_user, name=staff.username)
    assert exc.value.message_dict == {"name": ["A user or gateway with this name already exists."]}


def test_add_user_role_gateway_makes_the_record_and_prints_a_token(db, capsys):
    call_command("add_user", "gw-cli", "--role", "gateway", "--token")
    token = capsys.readouterr().out.strip()
    gateway = Gateway.objects.get(name="gw-cli")
    assert role_of(gateway.user) == "gateway" and len(token) > 20
    call_command("add_user", "gw-cli", "--role", "gateway")  # twice: still one record
    assert Gateway.objects.filter(name="gw-cli").count() == 1


# --- Receipts (R28) ----------------------------------------------------------------------


def test_an_advancing_receipt_is_history_a_repeated_one_only_sets_last_seen(gateway):
    revision = access_revision()
    with time_machine.travel("2026-11-13 22:40:02Z", tick=False):
        gateway = receipt(gateway, revision)
    assert gateway.applied_revision == revision
    assert (
        gateway.applied_at
        == gateway.last_seen_at
        == clock.now().replace(
            year=2026, month=11, day=13, hour=22, minute=40, second=2, microsecond=0
        )
    )
    rows = history_rows(gateway)
    assert len(rows) == 2
    assert (rows[-1].applied_revision, rows[-1].history_user, rows[-1].history_change_reason) == (
        revision,
        gateway.user,
        f"receipt: enforces revision {revision}",
    )
    # The receipt is in the audit chain, as a change that is no access change.
    record = AuditRecord.objects.order_by("-seq").first()
    assert (record.model, record.actor, record.seq) == ("gateway", "gw-us-east", revision + 1)
    assert not entitlements.is_access_change(record.model, record.changes)

    with time_machine.travel("2026-11-13 22:45:00Z", tick=False):
        again = receipt(gateway, revision - 1)
    assert again.applied_revision == revision
    assert Gateway.objects.get(pk=gateway.pk).last_seen_at.minute == 45
    assert len(history_rows(gateway)) == 2  # last_seen_at leaves no history row
    assert AuditRecord.objects.order_by("-seq").first().seq == revision + 1


def test_a_receipt_above_the_access_revision_is_bad_input(gateway):
    with invalid(ValidationError) as exc:
        receipt(gateway, access_revision() + 1)
    assert exc.value.message_dict == {"revision": ["Above the current access revision."]}


def test_only_the_gateway_itself_reports_its_receipts(gateway, admin_user):
    other, _ = services.create_gateway(actor=admin_user, name="gw-eu-west")
    for actor in (other.user, admin_user):
        with denied():
            services.record_receipt(gateway, actor=actor, revision=1)


# --- Revision and snapshot (R25) ---------------------------------------------------------


def test_the_revision_is_the_newest_ledger_seq(db):
    assert access_revision() == 0
    factories.AgencyFactory(code="DOC")
    assert access_revision() == AuditRecord.objects.order_by("-seq")[0].seq > 0


# --- The feed (R27) and R26 decisions agree with R15 --------------------------------------


def test_feed_and_evaluations_agree_with_the_access_check_for_every_pair(
    db, world, staff, admin_user, django_assert_max_num_queries
):
    pairs = every_pair()
    feed = entitlements.entitlement_snapshot()
    assert feed["revision"] == access_revision()
    entries = {e["release"]: e for e in feed["releases"]}
    assert list(entries) == sorted(entries)
    assert len(entries) == Release.objects.count()
    for partner, release, answer in pairs:
        assert (partner.pk in entries[release.slug]["allowed_partners"]) is answer["allowed"]
    queries = [AccessQuery(str(p.pk), r.slug, "use") for p, r, _ in pairs]
    with django_assert_max_num_queries(6):
        revision, decisions = evaluate_access(queries)
    assert revision == feed["revision"]
    assert [d["decision"] for d in decisions] == [a["allowed"] for _, _, a in pairs]
    assert [d["context"] for d in decisions] == [
        {"reason": a["reason"], "revision": revision} for _, _, a in pairs
    ]
    assert entries["r-limited-us"]["open_to"] == "allowlist"
    assert entries["r-limited-us"]["us_only"] is True
    assert entries["r-general"]["open_to"] == "everyone"
    assert entries["r-suspended"] == {
        "release": "r-suspended",
        "status": "suspended",
        "open_to": "nobody",
        "us_only": False,
        "allowed_partners": [],
    }


def test_evaluation_query_count_does_not_grow_with_the_batch(
    db, world, staff, admin_user, django_assert_max_num_queries
):
    small = [AccessQuery(str(Partner.objects.first().pk), "r-general", "use")]
    big = [AccessQuery(str(p), r, "use") for p in range(1, 60) for r in ("r-limited", "r-x")]
    for batch in (small, big):
        with django_assert_max_num_queries(6):
            evaluate_access(batch)


def test_unknown_partner_release_and_action_are_refusals(db, world, staff, admin_user):
    pk = str(world.us[0].pk)
    queries = [
        AccessQuery(pk, "r-general", "delete"),
        AccessQuery(pk, "no-such-release", "use"),
        AccessQuery("999999999", "r-general", "use"),
        AccessQuery("9" * 40, "r-general", "use"),
        AccessQuery("abc", "r-general", "use"),
        AccessQuery(None, "r-general", "use"),
        AccessQuery(pk, None, "use"),
    ]
    _rev, decisions = evaluate_access(queries)
    assert [(d["decision"], d["context"]["reason"]) for d in decisions] == [
        (False, "unsupported_action"),
        (False, "unknown_release"),
        (False, "unknown_partner"),
        (False, "unknown_partner"),
        (False, "unknown_partner"),
        (False, "unknown_partner"),
        (False, "unknown_release"),
    ]


def test_single_evaluation_is_one_read_and_answers_as_the_batch(
    db, world, staff, admin_user, django_assert_num_queries
):
    """``evaluate_one`` (POST /access/v1/evaluation) reads the revision and the facts in one
    statement (prepared on a connection's second use): the same answer as ``evaluate_access`` for
    every pair and every refusal."""
    pk = str(world.us[0].pk)
    queries = [AccessQuery(str(p.pk), r.slug, "use") for p, r, _ in every_pair()] + [
        AccessQuery(pk, "r-general", "delete"),
        AccessQuery(pk, "no-such-release", "use"),
        AccessQuery("999999999", "r-general", "use"),
        AccessQuery("9" * 40, "r-general", "use"),
        AccessQuery(None, "r-general", "use"),
        AccessQuery(pk, None, "use"),
        AccessQuery(pk, "r-\x00", "use"),
        AccessQuery("999999999", "no-such-release", "delete"),
    ]
    _revision, batch = evaluate_access(queries)
    for warm in queries[:2]:  # on PostgreSQL, a connection's second one PREPAREs the read
        assert evaluate_one(warm) == batch[queries.index(warm)]
    assert {d["context"]["reason"] for d in batch} == {
        "general",
        "allowlisted",
        "not_allowlisted",
        "foreign_restricted",
        "not_released",
        "suspended",
        "retired",
        "unsupported_action",
        "unknown_release",
        "unknown_partner",
    }
    for query, expected in zip(queries, batch, strict=True):
        with django_assert_num_queries(1):
            assert evaluate_one(query) == expected, query
    # The answer follows a change at once, with the new revision.
    revoked = next(q for q, d in zip(queries, batch, strict=True) if d["decision"])
    release = Release.objects.get(slug=revoked.release)
    services.transition_release(release, to="suspended", actor=staff, reason="directive")
    after = evaluate_one(revoked)
    assert after == {
        "decision": False,
        "context": {"reason": "suspended", "revision": access_revision()},
    }
    assert after["context"]["revision"] > batch[0]["context"]["revision"]


@pytest.mark.postgres
def test_batch_facts_in_one_statement_equal_the_orm_snapshot(
    db, world, staff, django_assert_num_queries
):
    """The batch's hand-written read (``batch_sql``: one statement, prepared on a
    connection's second run) returns exactly what the ORM's snapshot of four reads
    (``access_facts``) returns: every release and partner, unknown ones, none; after a
    change too."""
    slugs = sorted(Release.objects.values_list("slug", flat=True)) + ["no-such-release"]
    pks = sorted(Partner.objects.values_list("pk", flat=True)) + [10**12]
    full = entitlements.access_facts(slugs, pks)
    assert full[0] == access_revision() and full[3]  # approved pairs exist
    assert len(full[1]) == len(slugs) - 1 and len(full[2]) == len(pks) - 1
    for _ in range(2):
        entitlements.batch_facts(slugs, pks)
    cases = [(slugs, pks), (slugs[:2], pks), (slugs, pks[:1]), ([], pks), (slugs, []), ([], [])]
    cases.append((["no-such-release"], [10**12]))
    for case in cases:
        expected = entitlements.access_facts(*case)
        with django_assert_num_queries(1):
            assert entitlements.batch_facts(*case) == expected, case
    services.transition_release(world.limited, to="suspended", actor=staff, reason="directive")
    after = entitlements.batch_facts(slugs, pks)
    assert after == entitlements.access_facts(slugs, pks) and after != full


def test_changes_since_lists_exactly_the_entries_that_differ(db, world, staff, admin_user):
    before = entitlements.entitlement_snapshot()
    n = before["revision"]
    assert entitlements.entitlement_changes(n) == {"revision": n, "releases": []}
    # A change that changes no access answer: nothing differs.
    services.update_release(world.limited, actor=staff, description="edited")
    assert entitlements.entitlement_changes(n)["releases"] == []
    # Suspend one release: its entry, and only it, differs.
    services.transition_release(world.general, to="suspended", actor=staff, reason="directive")
    changes = entitlements.entitlement_changes(n)
    assert changes["revision"] == access_revision()
    assert [e["release"] for e in changes["releases"]] == ["r-general"]
    assert changes["releases"][0]["open_to"] == "nobody"
    # A US partner moves abroad: the restricted releases drop it; the unrestricted
    # allowlist keeps it (same entry as at n, so not listed).
    services.update_partner(world.us[0], actor=admin_user, country="GB")
    changed = {e["release"] for e in entitlements.entitlement_changes(n)["releases"]}
    assert changed == {"r-general", "r-general-us", "r-limited-us"}
    # since=0: every release (none existed then).
    assert len(entitlements.entitlement_changes(0)["releases"]) == Release.objects.count()


def test_a_new_release_and_a_change_undone_since_n(db, world, staff, admin_user):
    n = access_revision()
    entry = world.limited.allowlist.get(partner=world.us[0])
    services.revoke_allowlist_entry(entry, actor=admin_user, reason="paused")
    assert [e["release"] for e in entitlements.entitlement_changes(n)["releases"]] == ["r-limited"]
    factories.make_release(staff, slug="r-new")
    changed = entitlements.entitlement_changes(n)["releases"]
    assert [e["release"] for e in changed] == ["r-limited", "r-new"]


# --- Enforcement (R29) -------------------------------------------------------------------


def test_gate_enforcement_waits_for_every_active_gateway(agencies, staff, admin_user):
    release = services.submit_release(
        factories.make_release(staff, slug="g", agencies=agencies), actor=staff
    )
    release = limited(release, staff, admin_user)
    east, _ = services.create_gateway(actor=admin_user, name="gw-us-east")
    west, _ = services.create_gateway(actor=admin_user, name="gw-eu-west")
    off, _ = services.create_gateway(actor=admin_user, name="gw-old")
    services.set_gateway_active(off, actor=admin_user, active=False, reason="decommissioned")
    t0 = clock.now()
    with time_machine.travel(t0, tick=False):
        release = services.transition_release(release, to="suspended", actor=staff, reason="d")
    r = access_revision()
    change = enforcement.release_enforcement(release)
    assert change == {
        "revision": r,
        "at": t0,
        "enforced_at": None,
        "pending": ["gw-eu-west", "gw-us-east"],
    }
    with time_machine.travel(t0 + timedelta(seconds=1), tick=False):
        receipt(east, r)
    assert enforcement.release_enforcement(release)["pending"] == ["gw-eu-west"]
    with time_machine.travel(t0 + timedelta(seconds=2), tick=False):
        receipt(west)
    with time_machine.travel(t0 + timedelta(seconds=9), tick=False):
        receipt(Gateway.objects.get(pk=east.pk))  # a later receipt does not move enforced_at
    assert enforcement.release_enforcement(release) == {
        "revision": r,
        "at": t0,
        "enforced_at": t0 + timedelta(seconds=2),
        "pending": [],
    }


def test_request_enforcement_and_time_to_enforce(agencies, staff, admin_user):
    release = services.submit_release(
        factories.make_release(staff, slug="atlas-1", agencies=agencies), actor=staff
    )
    release = limited(release, staff, admin_user)
    east, _ = services.create_gateway(actor=admin_user, name="gw-us-east")
    received = clock.now()
    req = directive(staff, agencies[1], "suspend_access", [release], received_at=received)
    rows, seconds = enforcement.request_enforcement(req)
    assert (rows, seconds) == ([], None)
    with time_machine.travel(received + timedelta(minutes=19), tick=False):
        services.transition_release(release, to="suspended", actor=staff, reason="directive")
    r = access_revision()
    rows, seconds = enforcement.request_enforcement(req)
    assert seconds is None
    assert [(x["release"], x["change"], x["revision"], x["pending"]) for x in rows] == [
        ("atlas-1", "status: limited → suspended", r, ["gw-us-east"])
    ]
    with time_machine.travel(received + timedelta(minutes=19, seconds=2), tick=False):
        receipt(east, r)
    rows, seconds = enforcement.request_enforcement(req)
    assert rows[0]["enforced_at"] == received + timedelta(minutes=19, seconds=2)
    assert seconds == 19 * 60 + 2


# --- Alerts (R30) ------------------------------------------------------------------------


def test_lagging_and_silent_gateways(agencies, staff, admin_user, settings):
    settings.GATEWAY_LAG_SECONDS, settings.GATEWAY_SILENT_SECONDS = 60, 300
    t0 = clock.now()
    east, _ = services.create_gateway(actor=admin_user, name="gw-us-east")
    receipt(east)
    east = Gateway.objects.get(pk=east.pk)
    assert enforcement.gateway_alerts(t0 + timedelta(seconds=30)) == []
    # Receipts and other writes that change no access answer never make it lag.
    west, _ = services.create_gateway(actor=admin_user, name="gw-eu-west")
    receipt(west)
    assert enforcement.gateway_alerts(t0 + timedelta(seconds=120)) == []
    with time_machine.travel(t0 + timedelta(seconds=5), tick=False):
        release = factories.make_release(staff, slug="new", agencies=agencies)
        services.submit_release(release, actor=staff)
    receipt(Gateway.objects.get(pk=west.pk))
    kinds = [
        (a["kind"], a["gateway"]) for a in enforcement.gateway_alerts(t0 + timedelta(seconds=70))
    ]
    assert kinds == [("gateway_lagging", "gw-us-east")]
    [row] = enforcement.gateway_rows(Gateway.objects.filter(pk=east.pk), t0 + timedelta(seconds=70))
    assert row["lag_seconds"] == 65
    later = t0 + timedelta(seconds=400)
    assert sorted((a["kind"], a["gateway"]) for a in enforcement.gateway_alerts(later)) == [
        ("gateway_lagging", "gw-us-east"),
        ("gateway_silent", "gw-eu-west"),
        ("gateway_silent", "gw-us-east"),
    ]
    services.set_gateway_active(east, actor=admin_user, active=False)
    assert [a["gateway"] for a in enforcement.gateway_alerts(later)] == ["gw-eu-west"]


def test_release_page_states(agencies, staff, admin_user):
    release = services.submit_release(
        factories.make_release(staff, slug="atlas", agencies=agencies), actor=staff
    )
    east, _ = services.create_gateway(actor=admin_user, name="gw-us-east")
    west, _ = services.create_gateway(actor=admin_user, name="gw-eu-west")
    receipt(east)
    receipt(west)
    release = limited(release, staff, admin_user)
    approved_entry(release, staff, admin_user)
    receipt(Gateway.objects.get(pk=east.pk))
    states = {s["name"]: (s["state"], s["behind"]) for s in enforcement.gateway_states(release)}
    assert states == {"gw-us-east": ("enforcing", 0), "gw-eu-west": ("behind", 3)}
    later = clock.now() + timedelta(seconds=301)
    assert {s["state"] for s in enforcement.gateway_states(release, later)} == {"silent"}


@pytest.mark.postgres
def test_latest_access_change_read_by_parts_is_the_single_filters_newest(
    agencies, staff, admin_user
):
    """The gate reads the newest access change as the newest of three index-ordered parts
    (PostgreSQL), in a statement compiled once and run with each release's id: after every
    kind of change, for either release, it is the record the one OR-filter finds, field for
    field, and what the ORM's own UNION finds."""

    def newest(of) -> int | None:
        one = enforcement._release_access_changes(of).order_by("-seq").first()
        orm = enforcement._latest_access_change_parts(of.pk).first()
        read = enforcement._latest_release_access_change(of)
        if one is None:
            assert (orm, read) == (None, None)
            return None
        assert read == enforcement._change(one) == enforcement.AccessChange(*orm)
        return read.revision

    def both() -> int | None:
        newest(other)  # the same compiled statement, another release's id
        return newest(release)

    release = services.submit_release(
        factories.make_release(staff, slug="parts", agencies=agencies), actor=staff
    )
    other = services.submit_release(
        factories.make_release(staff, slug="other", agencies=agencies), actor=staff
    )
    seen = [both()]
    release = limited(release, staff, admin_user)  # status and an approved entry
    seen.append(both())
    entry = release.allowlist.get()
    services.update_partner(entry.partner, actor=admin_user, country="GB", reason="moved")
    seen.append(both())
    approved_entry(other, staff, admin_user)  # another release's change does not count
    seen.append(both())
    services.revoke_allowlist_entry(entry, actor=admin_user, reason="ended")
    seen.append(both())
    services.update_release(release, actor=staff, name="Renamed", reason="typo")  # not access
    seen.append(both())
    # each access change of the release moved the newest; the other release's and the
    # rename did not
    assert seen[0] < seen[1] < seen[2] == seen[3] < seen[4] == seen[5], seen


def test_a_partner_moving_abroad_is_an_access_change_of_a_general_us_only_release(
    agencies, staff, admin_user
):
    """R29 names a partner's country. A general, US-only release allows every domestic
    partner, so a partner that moves abroad changes its answer (and its feed entry) whether
    or not the partner is on its allowlist; a general release open abroad too, or one made
    general and US-only only after the move, does not count it."""

    def latest(release) -> int:
        return enforcement._latest_release_access_change(release).revision

    def wide(slug, **kwargs):
        release = factories.make_release(staff, slug=slug, agencies=agencies, **kwargs)
        return general(services.submit_release(release, actor=staff), staff)

    us_only = wide("wide-us", foreign_access_restricted=True)
    open_abroad = wide("wide")
    partner = factories.PartnerFactory(country="US")
    before = latest(open_abroad)
    services.update_partner(partner, actor=admin_user, country="GB", reason="moved")
    moved = AuditRecord.objects.filter(model="partner").latest("seq").seq
    assert latest(us_only) == moved and latest(open_abroad) == before
    assert enforcement.release_enforcement(us_only)["revision"] == moved
    newest = enforcement._release_access_changes(us_only).order_by("-seq").first()
    assert newest.seq == moved  # the single filter (SQLite, a request's list) agrees
    # ... and so does the feed: the partner left the US-only release's allowed partners.
    changed = {e["release"]: e for e in entitlements.entitlement_changes(moved - 1)["releases"]}
    assert "wide-us" in changed and "wide" not in changed
    assert partner.pk not in changed["wide-us"]["allowed_partners"]
    later = wide("later-us", foreign_access_restricted=True)
    assert not enforcement._release_access_changes(later).filter(model="partner").exists()

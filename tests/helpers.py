"""Helpers for the service-layer tests: "nothing half-done" snapshots, refusal assertions,
history-row assertions and a few ready-made release states, built through the services."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from contextlib import contextmanager
from html import unescape

import pytest
from django.apps import apps

from compliance import services
from compliance.errors import PermissionDenied, RuleViolation
from compliance.models import AllowlistEntry, SignOff, SignOffStatus, Stage
from tests import factories

# Rows of these apps make up "the database" for the unchanged-after-refusal checks.
_STATE_APPS = ("compliance", "auth")
_SKIP_MODELS = ("auth.Permission",)  # static reference rows, never written by a service


def _state_models() -> list:
    return [
        m
        for m in apps.get_models(include_auto_created=True)
        if m._meta.app_label in _STATE_APPS and m._meta.label not in _SKIP_MODELS
    ]


def history_models() -> list:
    """Every history table: one per tracked model plus one per tracked many-to-many field."""
    return [m for m in _state_models() if m.__name__.startswith("Historical")]


def history_counts(state: dict[str, list[tuple]] | None = None) -> dict[str, int]:
    """Rows per history table (taken from ``state`` when given, to spare the queries)."""
    if state is None:
        return {m._meta.label: m._default_manager.count() for m in history_models()}
    return {m._meta.label: len(state[m._meta.label]) for m in history_models()}


def db_state() -> dict[str, list[tuple]]:
    """Every row of every domain, join and history table, in primary-key order."""
    return {
        m._meta.label: list(m._default_manager.order_by("pk").values_list())
        for m in _state_models()
    }


@contextmanager
def unchanged_db() -> Iterator[None]:
    """Assert the block leaves the database as it found it: no row, no history row."""
    before = db_state()
    yield
    after = db_state()
    assert history_counts(after) == history_counts(before), "a refused call left history rows"
    assert after == before, "a refused call changed the database"


@contextmanager
def refused(*expected: dict) -> Iterator[pytest.ExceptionInfo]:
    """The block raises RuleViolation with exactly ``expected`` blockers, writing nothing."""
    with unchanged_db(), pytest.raises(RuleViolation) as exc:
        yield exc
    assert [b.as_dict() for b in exc.value.blockers] == list(expected)


@contextmanager
def denied() -> Iterator[None]:
    """The block raises PermissionDenied (role refused), writing nothing."""
    with unchanged_db(), pytest.raises(PermissionDenied):
        yield


@contextmanager
def invalid(exc_type: type[Exception]) -> Iterator[pytest.ExceptionInfo]:
    """The block raises ``exc_type`` (bad input), writing nothing."""
    with unchanged_db(), pytest.raises(exc_type) as exc:
        yield exc


# --- history ----------------------------------------------------------------------------


def history_rows(obj) -> list:
    return list(obj.history.order_by("history_id"))


def new_history(obj, since: int) -> list:
    """History rows of ``obj`` written after the history id ``since``."""
    return list(obj.history.filter(history_id__gt=since).order_by("history_id"))


def last_history_id(model) -> int:
    row = model.history.order_by("-history_id").first()
    return row.history_id if row else 0


def changes(row, prev=None, *, excluded=("updated_at",)) -> dict:
    """``{field: (old, new)}`` between a history row and the one before it (simple-history's
    ``diff_against``), many-to-many fields included."""
    if prev is None:
        # By history id, not simple-history's ``prev_record`` (by date): the rows of one
        # service call share one timestamp.
        prev = (
            type(row)
            ._default_manager.filter(id=row.id, history_id__lt=row.history_id)
            .order_by("-history_id")
            .first()
        )
    assert prev is not None, "no earlier history row to diff against"
    delta = row.diff_against(prev, excluded_fields=list(excluded))
    return {c.field: (c.old, c.new) for c in delta.changes}


def assert_row(row, *, user, reason: str, kind: str = "~") -> None:
    """Who (user FK and the durable actor label), why, and what kind of write."""
    assert (row.history_type, row.history_user, row.history_actor, row.history_change_reason) == (
        kind,
        user,
        user.get_username(),
        reason,
    )


def links(owner: str, owner_pk: int, other: str, other_pks) -> list[dict]:
    """Many-to-many rows as ``diff_against`` reports them."""
    return [{owner: owner_pk, other: pk} for pk in sorted(other_pks)]


# --- ready-made states, all through the services -----------------------------------------


def submitted(actor, agencies, *, slug="frontier-1", **kwargs):
    """A release in review, round 1."""
    release = factories.make_release(actor, slug=slug, agencies=agencies, **kwargs)
    return services.submit_release(release, actor=actor, reason="ready for review")


def signoff(release, code: str, stage: str) -> SignOff:
    return SignOff.objects.get(
        release=release, round=release.review_round, agency__code=code, stage=stage
    )


def approve(release, actor, *, stages=(Stage.LIMITED, Stage.GENERAL), skip=()) -> None:
    """Approve every current-round sign-off of ``stages`` except the agencies in ``skip``."""
    for so in SignOff.objects.filter(
        release=release,
        round=release.review_round,
        stage__in=stages,
        status=SignOffStatus.PENDING,
    ).select_related("agency"):
        if so.agency.code not in skip:
            services.decide_signoff(
                so, actor=actor, decision="approved", evidence=f"{so.agency.code} letter"
            )


def approved_entry(release, proposer, approver, partner=None, **decide) -> AllowlistEntry:
    partner = partner or factories.PartnerFactory()
    entry = services.propose_allowlist_entry(release, actor=proposer, partner=partner)
    return services.decide_allowlist_entry(entry, actor=approver, decision="approved", **decide)


_references = itertools.count(1)


def directive(actor, agency, kind: str, releases, *, binding=True, reference=None, **kwargs):
    """Record a government request (binding unless told) naming ``releases``."""
    return services.record_request(
        actor=actor,
        agency=agency,
        reference=reference or f"REF-{next(_references)}",
        kind=kind,
        binding=binding,
        releases=releases,
        **kwargs,
    )


def close(req, actor):
    return services.set_request_status(
        req, actor=actor, status="closed", note="withdrawn by agency"
    )


def limited(release, staff, admin):
    """A release taken to ``limited`` (all limited sign-offs approved, one partner)."""
    approve(release, staff, stages=(Stage.LIMITED,))
    approved_entry(release, staff, admin)
    return services.transition_release(release, to="limited", actor=staff, reason="preview")


def general(release, staff):
    """A release taken straight to ``general`` (all general sign-offs approved)."""
    approve(release, staff, stages=(Stage.GENERAL,))
    return services.transition_release(release, to="general", actor=staff, reason="launch")


def at_status(status: str, staff, admin, agencies, *, slug="frontier-1", **kwargs):
    """A release brought to ``status`` the way the rules allow (``kwargs``: its fields)."""
    if status == "draft":
        return factories.make_release(staff, slug=slug, agencies=agencies, **kwargs)
    release = submitted(staff, agencies, slug=slug, **kwargs)
    if status == "limited":
        release = limited(release, staff, admin)
    elif status == "general":
        release = general(release, staff)
    elif status in ("suspended", "retired"):
        release = services.transition_release(release, to=status, actor=staff, reason="pulled")
    return release


def page_form(html: str) -> dict[str, list[str]]:
    """What a browser posts from the page's form as rendered (one form on the page): every
    input with its value (hidden ones, the initial values a form carries, included), checked
    boxes, each textarea's text and each select's selected options."""
    data: dict[str, list[str]] = {}
    for tag in re.findall(r"<input\b[^>]*>", html):
        attrs = dict(re.findall(r'(\w[\w-]*)="([^"]*)"', tag))
        kind, name = attrs.get("type", "text"), attrs.get("name")
        if name is None or kind in ("submit", "button", "file"):
            continue
        if kind in ("checkbox", "radio"):
            if re.search(r"\schecked\b", tag):
                data.setdefault(name, []).append(unescape(attrs.get("value", "on")))
            continue
        data.setdefault(name, []).append(unescape(attrs.get("value", "")))
    for name, text in re.findall(r'<textarea name="([^"]+)"[^>]*>\n?(.*?)</textarea>', html, re.S):
        data[name] = [unescape(text)]
    for name, body in re.findall(r'<select name="([^"]+)"[^>]*>(.*?)</select>', html, re.S):
        data[name] = [
            unescape(v) for v in re.findall(r'<option value="([^"]*)"[^>]*selected', body)
        ]
    return data

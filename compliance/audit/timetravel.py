"""Point in time: the gate and the allowlist of a release as they stood at ``as_of``,
rebuilt from the history tables (never from current rows). A fixed number of queries."""

from __future__ import annotations

from datetime import datetime

from compliance.audit.chain import jsonable
from compliance.audit.registry import tracked_m2m
from compliance.models import (
    Agency,
    AllowlistEntry,
    AllowlistStatus,
    GovernmentRequest,
    Partner,
    Release,
    SignOff,
)
from compliance.rules import GateFacts
from compliance.selectors import gate_view


def _latest_of_each(model, as_of: datetime, **stable_filters) -> list:
    """The newest history record at ``as_of`` of each object (deleted ones dropped).
    Only filter on columns that never change (e.g. ``release_id``): the record must be
    the newest one of its object, whatever its other values."""
    history = model.history.model.objects.filter(history_date__lte=as_of, **stable_filters)
    newest: dict = {}
    for record in history.order_by("id", "-history_date", "-history_id"):
        newest.setdefault(record.id, record)
    return [r for r in newest.values() if r.history_type != "-"]


def release_as_of(release: Release, as_of: datetime):
    """The release's history record at ``as_of``; Release.DoesNotExist if it did not exist."""
    record = (
        Release.history.filter(id=release.pk, history_date__lte=as_of)
        .order_by("-history_date", "-history_id")
        .first()
    )
    if record is None or record.history_type == "-":
        raise Release.DoesNotExist(f"{release.slug} did not exist at {as_of.isoformat()}")
    return record


def release_gate_as_of(release: Release, as_of: datetime) -> dict:
    """``release_gate`` as it stood at ``as_of``, plus the allowlist then and ``as_of``."""
    record = release_as_of(release, as_of)
    then = record.instance
    required_ids = list(record.required_agencies.values_list("agency_id", flat=True))

    signoffs = [
        r.instance
        for r in _latest_of_each(SignOff, as_of, release_id=release.pk)
        if r.round == then.review_round
    ]
    entries = _latest_of_each(AllowlistEntry, as_of, release_id=release.pk)

    # The m2m history rows say which requests named the release, and when.
    ever_named = tracked_m2m(GovernmentRequest, "releases").history_model.objects.filter(
        release_id=release.pk
    )
    request_ids = set(ever_named.values_list("history__id", flat=True))
    requests = _latest_of_each(GovernmentRequest, as_of, id__in=request_ids)
    naming = set(
        ever_named.filter(history_id__in=[r.history_id for r in requests]).values_list(
            "history_id", flat=True
        )
    )
    binding = sorted(
        (
            r.instance
            for r in requests
            if r.history_id in naming and r.binding and r.status != "closed"
        ),
        key=lambda r: r.pk,
    )

    agency_ids = set(required_ids) | {s.agency_id for s in signoffs}
    agency_ids |= {e.vetted_by_id for e in entries if e.vetted_by_id}
    agencies = Agency.objects.in_bulk(agency_ids)
    for signoff in signoffs:
        signoff.agency = agencies[signoff.agency_id]
    partner_ids = {e.partner_id for e in entries}
    partners = {p.id: p.instance for p in _latest_of_each(Partner, as_of, id__in=partner_ids)}
    if partner_ids - set(partners):
        # Reference data written without a replayed clock (e.g. by a fixture) has no history
        # record that early: fall back to its current row.
        partners.update(Partner.objects.in_bulk(partner_ids - set(partners)))
    approved = []
    for e in entries:
        if e.status == AllowlistStatus.APPROVED:
            entry = e.instance
            entry.partner = partners[e.partner_id]
            approved.append(entry)

    facts = GateFacts(
        release=then,
        required_codes=sorted(agencies[i].code for i in required_ids),
        signoffs=signoffs,
        binding_requests=binding,
        approved_entries=approved,
    )
    return {
        **gate_view(facts),
        "as_of": jsonable(as_of),
        "allowlist": [
            {
                "id": e.id,
                "partner": e.partner_id,
                "partner_name": partners[e.partner_id].name,
                "country": str(partners[e.partner_id].country),
                "status": e.status,
                "vetted_by": agencies[e.vetted_by_id].code if e.vetted_by_id else None,
                "decided_at": jsonable(e.decided_at),
            }
            for e in sorted(entries, key=lambda e: e.id)
        ],
    }

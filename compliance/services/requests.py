"""Government requests and directives: record (R13), edit, move through statuses (R12)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError

from compliance import clock
from compliance.models import (
    Agency,
    EvidenceDocument,
    GovernmentRequest,
    Release,
    RequestKind,
    RequestStatus,
)
from compliance.notifications import events
from compliance.services.common import (
    lock,
    lock_all,
    move_blockers,
    refuse_if,
    require_editable,
    require_writer,
    save,
    service_transaction,
    set_many,
    stamp,
)
from compliance.services.evidence import lock_documents, relink

# R12: open → acknowledged → complied | contested → closed; contested → complied;
# open/acknowledged → closed.
STATUS_FLOW = {
    RequestStatus.OPEN: (RequestStatus.ACKNOWLEDGED, RequestStatus.CLOSED),
    RequestStatus.ACKNOWLEDGED: (
        RequestStatus.COMPLIED,
        RequestStatus.CONTESTED,
        RequestStatus.CLOSED,
    ),
    RequestStatus.CONTESTED: (RequestStatus.COMPLIED, RequestStatus.CLOSED),
    RequestStatus.COMPLIED: (RequestStatus.CLOSED,),
    RequestStatus.CLOSED: (),
}
EDITABLE_FIELDS = (
    "reference",
    "kind",
    "binding",
    "received_at",
    "due_at",
    "releases",
    "summary",
    "assignee",
    "lab_position",
    "response",
    "documents",
)


# A letter may carry a time zone ahead of ours, never a date days away.
RECEIVED_AHEAD_MAX = timedelta(days=1)
DUE_BEFORE_RECEIVED = "The due time cannot be before the time the request was received."
RECEIVED_IN_FUTURE = "The time received cannot be more than a day in the future."


def _check_times(received_at: datetime, due_at: datetime | None, *, received_changed: bool) -> None:
    """Bad input on the field, for the API and the pages alike: ``due_at`` before
    ``received_at``, or (when it is being set) a ``received_at`` more than a day ahead."""
    errors = {}
    if received_changed and received_at > clock.now() + RECEIVED_AHEAD_MAX:
        errors["received_at"] = [RECEIVED_IN_FUTURE]
    if due_at is not None and due_at < received_at:
        errors["due_at"] = [DUE_BEFORE_RECEIVED]
    if errors:
        raise ValidationError(errors)


def _lock_releases(releases: Iterable[Release]) -> list[Release]:
    return _lock_releases_by_id({r.pk for r in releases})


def _lock_releases_by_id(ids: Iterable[int]) -> list[Release]:
    if not ids:
        return []
    return lock_all(Release.objects.filter(pk__in=ids))


def _apply_restriction(request: GovernmentRequest, releases: list[Release], *, actor: User) -> None:
    """R13: a binding restrict_foreign_access request restricts every release it names."""
    if not (request.binding and request.kind == RequestKind.RESTRICT_FOREIGN_ACCESS):
        return
    if not request.in_force:
        return
    restricted = []
    for release in releases:
        if not release.foreign_access_restricted:
            restricted.append(release)
            release.foreign_access_restricted = True
            save(
                release,
                actor=actor,
                reason=f"foreign access restricted by {request.agency.code} request "
                f"#{request.pk} ({request.reference})",
                update_fields=["foreign_access_restricted", "updated_at"],
            )
    events.access_changed(restricted)


@service_transaction
def record_request(
    *,
    actor: User,
    agency: Agency,
    reference: str,
    kind: str,
    binding: bool = False,
    received_at: datetime | None = None,
    due_at: datetime | None = None,
    releases: Iterable[Release] = (),
    summary: str = "",
    assignee: User | None = None,
    lab_position: str = GovernmentRequest.Position.UNDECIDED,
    response: str = "",
    reason: str = "",
) -> GovernmentRequest:
    """Record a request received from an agency. Locks the releases it names first, so a
    directive and a state change of the same release never interleave."""
    require_writer(actor)
    given = received_at is not None
    received_at = received_at if given else clock.now()
    _check_times(received_at, due_at, received_changed=given)
    locked = _lock_releases(releases)
    request = GovernmentRequest(
        agency=agency,
        reference=reference,
        kind=kind,
        binding=binding,
        received_at=received_at,
        due_at=due_at,
        summary=summary,
        assignee=assignee,
        lab_position=lab_position,
        response=response,
    )
    save(request, actor=actor, reason=reason or "request recorded")
    if locked:
        stamp(request, actor, reason or "request recorded")
        request.releases.set(locked)
    _apply_restriction(request, locked, actor=actor)
    events.request_recorded(request, actor=actor)
    return request


@service_transaction
def update_request(
    request: GovernmentRequest, *, actor: User, reason: str = "", **changes: object
) -> GovernmentRequest:
    require_writer(actor)
    require_editable(changes, EDITABLE_FIELDS)
    releases = changes.pop("releases", None)
    documents = changes.pop("documents", None)
    # The request, then the releases it names now and the ones it will name (LOCK_ORDER),
    # all before the first write: under the request's lock its releases stay as read.
    request = lock(request)
    if "received_at" in changes or "due_at" in changes:
        _check_times(
            changes.get("received_at", request.received_at),
            changes.get("due_at", request.due_at),
            received_changed="received_at" in changes,
        )
    old_ids = set(request.releases.values_list("pk", flat=True))
    new_ids = None if releases is None else {r.pk for r in releases}
    current_ids = old_ids if new_ids is None else new_ids
    locked = {r.pk: r for r in _lock_releases_by_id(old_ids | current_ids)}
    linked = _lock_linked_documents(request, documents)
    for name, value in changes.items():
        setattr(request, name, value)
    if new_ids is not None:
        set_many(request, "releases", [locked[pk] for pk in sorted(new_ids)])
    if changes or new_ids is not None or documents is None:
        save(request, actor=actor, reason=reason or "request edited")
        _apply_restriction(request, [locked[pk] for pk in sorted(current_ids)], actor=actor)
    if documents is not None:
        relink(
            linked,
            field="requests",
            target=request,
            wanted={d.pk for d in documents},
            actor=actor,
            reason=reason or f"linked to request #{request.pk} ({request})",
        )
    return request


def _lock_linked_documents(
    request: GovernmentRequest, documents: Iterable[EvidenceDocument]
) -> list[EvidenceDocument]:
    """R38: the documents that link the request now and the ones that will (locked)."""
    if documents is None:
        return []
    return lock_documents([*request.documents.all(), *documents])


@service_transaction
def set_request_status(
    request: GovernmentRequest, *, actor: User, status: str, note: str = ""
) -> GovernmentRequest:
    """R12: move a request along its statuses; complied sets complied_at, closed closed_at."""
    require_writer(actor)
    request = lock(request)
    refuse_if(
        move_blockers(request.status, status, allowed=status in STATUS_FLOW.get(request.status, ()))
    )
    previous = request.status
    request.status = status
    if status == RequestStatus.COMPLIED:
        request.complied_at = clock.now()
    if status == RequestStatus.CLOSED:
        request.closed_at = clock.now()
    save(request, actor=actor, reason=note or f"{previous} → {status}")
    events.request_status_changed(request, previous=previous, actor=actor, note=note)
    return request

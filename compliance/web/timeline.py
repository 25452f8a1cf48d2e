"""The release page's timeline picture: state changes, sign-off decisions and directives,
read from the simple-history rows (three queries, whatever the history's length)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from compliance.models import GovernmentRequest, Release, SignOff, SignOffStatus

ROW_HEIGHT = 30
TOP = 24
MAX_EVENTS = 60


@dataclass(frozen=True)
class Event:
    at: datetime
    kind: str  # "state" | "decision" | "directive"
    label: str
    actor: str
    reason: str


def _status_changes(rows, describe_first, describe_change):
    """Yield (row, text) for a model's first history row and every change of its status."""
    last: dict[int, str] = {}
    for row in rows:
        previous = last.get(row.id)
        if previous is None:
            text = describe_first(row)
        elif row.status != previous:
            text = describe_change(row, previous)
        else:
            text = None
        last[row.id] = row.status
        if text:
            yield row, text


def release_events(release: Release) -> list[Event]:
    events: list[Event] = []

    def add(kind, row, text):
        events.append(
            Event(row.history_date, kind, text, row.history_actor, row.history_change_reason or "")
        )

    releases = Release.history.filter(id=release.pk).order_by("history_date", "history_id")
    for row, text in _status_changes(
        releases,
        lambda r: f"Created as {r.status}",
        lambda r, prev: (
            f"{prev} → {r.status}"
            + (f" (round {r.review_round})" if r.status == "in_review" else "")
        ),
    ):
        add("state", row, text)

    signoffs = {s.pk: s for s in SignOff.objects.filter(release=release).select_related("agency")}
    decisions = SignOff.history.filter(release_id=release.pk).order_by("history_date", "history_id")
    for row, text in _status_changes(
        decisions,
        lambda r: None,
        lambda r, prev: (
            f"{signoffs[r.id].agency.code} {r.status} {r.stage} (round {r.round})"
            if r.id in signoffs and r.status != SignOffStatus.PENDING
            else None
        ),
    ):
        add("decision", row, text)

    request_ids = list(release.requests.values_list("pk", flat=True))
    codes = dict(
        GovernmentRequest.objects.filter(pk__in=request_ids).values_list("pk", "agency__code")
    )
    history = GovernmentRequest.history.filter(id__in=request_ids).order_by(
        "history_date", "history_id"
    )

    def first(r):
        binding = "binding" if r.binding else "voluntary"
        return f"{codes.get(r.id, '')} {r.reference}: {binding} {r.kind.replace('_', ' ')} received"

    for row, text in _status_changes(
        history, first, lambda r, prev: f"{codes.get(r.id, '')} {r.reference}: {prev} → {r.status}"
    ):
        add("directive", row, text)

    events.sort(key=lambda e: e.at)
    return events[-MAX_EVENTS:]


LANES = (("state", "State"), ("decision", "Decisions"), ("directive", "Requests"))
STRIP_LEFT, STRIP_RIGHT, LANE_HEIGHT, LANE_TOP = 120, 940, 28, 18


def strip(events: list[Event]) -> dict:
    """A time-scaled overview: one lane per kind, each event a dot at its moment."""
    lanes = [
        {"kind": kind, "label": label, "y": LANE_TOP + i * LANE_HEIGHT}
        for i, (kind, label) in enumerate(LANES)
    ]
    lane_y = {lane["kind"]: lane["y"] for lane in lanes}
    axis_y = LANE_TOP + len(LANES) * LANE_HEIGHT - 8
    if not events:
        return {"lanes": lanes, "dots": [], "ticks": [], "axis_y": axis_y, "height": axis_y + 24}
    first, last = events[0].at, events[-1].at
    span = max((last - first).total_seconds(), 1.0)
    width = STRIP_RIGHT - STRIP_LEFT

    def x(moment) -> float:
        return round(STRIP_LEFT + (moment - first).total_seconds() / span * width, 1)

    dots = [{"event": e, "x": x(e.at), "y": lane_y[e.kind]} for e in events]
    ticks = [
        {"x": STRIP_LEFT, "at": first, "anchor": "start"},
        {"x": STRIP_RIGHT, "at": last, "anchor": "end"},
    ]
    if span >= 86400 * 2:
        ticks.insert(
            1, {"x": STRIP_LEFT + width / 2, "at": first + (last - first) / 2, "anchor": "middle"}
        )
    return {"lanes": lanes, "dots": dots, "ticks": ticks, "axis_y": axis_y, "height": axis_y + 24}


def timeline_rows(events: list[Event]) -> dict:
    """Coordinates for the SVG template: one row per event, newest last."""
    rows = [
        {"event": e, "y": TOP + i * ROW_HEIGHT, "text_y": TOP + i * ROW_HEIGHT + 4}
        for i, e in enumerate(events)
    ]
    return {
        "rows": rows,
        "height": TOP + max(len(events), 1) * ROW_HEIGHT,
        "line_end": TOP + max(len(events) - 1, 0) * ROW_HEIGHT,
        "strip": strip(events),
    }

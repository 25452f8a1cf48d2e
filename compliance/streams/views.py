"""GET /api/v1/entitlements/stream/ (R27): Server-Sent Events, served by an async view.

On connect: the entries changed since ``Last-Event-ID`` (or ``?since=``), then the current
revision; afterwards each change as ``id: <revision>`` / ``event: release`` / ``data:
<entry>``, and after each batch ``event: revision`` (the batch is complete: a gateway may
report its receipt). A comment line at least every ``STREAM_HEARTBEAT_SECONDS``.

The connection holds no thread and no database connection: it waits on its hub queue
(``compliance.streams.hub``); the database is used only for the catch-up on connect."""

from __future__ import annotations

import asyncio
import json

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import JsonResponse, StreamingHttpResponse
from django.views.decorators.http import require_GET
from rest_framework.exceptions import AuthenticationFailed

from compliance.entitlements import MAX_ID, entitlement_changes
from compliance.models.roles import can_read_access
from compliance.streams.hub import hub


def _refusal(status: int, detail: str) -> JsonResponse:
    response = JsonResponse({"detail": detail}, status=status)
    if status == 401:
        response["WWW-Authenticate"] = "Token"
    return response


async def _user(request):
    """The token's user (``Authorization: Token <key>``), else the session's, else None."""
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, key = header.partition(" ")
        if scheme != "Token" or not key.strip():
            raise AuthenticationFailed("Invalid token header.")
        from compliance.api.auth import TokenAuthentication

        user, _token = await sync_to_async(TokenAuthentication().authenticate_credentials)(
            key.strip().encode()
        )
        return user
    user = await request.auser()
    return user if user.is_authenticated else None


def _since(request) -> int | None:
    raw = request.headers.get("Last-Event-ID") or request.GET.get("since")
    if raw in (None, ""):
        return None
    if not str(raw).isascii() or not str(raw).isdigit() or int(raw) > MAX_ID:
        raise ValueError(raw)
    return int(raw)


def event(kind: str, revision: int, data: dict) -> str:
    return f"id: {revision}\nevent: {kind}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def _catch_up(since: int | None) -> dict:
    from compliance.entitlements import current_revision

    if since is None:
        return {"revision": current_revision(), "releases": []}
    return entitlement_changes(since)


@require_GET
async def entitlement_stream(request):
    try:
        user = await _user(request)
    except AuthenticationFailed as exc:
        return _refusal(401, str(exc.detail))
    if user is None:
        return _refusal(401, "Authentication credentials were not provided.")
    if not await sync_to_async(can_read_access)(user):
        return _refusal(403, "You do not have permission to perform this action.")
    try:
        since = _since(request)
    except ValueError:
        return JsonResponse({"since": ["A revision (a whole number) is required."]}, status=400)

    # Subscribe before the catch-up: a commit between the two is then in the queue, never lost.
    sub = hub.subscribe()
    try:
        first = await sync_to_async(_catch_up)(since)
    except BaseException:
        hub.unsubscribe(sub)
        raise
    response = StreamingHttpResponse(_events(sub, first), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # a proxy must not hold events back
    return response


async def _events(sub, first: dict):
    heartbeat = settings.STREAM_HEARTBEAT_SECONDS
    revision = first["revision"]
    try:
        yield "retry: 1000\n" + _batch(revision, first["releases"])
        while not sub.overflowed:
            try:
                batch = await asyncio.wait_for(sub.queue.get(), timeout=heartbeat)
            except TimeoutError:
                yield ": keep-alive\n\n"
                continue
            if batch.revision <= revision:
                continue  # the catch-up already covered it
            revision = batch.revision
            yield _batch(batch.revision, batch.releases)
    finally:
        hub.unsubscribe(sub)


def _batch(revision: int, releases: list[dict]) -> str:
    """One write per batch (a cut connection rarely splits it; the client resumes anyway)."""
    return "".join(event("release", revision, e) for e in releases) + event(
        "revision", revision, {"revision": revision}
    )

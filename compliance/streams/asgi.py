"""GET /api/v1/entitlements/stream/ (R27): Server-Sent Events, as a plain ASGI app mounted in
front of Django (``config/asgi.py``).

Why not a Django async view: Django's ASGI handler gives every request its own thread for
sync code (asgiref's ThreadSensitiveContext) and keeps it for the request's lifetime, which
for a stream is hours: one thread per subscriber. Here a subscriber is a coroutine waiting
on its hub queue; its few database reads (authentication, catch-up) run in the hub's one
database thread. No thread and no database connection per subscriber.

On connect: the entries changed since ``Last-Event-ID`` (or ``?since=``), then the current
revision; afterwards each change as ``id: <revision>`` / ``event: release`` / ``data:
<entry>``, and after each batch ``event: revision`` with ``{"revision", "access_changed"}``
(the batch is complete: a gateway reports its receipt when ``access_changed``). An access
change that alters no entry (a partner approved on a suspended release) is a batch of none:
``event: revision`` alone, reported too (R30: no gateway may lag on it); a catch-up says
whether one lies in its range. A comment line at least every
``STREAM_HEARTBEAT_SECONDS``."""

from __future__ import annotations

import asyncio
import json
from importlib import import_module
from types import SimpleNamespace
from urllib.parse import parse_qs

from django.conf import settings

from compliance.streams.hub import hub, read

STREAM_PATH = "/api/v1/entitlements/stream/"
MAX_ID = 2**63 - 1


def with_stream(django_app):
    """The ASGI application: the stream here, everything else to Django."""

    async def application(scope, receive, send):
        if scope["type"] == "http" and scope["path"] == STREAM_PATH:
            return await stream(scope, receive, send)
        return await django_app(scope, receive, send)

    return application


def event(kind: str, revision: int, data: dict) -> str:
    return f"id: {revision}\nevent: {kind}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def batch(revision: int, releases: list[dict], access_changed: bool = True) -> bytes:
    """One write per batch (a cut connection rarely splits it; the client resumes anyway).
    ``access_changed``: an access change (R29) is in the batch's range, entries or not, so
    a gateway reports the revision (every pushed batch; a catch-up only when so)."""
    text = "".join(event("release", revision, e) for e in releases)
    word = {"revision": revision, "access_changed": access_changed}
    return (text + event("revision", revision, word)).encode()


async def _json(send, status: int, body: dict, extra: list | None = None) -> None:
    payload = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


# --- Who is asking (sync: runs in the hub's database thread) -------------------------------


class Refused(Exception):
    def __init__(self, status: int, detail: str) -> None:
        self.status, self.detail = status, detail


def authenticate(headers: dict[bytes, bytes]):
    """The token's user (``Authorization: Token <key>``), else the session's (the cookie),
    refused unless its role reads access decisions (every role, gateways included)."""
    from compliance.models.roles import can_read_access

    header = headers.get(b"authorization", b"").decode("latin-1")
    if header:
        scheme, _, key = header.partition(" ")
        if scheme != "Token" or not key.strip():
            raise Refused(401, "Invalid token header.")
        from rest_framework.exceptions import AuthenticationFailed

        from compliance.api.auth import TokenAuthentication

        try:
            user, _token = TokenAuthentication().authenticate_credentials(key.strip().encode())
        except AuthenticationFailed as exc:
            raise Refused(401, str(exc.detail)) from exc
    else:
        user = _session_user(headers.get(b"cookie", b"").decode("latin-1"))
        if user is None or not user.is_authenticated:
            raise Refused(401, "Authentication credentials were not provided.")
    if not can_read_access(user):
        raise Refused(403, "You do not have permission to perform this action.")
    return user


def _session_user(cookie_header: str):
    from http.cookies import SimpleCookie

    from django.contrib.auth import get_user

    cookies = SimpleCookie()
    cookies.load(cookie_header)
    morsel = cookies.get(settings.SESSION_COOKIE_NAME)
    if morsel is None:
        return None
    store = import_module(settings.SESSION_ENGINE).SessionStore(morsel.value)
    return get_user(SimpleNamespace(session=store))


def catch_up(since: int | None) -> dict:
    """The changes since ``since`` and whether an access change lies in between (one that
    altered no entry included: committed while the gateway was cut off, it must still be
    reported, or the gateway would lag on it)."""
    from compliance.entitlements import announced_changes
    from compliance.selectors import access_revision

    if since is None:
        return {"revision": access_revision(), "releases": [], "access_changed": False}
    return announced_changes(since)


def _since(scope, headers) -> int | None:
    raw = headers.get(b"last-event-id", b"").decode("latin-1")
    if not raw:
        raw = (parse_qs(scope.get("query_string", b"").decode("latin-1")).get("since") or [""])[0]
    if raw == "":
        return None
    if not raw.isascii() or not raw.isdigit() or int(raw) > MAX_ID:
        raise ValueError(raw)
    return int(raw)


# --- The stream ----------------------------------------------------------------------------


async def stream(scope, receive, send) -> None:
    if scope["method"] not in ("GET", "HEAD"):
        await _json(send, 405, {"detail": f'Method "{scope["method"]}" not allowed.'})
        return
    headers = dict(scope["headers"])
    try:
        await read(authenticate, headers)
    except Refused as exc:
        extra = [(b"www-authenticate", b"Token")] if exc.status == 401 else []
        await _json(send, exc.status, {"detail": exc.detail}, extra)
        return
    try:
        since = _since(scope, headers)
    except ValueError:
        await _json(send, 400, {"since": ["A revision (a whole number) is required."]})
        return

    # Subscribe before the catch-up: a commit between the two is then in the queue.
    sub = await hub.subscribe()
    try:
        first = await read(catch_up, since)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"text/event-stream; charset=utf-8"),
                    (b"cache-control", b"no-cache"),
                    (b"x-accel-buffering", b"no"),  # a proxy must not hold events back
                    (b"x-content-type-options", b"nosniff"),
                ],
            }
        )
        body = b"retry: 1000\n" + batch(
            first["revision"], first["releases"], first["access_changed"]
        )
        await send({"type": "http.response.body", "body": body, "more_body": True})
        await _follow(sub, first["revision"], receive, send)
    finally:
        hub.unsubscribe(sub)


async def _follow(sub, revision: int, receive, send) -> None:
    heartbeat = settings.STREAM_HEARTBEAT_SECONDS
    disconnected = asyncio.ensure_future(_disconnect(receive))
    try:
        while not sub.overflowed:
            getter = asyncio.ensure_future(sub.queue.get())
            done, _ = await asyncio.wait(
                {getter, disconnected}, timeout=heartbeat, return_when=asyncio.FIRST_COMPLETED
            )
            if disconnected in done:
                getter.cancel()
                return
            if getter not in done:
                getter.cancel()
                await send(
                    {"type": "http.response.body", "body": b": keep-alive\n\n", "more_body": True}
                )
                continue
            item = getter.result()
            if item.revision <= revision:
                continue  # the catch-up already covered it
            revision = item.revision
            await send(
                {
                    "type": "http.response.body",
                    "body": batch(revision, item.releases),
                    "more_body": True,
                }
            )
        await send({"type": "http.response.body", "body": b""})  # overflowed: the client resumes
    finally:
        disconnected.cancel()


async def _disconnect(receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return

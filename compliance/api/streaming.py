"""Streamed response bodies that stay streamed under ASGI (evidence downloads and packs, the
audit export)."""

from __future__ import annotations

from collections.abc import Iterator

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest


def is_asgi(request) -> bool:
    return isinstance(getattr(request, "_request", request), ASGIRequest)


def stream_body(request, chunks: Iterator[bytes]):
    """The body of a streamed response. Under ASGI an async iterator pulling one chunk at a
    time in the request's thread: Django's ASGI handler reads a *sync* iterator whole before
    sending it (a 1 GB pack would need 1 GB). Under WSGI the iterator itself."""
    if not is_asgi(request):
        return chunks

    async def pull():
        iterator = iter(chunks)
        done = object()
        step = sync_to_async(next, thread_sensitive=True)
        try:
            while (chunk := await step(iterator, done)) is not done:
                yield chunk
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                await sync_to_async(close, thread_sensitive=True)()

    return pull()

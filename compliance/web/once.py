"""A form submitted twice (double click, reload, back and submit again) changes things once
and shows one outcome (SPEC "Pages").

Every POST form carries a one-time ``form_token``, rendered by the server
(``{% form_token %}``: no JavaScript needed; the local script only backs up a form that
lacks one). The first POST with a token claims
it in the shared cache (an atomic ``add``); a successful write stores its outcome (where it
redirected, and the message) under the token. A second POST with the same token runs no
service: it waits for the first to finish, then redirects to the same page with the same
message (``DistinctMessages`` shows a message once even when both requests queued it). A
refused or invalid POST changed nothing, so its claim is released: the corrected form may
be sent again.

After a refusal the page is rendered in answer to the POST (with its 400 or 409 and the
form keeping what the user typed); ``page_url`` names the page's own address, which the
script puts in the address bar (``history.replaceState``), so a reload is a plain GET."""

from __future__ import annotations

import re
import time
import uuid
from functools import wraps

from django.contrib import messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.core.cache import cache
from django.http import HttpResponseNotAllowed
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme

FIELD = "form_token"
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
PENDING = "pending"
TTL_SECONDS = 24 * 3600  # a resubmit within a day shows the first outcome
WAIT_SECONDS = 15.0  # how long a duplicate waits for the first submit to finish
POLL_SECONDS = 0.05


def new_token() -> str:
    return uuid.uuid4().hex


def _key(request, token: str) -> str:
    return f"clearance:form-once:{request.user.pk}:{token}"


def _token(request) -> str | None:
    token = request.POST.get(FIELD, "")
    return token if TOKEN_RE.match(token) else None


def succeeded(request, message: str) -> None:
    """A view's write succeeded: the message shown now, and again by a replay."""
    messages.success(request, message)
    request.clearance_outcome = message


def submit_once(view):
    """Decorate a view that writes on POST (after the role check)."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        token = _token(request) if request.method == "POST" else None
        if token is None:
            return view(request, *args, **kwargs)
        key = _key(request, token)
        if not cache.add(key, PENDING, timeout=TTL_SECONDS):
            replay = _replay(request, key)
            if replay is not None:
                return replay
            # The first attempt was refused and released its claim: this one decides anew.
            cache.add(key, PENDING, timeout=TTL_SECONDS)
        try:
            response = view(request, *args, **kwargs)
        except BaseException:
            cache.delete(key)
            raise
        message = getattr(request, "clearance_outcome", None)
        if message is not None and response.status_code in (301, 302, 303):
            cache.set(key, {"url": response["Location"], "message": message}, TTL_SECONDS)
        else:
            cache.delete(key)
        return response

    return wrapper


def post_only(page):
    """``require_POST`` for an action URL, except that a GET (a reload or a typed address
    after the browser kept the action's URL) goes to the page the action sits on, not to an
    empty 405. ``page(**url_kwargs)`` names that page."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if request.method in ("GET", "HEAD"):
                return redirect(page(**kwargs))
            if request.method != "POST":
                return HttpResponseNotAllowed(["POST"])
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def _replay(request, key: str):
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        outcome = cache.get(key)
        if isinstance(outcome, dict):
            messages.success(request, outcome["message"])
            return redirect(outcome["url"])
        if outcome is None:
            return None
        if time.monotonic() > deadline:  # the first is still running: say so, change nothing
            messages.info(request, "This form was already sent and is still being processed.")
            return redirect(_back(request))
        time.sleep(POLL_SECONDS)


class DistinctMessages(FallbackStorage):
    """Messages shown once each: a duplicate submit may queue the same message as the first
    (both requests' messages can reach the next page)."""

    def __iter__(self):
        seen = set()
        for message in super().__iter__():
            key = (message.level, str(message))
            if key not in seen:
                seen.add(key)
                yield message


def _back(request) -> str:
    referer = request.META.get("HTTP_REFERER", "")
    safe = url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return referer if safe else "/"

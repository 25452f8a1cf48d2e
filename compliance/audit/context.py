"""Who is acting. Services pass the user explicitly; tasks and commands run under a named
system actor (``system:<task>``) so no history row is ever anonymous (R21)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_system_actor: ContextVar[str | None] = ContextVar("clearance_system_actor", default=None)


@contextmanager
def system_actor(name: str) -> Iterator[str]:
    """Run a block as ``system:<name>``, e.g. ``with system_actor("send_reminders"):``."""
    label = name if name.startswith("system:") else f"system:{name}"
    token = _system_actor.set(label)
    try:
        yield label
    finally:
        _system_actor.reset(token)


def current_system_actor() -> str | None:
    return _system_actor.get()


def actor_label(user) -> str:
    """The text stored on a history row: the username, else the system actor, else ``system``."""
    if user is not None and getattr(user, "pk", None) is not None:
        return user.get_username()
    return current_system_actor() or "system"


def history_user_getter(instance=None, request=None, **_kwargs):
    """simple-history's ``get_user`` hook: the request's user for admin writes."""
    if request is not None and getattr(request, "user", None) is not None:
        if request.user.is_authenticated:
            return request.user
    return None

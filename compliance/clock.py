"""The time services record. ``seed_demo`` replays a scenario at its historical times;
everything else runs on the real clock."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime

from django.utils import timezone

_frozen: ContextVar[datetime | None] = ContextVar("clearance_clock", default=None)


def now() -> datetime:
    return _frozen.get() or timezone.now()


@contextmanager
def replaying_at(moment: datetime) -> Iterator[datetime]:
    """Record the writes of this block as if made at ``moment`` (used by seed_demo only)."""
    token = _frozen.set(moment)
    try:
        yield moment
    finally:
        _frozen.reset(token)

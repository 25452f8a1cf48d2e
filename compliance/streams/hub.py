"""One hub per server process: it learns that the ledger moved (PostgreSQL ``LISTEN
clearance_revision``, announced by a trigger on every committed ledger entry; polling on
SQLite), computes the changed feed entries ONCE, and hands the batch to every subscriber's
queue. Subscribers are asyncio queues: no thread, no database connection each."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from django.conf import settings
from django.db import close_old_connections, connection

from compliance.entitlements import announced_changes
from compliance.selectors import access_revision

log = logging.getLogger(__name__)

CHANNEL = "clearance_revision"  # migration 0011_revision_notify
QUEUE_SIZE = 1000  # batches a slow subscriber may fall behind before it is dropped
# With LISTEN, a look at the revision this often anyway (a notification lost to a broken
# listener connection is caught up within this).
SAFETY_POLL_SECONDS = 5.0


@dataclass(frozen=True)
class Batch:
    revision: int
    releases: list[dict]


@dataclass(eq=False)
class Subscription:
    queue: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    overflowed: bool = False


class Hub:
    def __init__(self) -> None:
        self.subscriptions: set[Subscription] = set()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self.revision: int | None = None

    async def subscribe(self) -> Subscription:
        """A queue that gets every batch the hub publishes from now on. Before it returns,
        the hub has its starting revision: read after the subscription and before the
        subscriber's catch-up, so a commit in between is in a batch (were the hub's first
        revision read after the catch-up, a change committed in between would reach no
        batch: that subscriber would go on answering from before it)."""
        self._start()
        sub = Subscription()
        self.subscriptions.add(sub)
        await self._baseline()
        return sub

    async def _baseline(self) -> None:
        if self.revision is None:
            revision = await read(access_revision)
            if self.revision is None:  # the first of two reads in flight wins
                self.revision = revision

    def unsubscribe(self, sub: Subscription) -> None:
        self.subscriptions.discard(sub)

    def _start(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is loop and all(not t.done() for t in self._tasks):
            return
        self._loop, self._wake = loop, asyncio.Event()
        # A fresh context: the tasks outlive the request that started them (and its
        # executor, which sync_to_async would otherwise try to use).
        self._tasks = [loop.create_task(self._broadcast(), context=contextvars.Context())]
        if _postgres():
            self._tasks.append(loop.create_task(self._listen(), context=contextvars.Context()))

    async def _listen(self) -> None:
        """Wake the broadcaster on every announced commit; reconnect when the link breaks."""
        import psycopg

        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    **_listen_params(), autocommit=True
                ) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self._wake.set()  # commits made while (re)connecting
                    async for _notify in conn.notifies():
                        self._wake.set()
            except asyncio.CancelledError:
                raise
            except Exception:  # the database restarted, a network blip: retry
                log.warning("entitlement stream: LISTEN connection lost; retrying", exc_info=True)
                await asyncio.sleep(1)

    async def _broadcast(self) -> None:
        interval = SAFETY_POLL_SECONDS if _postgres() else settings.STREAM_POLL_SECONDS
        while True:
            try:
                await self._baseline()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=interval)
                self._wake.clear()
                changes = await read(announced_changes, self.revision)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("entitlement stream: cannot read the feed; retrying", exc_info=True)
                await asyncio.sleep(1)
                continue
            if changes["revision"] < self.revision:
                self.revision = changes["revision"]  # a database restored from a backup
            if changes["revision"] <= self.revision:
                continue
            self.revision = changes["revision"]
            # An access change, with or without entries (one that altered none is announced
            # as a batch of none); receipts and other writes: nothing to say.
            if changes["access_changed"]:
                self._publish(Batch(changes["revision"], changes["releases"]))

    def _publish(self, batch: Batch) -> None:
        for sub in list(self.subscriptions):
            try:
                sub.queue.put_nowait(batch)
            except asyncio.QueueFull:
                sub.overflowed = True  # its stream ends; the client resumes by Last-Event-ID
                self.subscriptions.discard(sub)


# The hub's reads run in ONE thread of their own, so each process holds one database
# connection for the stream, whatever the number of subscribers.
_db_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="entitlement-hub")


def _in_db_thread(func, *args):
    close_old_connections()  # a connection broken or past CONN_MAX_AGE is replaced
    try:
        return func(*args)
    finally:
        # Past CONN_MAX_AGE already when it is 0, as under DB_POOL: the pooled connection
        # goes back to the pool between reads instead of being held by this thread.
        close_old_connections()


async def read(func, *args):
    """Run a sync database read in the hub's database thread."""
    return await asyncio.get_running_loop().run_in_executor(_db_thread, _in_db_thread, func, *args)


def _postgres() -> bool:
    return connection.vendor == "postgresql"


def _listen_params() -> dict:
    db = settings.DATABASES["default"]
    params = {
        "dbname": db["NAME"],
        "user": db.get("USER") or None,
        "password": db.get("PASSWORD") or None,
        "host": db.get("HOST") or None,
        "port": db.get("PORT") or None,
    }
    return {k: v for k, v in params.items() if v is not None}


hub = Hub()

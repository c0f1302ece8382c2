"""Changes, and the broker that carries them to live subscribers.

A mutation writes its rows and its change-feed entries in one transaction; after the commit it
hands the same changes to the broker, which fans them out to the subscriptions of that workspace
(in-process with one worker; over PostgreSQL LISTEN/NOTIFY across processes and hosts). The
change feed in the store is the durable record; the broker is best-effort delivery on top of it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Protocol

from app.settings import Settings

log = logging.getLogger("footage.events")

# Topics. A subscription listens to exactly one; a change is published to every topic it
# concerns (a result change reaches both its test's and its own result's subscribers).
TOPIC_TEST = "test"  # key: the user test's public uuid  -> resultChanged(testUuid)
TOPIC_RESULT = "result"  # key: the result's public uuid   -> attachedMediaChanged(resultUuid)


@dataclass(frozen=True, slots=True)
class Change:
    """One change to one object, as subscribers and the change feed see it.

    ``kind`` is CREATED, UPDATED, REJECTED or DELETED; ``object_type`` is the GraphQL type name
    (``UserTestResult``, ``TestSessionRecording``, ``AttachedMedia``); ``object_uuid`` its public
    uuid, from which a subscriber reloads the object through its own loaders and workspace.
    """

    workspace_id: int
    topic: str
    key: str
    kind: str
    object_type: str
    object_uuid: str
    # The change-feed entry's id (its cursor), when the change was recorded there.
    feed_id: int | None = None


class ChangeStream(Protocol):
    """What ``Broker.subscribe`` returns: an async iterator of changes that must be closed."""

    def __aiter__(self) -> ChangeStream: ...

    async def __anext__(self) -> Change: ...

    async def aclose(self) -> None:
        """Stop listening; iteration then ends."""
        ...


class Broker(Protocol):
    """Process-wide, built in the lifespan (``open_broker``)."""

    async def publish(self, changes: list[Change]) -> None:
        """Deliver after commit; never raises into the mutation (failures are logged)."""
        ...

    def subscribe(self, *, workspace_id: int, topic: str, key: str) -> ChangeStream:
        """Changes of one workspace's topic/key from this call on (the stream is registered
        before it is returned, not when first iterated), until the stream is closed."""
        ...

    async def close(self) -> None: ...


class SubscriberLagged(Exception):
    """Raised by a subscriber's stream that fell too far behind: it ends there, and the
    subscriber catches up from the change feed after the last change it handled."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the subscriber fell more than {limit} changes behind")
        self.limit = limit


_END: Final = object()
_LAGGED: Final = object()


class _Stream:
    """One subscriber's bounded queue. A subscriber that falls more than ``size`` changes
    behind is not silently skipped ahead: what it has not read is dropped and its stream ends
    with ``SubscriberLagged``, so it knows to catch up from the change feed."""

    def __init__(self, broker: InProcessBroker, address: tuple[int, str, str], size: int) -> None:
        self._broker = broker
        self.address = address
        self._size = size
        self._queue: asyncio.Queue[object] = asyncio.Queue(size)
        self._lagged = False

    def put(self, item: object) -> None:
        if self._lagged:
            return
        if not self._queue.full():
            self._queue.put_nowait(item)
            return
        if item is _END:  # the broker closes: that ends the stream just as well
            self._queue.get_nowait()
            self._queue.put_nowait(_END)
            return
        log.warning(
            "a subscriber of %s fell %d changes behind; ending it", self.address, self._size
        )
        self._lagged = True
        while not self._queue.empty():
            self._queue.get_nowait()
        self._queue.put_nowait(_LAGGED)

    def __aiter__(self) -> _Stream:
        return self

    async def __anext__(self) -> Change:
        item = await self._queue.get()
        if item is _END or item is _LAGGED:
            self._queue.put_nowait(item)  # every later call ends too
            if item is _LAGGED:
                raise SubscriberLagged(self._size)
            raise StopAsyncIteration
        assert isinstance(item, Change)
        return item

    async def aclose(self) -> None:
        self._broker._forget(self)
        while not self._queue.empty():
            self._queue.get_nowait()
        self._queue.put_nowait(_END)


class InProcessBroker:
    """One process: fan changes out to this process's subscribers through bounded queues."""

    def __init__(self, *, queue_size: int = 1_000) -> None:
        self._queue_size = queue_size
        self._streams: dict[tuple[int, str, str], set[_Stream]] = {}
        self._closed = False

    async def publish(self, changes: list[Change]) -> None:
        self.deliver(changes)

    def deliver(self, changes: Iterable[Change]) -> None:
        """Hand ``changes`` to this process's subscribers at once (no await: the PostgreSQL
        broker calls it from asyncpg's notification callback)."""
        for change in changes:
            for stream in self._streams.get((change.workspace_id, change.topic, change.key), ()):
                stream.put(change)

    def subscribe(self, *, workspace_id: int, topic: str, key: str) -> _Stream:
        stream = _Stream(self, (workspace_id, topic, key), self._queue_size)
        if self._closed:
            stream.put(_END)
        else:
            self._streams.setdefault(stream.address, set()).add(stream)
        return stream

    @property
    def subscriber_count(self) -> int:
        return sum(len(streams) for streams in self._streams.values())

    def _forget(self, stream: _Stream) -> None:
        streams = self._streams.get(stream.address)
        if streams is not None:
            streams.discard(stream)
            if not streams:
                del self._streams[stream.address]

    async def close(self) -> None:
        """End every subscriber's iteration; later subscriptions end at once."""
        self._closed = True
        for streams in list(self._streams.values()):
            for stream in list(streams):
                stream.put(_END)
        self._streams.clear()


async def open_broker(settings: Settings) -> Broker:
    """PostgreSQL LISTEN/NOTIFY when the database is PostgreSQL, so that the workers and hosts
    sharing it reach each other's subscribers; otherwise (SQLite: one host, and with several
    workers only the publishing worker's subscribers) the in-process broker."""
    if settings.database_url.startswith("postgresql"):
        from app.broker_postgres import PostgresBroker

        broker = PostgresBroker(settings.database_url)
        await broker.start()
        return broker
    return InProcessBroker()

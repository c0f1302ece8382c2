"""Changes, and the broker that carries them to live subscribers.

A mutation writes its rows and its change-feed entries in one transaction; after the commit it
hands the same changes to the broker, which fans them out to the subscriptions of that workspace
(in-process with one worker; over PostgreSQL LISTEN/NOTIFY across processes and hosts). The
change feed in the store is the durable record; the broker is best-effort delivery on top of it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

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


class Broker(Protocol):
    """Process-wide, built in the lifespan."""

    async def publish(self, changes: list[Change]) -> None:
        """Deliver after commit; never raises into the mutation (failures are logged)."""
        ...

    def subscribe(self, *, workspace_id: int, topic: str, key: str) -> AsyncIterator[Change]:
        """Changes of one workspace's topic/key from now on, until the iterator is closed."""
        ...

    async def close(self) -> None: ...


class InProcessBroker:
    """One worker: fan changes out to this process's subscribers through bounded queues.

    A subscriber that falls more than ``queue_size`` changes behind loses the oldest ones rather
    than holding memory without bound; the change feed is where it can catch up.
    """

    def __init__(self, *, queue_size: int = 1_000) -> None:
        self._queue_size = queue_size
        self._subscribers: dict[tuple[int, str, str], set[asyncio.Queue[Change]]] = {}

    async def publish(self, changes: list[Change]) -> None:
        for change in changes:
            for queue in self._subscribers.get((change.workspace_id, change.topic, change.key), ()):
                if queue.full():
                    queue.get_nowait()
                queue.put_nowait(change)

    async def subscribe(self, *, workspace_id: int, topic: str, key: str) -> AsyncIterator[Change]:
        queue: asyncio.Queue[Change] = asyncio.Queue(self._queue_size)
        subscribers = self._subscribers.setdefault((workspace_id, topic, key), set())
        subscribers.add(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            subscribers.discard(queue)
            if not subscribers:
                self._subscribers.pop((workspace_id, topic, key), None)

    async def close(self) -> None:
        self._subscribers.clear()

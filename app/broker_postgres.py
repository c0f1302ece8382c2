"""PostgreSQL LISTEN/NOTIFY: a change published by one process reaches the subscribers of every
process (workers and hosts) on the same database.

Each process keeps one dedicated asyncpg connection that LISTENs on ``footage_changes`` and also
sends the NOTIFYs. asyncpg directly, not the SQLAlchemy engine: a LISTEN must stay on one
long-lived session outside the pool (the pool recycles, pre-pings and resets connections, and a
pooled connection back in the pool would keep receiving notifications for nobody), and NOTIFY
is one statement that needs nothing from the store.

Delivery is after commit and best effort, like the in-process broker: the mutation calls
``publish`` once its transaction has committed, so subscribers never see a change that rolled
back; a change published while the connection is down is not sent to other processes (it still
reaches this process's subscribers), and notifications sent while a process is reconnecting are
lost to it. The change feed is the durable record, and every event carries its cursor.

A process receives its own notifications too. It delivers its own changes locally at once, and
skips notifications that carry its own origin id, so nothing is delivered twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg
import orjson

from app.events import Change, ChangeStream, InProcessBroker

log = logging.getLogger("footage.broker")

CHANNEL = "footage_changes"
# PostgreSQL refuses NOTIFY payloads of 8,000 bytes or more; keep a margin.
MAX_PAYLOAD_BYTES = 7_900
FORMAT_VERSION = 1
APPLICATION_NAME = "footage-broker"


def asyncpg_dsn(database_url: str) -> str:
    """asyncpg's spelling of a SQLAlchemy URL (``postgresql+asyncpg://`` -> ``postgresql://``)."""
    scheme, separator, rest = database_url.partition("://")
    if not separator or not scheme.startswith("postgresql"):
        raise ValueError("not a PostgreSQL URL")
    return "postgresql://" + rest


def encode_notifications(origin: str, changes: Sequence[Change]) -> list[str]:
    """NOTIFY payloads for ``changes``, as few as fit under the size limit, in order. Each is
    ``{"v": 1, "o": origin, "c": [[workspace_id, topic, key, kind, object_type, object_uuid,
    feed_id], ...]}``: identifiers only, subscribers reload the objects themselves."""
    head = orjson.dumps({"v": FORMAT_VERSION, "o": origin})[:-1] + b',"c":['
    payloads: list[str] = []
    batch: list[bytes] = []
    size = len(head) + 2

    def flush() -> None:
        if batch:
            payloads.append((head + b",".join(batch) + b"]}").decode())

    for change in changes:
        item = orjson.dumps(
            [
                change.workspace_id,
                change.topic,
                change.key,
                change.kind,
                change.object_type,
                change.object_uuid,
                change.feed_id,
            ]
        )
        if len(head) + len(item) + 2 > MAX_PAYLOAD_BYTES:
            # Keys are uuids the API assigns, so this cannot happen; never let it break the rest.
            log.error("change too large to NOTIFY, not sent to other processes: %r", change)
            continue
        if size + len(item) + 1 > MAX_PAYLOAD_BYTES:
            flush()
            batch, size = [], len(head) + 2
        batch.append(item)
        size += len(item) + 1
    flush()
    return payloads


def decode_notification(payload: str) -> tuple[str, list[Change]] | None:
    """``(origin, changes)``, or None for anything that is not one of our payloads (anyone who
    may connect to the database can NOTIFY on the channel)."""
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict) or data.get("v") != FORMAT_VERSION:
        return None
    origin, items = data.get("o"), data.get("c")
    if not isinstance(origin, str) or not isinstance(items, list):
        return None
    changes = [_change(item) for item in items]
    if any(change is None for change in changes):
        return None
    return origin, [change for change in changes if change is not None]


def _change(item: Any) -> Change | None:
    if not isinstance(item, list) or len(item) != 7:
        return None
    workspace_id, topic, key, kind, object_type, object_uuid, feed_id = item
    if not _is_int(workspace_id) or not (feed_id is None or _is_int(feed_id)):
        return None
    if not all(isinstance(text, str) for text in (topic, key, kind, object_type, object_uuid)):
        return None
    return Change(workspace_id, topic, key, kind, object_type, object_uuid, feed_id)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# NOTIFY batches a process lets wait for a slow PostgreSQL before it drops new ones (with a
# warning; the change feed has every change).
MAX_PENDING_NOTIFICATIONS = 1_000


class PostgresBroker:
    """Process-wide. ``start`` before serving (the first LISTEN is established then, so a change
    committed after start-up reaches this process); ``close`` in the lifespan's ``finally``."""

    def __init__(
        self,
        database_url: str,
        *,
        channel: str = CHANNEL,
        queue_size: int = 1_000,
        retry_min: float = 0.5,
        retry_max: float = 30.0,
        keepalive: float = 30.0,
        publish_timeout: float = 5.0,
    ) -> None:
        self._dsn = asyncpg_dsn(database_url)
        self._channel = channel
        self._local = InProcessBroker(queue_size=queue_size)
        # This process's own notifications come back to it: they carry this id and are skipped.
        self._origin = uuid.uuid4().hex
        self._retry_min = retry_min
        self._retry_max = retry_max
        self._keepalive = keepalive
        self._publish_timeout = publish_timeout
        self._connection: asyncpg.Connection[Any] | None = None
        self._lost = asyncio.Event()
        # One statement at a time on the connection: NOTIFYs and keep-alive probes.
        self._lock = asyncio.Lock()
        # NOTIFY batches on their way (publish does not wait for them); started in publish
        # order, they take the lock in that order, so other processes see changes in order.
        self._notifying: set[asyncio.Task[None]] = set()
        self._closing = False
        self._supervisor: asyncio.Task[None] | None = None
        # How many times a LISTEN was established (observability, and tests of reconnection).
        self.connections = 0

    @property
    def listening(self) -> bool:
        return self._connection is not None and not self._lost.is_set()

    @property
    def subscriber_count(self) -> int:
        return self._local.subscriber_count

    async def start(self) -> None:
        await self._listen()
        self._supervisor = asyncio.create_task(self._supervise(), name="footage-broker-listen")

    def subscribe(self, *, workspace_id: int, topic: str, key: str) -> ChangeStream:
        return self._local.subscribe(workspace_id=workspace_id, topic=topic, key=key)

    async def publish(self, changes: list[Change]) -> None:
        """Deliver to this process's subscribers now; NOTIFY the other processes in the
        background. The caller (a mutation that has committed) never waits for PostgreSQL: a
        stalled connection would otherwise hold every mutation for the publish timeout, and
        could turn a committed write into a timeout answer."""
        if not changes:
            return
        self._local.deliver(changes)
        if self._closing:
            return  # the server is stopping: its connection is going (the feed has these)
        if len(self._notifying) >= MAX_PENDING_NOTIFICATIONS:
            log.warning(
                "%d NOTIFY batches already pending: %d change(s) not sent to other processes "
                "(the change feed has them)",
                len(self._notifying),
                len(changes),
            )
            return
        task = asyncio.create_task(self._notify(changes), name="footage-broker-notify")
        self._notifying.add(task)
        task.add_done_callback(self._notifying.discard)

    async def flush(self) -> None:
        """Wait for the NOTIFYs already handed to the background (tests, and close)."""
        while self._notifying:
            await asyncio.gather(*self._notifying, return_exceptions=True)

    async def _notify(self, changes: list[Change]) -> None:
        payloads = encode_notifications(self._origin, changes)
        try:
            async with asyncio.timeout(self._publish_timeout), self._lock:
                connection = self._connection
                if connection is None or connection.is_closed():
                    raise ConnectionError("no connection to PostgreSQL")
                await connection.executemany(
                    "SELECT pg_notify($1, $2)", [(self._channel, payload) for payload in payloads]
                )
        except Exception:
            # Never into the mutation, which has committed: other processes miss this change
            # (the change feed has it).
            log.warning(
                "could not NOTIFY %d change(s) to other processes", len(changes), exc_info=True
            )

    async def close(self) -> None:
        # What was published before the close still goes out (each within the publish timeout).
        self._closing = True
        await self.flush()
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
        await self._disconnect()
        await self._local.close()

    # -- the LISTEN connection --------------------------------------------------------------

    async def _listen(self) -> None:
        connection = await asyncpg.connect(
            self._dsn, server_settings={"application_name": APPLICATION_NAME}
        )
        try:
            lost = asyncio.Event()
            connection.add_termination_listener(lambda _connection: lost.set())
            await connection.add_listener(self._channel, self._on_notification)
        except BaseException:
            connection.terminate()
            raise
        self._connection, self._lost = connection, lost
        self.connections += 1

    async def _disconnect(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None or connection.is_closed():
            return
        try:
            async with asyncio.timeout(self._publish_timeout):
                await connection.close()
        except asyncio.CancelledError:
            connection.terminate()
            raise
        except Exception:
            connection.terminate()

    async def _supervise(self) -> None:
        """Watch the connection; when it drops, reconnect with exponential backoff (with
        jitter, so the workers of a restarted database do not reconnect in lockstep)."""
        delay = self._retry_min
        while True:
            await self._watch()
            log.warning("the LISTEN connection to PostgreSQL was lost; reconnecting")
            await self._disconnect()
            while True:
                try:
                    await self._listen()
                except Exception as error:  # refused, reset, authentication, timeout...
                    pause = delay * (0.5 + random.random() / 2)  # noqa: S311 - jitter, not a secret
                    log.warning("cannot LISTEN on PostgreSQL (%s); retry in %.1f s", error, pause)
                    await asyncio.sleep(pause)
                    delay = min(delay * 2, self._retry_max)
                else:
                    log.info("listening on PostgreSQL again")
                    delay = self._retry_min
                    break

    async def _watch(self) -> None:
        """Return once the connection is lost: closed by the server or the network (asyncpg's
        termination callback), or silent past a keep-alive probe."""
        while True:
            try:
                async with asyncio.timeout(self._keepalive):
                    await self._lost.wait()
                return
            except TimeoutError:
                pass
            try:
                async with asyncio.timeout(self._keepalive), self._lock:
                    connection = self._connection
                    if connection is None:
                        return
                    await connection.execute("SELECT 1")
            except Exception:
                return

    def _on_notification(
        self, _connection: object, _pid: int, _channel: str, payload: object
    ) -> None:
        decoded = decode_notification(payload) if isinstance(payload, str) else None
        if decoded is None:
            log.warning("ignored a notification on %s that is not Footage's", self._channel)
            return
        origin, changes = decoded
        if origin != self._origin:
            self._local.deliver(changes)

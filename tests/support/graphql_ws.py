"""A small graphql-transport-ws client over real websockets (the ``websockets`` library).

``subscribe`` sends the subscription and then a ``ping``: the server handles the ping only once
the subscription listens (or failed), so when the ``pong`` arrives the subscription is live and
whatever the server answered to it (an ``error``) has arrived too. Every wait is bounded by
``WAIT`` so a broken server fails a test instead of hanging it; nothing asserts on durations.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Origin, Subprotocol

PROTOCOL = Subprotocol("graphql-transport-ws")
WAIT = 15.0


def ws_url(base_url: str) -> str:
    return base_url.replace("http://", "ws://", 1) + "/graphql"


class GraphQLWS:
    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket
        self._by_id: defaultdict[str, deque[dict[str, Any]]] = defaultdict(deque)

    @classmethod
    @asynccontextmanager
    async def connect(
        cls,
        base_url: str,
        *,
        origin: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> AsyncIterator[GraphQLWS]:
        async with connect(
            ws_url(base_url),
            subprotocols=[PROTOCOL],
            origin=Origin(origin) if origin else None,
            additional_headers=headers,
            open_timeout=WAIT,
            close_timeout=2,
        ) as socket:
            yield cls(socket)

    @classmethod
    @asynccontextmanager
    async def session(cls, base_url: str, key: str) -> AsyncIterator[GraphQLWS]:
        """Connected and acknowledged with ``key`` in ``connection_init``."""
        async with cls.connect(base_url) as client:
            ack = await client.init({"Authorization": f"Bearer {key}"})
            assert ack["type"] == "connection_ack", ack
            yield client

    async def send(self, message: object) -> None:
        await self.socket.send(orjson.dumps(message).decode())

    async def receive(self) -> dict[str, Any]:
        async with asyncio.timeout(WAIT):
            message: dict[str, Any] = orjson.loads(await self.socket.recv())
        return message

    async def init(self, payload: object | None = None) -> dict[str, Any]:
        message: dict[str, object] = {"type": "connection_init"}
        if payload is not None:
            message["payload"] = payload
        await self.send(message)
        return await self.receive()

    async def subscribe(
        self, operation_id: str, query: str, variables: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Subscribe and wait until it is live; the messages that came for it meanwhile."""
        payload: dict[str, Any] = {"query": query}
        if variables is not None:
            payload["variables"] = variables
        await self.send({"type": "subscribe", "id": operation_id, "payload": payload})
        await self.sync()
        return list(self._by_id.pop(operation_id, ()))

    async def sync(self) -> None:
        """Ping, and keep what arrives before the pong."""
        await self.send({"type": "ping"})
        while True:
            message = await self.receive()
            if message["type"] == "pong":
                return
            self._by_id[message.get("id", "")].append(message)

    async def next_message(self, operation_id: str) -> dict[str, Any]:
        """The next message for ``operation_id`` (others are kept for later)."""
        queue = self._by_id[operation_id]
        while not queue:
            message = await self.receive()
            self._by_id[message.get("id", "")].append(message)
        return queue.popleft()

    async def next_data(self, operation_id: str) -> dict[str, Any]:
        message = await self.next_message(operation_id)
        assert message["type"] == "next", message
        assert "errors" not in message["payload"], message["payload"]["errors"]
        data: dict[str, Any] = message["payload"]["data"]
        return data

    async def complete(self, operation_id: str) -> None:
        await self.send({"type": "complete", "id": operation_id})

    async def closed(self) -> tuple[int, str]:
        """Wait for the server to close the socket; its close code and reason. Messages that
        arrive first are kept."""
        async with asyncio.timeout(WAIT):
            while True:
                try:
                    raw = await self.socket.recv()
                except ConnectionClosed as closed:
                    frame = closed.rcvd
                    break
                message = orjson.loads(raw)
                self._by_id[message.get("id", "")].append(message)
        assert frame is not None, "the server did not send a close frame"
        return frame.code, frame.reason

    def pending(self, operation_id: str) -> list[dict[str, Any]]:
        return list(self._by_id[operation_id])


def error_codes(message: dict[str, Any]) -> list[str | None]:
    """The codes of an ``error`` message's payload, or of a ``next`` message's errors."""
    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    return [error.get("extensions", {}).get("code") for error in errors]

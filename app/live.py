"""One websocket connection, and how its subscriptions follow changes.

A socket lives for hours; a ``Context`` (store, loaders, URL budget) is cut for one request. So
the socket keeps only who it is (the key from ``connection_init``), and each of its operations
gets a ``Context`` of its own (``operation_context``). Within a subscription every event starts
with fresh loaders and a fresh URL budget, and the store's connection goes back to the pool
once the event is executed (before it is sent: ``app.schema``) and while waiting for the next:
an idle subscription, or one whose client is slow to read, holds no database connection.

The key is checked again before every event and on every ``subscribe`` message, through the
authenticator's cache (at most one lookup per ``FOOTAGE_API_KEY_CACHE_SECONDS`` per key and
process). A key that was revoked or has expired closes the socket with 4403 before anything
more is sent. A check that fails (the database is unreachable) is no such answer: before an
event, the key is not known to be revoked and the event goes out; elsewhere the caller decides
(``KeyCheckFailed``). A socket that stays idle is not re-checked: it receives nothing to
re-check for.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import AsyncGenerator, Mapping

from starlette.websockets import WebSocket

from app.auth import Viewer, bearer_token
from app.context import Context, Services
from app.events import Change, ChangeStream
from app.settings import Settings
from app.store.facade import Store

FORBIDDEN = 4403  # graphql-transport-ws: the connection is not (or no longer) allowed

log = logging.getLogger("footage.websocket")


class KeyCheckFailed(Exception):
    """The key could not be looked up (a database error, a pool timeout...): it is neither
    known to be valid nor known to be revoked."""


class LiveConnection:
    """Strawberry's handler keeps this as the socket's context and fills ``connection_params``
    from ``connection_init``; the view authenticates it there (``authenticate``)."""

    def __init__(self, services: Services, websocket: WebSocket, request_id: str) -> None:
        self.services = services
        self.websocket = websocket
        self.request_id = request_id
        self.connection_params: dict[str, object] | None = None
        self.viewer: Viewer | None = None
        self._token: str | None = None
        self._operation_ids = itertools.count(1)
        self._listening = asyncio.Event()

    @property
    def settings(self) -> Settings:
        return self.services.settings

    # -- who is on the socket ------------------------------------------------------------------

    async def authenticate(self) -> bool:
        """The key from ``connection_init``'s payload (``Authorization: Bearer <key>`` in any
        case, or ``apiKey``, at the top or in a ``headers`` object), else from the upgrade
        request's ``Authorization`` header. A key given in the payload is the one that counts,
        valid or not. ``KeyCheckFailed`` when it could not be looked up."""
        token = _token_from(self.connection_params or {})
        if token is None:
            token = bearer_token(self.websocket.headers.get("authorization"))
        self._token = token
        self.viewer = await self._look_up(token)
        return self.viewer is not None

    async def key_still_valid(self) -> bool:
        """False once the key was revoked or has expired; ``KeyCheckFailed`` when that could
        not be checked."""
        if self.viewer is None:
            return False
        viewer = await self._look_up(self._token)
        return viewer is not None and viewer.api_key_id == self.viewer.api_key_id

    async def _look_up(self, token: str | None) -> Viewer | None:
        store = Store(self.services.connect, self.services.begin)
        try:
            return await self.services.authenticator.authenticate(store, token)
        except Exception as error:
            raise KeyCheckFailed(f"the API key could not be looked up: {error!r}") from error
        finally:
            await store.close()

    def retry_after(self) -> float:
        """The key's rate limit, shared with HTTP: each ``subscribe`` counts as one request."""
        assert self.viewer is not None
        return self.services.rate_limiter.retry_after(self.viewer.api_key_id)

    async def close(self, code: int, reason: str) -> None:
        with contextlib.suppress(RuntimeError):  # already closed
            await self.websocket.close(code=code, reason=reason)

    # -- operations ------------------------------------------------------------------------------

    def operation_context(self) -> Context:
        """A context for one operation on this socket: the socket's viewer, a store and loaders
        of its own."""
        services = self.services
        return Context(
            request=self.websocket,
            settings=services.settings,
            store=Store(services.connect, services.begin, trees=services.trees),
            minter=services.minter,
            broker=services.broker,
            storage=services.storage,
            pacer=services.pacer,
            answers=services.answers,
            pages=services.pages,
            viewer_or_none=self.viewer,
            request_id=f"{self.request_id}.{next(self._operation_ids)}",
            socket=self,
        )

    def expect_listening(self) -> None:
        self._listening.clear()

    def listening(self) -> None:
        self._listening.set()

    async def until_listening(self, operation: asyncio.Task[None]) -> None:
        """Wait until the operation just started listens for changes, fails or ends (at most
        the query timeout). The socket handles its next message only then, so a ``pong``
        answered after a ``subscribe`` means the subscription is live."""
        listening = asyncio.ensure_future(self._listening.wait())
        try:
            await asyncio.wait(
                {listening, operation},
                timeout=self.settings.query_timeout,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            listening.cancel()


def _token_from(params: Mapping[str, object]) -> str | None:
    """The key at the payload's top level, else in its ``headers`` object (clients that send
    their HTTP headers along). Nothing nested deeper is looked at."""
    token = _token_at(params)
    headers = params.get("headers")
    if token is None and isinstance(headers, dict):
        token = _token_at(headers)
    return token or None


def _token_at(params: Mapping[str, object]) -> str | None:
    """The key given in ``params`` ("" when given empty: it still counts), None if none is."""
    for name, value in params.items():
        if name.lower() == "authorization" and isinstance(value, str):
            return bearer_token(value) or value.strip()
        if name == "apiKey" and isinstance(value, str):
            return value.strip()
    return None


def follow(context: Context, *, topic: str, key: str) -> ChangeStream:
    """Changes of ``topic``/``key`` in the viewer's workspace from now on: the broker has
    registered the subscription before this returns (close the result, even unread, to let
    it go). The socket learns that the subscription listens once the result is first read,
    after the resolver's own checks. Each change is handed out with fresh loaders and URL
    budget; the store is released after it and while waiting."""
    changes = context.broker.subscribe(
        workspace_id=context.viewer.workspace_id, topic=topic, key=key
    )
    return _Delivery(context, changes)


class _Delivery:
    """``_deliver``'s changes, and ``aclose`` ends the broker's stream even before the first
    was asked for (an async generator that never started runs no ``finally``)."""

    __slots__ = ("_changes", "_delivered")

    def __init__(self, context: Context, changes: ChangeStream) -> None:
        self._changes = changes
        self._delivered = _deliver(context, changes)

    def __aiter__(self) -> _Delivery:
        return self

    async def __anext__(self) -> Change:
        return await anext(self._delivered)

    async def aclose(self) -> None:
        try:
            await self._delivered.aclose()
        finally:
            await self._changes.aclose()


async def _deliver(context: Context, changes: ChangeStream) -> AsyncGenerator[Change, None]:
    socket = context.socket
    try:
        if socket is not None:
            socket.listening()
        await context.release()
        async for change in changes:
            if socket is not None and await _revoked(socket):
                await socket.close(FORBIDDEN, "Forbidden: the API key was revoked or expired")
                # Send nothing more: the handler cancels this operation as the socket closes.
                await asyncio.Event().wait()
            try:
                yield change
            finally:
                # Resumed only once the event was executed and sent.
                await context.release()
    finally:
        await changes.aclose()


async def _revoked(socket: LiveConnection) -> bool:
    """Only a definite answer stops events: a failed check is not a revocation."""
    try:
        return not await socket.key_still_valid()
    except KeyCheckFailed as failed:
        log.warning("delivering an event without re-checking its key: %s", failed)
        return False

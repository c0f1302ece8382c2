"""Per-process limits outside GraphQL validation: request size, rate and request ids."""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.pacing import Pacer
from app.turns import Turn, Turns

_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def graphql_error_body(message: str, code: str, **extensions: object) -> bytes:
    error = {"message": message, "extensions": {"code": code, **extensions}}
    return orjson.dumps({"errors": [error]})


async def send_graphql_error(
    send: Send, status: int, body: bytes, headers: tuple[tuple[bytes, bytes], ...] = ()
) -> None:
    """Answer a request this middleware refuses before the app sees it: a JSON error body."""
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RequestContextMiddleware:
    """Gives every HTTP request an id (a sane incoming ``X-Request-Id`` is kept), answers it in
    the response, and refuses bodies over ``max_body_bytes`` with 413 (BODY_TOO_LARGE), whether
    announced by Content-Length or found while streaming."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = (
            incoming if _REQUEST_ID.fullmatch(incoming) else os.urandom(16).hex()
        )  # as random as uuid4, cheaper
        scope.setdefault("state", {})["request_id"] = request_id
        raw_id = request_id.encode()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message["headers"], (b"x-request-id", raw_id)]}
            await send(message)

        length = headers.get(b"content-length", b"")
        if length.isdigit() and int(length) > self.max_body_bytes:
            await self._too_large(send_with_id)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, counting_receive, send_with_id)
        except _BodyTooLarge:
            await self._too_large(send_with_id)

    async def _too_large(self, send: Send) -> None:
        body = graphql_error_body(
            f"The request body exceeds {self.max_body_bytes} bytes.",
            "BODY_TOO_LARGE",
            limit=self.max_body_bytes,
        )
        await send_graphql_error(send, 413, body)


class _BodyTooLarge(Exception):
    pass


async def read_body(receive: Receive) -> tuple[list[Message], Receive]:
    """The request's messages up to its last body part (or a disconnect), and a ``receive``
    that hands them out again, then carries on with ``receive``."""
    arrived: list[Message] = []
    while True:
        message = await receive()
        arrived.append(message)
        if message["type"] != "http.request" or not message.get("more_body", False):
            break
    pending = list(arrived)

    async def replay() -> Message:
        return pending.pop(0) if pending else await receive()

    return arrived, replay


class OperationGate:
    """At most ``limit`` HTTP requests to ``path`` are worked on at once; the others wait their
    turn, first come first served, before any of their work starts.

    The process has one core's worth of Python, so sixteen pages worked on together finish no
    sooner than sixteen worked on in turn; but together they keep sixteen pages' objects alive
    at once, which every garbage collection then walks (30-40 ms pauses, BENCHMARKS.md), and
    their steps pile up in the same loop iterations. A small limit keeps both down (one on
    SQLite; two on PostgreSQL, where one page's CPU fills another's wait on the database:
    app.settings.operations_at_once); waiting costs the loop nothing. A request waiting for the
    signing processes hands its turn on to the next (app.turns), up to ``limit`` at once. A
    turn starts once the request's body has arrived and ends when the response starts: a slow
    writer or reader never holds one. A client that hangs up while its request waits drops the
    request before any of its work. 0: no limit on turns (requests are still paced).

    A request also starts at the loop's pace (``pacer``, app.pacing): when many cheap requests
    arrive together (sixteen ``{ __typename }`` whose bodies came in one poll), each would run to
    its end in the same loop iteration, holding timers and sockets for all of them; once the
    pacer's budget is spent, the rest start over the following iterations.

    The wait is bounded: a request that waits ``max_wait`` seconds (for the pacer and for its
    turn, together), or arrives when ``max_queue`` are already waiting, is answered at once with
    503 OVERLOADED and Retry-After, before any of its work; a client can retry it, and the
    requests queued behind a few slow ones neither pile up without end nor run after their
    clients have given up.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        limit: int,
        path: str,
        max_wait: float = 10.0,
        max_queue: int = 1_000,
        pacer: Pacer | None = None,
    ) -> None:
        self.app = app
        self.pacer = pacer
        self.limit = limit
        self.path = path
        self.max_wait = max_wait
        self.max_queue = max_queue
        self.waiting = 0
        self._turns = Turns(limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["path"] != self.path
            or scope.get("method") == "OPTIONS"
        ):
            await self.app(scope, receive, send)
            return
        if self.limit <= 0:  # no limit on turns; the pace still holds
            deadline = asyncio.get_running_loop().time() + self.max_wait
            refused = await self._paced(deadline)
            if refused is not None:
                await _overloaded(send, refused)
                return
            await self.app(scope, receive, send)
            return
        arrived, replay = await read_body(receive)
        if arrived[-1]["type"] == "http.disconnect":
            return  # gone before its body was whole: nobody to work for
        turn = Turn(self._turns)
        # One bound for the whole wait: the pace, then the turn.
        deadline = asyncio.get_running_loop().time() + self.max_wait
        refused = await self._paced(deadline, receive)
        if refused is None:
            refused = await self._turn(turn, deadline, receive)
        if refused is _GONE:
            return
        if refused is not None:
            await _overloaded(send, refused)
            return
        # The app's context hands it on early while other processes work for it (app.turns).
        scope.setdefault("state", {})["turn"] = turn

        async def send_and_release(message: Message) -> None:
            if message["type"] == "http.response.start":
                turn.finish()
            await send(message)

        try:
            await self.app(scope, replay, send_and_release)
        finally:
            turn.finish()

    async def _paced(self, deadline: float, receive: Receive | None = None) -> str | None:
        """None once the pacer lets this request start (its queue is every request's steps,
        so under a flood it can be long); else why it may not."""
        if self.pacer is None or not self.pacer.due():
            return None
        return await self._queued(self.pacer.pause(), deadline, receive)

    async def _turn(self, turn: Turn, deadline: float, receive: Receive) -> str | None:
        """None once this request has its turn; else why it gets none."""
        if not self._turns.semaphore.locked():
            await turn.take()
            return None
        return await self._queued(turn.take(), deadline, receive)

    async def _queued(
        self, wait: Coroutine[Any, Any, Any], deadline: float, receive: Receive | None
    ) -> str | None:
        """``wait`` awaited as one of the queue (for the pacer or for a turn, both count
        against ``max_queue``) until ``deadline``: None once it is done, else why not.

        With ``receive`` (the request's body already read, so the server's next message is
        ``http.disconnect``), a client that hangs up meanwhile ends the wait: ``_GONE``, and
        the request is dropped before any of its work, instead of running for nobody while
        the requests behind it wait."""
        if self.waiting >= self.max_queue:
            wait.close()  # never started: nothing to clean up, nothing logged
            return _FULL
        self.waiting += 1
        hangup = None
        try:
            if receive is not None:
                hangup = _Hangup(receive)
            async with asyncio.timeout_at(deadline):
                await wait
            return None
        except TimeoutError:
            return _LATE
        except asyncio.CancelledError:
            if hangup is None or not hangup.ended_wait():
                raise
            return _GONE
        finally:
            self.waiting -= 1
            if hangup is not None:
                hangup.stop()


class _Hangup:
    """Watches for the client's ``http.disconnect`` while the current task waits in the
    queue, and cancels that wait when it comes (once, and only while the wait lasts)."""

    __slots__ = ("_before", "_fired", "_task", "_watch")

    def __init__(self, receive: Receive) -> None:
        self._task: asyncio.Task[Any] | None = asyncio.current_task()
        # Cancellations the task had before this watch: only one on top of them is its own.
        self._before = self._task.cancelling() if self._task is not None else 0
        self._fired = False
        self._watch = asyncio.ensure_future(receive())
        self._watch.add_done_callback(self._heard)

    def _heard(self, watch: asyncio.Future[Message]) -> None:
        if watch.cancelled() or watch.exception() is not None or self._task is None:
            return
        if watch.result()["type"] == "http.disconnect":
            self._fired = True
            self._task.cancel()

    def ended_wait(self) -> bool:
        """Whether the cancellation being handled is this watch's alone (it is then undone);
        one from elsewhere as well (the server shutting down) goes on."""
        if not self._fired or self._task is None:
            return False
        return self._task.uncancel() <= self._before

    def stop(self) -> None:
        self._task = None
        self._watch.cancel()


_LATE = "no turn came in time"
_GONE = "the client hung up"
_FULL = "too many requests are waiting"


async def _overloaded(send: Send, reason: str) -> None:
    body = graphql_error_body(
        f"The server is busy ({reason}); retry shortly.", "OVERLOADED", retryAfter=1
    )
    await send_graphql_error(send, 503, body, ((b"retry-after", b"1"),))


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """A token bucket per API key and process: ``per_minute`` sustained, ``burst`` at once.
    With several workers each enforces its own share; put a shared limiter in front of a
    large deployment."""

    def __init__(
        self, *, per_minute: int, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self._clock = clock
        self._buckets: dict[int, _Bucket] = {}

    def retry_after(self, key_id: int) -> float:
        """0 when the request may go ahead (and is counted), else seconds until it may."""
        if self.rate <= 0:
            return 0.0
        now = self._clock()
        bucket = self._buckets.get(key_id)
        if bucket is None:
            bucket = self._buckets[key_id] = _Bucket(self.burst, now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self.rate

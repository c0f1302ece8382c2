"""Turns at this process's Python, handed out oldest request first, and lent while a request
waits on work done elsewhere.

``OperationGate`` (app.limits) gives each GraphQL request a ``Turn`` before any of its work
starts. At most ``limit`` requests hold one; the others wait in the order they arrived. A request
that awaits work another process does for it (URLs signed by the signing processes) lends its
turn for that wait (``Turn.lent``): the next request in line runs meanwhile, and when the work is
done the lender takes a turn back ahead of every request that arrived after it, so lending costs
it only the end of the step the borrower is in, not a place at the back of the line.

Only waits that hold nothing another request could need are lent: never a wait on the database
(a lender holding a pooled connection, waiting for its turn back, could block the borrower that
waits for that connection).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
from collections.abc import AsyncIterator


class Turns:
    """At most ``limit`` holders; waiters served by ticket, smallest (oldest) first. A released
    turn goes straight to the next waiter, so a request arriving meanwhile cannot take it."""

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self.free = self.limit
        self._waiting: list[tuple[int, asyncio.Future[None]]] = []
        self._tickets = itertools.count()

    def ticket(self) -> int:
        return next(self._tickets)

    def busy(self) -> bool:
        """Whether a request asking now would have to wait."""
        return self.free <= 0 or bool(self._waiting)

    async def acquire(self, ticket: int) -> None:
        if self.free > 0 and not self._waiting:
            self.free -= 1
            return
        waiter = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (ticket, waiter))
        try:
            await waiter
        except asyncio.CancelledError:
            # Handed the turn just as the wait was cancelled: pass it on. A waiter cancelled
            # before that stays in the heap, done, and is skipped by ``release``.
            if waiter.done() and not waiter.cancelled():
                self.release()
            raise

    def release(self) -> None:
        while self._waiting:
            _, waiter = heapq.heappop(self._waiting)
            if not waiter.done():
                waiter.set_result(None)
                return
        self.free += 1


class Turn:
    """One request's place in ``Turns``: ``take`` it once, lend it (``lent``) around waits on
    other processes, ``finish`` when the request's work is done (more than once is harmless)."""

    __slots__ = ("_retaking", "_turns", "finished", "held", "ticket")

    def __init__(self, turns: Turns) -> None:
        self._turns = turns
        self.ticket = turns.ticket()
        self.held = False
        self.finished = False
        self._retaking: asyncio.Lock | None = None

    async def take(self) -> None:
        await self._turns.acquire(self.ticket)
        self.held = True

    def finish(self) -> None:
        self.finished = True
        self._release()

    def _release(self) -> None:
        if self.held:
            self.held = False
            self._turns.release()

    @contextlib.asynccontextmanager
    async def lent(self) -> AsyncIterator[None]:
        """The turn is the next request's while the body waits, and taken back, ahead of later
        arrivals, when the body is done or fails; not when it is cancelled (the request is
        ending: nothing is left to give back). Overlapping waits of one request lend it once;
        each takes it back when it is done, if another has not already. A finished request's
        turn is not lent or taken."""
        if self.finished:
            yield
            return
        self._release()
        try:
            yield
        except Exception:
            await self._take_back()
            raise
        await self._take_back()

    async def _take_back(self) -> None:
        if self._retaking is None:
            self._retaking = asyncio.Lock()
        async with self._retaking:
            if not self.held and not self.finished:
                await self.take()

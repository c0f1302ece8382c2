"""A request's turn at this process's Python, handed on early while it waits on another process.

``OperationGate`` (app.limits) lets at most ``limit`` GraphQL requests work at once, first come
first served: each holds a ``Turn`` from before any of its work until its response starts. A
request that waits on work another process does for it (its URLs, signed by the signing
processes: a cold page's hundreds of RSA signatures take a few hundred milliseconds) hands its
turn on (``hand_on``) for the rest of its life: the next request in line starts meanwhile, and
this one finishes outside the count. At most ``limit`` requests are outside it at once; beyond
that, a request keeps its turn through the wait, as it would with no handing on: sixteen cold
pages all at work at once made the loop's longest stall 20.6 ms, against 8.8-9.0 ms with this
cap (BENCHMARKS.md, "One request at a time").

It does not take a turn back when that wait ends. A request waiting for its turn back would hold
its pooled database connection while the request holding the turn could be waiting for a
connection: with more such requests than the pool has connections, none moves until the query
timeout (a review reproduced it with seventeen cold pages on the default pool). Here nothing
that waits for a turn holds anything another request needs, so turns cannot deadlock.
"""

from __future__ import annotations

import asyncio


class Turns:
    """The turns of one gate: ``limit`` at once, and as many handed on at once."""

    __slots__ = ("handed_on", "limit", "semaphore")

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self.semaphore = asyncio.Semaphore(self.limit)
        self.handed_on = 0  # requests at work that handed their turn on


class Turn:
    """One request's place: ``take`` it once, ``hand_on`` while other processes work for it,
    ``finish`` when its work is done (more than once, or before it was taken, does nothing)."""

    __slots__ = ("_handed_on", "_turns", "held")

    def __init__(self, turns: Turns) -> None:
        self._turns = turns
        self.held = False
        self._handed_on = False

    async def take(self) -> None:
        # First come, first served; a cancelled wait takes none.
        await self._turns.semaphore.acquire()
        self.held = True

    def hand_on(self) -> None:
        """The next request may start: unless ``limit`` requests have handed theirs on already."""
        turns = self._turns
        if self.held and turns.handed_on < turns.limit:
            turns.handed_on += 1
            self._handed_on = True
            self._release()

    def finish(self) -> None:
        self._release()
        if self._handed_on:
            self._handed_on = False
            self._turns.handed_on -= 1

    def _release(self) -> None:
        if self.held:
            self.held = False
            self._turns.semaphore.release()

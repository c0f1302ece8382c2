"""A request's turn at this process's Python, handed on early while it waits on another process.

``OperationGate`` (app.limits) lets at most ``limit`` GraphQL requests work at once, first come
first served: each holds a ``Turn`` from before any of its work until its response starts. A
request that waits on work another process does for it (its URLs, signed by the signing
processes: a cold page's hundreds of RSA signatures take a few hundred milliseconds) hands its
turn on (``release``) for the rest of its life: the next request in line starts meanwhile, and
this one finishes outside the count.

It does not take a turn back when that wait ends. A request waiting for its turn back would hold
its pooled database connection while the request holding the turn could be waiting for a
connection: with more such requests than the pool has connections, none moves until the query
timeout (a review reproduced it with seventeen cold pages on the default pool). Here nothing
that waits for a turn holds anything another request needs, so turns cannot deadlock. The cost:
a request that handed its turn on finishes beside the limit's, one more at work for each such
request.
"""

from __future__ import annotations

import asyncio


class Turn:
    """One request's place: ``take`` it once; ``release`` it when the request's work is done or
    hands it on (more than once, or before it was taken, does nothing)."""

    __slots__ = ("_turns", "held")

    def __init__(self, turns: asyncio.Semaphore) -> None:
        self._turns = turns
        self.held = False

    async def take(self) -> None:
        await self._turns.acquire()  # first come, first served; a cancelled wait takes nothing
        self.held = True

    def release(self) -> None:
        if self.held:
            self.held = False
            self._turns.release()

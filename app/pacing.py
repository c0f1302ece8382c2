"""Keeps a page's many small steps from holding the event loop all at once.

When a loader batch resolves, every sibling waiting on it (the hundred recordings of a page)
becomes ready in the same loop iteration, and asyncio runs them all before it looks at its
timers or sockets again: each step is short, but a hundred of them, each followed by
graphql-core completing that item's fields, made one 50 ms step (BENCHMARKS.md), and sixteen
concurrent pages queue theirs behind each other.

``pause()`` at such a step lets steps go on while less than ``budget`` seconds have passed since
the pacer last let the loop breathe. After that, steps queue (first come, first served, across
requests) and are let go a batch per loop iteration, the batch sized so that an iteration's
paced work stays near the budget; in between, the loop polls its sockets and runs its timers.
A queued step costs one future, not a spin: the cost stays linear in the number of steps
however many pages are in flight. One per process: the budget is the loop's.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable

BUDGET = 0.005
MAX_BATCH = 1_024


class Pacer:
    def __init__(
        self, budget: float = BUDGET, *, clock: Callable[[], float] = time.perf_counter
    ) -> None:
        self.budget = budget
        self._clock = clock
        self._since = clock()
        self._queue: deque[asyncio.Future[None]] = deque()
        self._batch = 8
        self._releasing = False

    async def pause(self) -> None:
        if not self._queue and self._clock() - self._since < self.budget:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._queue.append(waiter)
        if not self._releasing:
            self._releasing = True
            asyncio.get_running_loop().call_soon(self._release)
        await waiter

    def _release(self) -> None:
        """A callback of its own, so it runs after the steps it released last time: the time
        since then is what a batch cost, which sizes the next one."""
        now = self._clock()
        spent = now - self._since
        if spent < self.budget / 2:
            self._batch = min(self._batch * 2, MAX_BATCH)
        elif spent > self.budget:
            self._batch = max(1, self._batch // 2)
        self._since = now
        released = 0
        while self._queue and released < self._batch:
            waiter = self._queue.popleft()
            if not waiter.done():  # a cancelled request's step is not waited for
                waiter.set_result(None)
                released += 1
        if self._queue:
            asyncio.get_running_loop().call_soon(self._release)
        else:
            self._releasing = False

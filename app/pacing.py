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
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol, TypeVar

T = TypeVar("T")

BUDGET = 0.0035
MAX_BATCH = 1_024


class Collector(Protocol):
    def due(self) -> bool: ...

    def collect(self) -> None: ...


class Pacer:
    def __init__(
        self,
        budget: float = BUDGET,
        *,
        clock: Callable[[], float] = time.perf_counter,
        collector: Collector | None = None,
    ) -> None:
        self.budget = budget
        # Young garbage collections, run between two batches (app.gc_tuning).
        self._collector = collector
        self._collecting = False
        self._clock = clock
        self._since = clock()
        self._queue: deque[asyncio.Future[None]] = deque()
        self._batch = 8
        self._releasing = False
        self._resumed = False  # the next release follows an idle pacer: its gap sizes nothing
        self._loop: asyncio.AbstractEventLoop | None = None
        self.released = 0  # steps that waited for their turn, since start (tests, diagnosis)

    async def pause(self) -> None:
        if not self._queue and self._clock() - self._since < self.budget:
            return
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            # A new loop (an app served again): whatever waited on the old one is gone.
            self._loop = loop
            self._queue.clear()
            self._releasing = False
            self._collecting = False
        waiter = loop.create_future()
        self._queue.append(waiter)
        if not self._releasing:
            self._releasing = True
            self._resumed = True
            loop.call_soon(self._release)
        await waiter

    def due(self) -> bool:
        """Whether a step taken now should ``pause`` first: steps are waiting their turn, or
        the budget since the loop last breathed is spent. For callers that check before each
        of many small steps and await ``pause`` only when it would wait."""
        return bool(self._queue) or self._clock() - self._since >= self.budget

    def pace(self, items: Iterable[T]) -> Iterator[T | Any]:
        """``items``, for graphql-core to complete one by one in this loop iteration while the
        budget lasts (the same budget as ``pause``, since the pacer last let the loop breathe:
        two pages' steps in one iteration share it, and the work before the list counts), and
        after that as awaitables that wait their turn (``pause``), so the
        rest of the list completes over later iterations. Behind steps already waiting,
        everything waits. A consumer that stops early and drains the rest (graphql-core does,
        after an error in a non-null item) gets awaitables it may settle in the background."""
        iterator = iter(items)
        if not self._queue:
            for item in iterator:
                yield item
                if self._clock() - self._since >= self.budget:
                    break
        for item in iterator:
            yield self._after_pause(item)

    async def _after_pause(self, item: T) -> T:
        await self.pause()
        return item

    def _release(self) -> None:
        """A callback of its own, so it runs after the steps it released last time: the time
        since then is what a batch cost, which sizes the next one."""
        if self._collecting:
            # The previous release let nothing go: this iteration holds only the collection
            # (and whatever else is ready in the loop), and its time sizes nothing.
            assert self._collector is not None
            self._collector.collect()
            self._collecting = False
            self._resumed = True
            self._since = self._clock()
            asyncio.get_running_loop().call_soon(self._release)
            return
        now = self._clock()
        spent = now - self._since
        resumed = self._resumed
        if resumed:
            self._resumed = False  # the time since the last release includes idle time
        elif spent < self.budget / 2:
            self._batch = min(self._batch * 2, MAX_BATCH)
        elif spent > self.budget:
            self._batch = max(1, self._batch // 2)
        self._since = now
        if not resumed and self._collector is not None and self._collector.due():
            # A young collection due (app.gc_tuning): nothing is released now, so the next
            # iteration runs the collection instead of steps, and releasing resumes after it
            # (the release after a collection or an idle spell always lets a batch go).
            self._collecting = True
            asyncio.get_running_loop().call_soon(self._release)
            return
        released = 0
        while self._queue and released < self._batch:
            waiter = self._queue.popleft()
            if not waiter.done():  # a cancelled request's step is not waited for
                waiter.set_result(None)
                released += 1
        self.released += released
        if self._queue:
            asyncio.get_running_loop().call_soon(self._release)
        else:
            self._releasing = False


class PacedList(list[T]):
    """A list that graphql-core completes at ``pacer``'s pace (``Pacer.pace``) when it
    iterates it: the items of a page whose fields complete without awaiting (a connection's
    edges) would otherwise all complete in one loop iteration. Indexing and ``len`` are a
    list's; iterating it is for graphql-core (past the budget it hands out coroutines), so
    Python code that needs the items indexes it."""

    __slots__ = ("_pacer",)

    def __init__(self, items: Iterable[T], pacer: Pacer) -> None:
        super().__init__(items)
        self._pacer = pacer

    @property
    def pacer(self) -> Pacer:
        return self._pacer

    def items(self) -> Iterator[T]:
        """The items themselves, unpaced (for a consumer that paces itself:
        ``app.execution`` completes a paced list in one coroutine that pauses between items)."""
        return super().__iter__()

    def __iter__(self) -> Iterator[T]:
        return self._pacer.pace(super().__iter__())

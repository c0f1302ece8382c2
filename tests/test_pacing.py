"""The pacer gives the event loop back once a run of sibling steps has used its budget."""

from __future__ import annotations

import asyncio
import gc
import inspect
from typing import Any

import pytest

from app.pacing import PacedList, Pacer


async def test_pacer_lets_the_loop_run_between_budgeted_runs_of_steps() -> None:
    clock = [0.0]
    pacer = Pacer(budget=2.0, clock=lambda: clock[0])
    order: list[str] = []

    async def step(name: str) -> None:
        await pacer.pause()
        order.append(name)
        clock[0] += 1.0  # each step's own work

    # Ten siblings made ready together, and other work the loop has queued behind them.
    tasks = [asyncio.create_task(step(f"s{i}")) for i in range(10)]
    asyncio.get_running_loop().call_soon(order.append, "loop")
    await asyncio.gather(*tasks)
    # Two steps spend the budget; the third gives the loop back, and the rest follow it.
    assert order[:3] == ["s0", "s1", "loop"]
    assert [name for name in order if name != "loop"] == [f"s{i}" for i in range(10)]


async def test_pacer_does_not_yield_within_its_budget() -> None:
    clock = [0.0]
    pacer = Pacer(budget=100.0, clock=lambda: clock[0])
    order: list[str] = []

    async def step(name: str) -> None:
        await pacer.pause()
        order.append(name)

    tasks = [asyncio.create_task(step(f"s{i}")) for i in range(5)]
    asyncio.get_running_loop().call_soon(order.append, "loop")
    await asyncio.gather(*tasks)
    assert order == ["s0", "s1", "s2", "s3", "s4", "loop"]


async def test_paced_list_hands_out_awaitables_once_the_budget_is_spent() -> None:
    clock = [0.0]
    pacer = Pacer(budget=2.5, clock=lambda: clock[0])
    items = PacedList(range(6), pacer)
    handed: list[Any] = []
    for item in items:  # as graphql-core completes a list: each item costs its own work
        handed.append(item)
        clock[0] += 1.0
    assert handed[:3] == [0, 1, 2]
    assert all(inspect.isawaitable(item) for item in handed[3:])
    order: list[str] = []
    asyncio.get_running_loop().call_soon(order.append, "loop")
    assert await asyncio.gather(*handed[3:]) == [3, 4, 5]
    # Indexing and len are a list's.
    assert (items[4], items[-1], len(items)) == (4, 5, 6)


async def test_paced_list_waits_behind_steps_already_waiting() -> None:
    clock = [0.0]
    pacer = Pacer(budget=2.0, clock=lambda: clock[0])
    clock[0] = 5.0  # over budget since the pacer last released: the next step queues
    first = asyncio.ensure_future(pacer.pause())
    await asyncio.sleep(0)
    handed = list(iter(PacedList(["a", "b"], pacer)))
    assert all(inspect.isawaitable(item) for item in handed)
    assert await asyncio.gather(*handed) == ["a", "b"]
    await first


async def test_an_idle_gap_does_not_shrink_the_next_batch() -> None:
    """The first release after the pacer sat idle measures the idle time too: it sizes
    nothing, so a long quiet spell does not make the next page go one step per iteration."""
    clock = [0.0]
    pacer = Pacer(budget=2.0, clock=lambda: clock[0])
    clock[0] = 100.0  # a quiet spell: nothing paced for a long time
    left_waiting: list[int] = []

    async def step() -> None:
        await pacer.pause()
        left_waiting.append(len(pacer._queue))

    await asyncio.gather(*(step() for _ in range(8)))
    # All eight went in one release, at the batch's starting size (the 100 idle seconds would
    # have halved it: four, then the other four).
    assert left_waiting == [0] * 8


def test_a_pacer_serves_a_new_loop_after_its_old_one_ended() -> None:
    """An app served again on a new loop: a waiter and a release left on the old one (the
    loop ended between them) do not hold the new loop's steps for ever."""
    clock = [0.0]
    pacer = Pacer(budget=1.0, clock=lambda: clock[0])
    old = asyncio.new_event_loop()
    pacer._loop = old
    pacer._queue.append(old.create_future())
    pacer._releasing = True  # its release was to run on the old loop, which is gone
    old.close()

    async def pause_once() -> str:
        clock[0] += 5.0
        await asyncio.wait_for(pacer.pause(), 5)
        return "resumed"

    assert asyncio.run(pause_once()) == "resumed"


class FakeCollector:
    """Due once, after ``after`` checks; records when it collects among the steps."""

    def __init__(self, order: list[str], after: int) -> None:
        self.order = order
        self.checks = 0
        self.after = after

    def due(self) -> bool:
        self.checks += 1
        return self.checks == self.after

    def collect(self) -> None:
        self.order.append("collect")


async def test_pacer_collects_garbage_in_an_iteration_of_its_own() -> None:
    clock = [0.0]
    order: list[str] = []
    collector = FakeCollector(order, after=2)
    pacer = Pacer(budget=1.0, clock=lambda: clock[0], collector=collector)
    pacer._batch = 2

    async def step(name: str) -> None:
        await pacer.pause()
        order.append(name)
        clock[0] += 1.0

    loop = asyncio.get_running_loop()

    def mark() -> None:  # one per loop iteration, queued behind that iteration's steps
        order.append("|")
        if len(order) < 40:
            loop.call_soon(mark)

    tasks = [asyncio.create_task(step(f"s{i}")) for i in range(7)]
    loop.call_soon(mark)
    await asyncio.gather(*tasks)
    iterations = "".join(order).replace("collect", "C").split("|")
    # The collection shares its iteration with no step, and no step is lost to it.
    assert "C" in iterations
    assert sorted(name for name in order if name.startswith("s")) == [f"s{i}" for i in range(7)]


def test_paced_collector_collects_young_objects_when_enough_are_new() -> None:
    from app import gc_tuning

    collector = gc_tuning.PacedCollector()
    gc.disable()  # the suite runs with CPython's thresholds, which would collect first
    try:
        gc.collect()
        assert not collector.due()
        kept = [[] for _ in range(gc_tuning.PACED_YOUNG)]
        assert collector.due()
        collector.collect()
        assert not collector.due()
        del kept
    finally:
        gc.enable()


async def test_paced_lists_in_one_step_share_the_budget() -> None:
    """Two pages completing in one loop iteration: once the first spent the budget, the
    second hands out all but its first item as awaitables."""
    clock = [0.0]
    pacer = Pacer(budget=2.5, clock=lambda: clock[0])
    first: list[Any] = []
    for item in PacedList(range(3), pacer):
        first.append(item)
        clock[0] += 1.0
    second: list[Any] = []
    for item in PacedList(range(3), pacer):
        second.append(item)
        clock[0] += 1.0
    assert first == [0, 1, 2]
    assert second[0] == 0
    assert all(inspect.isawaitable(item) for item in second[1:])
    assert await asyncio.gather(*second[1:]) == [1, 2]


async def test_store_reads_pause_between_steps_of_rows(backend: Any, connection: Any) -> None:
    """A read of many rows gives the pacer a say every ROWS_PER_STEP rows, and answers the same
    rows as a read without it."""
    from contextlib import asynccontextmanager

    from sqlalchemy import text

    from app.store import facade

    @asynccontextmanager
    async def connect() -> Any:
        yield connection

    pauses: list[int] = []

    async def pause() -> None:
        pauses.append(1)

    query = text(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 250) "
        "SELECT i FROM n ORDER BY i"
    )
    paced = facade.Store(connect, connect, pause=pause)
    plain = facade.Store(connect, connect)
    rows = [tuple(row) for row in await paced._rows(query)]
    assert rows == [tuple(row) for row in await plain._rows(query)]
    assert rows[0] == (1,)
    assert len(rows) == 250
    assert len(pauses) == -(-250 // facade.ROWS_PER_STEP) - 1  # between steps


@pytest.mark.parametrize(
    ("counts", "generation"),
    [((7_000, 0, 0), 0), ((7_000, 20, 20), 0), ((7_000, 21, 0), 1), ((7_000, 21, 21), 2)],
)
def test_paced_collector_collects_older_generations_as_cpython_would(
    monkeypatch: pytest.MonkeyPatch, counts: tuple[int, int, int], generation: int
) -> None:
    """Under load the paced collections stand in for CPython's: gen 1 and full collections
    come by the same counts (gen 1 every 21st young collection, a full one every 21st of
    those), or nothing would ever collect the oldest generation."""
    from app import gc_tuning

    collected: list[int] = []
    monkeypatch.setattr(gc_tuning.gc, "get_count", lambda: counts)
    monkeypatch.setattr(gc_tuning.gc, "collect", collected.append)
    gc_tuning.PacedCollector().collect()
    assert collected == [generation]


async def test_pacer_sizes_its_batches_when_collections_follow_every_batch() -> None:
    """A batch's time sizes the next batch even when a collection comes after each one."""

    class Always:
        def due(self) -> bool:
            return True

        def collect(self) -> None:
            pass

    clock = [0.0]
    pacer = Pacer(budget=0.005, clock=lambda: clock[0], collector=Always())
    pacer._batch = 64

    async def step() -> None:
        await pacer.pause()
        clock[0] += 0.002  # 64 steps: 128 ms, far over the budget

    clock[0] = 1.0
    await asyncio.gather(*(step() for _ in range(400)))
    assert pacer._batch <= 4


async def test_a_paused_read_leaves_the_store_to_the_requests_other_reads(
    backend: Any, connection: Any
) -> None:
    from contextlib import asynccontextmanager

    from sqlalchemy import text

    from app.store import facade

    @asynccontextmanager
    async def connect() -> Any:
        yield connection

    held = asyncio.Event()
    paused = asyncio.Event()

    async def pause() -> None:
        paused.set()
        await held.wait()

    many = text(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 250) "
        "SELECT i FROM n ORDER BY i"
    )
    store = facade.Store(connect, connect, pause=pause)
    first = asyncio.ensure_future(store._rows(many))
    await paused.wait()
    # The first read is converting its rows, paused: the store's lock is free.
    assert [tuple(row) for row in await store._rows(text("SELECT 7"))] == [(7,)]
    held.set()
    assert len(await first) == 250

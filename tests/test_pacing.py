"""The pacer gives the event loop back once a run of sibling steps has used its budget."""

from __future__ import annotations

import asyncio

from app.pacing import Pacer


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

"""Turns at the process's Python: taken first come first served, given up once, and handed on
by a request that waits on the signing processes."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from app.main import create_app
from app.media.signer import SignedUrl, SignRequest, UrlMinter
from app.store.engine import make_engine
from app.turns import Turn, Turns
from tests.conftest import Backend, make_settings, running
from tests.support.graphql import gql
from tests.test_gcs_app import PAGE, urls_of
from tests.test_gcs_signing import KEYED

BOUND = 30.0  # seconds: a failing test stops here instead of hanging, never a timing assertion


async def test_a_turn_is_given_up_once_however_often_it_is_finished() -> None:
    turns = Turns(1)
    never_taken = Turn(turns)
    never_taken.finish()
    never_taken.hand_on()
    turn = Turn(turns)
    await turn.take()
    assert turns.semaphore.locked()
    turn.hand_on()
    turn.finish()  # handed on, then the response starts: one release
    turn.finish()
    never_taken.finish()
    assert turns.handed_on == 0
    other = Turn(turns)
    await asyncio.wait_for(other.take(), BOUND)
    assert turns.semaphore.locked()  # the other's alone: nothing was released twice
    other.finish()
    assert not turns.semaphore.locked()


async def test_at_most_limit_requests_are_at_work_beside_the_turns() -> None:
    turns = Turns(1)
    first, second, third = Turn(turns), Turn(turns), Turn(turns)
    await first.take()
    first.hand_on()  # waits on the signing processes: the second may start
    assert not first.held
    await asyncio.wait_for(second.take(), BOUND)
    second.hand_on()  # one is already outside the count: the second keeps its turn
    assert second.held
    assert turns.handed_on == 1
    waiting = asyncio.create_task(third.take())
    await asyncio.sleep(0)
    assert not waiting.done()
    first.finish()  # the first is done: the second could hand on now
    assert turns.handed_on == 0
    second.hand_on()
    await asyncio.wait_for(waiting, BOUND)
    second.finish()
    third.finish()
    assert turns.handed_on == 0
    assert not turns.semaphore.locked()


async def test_a_cancelled_wait_for_a_turn_takes_none() -> None:
    turns = Turns(1)
    holder = Turn(turns)
    await holder.take()
    waiter = Turn(turns)
    task = asyncio.create_task(waiter.take())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    holder.finish()
    assert not waiter.held
    assert not turns.semaphore.locked()


class BlockingSigner:
    """Signs once ``go`` is set, noting whether the asking request held its turn meanwhile."""

    name = "blocking"

    def __init__(self) -> None:
        self.started = threading.Event()
        self.go = threading.Event()

    def sign(
        self, requests: Sequence[SignRequest], *, signed_at: int, window: int
    ) -> list[SignedUrl]:
        self.started.set()
        assert self.go.wait(BOUND)
        return [SignedUrl(f"https://signed/{r.storage_key}", expires_at=None) for r in requests]  # type: ignore[arg-type]


@pytest.mark.parametrize("hands_on_turns", [True, False])
async def test_the_minter_hands_the_turn_on_only_when_it_signs_in_processes(
    hands_on_turns: bool,
) -> None:
    signer = BlockingSigner()
    with ThreadPoolExecutor(max_workers=1) as executor:
        minter = UrlMinter(
            signer, window=300, cache_size=10, executor=executor, hands_on_turns=hands_on_turns
        )
        turn = Turn(Turns(1))
        await turn.take()
        minting = asyncio.create_task(minter.mint([SignRequest("a.mp4", 60)], turn=turn))
        await asyncio.wait_for(asyncio.to_thread(signer.started.wait), BOUND)
        assert turn.held is not hands_on_turns
        signer.go.set()
        [url] = await asyncio.wait_for(minting, BOUND)
    assert url.url == "https://signed/a.mp4"
    assert turn.held is not hands_on_turns  # handed on for good: never waited for again


def hold_worker(gate: str) -> None:
    """Run in a signing process: keeps it busy until the file ``gate`` exists."""
    deadline = time.monotonic() + BOUND
    while not Path(gate).exists() and time.monotonic() < deadline:
        time.sleep(0.01)


async def test_a_page_waiting_on_the_signing_processes_lets_the_next_request_run(
    backend: Backend, tmp_path: Path
) -> None:
    """One turn at a time, RSA keys signing in processes: while a cold page's URLs wait for
    the (held) processes, a request that arrived after it is answered, and the page then
    finishes with every URL."""
    settings = make_settings(
        tmp_path, backend.settings.database_url, FOOTAGE_CONCURRENT_OPERATIONS="1", **KEYED
    )
    app = create_app(settings)
    async with running(app) as client:
        client.headers["Authorization"] = f"Bearer {backend.demo_key}"
        minter = app.state.services.minter
        assert minter.hands_on_turns
        gate = tmp_path / "go"
        held = [minter.executor.submit(hold_worker, str(gate)) for _ in range(minter.parallel)]
        page = asyncio.create_task(gql(client, PAGE))
        for _ in range(int(BOUND * 100)):  # until the page reaches its signing
            if minter.signed:
                break
            await asyncio.sleep(0.01)
        answer = await asyncio.wait_for(gql(client, "{ __typename }"), BOUND)
        assert answer == {"data": {"__typename": "Query"}}
        assert not page.done()
        gate.touch()
        body = await asyncio.wait_for(page, BOUND)
        for future in held:
            future.result(BOUND)
    assert len(urls_of(body)) > 500


async def test_cold_pages_handing_turns_on_never_deadlock_on_a_small_pool(
    backend: Backend, tmp_path: Path
) -> None:
    """One turn, one pooled connection, three cold pages at once while the signing processes
    are held: each hands its turn on still holding its connection, and the next waits for that
    connection, not for a turn back. Once the processes sign, every page answers, and turns
    and the connection are free again for the next request."""
    engine = make_engine(backend.settings.database_url, pool_size=1, max_overflow=0)
    settings = make_settings(
        tmp_path, backend.settings.database_url, FOOTAGE_CONCURRENT_OPERATIONS="1", **KEYED
    )
    app = create_app(settings, engine=engine)
    try:
        async with running(app) as client:
            client.headers["Authorization"] = f"Bearer {backend.demo_key}"
            minter = app.state.services.minter
            gate = tmp_path / "go"
            held = [minter.executor.submit(hold_worker, str(gate)) for _ in range(minter.parallel)]
            pages = [asyncio.create_task(client.post("/graphql", json={"query": PAGE}))]
            for _ in range(int(BOUND * 100)):  # the first page reaches its signing
                if minter.signed:
                    break
                await asyncio.sleep(0.01)
            pages += [
                asyncio.create_task(client.post("/graphql", json={"query": PAGE})) for _ in range(2)
            ]
            await asyncio.sleep(0.2)  # the others queue for the connection meanwhile
            gate.touch()
            answers: list[httpx.Response] = await asyncio.wait_for(asyncio.gather(*pages), BOUND)
            for future in held:
                future.result(BOUND)
            assert [answer.status_code for answer in answers] == [200, 200, 200]
            assert all("errors" not in answer.json() for answer in answers)
            after = await asyncio.wait_for(gql(client, "{ __typename }"), BOUND)
            assert after == {"data": {"__typename": "Query"}}
    finally:
        await engine.dispose()

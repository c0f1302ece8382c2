"""Turns at the process's Python: handed out oldest first, lent while a request waits on the
signing processes, taken back ahead of later arrivals."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from app.main import create_app
from app.media.signer import SignedUrl, SignRequest, UrlMinter
from app.turns import Turn, Turns
from tests.conftest import Backend, make_settings, running
from tests.support.graphql import gql
from tests.test_gcs_app import PAGE, urls_of
from tests.test_gcs_signing import KEYED

BOUND = 30.0  # seconds: a failing test stops here instead of hanging, never a timing assertion


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_turns_go_in_arrival_order_and_a_lender_comes_back_first() -> None:
    turns = Turns(1)
    order: list[str] = []
    first = Turn(turns)
    await first.take()
    signing = asyncio.Event()
    signed = asyncio.Event()

    async def lender() -> None:
        async with first.lent():
            signing.set()
            await signed.wait()
        order.append("first is back")
        first.finish()

    async def later(name: str) -> None:
        turn = Turn(turns)
        await turn.take()
        order.append(name)
        if name == "second":
            signed.set()  # the lender's wait ends while the second holds the turn
            await settle()
        turn.finish()

    task = asyncio.create_task(lender())
    await signing.wait()
    assert not first.held
    await asyncio.wait_for(asyncio.gather(task, later("second"), later("third")), BOUND)
    # The third arrived before the first came back, but the first arrived before it.
    assert order == ["second", "first is back", "third"]
    assert turns.free == 1


async def test_a_cancelled_waiter_is_skipped_and_one_cancelled_when_handed_a_turn_passes_it() -> (
    None
):
    turns = Turns(1)
    holder = Turn(turns)
    await holder.take()
    gone = asyncio.create_task(Turn(turns).take())
    handed = Turn(turns)
    handed_task = asyncio.create_task(handed.take())
    last = Turn(turns)
    last_task = asyncio.create_task(last.take())
    await settle()
    gone.cancel()
    await settle()
    holder.finish()  # skips the cancelled waiter: the turn is handed's
    handed_task.cancel()  # handed the turn, but cancelled before it ran: it passes on
    await asyncio.wait_for(last_task, BOUND)
    assert last.held
    assert not handed.held
    last.finish()
    assert turns.free == 1
    assert not turns.busy()


async def test_a_turn_is_taken_back_after_a_failed_wait_but_not_a_cancelled_one() -> None:
    turns = Turns(1)
    turn = Turn(turns)
    await turn.take()

    async def failing() -> None:
        async with turn.lent():
            assert turns.free == 1
            raise RuntimeError("signing failed")

    with pytest.raises(RuntimeError, match="signing failed"):
        await failing()
    assert turn.held
    assert turns.free == 0

    async def cancelled() -> None:
        async with turn.lent():
            await asyncio.Event().wait()

    task = asyncio.create_task(cancelled())
    await settle()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not turn.held
    assert turns.free == 1
    turn.finish()
    assert turns.free == 1


async def test_a_finished_turn_is_neither_lent_nor_taken_back() -> None:
    turns = Turns(1)
    turn = Turn(turns)
    await turn.take()
    turn.finish()
    other = Turn(turns)
    await other.take()
    async with turn.lent():
        pass
    assert not turn.held
    assert turns.busy()  # still the other's alone
    other.finish()


async def test_overlapping_waits_lend_once_and_take_back_once() -> None:
    turns = Turns(1)
    turn = Turn(turns)
    await turn.take()
    one, two = asyncio.Event(), asyncio.Event()

    async def wait(event: asyncio.Event) -> None:
        async with turn.lent():
            await event.wait()

    tasks = [asyncio.create_task(wait(one)), asyncio.create_task(wait(two))]
    await settle()
    assert not turn.held
    assert turns.free == 1
    one.set()
    await settle()
    assert turn.held
    assert turns.free == 0
    two.set()
    await asyncio.wait_for(asyncio.gather(*tasks), BOUND)
    assert turn.held
    assert turns.free == 0
    turn.finish()
    assert turns.free == 1


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


@pytest.mark.parametrize("lends", [True, False])
async def test_the_minter_lends_the_turn_only_when_it_signs_in_processes(lends: bool) -> None:
    signer = BlockingSigner()
    with ThreadPoolExecutor(max_workers=1) as executor:
        minter = UrlMinter(signer, window=300, cache_size=10, executor=executor, lends=lends)
        turn = Turn(Turns(1))
        await turn.take()
        minting = asyncio.create_task(minter.mint([SignRequest("a.mp4", 60)], turn=turn))
        await asyncio.wait_for(asyncio.to_thread(signer.started.wait), BOUND)
        assert turn.held is not lends
        signer.go.set()
        [url] = await asyncio.wait_for(minting, BOUND)
    assert url.url == "https://signed/a.mp4"
    assert turn.held


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
        assert minter.lends
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

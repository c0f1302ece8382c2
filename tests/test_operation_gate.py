"""At most `limit` GraphQL requests are worked on at once; the rest wait their turn. And the
settings of the serving process that BENCHMARKS.md measured."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, ClassVar

import orjson
import pytest

from app.limits import OperationGate
from app.pacing import Pacer
from app.settings import Settings, SettingsError


class SlowApp:
    """An ASGI app that records how many requests it works on at once."""

    def __init__(self) -> None:
        self.inside = 0
        self.most = 0
        self.order: list[str] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.inside += 1
        self.most = max(self.most, self.inside)
        self.order.append(scope["path"])
        for _ in range(3):
            await asyncio.sleep(0)
        self.inside -= 1
        await send({"type": "http.response.start", "status": 200, "headers": []})
        # Still sending: the turn was already handed on.
        for _ in range(3):
            await asyncio.sleep(0)
        await send({"type": "http.response.body", "body": b"{}"})


async def call(app: Any, path: str) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app({"type": "http", "path": path}, receive, send)
    return sent


async def test_gate_lets_at_most_limit_requests_work_at_once() -> None:
    inner = SlowApp()
    gate = OperationGate(inner, limit=2, path="/graphql")
    answers = await asyncio.gather(*(call(gate, "/graphql") for _ in range(6)))
    assert inner.most == 2
    assert all(
        [m["type"] for m in a] == ["http.response.start", "http.response.body"] for a in answers
    )


async def test_gate_leaves_other_paths_and_a_zero_limit_alone() -> None:
    inner = SlowApp()
    await asyncio.gather(
        *(call(OperationGate(inner, limit=1, path="/graphql"), "/healthz") for _ in range(4))
    )
    assert inner.most == 4
    inner = SlowApp()
    await asyncio.gather(
        *(call(OperationGate(inner, limit=0, path="/graphql"), "/graphql") for _ in range(4))
    )
    assert inner.most == 4


async def test_gate_hands_the_turn_on_when_an_app_fails() -> None:
    class Failing:
        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            raise RuntimeError("boom")

    gate = OperationGate(Failing(), limit=1, path="/graphql")
    for _ in range(3):
        with pytest.raises(RuntimeError, match="boom"):
            await call(gate, "/graphql")
    inner = SlowApp()
    gate.app = inner
    await call(gate, "/graphql")
    assert inner.order == ["/graphql"]


async def test_gate_takes_a_turn_only_once_the_body_has_arrived() -> None:
    inner = SlowApp()
    gate = OperationGate(inner, limit=1, path="/graphql")
    rest = asyncio.Event()
    parts = [
        {"type": "http.request", "body": b"{", "more_body": True},
        {"type": "http.request", "body": b"}", "more_body": False},
    ]

    async def trickle() -> dict[str, Any]:
        if len(parts) == 1:
            await rest.wait()
        return parts.pop(0)

    async def ignore(_message: dict[str, Any]) -> None:
        return None

    slow = asyncio.create_task(gate({"type": "http", "path": "/graphql"}, trickle, ignore))
    await call(gate, "/graphql")  # not stuck behind the slow writer
    assert inner.order == ["/graphql"]
    rest.set()
    await slow
    assert inner.order == ["/graphql", "/graphql"]


def test_gate_and_access_log_settings(tmp_path: Path) -> None:
    def settings(**environ: str) -> Settings:
        return Settings.from_env({"FOOTAGE_VAR_DIR": str(tmp_path), **environ})

    assert settings().concurrent_operations == 1  # SQLite: one at a time
    postgres = "postgresql://footage@db.example/footage"
    assert settings(FOOTAGE_DATABASE_URL=postgres).concurrent_operations == 2
    assert settings(FOOTAGE_CONCURRENT_OPERATIONS="3").concurrent_operations == 3
    assert settings(FOOTAGE_CONCURRENT_OPERATIONS="0").concurrent_operations == 0
    assert settings().access_log is True
    assert settings(FOOTAGE_ENV="production").access_log is False
    assert settings(FOOTAGE_ENV="production", FOOTAGE_ACCESS_LOG="on").access_log is True
    with pytest.raises(SettingsError, match="FOOTAGE_ACCESS_LOG"):
        settings(FOOTAGE_ACCESS_LOG="maybe")


class HeldApp:
    """An ASGI app whose requests all wait until ``release`` is set."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.working = asyncio.Event()
        self.started = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.started += 1
        self.working.set()
        await self.release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})


def _status(sent: list[dict[str, Any]]) -> int:
    return int(sent[0]["status"])


async def test_a_full_queue_answers_overloaded_at_once_before_any_work() -> None:
    inner = HeldApp()
    gate = OperationGate(inner, limit=1, path="/graphql", max_wait=60, max_queue=2)
    working = [asyncio.create_task(call(gate, "/graphql")) for _ in range(3)]
    while gate.waiting < 2:  # noqa: ASYNC110 (one at work, two waiting: the gate's own count)
        await asyncio.sleep(0)
    refused = await call(gate, "/graphql")
    assert _status(refused) == 503
    headers = dict(refused[0]["headers"])
    assert headers[b"retry-after"] == b"1"
    body = orjson.loads(refused[1]["body"])
    assert body["errors"][0]["extensions"] == {"code": "OVERLOADED", "retryAfter": 1}
    assert inner.started == 1
    inner.release.set()
    assert [_status(sent) for sent in await asyncio.gather(*working)] == [200, 200, 200]
    assert gate.waiting == 0


async def test_a_request_that_waits_too_long_is_answered_overloaded() -> None:
    inner = HeldApp()
    gate = OperationGate(inner, limit=1, path="/graphql", max_wait=0.05, max_queue=10)
    first = asyncio.create_task(call(gate, "/graphql"))
    await inner.working.wait()
    late = await call(gate, "/graphql")  # the first holds the only turn past max_wait
    assert _status(late) == 503
    assert inner.started == 1
    inner.release.set()
    assert _status(await first) == 200
    assert _status(await call(gate, "/graphql")) == 200  # turns still work afterwards


class StuckPacer(Pacer):
    """A pacer whose queue never moves (a flood of other requests' steps ahead)."""

    def due(self) -> bool:
        return True

    async def pause(self) -> None:
        await asyncio.Event().wait()


@pytest.mark.parametrize("limit", [1, 0])
async def test_the_pacers_wait_counts_against_max_wait(limit: int) -> None:
    inner = HeldApp()
    gate = OperationGate(
        inner, limit=limit, path="/graphql", max_wait=0.05, max_queue=10, pacer=StuckPacer()
    )
    async with asyncio.timeout(5):  # without the bound, the request would wait for ever
        late = await call(gate, "/graphql")
    assert _status(late) == 503
    assert "no turn came in time" in orjson.loads(late[1]["body"])["errors"][0]["message"]
    assert inner.started == 0
    assert gate.waiting == 0


@pytest.mark.parametrize("limit", [1, 0])
async def test_requests_waiting_for_the_pacer_count_against_max_queue(limit: int) -> None:
    inner = HeldApp()
    gate = OperationGate(
        inner, limit=limit, path="/graphql", max_wait=60, max_queue=1, pacer=StuckPacer()
    )
    waiting = asyncio.create_task(call(gate, "/graphql"))
    async with asyncio.timeout(5):
        while gate.waiting < 1:  # noqa: ASYNC110 (the gate's own count)
            await asyncio.sleep(0)
        full = await call(gate, "/graphql")  # answered at once, not after max_wait
    assert _status(full) == 503
    message = orjson.loads(full[1]["body"])["errors"][0]["message"]
    assert "too many requests are waiting" in message
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert gate.waiting == 0
    assert inner.started == 0


def test_queue_settings_are_read_from_the_environment() -> None:
    settings = Settings.from_env(
        {"FOOTAGE_OPERATION_QUEUE_WAIT": "3", "FOOTAGE_OPERATION_QUEUE_LIMIT": "50"}
    )
    assert (settings.operation_queue_wait, settings.operation_queue_limit) == (3, 50)
    with pytest.raises(SettingsError):
        Settings.from_env({"FOOTAGE_OPERATION_QUEUE_LIMIT": "0"})


async def test_a_full_queue_and_a_late_turn_say_which_they_are() -> None:
    inner = HeldApp()
    gate = OperationGate(inner, limit=1, path="/graphql", max_wait=0.05, max_queue=1)
    first = asyncio.create_task(call(gate, "/graphql"))
    await inner.working.wait()
    waiting = asyncio.create_task(call(gate, "/graphql"))
    while gate.waiting < 1:  # noqa: ASYNC110 (the gate's own count)
        await asyncio.sleep(0)
    full = await call(gate, "/graphql")
    late = await waiting
    inner.release.set()
    await first
    assert "too many requests are waiting" in orjson.loads(full[1]["body"])["errors"][0]["message"]
    assert "no turn came in time" in orjson.loads(late[1]["body"])["errors"][0]["message"]


async def test_preflights_never_wait_for_a_turn() -> None:
    inner = HeldApp()
    gate = OperationGate(inner, limit=1, path="/graphql", max_wait=60, max_queue=1)
    first = asyncio.create_task(call(gate, "/graphql"))
    await inner.working.wait()
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    preflight = asyncio.create_task(
        gate({"type": "http", "path": "/graphql", "method": "OPTIONS"}, receive, send)
    )
    while inner.started < 2:  # noqa: ASYNC110 (the preflight reached the app beside the first)
        await asyncio.sleep(0)
    assert gate.waiting == 0
    inner.release.set()
    await asyncio.gather(first, preflight)
    assert sent[0]["status"] == 200


def test_cors_answers_outside_the_gate(tmp_path: Path) -> None:
    """The gate's 503 and preflights carry CORS headers: CORS wraps the gate."""
    from app.main import create_app

    settings = Settings.from_env(
        {"FOOTAGE_VAR_DIR": str(tmp_path), "FOOTAGE_CORS_ORIGINS": "https://app.example"}
    )
    order = [m.cls.__name__ for m in create_app(settings).user_middleware]  # type: ignore[attr-defined]
    assert order.index("CORSMiddleware") < order.index("OperationGate")


class InstantApp:
    """An ASGI app whose requests never suspend: each runs to its end in one step."""

    def __init__(self, clock: list[float]) -> None:
        self.clock = clock
        self.order: list[str] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.clock[0] += 1.0  # each request's own work
        self.order.append("request")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})


@pytest.mark.parametrize("limit", [2, 0])
async def test_cheap_requests_arriving_together_start_at_the_loops_pace(limit: int) -> None:
    clock = [0.0]
    pacer = Pacer(budget=2.5, clock=lambda: clock[0])
    inner = InstantApp(clock)
    gate = OperationGate(inner, limit=limit, path="/graphql", pacer=pacer)
    requests = [asyncio.ensure_future(call(gate, "/graphql")) for _ in range(8)]
    # Work the loop had queued behind them (a timer come due, a socket's data).
    asyncio.get_running_loop().call_soon(inner.order.append, "loop")
    answers = await asyncio.gather(*requests)
    assert all(a[0]["status"] == 200 for a in answers)
    assert inner.order.count("request") == 8
    # Three requests spend the budget; the loop's own work runs before the other five.
    assert inner.order.index("loop") == 3


class HangingClient:
    """A client as a server presents it: its body, then nothing until it hangs up."""

    BODY: ClassVar[dict[str, Any]] = {"type": "http.request", "body": b"{}", "more_body": False}

    def __init__(self) -> None:
        self.hung_up = asyncio.Event()
        self.sent: list[dict[str, Any]] = []
        self._body_read = False
        self.on_hang_up: list[Any] = []  # callbacks run as the disconnect is handed over

    async def receive(self) -> dict[str, Any]:
        if not self._body_read:
            self._body_read = True
            return self.BODY
        await self.hung_up.wait()
        for callback in self.on_hang_up:
            asyncio.get_running_loop().call_soon(callback)
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)


GRAPHQL = {"type": "http", "path": "/graphql"}


@contextlib.asynccontextmanager
async def one_at_work() -> AsyncIterator[tuple[OperationGate, HeldApp]]:
    """A gate of one turn, held by a first request until the block ends; then it answers."""
    inner = HeldApp()
    gate = OperationGate(inner, limit=1, path="/graphql", max_wait=60, max_queue=10)
    first = asyncio.create_task(call(gate, "/graphql"))
    await inner.working.wait()
    yield gate, inner
    inner.release.set()
    assert _status(await first) == 200


async def hang_up_once_queued(gate: OperationGate, client: HangingClient) -> None:
    while gate.waiting < 1:  # noqa: ASYNC110 (the gate's own count)
        await asyncio.sleep(0)
    client.hung_up.set()


async def test_a_client_that_hangs_up_while_queued_is_dropped_before_any_work() -> None:
    async with one_at_work() as (gate, inner):
        client = HangingClient()
        gone = asyncio.create_task(gate(GRAPHQL, client.receive, client.send))
        async with asyncio.timeout(5):
            await hang_up_once_queued(gate, client)
            await gone  # left the queue at once, while the first still holds the turn
        assert gate.waiting == 0
        assert client.sent == []  # nothing answered to nobody
        third = asyncio.create_task(call(gate, "/graphql"))
    assert _status(await third) == 200
    assert inner.started == 2  # the first and the third: never the one that hung up


async def test_a_client_that_hangs_up_while_waiting_for_the_pacer_is_dropped() -> None:
    inner = HeldApp()
    gate = OperationGate(
        inner, limit=1, path="/graphql", max_wait=60, max_queue=10, pacer=StuckPacer()
    )
    client = HangingClient()
    gone = asyncio.create_task(gate(GRAPHQL, client.receive, client.send))
    async with asyncio.timeout(5):  # not max_wait's 60 s
        await hang_up_once_queued(gate, client)
        await gone
    assert (gate.waiting, inner.started, client.sent) == (0, 0, [])


async def test_a_request_cancelled_as_its_client_hangs_up_stays_cancelled() -> None:
    """The hang-up undoes its own cancellation only: one from elsewhere (the server shutting
    down) arriving with it goes on."""
    async with one_at_work() as (gate, _):
        client = HangingClient()
        waiting = asyncio.create_task(gate(GRAPHQL, client.receive, client.send))
        client.on_hang_up.append(waiting.cancel)  # just before the gate hears the hang-up
        async with asyncio.timeout(5):
            await hang_up_once_queued(gate, client)
            with pytest.raises(asyncio.CancelledError):
                await waiting
        assert gate.waiting == 0


async def test_a_hang_up_is_told_apart_from_cancellations_the_task_had_before() -> None:
    async with one_at_work() as (gate, _):
        client = HangingClient()

        async def after_a_swallowed_cancellation() -> None:
            task = asyncio.current_task()
            assert task is not None
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):  # not uncancelled: cancelling() 1
                await asyncio.sleep(0)
            await gate(GRAPHQL, client.receive, client.send)

        gone = asyncio.create_task(after_a_swallowed_cancellation())
        async with asyncio.timeout(5):
            await hang_up_once_queued(gate, client)
            await gone  # dropped quietly, not a CancelledError
        assert gate.waiting == 0


async def test_a_client_gone_before_its_body_arrived_never_queues() -> None:
    inner = HeldApp()
    gate = OperationGate(inner, limit=1, path="/graphql", max_wait=60, max_queue=10)
    parts = [
        {"type": "http.request", "body": b"{", "more_body": True},
        {"type": "http.disconnect"},
    ]

    async def receive() -> dict[str, Any]:
        return parts.pop(0)

    async def send(message: dict[str, Any]) -> None:
        raise AssertionError(f"sent to a client that is gone: {message}")

    await gate({"type": "http", "path": "/graphql"}, receive, send)
    assert inner.started == 0
    assert gate.waiting == 0

"""Counts that need to see inside the app: SQL statements and signatures per request, and the
longest event-loop stall. The app is built with ``create_app`` over the benchmark database and
called directly as an ASGI app in this process (no HTTP client: see ``Harness.post``).

CPU per request: the median process CPU time (event loop and database threads) of
``CPU_SAMPLES`` sequential requests, each after ``gc.collect()``, so other work on the machine
and the timing of full collections do not move it.

Stall method: after one untimed round, while a scenario's requests run concurrently
(``STALL_CONCURRENCY`` at a time, at most ``STALL_REQUESTS`` requests or ``STALL_SECONDS``), a
watcher task sleeps 1 ms in a loop and records how late it wakes. A late wake-up means the loop
was held that long, by one long callback (a garbage collection counts) or by a queue of ready
callbacks: the time a new connection would wait. The largest lateness is the stall. The same is
measured with one request at a time, which shows the longest single piece of work. The client's
own work runs on the same loop (each client yields between requests, as a socket would make it),
so these are upper bounds on the server's share.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import multiprocessing
import statistics
import time
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from starlette.applications import Starlette

from app.main import create_app
from app.media.backends import build_signer
from app.media.signer import SignRequest
from app.settings import Settings
from app.store.engine import make_engine
from bench.scenarios import Scenario

STALL_CONCURRENCY = 16
STALL_REQUESTS = 48
STALL_SECONDS = 4.0
CPU_SAMPLES = 7


@dataclass(frozen=True)
class Counts:
    first_statements: int  # includes the API key lookup
    statements: int  # steady state: key cached, same request again
    first_signatures: int
    signatures: int  # the same request repeated inside the signing window
    response_bytes: int
    cpu_ms: float  # median CPU time of one request, after a full collection
    max_stall_ms: float  # STALL_CONCURRENCY requests at a time
    max_stall_c1_ms: float  # one request at a time


@dataclass(frozen=True)
class Answer:
    status_code: int
    content: bytes


@dataclass
class Harness:
    app: Starlette
    statements: list[int]

    @property
    def signatures(self) -> int:
        """URLs the app's minter has signed so far (its cache misses)."""
        signed: int = self.app.state.services.minter.signed
        return signed

    async def post(self, scenario: Scenario) -> Answer:
        """The scenario's request, handed to the ASGI app as uvicorn would hand it. No HTTP
        client: its own work would share the loop, and at 16 concurrent requests it doubled
        the stall measured for a cheap one."""
        body = json.dumps(scenario.body).encode()
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/graphql",
            "raw_path": b"/graphql",
            "query_string": b"",
            "root_path": "",
            "headers": [
                (b"host", b"bench"),
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"authorization", f"Bearer {scenario.api_key}".encode()),
            ],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
        }
        sent = False
        status = 0
        chunks: list[bytes] = []

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:  # nothing more will come: the client waits for the answer
                await asyncio.Event().wait()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, send)
        answer = Answer(status, b"".join(chunks))
        check(scenario, answer.status_code, answer.content)
        return answer

    async def load(
        self, scenario: Scenario, *, concurrency: int, requests: int, seconds: float
    ) -> None:
        """``requests`` requests, ``concurrency`` at a time, stopping early at ``seconds``."""
        deadline = time.monotonic() + seconds
        remaining = [requests]

        async def worker() -> None:
            while remaining[0] > 0 and time.monotonic() < deadline:
                remaining[0] -= 1
                await self.post(scenario)
                # A cheap request may never suspend in-process; a socket would yield here.
                await asyncio.sleep(0)

        await asyncio.gather(*(worker() for _ in range(concurrency)))

    async def stall(self, scenario: Scenario, concurrency: int) -> float:
        """The longest loop stall (ms) while ``scenario`` runs at ``concurrency``."""
        stop = asyncio.Event()
        watcher = asyncio.create_task(watch_loop(stop))
        try:
            await self.load(
                scenario,
                concurrency=concurrency,
                requests=STALL_REQUESTS if concurrency > 1 else STALL_REQUESTS // 3,
                seconds=STALL_SECONDS,
            )
        finally:
            stop.set()
        return round(await watcher * 1000, 1)


def check(scenario: Scenario, status: int, body: bytes) -> None:
    if status != 200 or b'"errors"' in body:
        raise RuntimeError(f"{scenario.name}: HTTP {status}: {body[:500]!r}")


@contextlib.asynccontextmanager
async def harness(settings: Settings) -> AsyncIterator[Harness]:
    engine = make_engine(settings.database_url)
    statements = [0]

    def count(*_: Any) -> None:
        statements[0] += 1

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    # The storage backend's own signer, workers (threads, or processes for an RSA key) and
    # collector tuning, as the server's factory builds them, so CPU and stall figures are the
    # server's.
    app: Starlette = create_app(settings, engine=engine, tune_collector=True)
    try:
        async with app.router.lifespan_context(app):
            yield Harness(app, statements)
    finally:
        await engine.dispose()


async def watch_loop(stop: asyncio.Event) -> float:
    """The longest lateness (seconds) of a 1 ms sleep while ``stop`` is unset."""
    loop = asyncio.get_running_loop()
    worst = 0.0
    while not stop.is_set():
        asleep = loop.time()
        await asyncio.sleep(0.001)
        worst = max(worst, loop.time() - asleep - 0.001)
    return worst


# Seconds the first request of a scenario and its repeat need, at most, within one signing
# window (the repeat's signatures count cache misses: one in the next window would sign again).
PAIR_SECONDS = 10.0


async def _measure(bench: Harness, scenario: Scenario) -> Counts:
    window = bench.app.state.services.minter.window
    left = window - time.time() % window
    if left < PAIR_SECONDS:
        await asyncio.sleep(left + 0.5)  # the next window
    marks = (bench.statements[0], bench.signatures)
    await bench.post(scenario)
    first = (bench.statements[0] - marks[0], bench.signatures - marks[1])
    marks = (bench.statements[0], bench.signatures)
    response = await bench.post(scenario)
    again = (bench.statements[0] - marks[0], bench.signatures - marks[1])
    samples = []
    for _ in range(CPU_SAMPLES):
        # Collected first, so one request's figure does not carry a share of another's garbage.
        gc.collect()
        started = time.process_time()
        await bench.post(scenario)
        samples.append(time.process_time() - started)
    await bench.load(scenario, concurrency=STALL_CONCURRENCY, requests=STALL_CONCURRENCY, seconds=2)
    return Counts(
        first_statements=first[0],
        statements=again[0],
        first_signatures=first[1],
        signatures=again[1],
        response_bytes=len(response.content),
        cpu_ms=round(statistics.median(samples) * 1000, 2),
        max_stall_ms=await bench.stall(scenario, STALL_CONCURRENCY),
        max_stall_c1_ms=await bench.stall(scenario, 1),
    )


async def measure(
    settings_for: Callable[[str], Settings], scenarios: Sequence[Scenario]
) -> dict[str, Counts | str]:
    """Counts per scenario (or what went wrong), on an app with the scenario's storage
    settings (``settings_for(storage)``), its caches as the scenario has them (cold scenarios:
    the URL cache off; ``read_cache=False``: the read cache off)."""
    found: dict[str, Counts | str] = {}
    for server in dict.fromkeys(s.server for s in scenarios):
        chosen = [s for s in scenarios if s.server == server]
        configured = chosen[0].configure(settings_for(chosen[0].storage))
        async with harness(configured) as bench:
            for scenario in chosen:
                try:
                    found[scenario.name] = await _measure(bench, scenario)
                except Exception as error:  # recorded, and the other scenarios still run
                    found[scenario.name] = f"{type(error).__name__}: {error}"[:300]
    return found


def signature_cost_ms(settings: Settings, count: int = 200) -> float:
    """CPU milliseconds one URL costs this backend's signer, signed one after another in this
    thread (what a cold page's signing costs, before it is spread over workers)."""
    signer = build_signer(settings)
    requests = [SignRequest(f"bench/cost/{i}.mp4", 900) for i in range(count)]
    signer.sign(requests[:5], signed_at=0, window=300)  # first-use costs out of the figure
    started = time.process_time()
    signer.sign(requests, signed_at=0, window=300)
    return round((time.process_time() - started) / count * 1000, 4)


_WORKER_SIGNER: Any = None


def _start_signing_worker(settings: Settings) -> None:
    global _WORKER_SIGNER
    _WORKER_SIGNER = build_signer(settings)
    _sign_share(0, 5)  # first-use costs (key parsing, imports) out of the figure


def _sign_share(offset: int, count: int) -> int:
    requests = [SignRequest(f"bench/spread/{offset + i}.mp4", 900) for i in range(count)]
    _WORKER_SIGNER.sign(requests, signed_at=0, window=300)
    return count


class SpreadSigning:
    """Wall milliseconds ``count`` URLs take this backend's signer when spread over
    ``workers`` processes, one equal share each, all started at once: the issue's "cost of
    N signatures spread over both cores", measured on the machine as it is at that moment
    (both cores busy at once, whatever else is running) rather than derived from one thread.
    Plain processes, not the app's signing pool: its own overhead is part of what the cold
    page is judged on, not of the allowance. A context manager: the workers start on entry
    (one untimed round), and each ``round_ms`` times one round."""

    def __init__(self, settings: Settings, count: int, workers: int) -> None:
        self.count = count
        self.workers = workers
        self.shares = [count // workers + (1 if i < count % workers else 0) for i in range(workers)]
        self.pool = ProcessPoolExecutor(
            workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_signing_worker,
            initargs=(settings,),
        )

    def __enter__(self) -> SpreadSigning:
        self.round_ms()  # starts the workers
        return self

    def __exit__(self, *_: object) -> None:
        self.pool.shutdown()

    def round_ms(self) -> float:
        started = time.perf_counter()
        offsets = [i * self.count for i in range(self.workers)]
        done = self.pool.map(_sign_share, offsets, self.shares)
        assert sum(done) == self.count
        return (time.perf_counter() - started) * 1000


def spread_signing_ms(settings: Settings, count: int, workers: int, rounds: int = 5) -> float:
    """``SpreadSigning``'s median of ``rounds``."""
    with SpreadSigning(settings, count, workers) as spread:
        timings = [spread.round_ms() for _ in range(rounds)]
    return round(statistics.median(timings), 2)

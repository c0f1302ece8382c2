"""The operation gate behind a real uvicorn: a client that closes its socket while its request
waits for a turn is dropped before any of its work."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app.limits import OperationGate
from tests.support.live_server import serving

BOUND = 10.0  # seconds: a failing test stops here instead of hanging


@contextlib.asynccontextmanager
async def _released(release: asyncio.Event) -> AsyncIterator[None]:
    """Whatever happens, the held requests end (else the server's shutdown waits for them)."""
    try:
        yield
    finally:
        release.set()


async def test_a_client_that_closes_its_socket_while_queued_never_runs() -> None:
    release = asyncio.Event()
    started: list[str] = []

    async def endpoint(request: Request) -> JSONResponse:
        started.append((await request.json())["name"])
        await release.wait()
        return JSONResponse({"ok": True})

    app = Starlette(routes=[Route("/graphql", endpoint, methods=["POST"])])
    gate = OperationGate(app, limit=1, path="/graphql", max_wait=60, max_queue=10)
    async with (
        serving(gate, lifespan="off") as base,
        httpx.AsyncClient(base_url=base) as client,
        _released(release),
    ):
        first = asyncio.create_task(client.post("/graphql", json={"name": "first"}))
        async with asyncio.timeout(BOUND):
            while not started:  # noqa: ASYNC110 (the endpoint's own record)
                await asyncio.sleep(0.01)
            host, port = base.removeprefix("http://").split(":")
            reader, writer = await asyncio.open_connection(host, int(port))
            body = b'{"name": "gone"}'
            writer.write(
                b"POST /graphql HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
            )
            await writer.drain()
            while gate.waiting < 1:  # noqa: ASYNC110 (the gate's own count)
                await asyncio.sleep(0.01)
            writer.close()
            await writer.wait_closed()
            while gate.waiting:  # noqa: ASYNC110 (dropped once uvicorn sees the hang-up)
                await asyncio.sleep(0.01)
            third = asyncio.create_task(client.post("/graphql", json={"name": "third"}))
            while gate.waiting < 1:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
            release.set()
            answers = await asyncio.gather(first, third)
    assert [answer.status_code for answer in answers] == [200, 200]
    assert started == ["first", "third"]
    assert reader.at_eof() or not await reader.read()

"""A real uvicorn server for one app, on 127.0.0.1 and an ephemeral port, in the test's own event
loop: real sockets and real websocket frames, while the app can still share the test's
rolled-back transaction."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from starlette.types import ASGIApp

START_DEADLINE = 20.0


@asynccontextmanager
async def serving(app: ASGIApp, **config: object) -> AsyncIterator[str]:
    """Serve ``app`` (lifespan included) and yield its base URL, ``http://127.0.0.1:<port>``."""
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=0,
            **{"lifespan": "on", "log_level": "warning", **config},  # type: ignore[arg-type]
        )
    )
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(START_DEADLINE):
            while not server.started:
                if task.done():
                    task.result()  # raises what stopped the server
                    raise RuntimeError("uvicorn stopped before it started")
                await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task

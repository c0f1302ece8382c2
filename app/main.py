"""The app factory and its lifespan: per-process services are built here, and only here."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute

from app import gc_tuning
from app.answers import AnswerCache
from app.auth import Authenticator
from app.context import Services
from app.events import Broker, open_broker
from app.graphql_view import FootageGraphQL
from app.json_post import JsonPosts
from app.limits import OperationGate, RateLimiter, RequestContextMiddleware
from app.maintenance import run_maintenance
from app.media.backends import build_deleter, build_signer
from app.media.cleanup import StorageCleaner
from app.media.links import stable_media_link
from app.media.local import ROUTE_PREFIX, LocalSigner
from app.media.routes import serve_local_media
from app.media.sign_pool import SigningProcesses, signing_processes
from app.media.signer import UrlMinter
from app.media.storage import StorageDeleter
from app.pacing import Pacer
from app.schema import build_schema
from app.settings import Settings
from app.store.engine import make_engine
from app.store.facade import Connect
from app.store.migrate import pending_revision
from app.store.outbox import Outbox
from app.store.tree_cache import TreeCache

log = logging.getLogger("footage")


class NotMigrated(RuntimeError):
    """The database is not at the schema this code needs."""


def create_app(
    settings: Settings,
    *,
    engine: AsyncEngine | None = None,
    connect: Connect | None = None,
    begin: Connect | None = None,
    signer: Any | None = None,
    deleter: StorageDeleter | None = None,
    tune_collector: bool = False,
) -> Starlette:
    """The ASGI app. Tests pass their own ``engine``, ``connect`` and ``begin`` (a rolled-back
    transaction and savepoints in it) and may pass a recording ``signer`` or a storage
    ``deleter``; production builds everything from ``settings``.

    The maintenance task runs only when the app owns its transactions: a test's ``begin`` is
    one shared connection, which a background task must not use beside the requests."""
    # One per process (its budget is the loop's): requests start at its pace, pages complete at it.
    pacer = Pacer(collector=gc_tuning.PacedCollector() if tune_collector else None)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        own_engine = engine is None
        db = (
            make_engine(settings.database_url, statement_timeout=settings.query_timeout + 1)
            if engine is None
            else engine
        )
        executor = ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="sign")
        processes: SigningProcesses | None = None
        maintenance: asyncio.Task[None] | None = None
        deletions = ThreadPoolExecutor(max_workers=4, thread_name_prefix="storage-delete")
        broker: Broker | None = None
        try:
            problem = await pending_revision(db)
            if problem is not None:
                raise NotMigrated(f"Footage cannot start: {problem}.")
            url_signer = signer or build_signer(settings)
            if signer is None:
                # GCS keys sign in processes (app.media.sign_pool); the rest in threads.
                processes = signing_processes(settings, url_signer)
            # The local route verifies with the settings' secret, whoever signs (tests wrap the
            # signer); with another backend the app serves no files itself.
            local = (
                LocalSigner(
                    secret=settings.signing_key,
                    public_url=settings.public_url,
                    root=settings.media_root,
                )
                if settings.storage == "local"
                else None
            )
            write = begin or db.begin
            storage_deleter = deleter or build_deleter(settings)
            cleaner = StorageCleaner(
                outbox=Outbox(write, backend=storage_deleter.name),
                deleter=storage_deleter,
                executor=deletions,
            )
            if begin is None and settings.maintenance_interval > 0:
                maintenance = asyncio.create_task(
                    run_maintenance(
                        cleaner=cleaner,
                        begin=write,
                        interval=settings.maintenance_interval,
                        key_ttl=timedelta(hours=settings.idempotency_key_hours),
                    ),
                    name="footage-maintenance",
                )
            # Chosen by the database: PostgreSQL LISTEN/NOTIFY across processes, else in-process.
            broker = await open_broker(settings)
            app.state.services = Services(
                settings=settings,
                connect=connect or db.connect,
                begin=write,
                authenticator=Authenticator(cache_seconds=settings.api_key_cache_seconds),
                rate_limiter=RateLimiter(
                    per_minute=settings.rate_limit_per_minute, burst=settings.rate_limit_burst
                ),
                minter=UrlMinter(
                    processes.signer if processes else url_signer,
                    window=settings.signing_window,
                    cache_size=settings.url_cache_size,
                    executor=processes.executor if processes else executor,
                    parallel=processes.parallel if processes else 1,
                    hands_on_turns=processes is not None,
                ),
                broker=broker,
                storage=cleaner,
                pacer=pacer,
                trees=TreeCache(settings.read_cache_size),
                answers=AnswerCache(settings.read_cache_size),
                pages=AnswerCache(settings.page_cache_size),
            )
            app.state.local_signer = local
            app.state.demo_key = _demo_key(settings)
            if tune_collector:
                # After everything the process keeps is built (app.gc_tuning).
                gc_tuning.tune_collector()
            yield
        finally:
            if maintenance is not None:
                maintenance.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await maintenance
            if broker is not None:
                await broker.close()
            executor.shutdown(wait=False, cancel_futures=True)
            if processes is not None:
                processes.executor.shutdown(wait=False, cancel_futures=True)
            deletions.shutdown(wait=False, cancel_futures=True)
            if own_engine:
                await db.dispose()

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    graphql = FootageGraphQL(build_schema(settings), graphiql=not settings.is_production)
    middleware = [Middleware(RequestContextMiddleware, max_body_bytes=settings.max_body_bytes)]
    if settings.cors_origins:
        # Outside the gate: its 503 carries CORS headers too (a browser can read it and its
        # Retry-After), and preflights are answered without waiting for a turn.
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(settings.cors_origins),
                allow_methods=["GET", "POST"],
                allow_headers=["Authorization", "Content-Type", "Accept", "X-Request-Id"],
                expose_headers=["X-Request-Id", "Retry-After"],
                max_age=600,
            )
        )
    middleware.append(
        Middleware(
            OperationGate,
            limit=settings.concurrent_operations,
            path="/graphql",
            max_wait=settings.operation_queue_wait,
            max_queue=settings.operation_queue_limit,
            pacer=pacer,
        )
    )
    middleware.append(Middleware(JsonPosts, view=graphql, path="/graphql"))
    return Starlette(
        middleware=middleware,
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),  # subscriptions: graphql-transport-ws
            Route(ROUTE_PREFIX + "{key:path}", serve_local_media, methods=["GET", "HEAD"]),
            Route("/media/{id}", stable_media_link, methods=["GET"]),
            Route("/healthz", healthz),
        ],
        lifespan=lifespan,
    )


def _demo_key(settings: Settings) -> str | None:
    """The demo workspace's key, shown in development GraphiQL only."""
    if settings.is_production:
        return None
    path = settings.var_dir / "demo_api_key"
    return path.read_text().strip() if path.exists() else None


def app_from_environment() -> Starlette:
    """uvicorn's factory: settings from the process environment."""
    logging.basicConfig(level=logging.INFO)
    return create_app(Settings.from_env(os.environ), tune_collector=True)

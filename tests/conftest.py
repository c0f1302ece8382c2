"""Fixtures: settings from a dict -> engine (migrated, demo loaded, once per backend) -> a
per-test transaction that is rolled back -> app (lifespan run) -> httpx client over ASGI.

Every store-touching test runs on SQLite and on a throwaway PostgreSQL cluster. Without
PostgreSQL binaries those runs are skipped with a loud message, unless
``FOOTAGE_REQUIRE_POSTGRES`` (set by ``.ci/run``) or ``CI`` makes their absence a failure.
"""

from __future__ import annotations

import os
import uuid
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from starlette.applications import Starlette

from app.auth import SCOPES, hash_api_key, new_api_key, scope_string
from app.demo.seed import seed_demo
from app.main import create_app
from app.media.local import LocalSigner
from app.media.signer import UrlMinter
from app.settings import Settings
from app.store.engine import make_engine
from app.store.facade import admin_transaction
from app.store.migrate import upgrade
from tests.support.live_server import serving
from tests.support.pg_cluster import PostgresCluster, find_pg_bindir
from tests.support.recording_signer import RecordingSigner

BACKENDS = ("sqlite", "postgresql")
SIGNING_SECRET = "test-signing-secret-that-is-long-enough-0123456789"


def _postgres_required() -> bool:
    return bool(os.environ.get("FOOTAGE_REQUIRE_POSTGRES") or os.environ.get("CI"))


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    bindir = find_pg_bindir()
    if bindir is None:
        message = (
            "PostgreSQL server binaries not found: the PostgreSQL half of the suite did NOT run. "
            "Install them (apt-get install postgresql) or set FOOTAGE_PG_BINDIR."
        )
        if _postgres_required():
            pytest.fail(message)
        warnings.warn(message, pytest.PytestWarning, stacklevel=1)
        pytest.skip(message)
    with PostgresCluster(bindir) as cluster:
        yield cluster.url


@pytest.fixture(scope="session")
def var_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("var")


@dataclass(frozen=True)
class Backend:
    name: str
    engine: AsyncEngine
    settings: Settings
    demo_key: str


def make_settings(var_dir: Path, database_url: str, **overrides: str) -> Settings:
    environ = {
        "FOOTAGE_DATABASE_URL": database_url,
        "FOOTAGE_VAR_DIR": str(var_dir),
        "FOOTAGE_SIGNING_KEY": SIGNING_SECRET,
        "FOOTAGE_PUBLIC_URL": "http://testserver",
        **overrides,
    }
    return Settings.from_env(environ)


@pytest.fixture(scope="session", params=BACKENDS)
async def backend(request: pytest.FixtureRequest, var_root: Path) -> AsyncIterator[Backend]:
    name = request.param
    var_dir = var_root / name
    if name == "sqlite":
        url = f"sqlite+aiosqlite:///{var_dir / 'footage.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    settings = make_settings(var_dir, url)
    engine = make_engine(url)
    await upgrade(engine)
    outcome = await seed_demo(
        engine, media_root=settings.media_root, key_file=var_dir / "demo_api_key"
    )
    assert outcome.api_key is not None
    yield Backend(name, engine, settings, outcome.api_key)
    await engine.dispose()


@pytest.fixture
async def connection(backend: Backend) -> AsyncIterator[AsyncConnection]:
    """One connection in a transaction that is rolled back after the test."""
    async with backend.engine.connect() as conn:
        transaction = await conn.begin()
        if backend.name == "sqlite":
            # sqlite3's legacy transaction handling opens a transaction only before a write:
            # an app's write (a SAVEPOINT, see ``client_factory``) coming first would be the
            # outermost and its RELEASE would commit it, past this test's rollback and into the
            # next tests' data. Opened here, every write of the test stays inside it.
            await conn.exec_driver_sql("BEGIN")
        try:
            yield conn
        finally:
            await transaction.rollback()


class StatementCounter:
    def __init__(self) -> None:
        self.statements: list[str] = []

    def __call__(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.statements.append(statement)

    @property
    def count(self) -> int:
        return len(self.statements)

    def reset(self) -> None:
        self.statements.clear()


@pytest.fixture
def statements(backend: Backend) -> Iterator[StatementCounter]:
    counter = StatementCounter()
    event.listen(backend.engine.sync_engine, "before_cursor_execute", counter)
    yield counter
    event.remove(backend.engine.sync_engine, "before_cursor_execute", counter)


@pytest.fixture
def signer(backend: Backend) -> RecordingSigner:
    settings = backend.settings
    return RecordingSigner(
        LocalSigner(
            secret=settings.signing_key, public_url=settings.public_url, root=settings.media_root
        )
    )


@asynccontextmanager
async def running(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


ClientFactory = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def client_factory(backend: Backend, connection: AsyncConnection) -> ClientFactory:
    """Clients over apps sharing the test's transaction; keyword arguments go to
    ``create_app`` (a ``signer``) or replace settings (``settings``)."""

    @asynccontextmanager
    async def connect() -> AsyncIterator[AsyncConnection]:
        yield connection

    @asynccontextmanager
    async def begin() -> AsyncIterator[AsyncConnection]:
        async with connection.begin_nested():
            yield connection

    @asynccontextmanager
    async def factory(**kwargs: Any) -> AsyncIterator[httpx.AsyncClient]:
        settings = kwargs.pop("settings", backend.settings)
        app = create_app(settings, engine=backend.engine, connect=connect, begin=begin, **kwargs)
        async with running(app) as http:
            http.headers["Authorization"] = f"Bearer {backend.demo_key}"
            yield http

    return factory


@dataclass(frozen=True)
class LiveServer:
    app: Starlette
    base_url: str
    demo_key: str


LiveServerFactory = Callable[..., AbstractAsyncContextManager[LiveServer]]


@pytest.fixture
def server_factory(backend: Backend, connection: AsyncConnection) -> LiveServerFactory:
    """Like ``client_factory``, but the app runs under a real uvicorn on 127.0.0.1 (in this
    event loop), for real websockets."""

    @asynccontextmanager
    async def connect() -> AsyncIterator[AsyncConnection]:
        yield connection

    @asynccontextmanager
    async def begin() -> AsyncIterator[AsyncConnection]:
        async with connection.begin_nested():
            yield connection

    @asynccontextmanager
    async def factory(**kwargs: Any) -> AsyncIterator[LiveServer]:
        settings = kwargs.pop("settings", backend.settings)
        app = create_app(settings, engine=backend.engine, connect=connect, begin=begin, **kwargs)
        async with serving(app) as base_url:
            yield LiveServer(app, base_url, backend.demo_key)

    return factory


@pytest.fixture
async def client(
    client_factory: ClientFactory, signer: RecordingSigner
) -> AsyncIterator[httpx.AsyncClient]:
    async with client_factory(signer=signer) as http:
        yield http


@dataclass(frozen=True)
class FreshDatabase:
    """A migrated database of the test's own, with a workspace and a key holding every scope,
    and no demo data."""

    engine: AsyncEngine
    settings: Settings
    key: str
    workspace_id: int


@pytest.fixture
async def empty_database(backend: Backend, tmp_path: Path) -> AsyncIterator[str]:
    """The URL of a database of the test's own, not even migrated: a temporary SQLite file, or
    a new database on the PostgreSQL cluster (dropped afterwards)."""
    if backend.name == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
        return
    database = f"fresh_{uuid.uuid4().hex[:16]}"
    autocommit = backend.engine.execution_options(isolation_level="AUTOCOMMIT")
    async with autocommit.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{database}"'))
    try:
        yield f"{backend.settings.database_url.rsplit('/', 1)[0]}/{database}"
    finally:
        async with autocommit.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))


@pytest.fixture
async def fresh_database(empty_database: str, tmp_path: Path) -> AsyncIterator[FreshDatabase]:
    """For tests that need real commits on separate connections (concurrent writes, the
    storage outbox): ``empty_database`` migrated, with a workspace and a key. The app over it
    (``create_app(fresh.settings, engine=fresh.engine)``) uses ``engine.begin``; its
    maintenance task is off (``FOOTAGE_MAINTENANCE_INTERVAL=0``)."""
    settings = make_settings(tmp_path / "var", empty_database, FOOTAGE_MAINTENANCE_INTERVAL="0")
    engine = make_engine(empty_database)
    try:
        await upgrade(engine)
        key = new_api_key()
        now = datetime.now(UTC)
        async with admin_transaction(engine) as admin:
            workspace_id = await admin.ensure_workspace(slug="fresh", name="Fresh", now=now)
            await admin.create_api_key(
                workspace_id=workspace_id,
                key_hash=hash_api_key(key),
                prefix=key[:8],
                label="fresh",
                now=now,
                scopes=scope_string(SCOPES),
            )
        yield FreshDatabase(engine, settings, key, workspace_id)
    finally:
        await engine.dispose()


@pytest.fixture
def one_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every URL signed in one signing window, so that two reads compare equal even when the
    real window turns between them."""
    start = UrlMinter.window_start

    def fixed(minter: UrlMinter) -> int:
        found: int = minter.__dict__.setdefault("_test_window", start(minter))
        return found

    monkeypatch.setattr(UrlMinter, "window_start", fixed)

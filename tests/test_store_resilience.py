"""The connection pool survives what production throws at it: bursts of requests whose keys miss
the authentication cache, and requests cancelled by the query timeout in the middle of a
statement. Each test runs an app over its own small pool on the committed demo database."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.demo.queries import document
from app.main import create_app
from app.store.db_errors import is_busy, is_rolled_back_for_retry
from app.store.engine import make_engine
from app.store.facade import Store
from tests.conftest import Backend, ClientFactory, FreshDatabase, make_settings, running
from tests.support.graphql import error_codes, gql


@pytest.fixture
async def small_pool(backend: Backend) -> AsyncIterator[AsyncEngine]:
    """Two connections and no overflow: a request that needs a second connection while it holds
    one would wait for the pool timeout, so a leak or a nested checkout shows at once."""
    engine = make_engine(backend.settings.database_url, pool_size=2, max_overflow=0, pool_timeout=5)
    yield engine
    await engine.dispose()


async def test_burst_of_key_cache_misses_never_exhausts_the_pool(
    backend: Backend, small_pool: AsyncEngine, tmp_path: Path
) -> None:
    settings = make_settings(
        tmp_path, backend.settings.database_url, FOOTAGE_API_KEY_CACHE_SECONDS="0"
    )
    app = create_app(settings, engine=small_pool)
    query = document("listResults")
    async with running(app) as client:
        client.headers["Authorization"] = f"Bearer {backend.demo_key}"
        bodies = await asyncio.gather(*(gql(client, query) for _ in range(12)))
    assert all(body["data"]["userTest"] is not None for body in bodies)


async def test_timeout_during_a_statement_returns_a_healthy_connection_to_the_pool(
    backend: Backend, small_pool: AsyncEngine, tmp_path: Path
) -> None:
    if backend.name != "postgresql":
        pytest.skip("SQLite readers never wait for a lock (WAL), so no statement can hang")
    settings = make_settings(tmp_path, backend.settings.database_url, FOOTAGE_QUERY_TIMEOUT="1")
    app = create_app(settings, engine=small_pool)
    async with running(app) as client:
        client.headers["Authorization"] = f"Bearer {backend.demo_key}"
        await gql(client, "{ __typename }")  # the key is cached: only the query will wait
        async with backend.engine.connect() as locker:
            await locker.begin()
            await locker.execute(text("LOCK TABLE attached_media IN ACCESS EXCLUSIVE MODE"))
            body = await gql(client, document("GetAllResults"), expect_errors=True, status=504)
            assert error_codes(body) == ["TIMEOUT"]
            await locker.rollback()
        # Every connection the pool hands out afterwards works.
        for _ in range(4):
            body = await gql(client, document("GetAllResults"))
            assert body["data"]["userTest"]["results"]["edges"]


async def test_postgres_engine_carries_the_query_timeout_to_the_server(backend: Backend) -> None:
    if backend.name != "postgresql":
        pytest.skip("statement_timeout is a PostgreSQL setting")
    engine = make_engine(backend.settings.database_url, statement_timeout=2.5)
    try:
        async with engine.connect() as connection:
            value = (await connection.execute(text("SHOW statement_timeout"))).scalar_one()
    finally:
        await engine.dispose()
    assert value == "2500ms"


@asynccontextmanager
async def sqlite_locked_by_another_writer(
    fresh: FreshDatabase,
) -> AsyncIterator[tuple[httpx.AsyncClient, sqlite3.Connection]]:
    """A client of an app whose SQLite waits 50 ms for the write lock, which another connection
    (another process, say) holds until the block ends; the holder is yielded too."""
    if fresh.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL has row locks, not one writer at a time")
    database = fresh.engine.url.database
    assert database is not None
    impatient = make_engine(str(fresh.engine.url), sqlite_busy_timeout=0.05)
    holder = sqlite3.connect(database, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        async with running(create_app(fresh.settings, engine=impatient)) as client:
            client.headers["Authorization"] = f"Bearer {fresh.key}"
            yield client, holder
    finally:
        holder.close()
        await impatient.dispose()


async def test_a_write_that_waits_out_sqlites_lock_is_service_unavailable(
    fresh_database: FreshDatabase,
) -> None:
    """SQLite has one writer at a time: a mutation that finds the lock held past the busy
    timeout answers SERVICE_UNAVAILABLE (retry), not INTERNAL, and writes nothing."""
    async with sqlite_locked_by_another_writer(fresh_database) as (client, holder):
        body = await gql(
            client,
            'mutation { createUserTest(input: {name: "Busy"}) { userTestUuid } }',
            expect_errors=True,
        )
        holder.execute("ROLLBACK")
        named = holder.execute("SELECT count(*) FROM user_tests WHERE name = 'Busy'").fetchone()
    assert error_codes(body) == ["SERVICE_UNAVAILABLE"]
    assert body["errors"][0]["extensions"]["retryAfter"] == 1
    assert not (body.get("data") or {}).get("createUserTest")
    assert named == (0,)


async def test_a_key_whose_last_use_cannot_be_recorded_still_authenticates(
    fresh_database: FreshDatabase,
) -> None:
    """The key's last-use update is a write: with SQLite's lock held elsewhere it is skipped
    (a later request records it) and the request is answered."""
    async with sqlite_locked_by_another_writer(fresh_database) as (client, _holder):
        body = await gql(client, '{ userTest(uuid: "ut_unknown") { id } }')
    assert body == {"data": {"userTest": None}}


async def test_a_key_lookup_the_database_fails_answers_503_service_unavailable(
    client_factory: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def failing(*_: object, **__: object) -> None:
        raise OperationalError("SELECT ...", {}, Exception("connection refused"))

    monkeypatch.setattr(Store, "authenticate_api_key", failing)
    async with client_factory() as client:
        response = await client.post("/graphql", json={"query": "{ __typename }"})
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.json()["errors"][0]["extensions"] == {"code": "SERVICE_UNAVAILABLE"}


class _DriverError(Exception):
    def __init__(self, message: str, sqlstate: str | None = None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("message", "sqlstate", "busy", "retry"),
    [
        ("database is locked", None, True, False),  # SQLite past busy_timeout
        ("canceling statement due to statement timeout", "57014", True, False),
        ("could not obtain lock on row", "55P03", True, False),
        ("sorry, too many clients already", "53300", True, False),
        ("deadlock detected", "40P01", False, True),
        ("could not serialize access", "40001", False, True),
        ("syntax error at or near", "42601", False, False),  # a bug: not to be retried
        ("no such table: api_keys", None, False, False),
    ],
)
def test_database_errors_that_mean_not_now(
    message: str, sqlstate: str | None, busy: bool, retry: bool
) -> None:
    error = DBAPIError("SELECT 1", {}, _DriverError(message, sqlstate))
    assert (is_busy(error), is_rolled_back_for_retry(error)) == (busy, retry)

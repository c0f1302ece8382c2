"""No key, a wrong key, a revoked or an expired key: UNAUTHENTICATED with HTTP 401."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth import Authenticator, hash_api_key
from app.store.facade import Admin, Store
from tests.support.factories import make_workspace
from tests.support.graphql import error_codes, gql

QUERY = '{ userTest(uuid: "ut_645c4faa-5c2d-49b1-85fa-823ffbbbfa17") { name } }'


async def assert_unauthenticated(client: httpx.AsyncClient, authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    if authorization is None:
        del client.headers["Authorization"]
    body = await gql(client, QUERY, expect_errors=True, status=401, headers=headers)
    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert "data" not in body  # a request error: nothing executed (GraphQL over HTTP)


async def test_missing_key_is_unauthenticated_with_401(client: httpx.AsyncClient) -> None:
    await assert_unauthenticated(client, None)


@pytest.mark.parametrize(
    "authorization",
    ["Bearer ftg_not-a-real-key", "Bearer ", "Basic dXNlcjpwYXNz", "ftg_no_scheme", "Bearer x"],
)
async def test_wrong_key_is_unauthenticated_with_401(
    client: httpx.AsyncClient, authorization: str
) -> None:
    await assert_unauthenticated(client, authorization)


async def test_expired_key_is_unauthenticated(
    client: httpx.AsyncClient, connection: AsyncConnection
) -> None:
    past = datetime.now(UTC) - timedelta(minutes=1)
    workspace = await make_workspace(connection, "expired", expires_at=past)
    await assert_unauthenticated(client, f"Bearer {workspace.key}")


async def test_revoked_key_is_unauthenticated(
    client: httpx.AsyncClient, connection: AsyncConnection
) -> None:
    workspace = await make_workspace(connection, "revoked", revoked=True)
    await assert_unauthenticated(client, f"Bearer {workspace.key}")


async def test_key_revoked_while_cached_stops_working_when_the_cache_lapses(
    connection: AsyncConnection,
) -> None:
    workspace = await make_workspace(connection, "later")
    now = [1_000.0]
    authenticator = Authenticator(cache_seconds=10, clock=lambda: now[0])
    store = Store(lambda: _shared(connection), lambda: _shared(connection))
    viewer = await authenticator.authenticate(store, workspace.key)
    assert viewer is not None
    assert viewer.workspace_id == workspace.id

    await Admin(connection).revoke_api_keys(
        key_hash=hash_api_key(workspace.key), now=datetime.now(UTC)
    )
    now[0] += 9
    assert await authenticator.authenticate(store, workspace.key) == viewer
    now[0] += 2
    assert await authenticator.authenticate(store, workspace.key) is None


@asynccontextmanager
async def _shared(connection: AsyncConnection) -> AsyncIterator[AsyncConnection]:
    yield connection


async def test_keys_are_stored_hashed_never_in_clear(
    client: httpx.AsyncClient, connection: AsyncConnection
) -> None:
    workspace = await make_workspace(connection, "hashed")
    admin_rows = await connection.exec_driver_sql("SELECT key_hash, prefix FROM api_keys")
    stored = [tuple(row) for row in admin_rows]
    assert (hash_api_key(workspace.key), workspace.key[:8]) in stored
    assert all(workspace.key not in value for row in stored for value in row)


async def test_concurrent_lookups_of_one_uncached_key_share_one_transaction(
    connection: AsyncConnection,
) -> None:
    workspace = await make_workspace(connection, "burst")
    opened = 0

    @asynccontextmanager
    async def counted() -> AsyncIterator[AsyncConnection]:
        nonlocal opened
        opened += 1
        yield connection

    authenticator = Authenticator(cache_seconds=10)
    store = Store(counted, counted)
    viewers = await asyncio.gather(
        *(authenticator.authenticate(store, workspace.key) for _ in range(10))
    )
    assert {viewer.workspace_id for viewer in viewers if viewer} == {workspace.id}
    assert opened == 1


async def test_key_use_is_recorded_at_most_once_a_minute(connection: AsyncConnection) -> None:
    workspace = await make_workspace(connection, "touched")
    store = Store(lambda: _shared(connection), lambda: _shared(connection))
    key_hash = hash_api_key(workspace.key)
    first = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    minute = timedelta(seconds=60)
    for now in (first, first + timedelta(seconds=30)):
        await store.authenticate_api_key(key_hash=key_hash, now=now, touch_after=minute)
    record = await store.authenticate_api_key(
        key_hash=key_hash, now=first + timedelta(seconds=90), touch_after=minute
    )
    assert record is not None
    assert record.last_used_at == first
    record = await store.authenticate_api_key(key_hash=key_hash, now=first, touch_after=minute)
    assert record is not None
    assert record.last_used_at == first + timedelta(seconds=90)

"""Live updates under failure, over real sockets: a database that fails while the key is looked
up, hostile ``connection_init`` payloads, subscribers that fall behind, a result deleted while
subscribing, and a request's store used after it was closed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import orjson
import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth import Viewer
from app.demo.seed import TEST_UUID
from app.events import TOPIC_TEST, Change, InProcessBroker, SubscriberLagged
from app.live import LiveConnection
from app.store.facade import Store, StoreClosed
from app.store.records import ResultRecord
from resolvers.change_feed import encode_feed_cursor
from tests.conftest import LiveServer, LiveServerFactory
from tests.support.factories import make_workspace
from tests.support.graphql_ws import GraphQLWS, error_codes
from tests.test_websocket_security import WATCH, broker_of, workspace_change

MEDIA_CHANGED = "subscription($r: String!) { attachedMediaChanged(resultUuid: $r) { kind } }"


@pytest.fixture
async def server(server_factory: LiveServerFactory) -> AsyncIterator[LiveServer]:
    async with server_factory() as live:
        yield live


def fail_key_lookups(server: LiveServer, monkeypatch: pytest.MonkeyPatch, times: int) -> None:
    """The next ``times`` key lookups fail as a dropped database connection does."""
    authenticator = server.app.state.services.authenticator
    real = authenticator.authenticate
    left = [times]

    async def authenticate(store: Store, token: str | None) -> Viewer | None:
        if left[0] > 0:
            left[0] -= 1
            raise OperationalError("SELECT", {}, Exception("connection reset (simulated)"))
        viewer: Viewer | None = await real(store, token)
        return viewer

    monkeypatch.setattr(authenticator, "authenticate", authenticate)


# -- the database fails while the key is looked up ---------------------------------------------


async def test_connection_init_whose_key_cannot_be_checked_closes_with_1013(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    fail_key_lookups(server, monkeypatch, times=1)
    init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {server.demo_key}"}}
    async with GraphQLWS.connect(server.base_url) as ws:
        await ws.send(init)
        code, reason = await ws.closed()
    async with GraphQLWS.session(server.base_url, server.demo_key) as retried:
        assert await retried.subscribe("1", WATCH, {"t": TEST_UUID}) == []

    assert code == 1013  # Try Again Later: graphql-ws clients reconnect by themselves
    assert "could not be checked" in reason


async def test_subscribe_whose_key_cannot_be_checked_is_refused_while_the_others_go_on(
    server: LiveServer,
    connection: AsyncConnection,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    change = await workspace_change(connection)
    async with GraphQLWS.session(server.base_url, server.demo_key) as ws:
        assert await ws.subscribe("a", WATCH, {"t": TEST_UUID}) == []
        fail_key_lookups(server, monkeypatch, times=1)
        [refused] = await ws.subscribe("b", WATCH, {"t": TEST_UUID})
        await broker_of(server).publish([change])
        event = await ws.next_data("a")
        again = await ws.subscribe("b", WATCH, {"t": TEST_UUID})

    assert refused["type"] == "error"
    assert error_codes(refused) == ["SERVICE_UNAVAILABLE"]
    assert event["resultChanged"]["kind"] == "UPDATED"
    assert again == []
    assert "could not be checked" in caplog.text


async def test_an_event_whose_key_recheck_fails_is_delivered(
    server: LiveServer,
    connection: AsyncConnection,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    change = await workspace_change(connection)
    async with GraphQLWS.session(server.base_url, server.demo_key) as ws:
        assert await ws.subscribe("a", WATCH, {"t": TEST_UUID}) == []
        fail_key_lookups(server, monkeypatch, times=1)
        await broker_of(server).publish([change])
        first = await ws.next_data("a")
        await broker_of(server).publish([change])
        second = await ws.next_data("a")

    assert first["resultChanged"]["kind"] == second["resultChanged"]["kind"] == "UPDATED"
    assert "without re-checking its key" in caplog.text


async def test_an_unexpected_failure_closes_the_socket_with_1011(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(_self: LiveConnection) -> float:
        raise RuntimeError("a bug")

    async with GraphQLWS.session(server.base_url, server.demo_key) as ws:
        monkeypatch.setattr(LiveConnection, "retry_after", broken)
        await ws.send({"type": "subscribe", "id": "1", "payload": {"query": WATCH}})
        assert await ws.closed() == (1011, "Internal server error")
    assert "a bug" in caplog.text


# -- connection_init payloads --------------------------------------------------------------------


def nested_headers(depth: int, innermost: dict[str, Any]) -> str:
    """A ``connection_init`` frame whose payload nests ``headers`` objects ``depth`` deep."""
    inner = '{"headers":' * depth + orjson.dumps(innermost).decode() + "}" * depth
    return '{"type":"connection_init","payload":' + inner + "}"


@pytest.mark.parametrize("depth", [2, 1_000])
async def test_a_key_nested_below_the_headers_object_is_not_looked_for(
    server: LiveServer, depth: int
) -> None:
    frame = nested_headers(depth, {"Authorization": f"Bearer {server.demo_key}"})
    async with GraphQLWS.connect(server.base_url) as ws:
        await ws.socket.send(frame)
        assert await ws.closed() == (4403, "Forbidden")
    async with GraphQLWS.connect(server.base_url) as ws:
        await ws.socket.send(nested_headers(1, {"Authorization": f"Bearer {server.demo_key}"}))
        assert await ws.receive() == {"type": "connection_ack"}


# -- subscribers that fall behind ----------------------------------------------------------------


def change(number: int, *, key: str = "ut_a") -> Change:
    return Change(1, TOPIC_TEST, key, "UPDATED", "UserTestResult", f"r{number}", number)


async def test_a_subscriber_that_falls_behind_is_ended_with_subscriber_lagged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broker = InProcessBroker(queue_size=3)
    lagging = broker.subscribe(workspace_id=1, topic=TOPIC_TEST, key="ut_a")
    other = broker.subscribe(workspace_id=1, topic=TOPIC_TEST, key="ut_b")

    await broker.publish([change(n) for n in range(5)] + [change(9, key="ut_b")])

    async with asyncio.timeout(5):
        for _ in range(2):  # and every later call
            with pytest.raises(SubscriberLagged) as lagged:
                await anext(lagging)
        assert await anext(other) == change(9, key="ut_b")
    assert lagged.value.limit == 3
    assert "fell 3 changes behind" in caplog.text


async def test_a_full_stream_still_ends_when_the_broker_closes() -> None:
    broker = InProcessBroker(queue_size=2)
    stream = broker.subscribe(workspace_id=1, topic=TOPIC_TEST, key="ut_a")

    await broker.publish([change(1), change(2)])
    await broker.close()

    async with asyncio.timeout(5):
        assert [c.object_uuid async for c in stream] == ["r2"]


@pytest.mark.parametrize("seen_before", [True, False])
async def test_a_lagging_subscription_ends_with_subscriber_lagged_and_its_last_cursor(
    server: LiveServer, connection: AsyncConnection, seen_before: bool
) -> None:
    base = await workspace_change(connection)

    def numbered(feed_id: int) -> Change:
        return replace(base, feed_id=feed_id)

    async with GraphQLWS.session(server.base_url, server.demo_key) as ws:
        assert await ws.subscribe("a", WATCH, {"t": TEST_UUID}) == []
        if seen_before:
            await broker_of(server).publish([numbered(7)])
            await ws.next_data("a")
        await broker_of(server).publish([numbered(100 + n) for n in range(1_001)])
        ended = await ws.next_message("a")
        complete = await ws.next_message("a")

    assert ended["type"] == "next"
    [error] = ended["payload"]["errors"]
    assert error["extensions"]["code"] == "SUBSCRIBER_LAGGED"
    assert error["extensions"]["lastCursor"] == (encode_feed_cursor(7) if seen_before else None)
    assert complete == {"id": "a", "type": "complete"}


# -- a result deleted while subscribing ----------------------------------------------------------


async def test_attached_media_changed_for_a_result_deleted_while_subscribing_is_not_found(
    server: LiveServer, connection: AsyncConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The result is found, then deleted (and its DELETED event published) before the
    subscription listens: the subscription would wait for an event that already went by."""
    workspace = await make_workspace(connection, "vanishing")
    real = Store.fetch_results_by_uuids
    deleted: list[str] = []

    async def fetch_then_delete(
        self: Store, *, workspace_id: int, uuids: Sequence[str]
    ) -> list[ResultRecord]:
        found = await real(self, workspace_id=workspace_id, uuids=uuids)
        if not deleted:
            deleted.append(workspace.result_uuid)
            await connection.execute(
                text("DELETE FROM user_test_results WHERE uuid = :uuid"),
                {"uuid": workspace.result_uuid},
            )
        return found

    monkeypatch.setattr(Store, "fetch_results_by_uuids", fetch_then_delete)
    async with GraphQLWS.session(server.base_url, workspace.key) as ws:
        [answer] = await ws.subscribe("m", MEDIA_CHANGED, {"r": workspace.result_uuid})

    assert answer["type"] == "error"
    assert error_codes(answer) == ["NOT_FOUND"]
    assert server.app.state.services.broker.subscriber_count == 0


# -- a store used after its request ended -------------------------------------------------------


class CountingConnect:
    """Hands out the test's connection and counts checkouts and returns; a checkout waits for
    ``gate`` when one is given."""

    def __init__(self, connection: AsyncConnection, gate: asyncio.Event | None = None) -> None:
        self._connection = connection
        self._gate = gate
        self.checking_out = asyncio.Event()
        self.opened = 0
        self.returned = 0

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[AsyncConnection]:
        self.opened += 1
        self.checking_out.set()
        if self._gate is not None:
            await self._gate.wait()
        try:
            yield self._connection
        finally:
            self.returned += 1


async def test_a_closed_store_opens_no_connection(connection: AsyncConnection) -> None:
    connect = CountingConnect(connection)
    store = Store(connect, connect)
    await store.fetch_user_tests_by_uuids(workspace_id=1, uuids=[TEST_UUID])

    await store.close()
    with pytest.raises(StoreClosed):
        await store.fetch_user_tests_by_uuids(workspace_id=1, uuids=[TEST_UUID])
    with pytest.raises(StoreClosed):
        async with store.transaction():
            pass

    assert (connect.opened, connect.returned) == (1, 1)


async def test_a_store_closed_during_a_checkout_gives_the_connection_back(
    connection: AsyncConnection,
) -> None:
    gate = asyncio.Event()
    connect = CountingConnect(connection, gate)
    store = Store(connect, connect)
    batch = asyncio.create_task(store.fetch_user_tests_by_uuids(workspace_id=1, uuids=["x"]))
    await connect.checking_out.wait()

    await store.close()
    gate.set()
    with pytest.raises(StoreClosed):
        await batch

    assert (connect.opened, connect.returned) == (1, 1)


async def test_a_released_store_reads_again(connection: AsyncConnection) -> None:
    """Between two subscription events the store gives its connection back (``release``) and
    checks out another for the next event; only ``close`` ends it."""
    connect = CountingConnect(connection)
    store = Store(connect, connect)
    await store.fetch_user_tests_by_uuids(workspace_id=1, uuids=[TEST_UUID])
    await store.release()
    await store.fetch_user_tests_by_uuids(workspace_id=1, uuids=[TEST_UUID])
    await store.close()

    assert (connect.opened, connect.returned) == (2, 2)
    with pytest.raises(StoreClosed):
        await store.fetch_user_tests_by_uuids(workspace_id=1, uuids=[TEST_UUID])

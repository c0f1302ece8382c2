"""The websocket's rules, over real sockets: origins, the key in ``connection_init``, the bound on
subscriptions, the rate limit, revocation, malformed frames and the documents' limits."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection
from websockets.exceptions import InvalidStatus

from app.auth import hash_api_key
from app.demo.seed import TEST_UUID
from app.events import TOPIC_TEST, Broker, Change
from app.store.facade import Admin
from tests.conftest import Backend, LiveServer, LiveServerFactory, make_settings
from tests.support.factories import make_workspace
from tests.support.graphql_ws import GraphQLWS, error_codes

WATCH = "subscription($t: String!) { resultChanged(testUuid: $t) { kind result { name } } }"


class Configured(Protocol):
    def __call__(self, **environ: str) -> AbstractAsyncContextManager[LiveServer]: ...


@pytest.fixture
def configured(server_factory: LiveServerFactory, backend: Backend, tmp_path: Path) -> Configured:
    """A live server whose settings override the given FOOTAGE_* values."""

    @asynccontextmanager
    async def make(**environ: str) -> AsyncIterator[LiveServer]:
        settings = make_settings(
            tmp_path,
            backend.settings.database_url,
            **{f"FOOTAGE_{name}": value for name, value in environ.items()},
        )
        async with server_factory(settings=settings) as server:
            yield server

    return make


@pytest.fixture
async def server(configured: Configured) -> AsyncIterator[LiveServer]:
    async with configured() as live:
        yield live


async def workspace_change(connection: AsyncConnection, test_uuid: str = TEST_UUID) -> Change:
    """An UPDATED change of the first result of ``test_uuid``, in its workspace."""
    row = (
        await connection.execute(
            text(
                "SELECT t.workspace_id, r.uuid FROM user_tests t "
                "JOIN user_test_results r ON r.user_test_id = t.id "
                "WHERE t.uuid = :uuid ORDER BY r.id LIMIT 1"
            ),
            {"uuid": test_uuid},
        )
    ).one()
    return Change(row[0], TOPIC_TEST, test_uuid, "UPDATED", "UserTestResult", row[1])


def broker_of(server: LiveServer) -> Broker:
    broker: Broker = server.app.state.services.broker
    return broker


# -- origins -----------------------------------------------------------------------------------


async def handshake(server: LiveServer, origin: str | None) -> int:
    """101 when the upgrade was accepted, else the HTTP status it was refused with."""
    try:
        async with GraphQLWS.connect(server.base_url, origin=origin):
            return 101
    except InvalidStatus as refused:
        return refused.response.status_code


@pytest.mark.parametrize(
    ("environ", "origin", "status"),
    [
        ({}, None, 101),
        ({}, "https://anywhere.example", 101),
        ({"CORS_ORIGINS": "https://app.example.com"}, "https://app.example.com", 101),
        ({"CORS_ORIGINS": "https://app.example.com"}, "https://evil.example", 403),
        ({"CORS_ORIGINS": "https://app.example.com"}, "SAME", 101),
        ({"ENV": "production"}, None, 101),
        ({"ENV": "production"}, "https://anywhere.example", 403),
        ({"ENV": "production"}, "SAME", 403),
        ({"ENV": "production", "CORS_ORIGINS": "https://app.example.com"}, "SAME", 403),
        (
            {"ENV": "production", "CORS_ORIGINS": "https://app.example.com"},
            "https://APP.example.com:443",
            101,
        ),
    ],
)
async def test_websocket_origin_policy(
    configured: Configured, environ: dict[str, str], origin: str | None, status: int
) -> None:
    async with configured(**environ) as server:
        sent = server.base_url if origin == "SAME" else origin
        assert await handshake(server, sent) == status


# -- the key -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        None,
        {},
        {"Authorization": "Bearer ftg_not-a-real-key"},
        {"Authorization": 12},
        {"authorization": "Basic abc"},
    ],
)
async def test_connection_init_without_a_valid_key_closes_with_4403(
    server: LiveServer, payload: dict[str, Any] | None
) -> None:
    async with GraphQLWS.connect(server.base_url) as ws:
        await ws.send({"type": "connection_init", **({"payload": payload} if payload else {})})
        assert await ws.closed() == (4403, "Forbidden")


@pytest.mark.parametrize(
    "name", ["Authorization", "authorization", "AUTHORIZATION", "apiKey", "headers"]
)
async def test_connection_init_accepts_the_key_in_the_payload(
    server: LiveServer, name: str
) -> None:
    bearer = f"Bearer {server.demo_key}"
    value: object = {
        "apiKey": server.demo_key,
        "headers": {"Authorization": bearer},
    }.get(name, bearer)
    async with GraphQLWS.connect(server.base_url) as ws:
        assert await ws.init({name: value}) == {"type": "connection_ack"}
        assert await ws.subscribe("1", WATCH, {"t": TEST_UUID}) == []


async def test_connection_init_accepts_the_key_from_the_upgrade_request(
    server: LiveServer,
) -> None:
    headers = {"Authorization": f"Bearer {server.demo_key}"}
    async with GraphQLWS.connect(server.base_url, headers=headers) as ws:
        assert await ws.init() == {"type": "connection_ack"}


async def test_a_wrong_key_in_the_payload_wins_over_a_valid_header(server: LiveServer) -> None:
    headers = {"Authorization": f"Bearer {server.demo_key}"}
    async with GraphQLWS.connect(server.base_url, headers=headers) as ws:
        await ws.send({"type": "connection_init", "payload": {"Authorization": "Bearer ftg_x"}})
        assert await ws.closed() == (4403, "Forbidden")


@pytest.mark.parametrize("state", ["revoked", "expired"])
async def test_connection_init_with_a_revoked_or_expired_key_closes_with_4403(
    server: LiveServer, connection: AsyncConnection, state: str
) -> None:
    workspace = await make_workspace(
        connection,
        state,
        revoked=state == "revoked",
        expires_at=datetime.now(UTC) - timedelta(days=1) if state == "expired" else None,
    )
    async with GraphQLWS.connect(server.base_url) as ws:
        payload = {"Authorization": f"Bearer {workspace.key}"}
        await ws.send({"type": "connection_init", "payload": payload})
        assert await ws.closed() == (4403, "Forbidden")


async def test_subscribe_before_connection_init_closes_with_4401(server: LiveServer) -> None:
    async with GraphQLWS.connect(server.base_url) as ws:
        await ws.send({"type": "subscribe", "id": "1", "payload": {"query": WATCH}})
        assert (await ws.closed())[0] == 4401


async def test_a_key_revoked_while_subscribed_closes_the_socket_before_the_next_event(
    configured: Configured, connection: AsyncConnection
) -> None:
    workspace = await make_workspace(connection, "soon-revoked")
    async with (
        configured(API_KEY_CACHE_SECONDS="0") as server,
        GraphQLWS.session(server.base_url, workspace.key) as ws,
    ):
        await ws.subscribe("1", WATCH, {"t": workspace.test_uuid})
        await Admin(connection).revoke_api_keys(
            key_hash=hash_api_key(workspace.key), now=datetime.now(UTC)
        )
        await broker_of(server).publish([await workspace_change(connection, workspace.test_uuid)])

        assert (await ws.closed())[0] == 4403
        assert ws.pending("1") == []


async def test_subscribe_after_the_key_was_revoked_closes_with_4403(
    configured: Configured, connection: AsyncConnection
) -> None:
    workspace = await make_workspace(connection, "revoked-later")
    async with (
        configured(API_KEY_CACHE_SECONDS="0") as server,
        GraphQLWS.session(server.base_url, workspace.key) as ws,
    ):
        await Admin(connection).revoke_api_keys(
            key_hash=hash_api_key(workspace.key), now=datetime.now(UTC)
        )
        await ws.send(
            {
                "type": "subscribe",
                "id": "1",
                "payload": {"query": WATCH, "variables": {"t": workspace.test_uuid}},
            }
        )
        assert (await ws.closed())[0] == 4403


# -- bounds ------------------------------------------------------------------------------------


async def test_subscriptions_past_the_bound_are_refused_while_the_others_go_on(
    configured: Configured, connection: AsyncConnection
) -> None:
    change = await workspace_change(connection)
    async with (
        configured(MAX_SUBSCRIPTIONS_PER_CONNECTION="2") as server,
        GraphQLWS.session(server.base_url, server.demo_key) as ws,
    ):
        assert await ws.subscribe("a", WATCH, {"t": TEST_UUID}) == []
        assert await ws.subscribe("b", WATCH, {"t": TEST_UUID}) == []
        [refused] = await ws.subscribe("c", WATCH, {"t": TEST_UUID})
        await broker_of(server).publish([change])
        events = [await ws.next_data(operation) for operation in ("a", "b")]

        await ws.complete("a")
        again = await ws.subscribe("c", WATCH, {"t": TEST_UUID})

    assert refused["type"] == "error"
    assert error_codes(refused) == ["SUBSCRIPTION_LIMIT"]
    assert refused["payload"][0]["extensions"]["limit"] == 2
    assert [event["resultChanged"]["kind"] for event in events] == ["UPDATED", "UPDATED"]
    assert again == []


async def test_subscribes_count_against_the_keys_rate_limit(configured: Configured) -> None:
    async with (
        configured(RATE_LIMIT_PER_MINUTE="1", RATE_LIMIT_BURST="2") as server,
        GraphQLWS.session(server.base_url, server.demo_key) as ws,
    ):
        assert await ws.subscribe("a", WATCH, {"t": TEST_UUID}) == []
        assert await ws.subscribe("b", WATCH, {"t": TEST_UUID}) == []
        [limited] = await ws.subscribe("c", WATCH, {"t": TEST_UUID})

    assert error_codes(limited) == ["RATE_LIMITED"]
    assert limited["payload"][0]["extensions"]["retryAfter"] >= 1


@pytest.mark.parametrize(
    ("environ", "query", "code"),
    [
        (
            {"MAX_DEPTH": "3"},
            "subscription($t: String!) { resultChanged(testUuid: $t) "
            "{ result { userTest { name } } } }",
            "QUERY_TOO_DEEP",
        ),
        (
            {"MAX_ALIASES": "1"},
            "subscription($t: String!) { resultChanged(testUuid: $t) { a: kind b: kind } }",
            "TOO_MANY_ALIASES",
        ),
        (
            {"MAX_TOKENS": "100"},
            "subscription($t: String!) { resultChanged(testUuid: $t) { " + "kind " * 120 + "} }",
            "TOO_MANY_TOKENS",
        ),
        ({}, "subscription { resultChanged(testUuid: 1) { kind } }", "GRAPHQL_VALIDATION_FAILED"),
        ({}, "subscription { resultChanged(", "GRAPHQL_PARSE_FAILED"),
        ({}, "subscription { nothing }", "GRAPHQL_VALIDATION_FAILED"),
    ],
)
async def test_subscription_documents_obey_the_same_limits_as_queries(
    configured: Configured, environ: dict[str, str], query: str, code: str
) -> None:
    async with (
        configured(**environ) as server,
        GraphQLWS.session(server.base_url, server.demo_key) as ws,
    ):
        [answer] = await ws.subscribe("1", query, {"t": TEST_UUID})

    assert answer["type"] == "error"
    assert error_codes(answer) == [code]


@pytest.mark.parametrize(
    "query",
    [
        f'{{ userTest(uuid: "{TEST_UUID}") {{ name }} }}',
        "mutation { __typename }",
    ],
)
async def test_queries_and_mutations_are_refused_over_the_websocket(
    server: LiveServer, query: str
) -> None:
    async with GraphQLWS.session(server.base_url, server.demo_key) as ws:
        [answer] = await ws.subscribe("1", query)

    assert answer["type"] == "error"
    assert error_codes(answer) == ["OPERATION_NOT_ALLOWED"], answer


# -- malformed frames --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "frame",
    [
        "not json",
        "[1, 2]",
        "42",
        '{"type": 7}',
        "[" * 5_000 + "]" * 5_000,
        '{"type": "subscribe", "payload": {"query": "subscription { __typename }"}}',
        '{"type": "subscribe", "id": ["x"], "payload": {"query": "{ x }"}}',
        '{"type": "subscribe", "id": "1", "payload": "subscription { x }"}',
        '{"type": "subscribe", "id": "1", "payload": {"query": 1}}',
        '{"type": "subscribe", "id": "1", "payload": {"query": "{ x }", "variables": []}}',
        '{"type": "complete", "id": {"a": 1}}',
        '{"type": "surprise"}',
    ],
)
async def test_malformed_frames_close_the_socket_with_4400(server: LiveServer, frame: str) -> None:
    async with GraphQLWS.session(server.base_url, server.demo_key) as ws:
        await ws.socket.send(frame)
        assert (await ws.closed())[0] == 4400
    async with GraphQLWS.session(server.base_url, server.demo_key) as ws:
        assert await ws.subscribe("1", WATCH, {"t": TEST_UUID}) == []


async def test_binary_frames_close_the_socket_with_4400(server: LiveServer) -> None:
    async with GraphQLWS.session(server.base_url, server.demo_key) as ws:
        await ws.socket.send(b'{"type": "ping"}')
        assert (await ws.closed())[0] == 4400

"""The PostgreSQL LISTEN/NOTIFY broker: its payloads, brokers of separate "processes" (each
broker has its own connection and origin) on one database, reconnection, and two real server
processes sharing changes through one PostgreSQL database."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import orjson
import pytest

from app.broker_postgres import (
    APPLICATION_NAME,
    MAX_PAYLOAD_BYTES,
    PostgresBroker,
    asyncpg_dsn,
    decode_notification,
    encode_notifications,
)
from app.demo.seed import RESULT_UUID, TEST_UUID
from app.events import TOPIC_RESULT, TOPIC_TEST, Change, ChangeStream
from tests.support.fresh_database import postgres_database
from tests.support.graphql_ws import GraphQLWS
from tests.support.served import (
    demo_key_of,
    footage,
    start_server,
    stop,
    succeeded,
    wait_until_ready,
)

WAIT = 15.0
READY_DEADLINE = 90.0


def change(number: int = 1, *, workspace_id: int = 1, key: str = TEST_UUID) -> Change:
    return Change(
        workspace_id, TOPIC_TEST, key, "UPDATED", "UserTestResult", f"ut_response_{number}", number
    )


# -- payloads ----------------------------------------------------------------------------------


def test_notifications_round_trip_in_order() -> None:
    changes = [change(n) for n in range(3)] + [
        Change(7, TOPIC_RESULT, "ut_response_x", "DELETED", "AttachedMedia", "m-1", None)
    ]

    [payload] = encode_notifications("origin-a", changes)

    assert decode_notification(payload) == ("origin-a", changes)


def test_many_changes_are_split_into_payloads_under_the_notify_limit() -> None:
    changes = [change(n) for n in range(500)]

    payloads = encode_notifications("origin-a", changes)

    assert len(payloads) > 1
    assert all(len(payload.encode()) <= MAX_PAYLOAD_BYTES for payload in payloads)
    decoded = [decode_notification(payload) for payload in payloads]
    assert [c for item in decoded if item for c in item[1]] == changes


def test_a_change_too_large_to_notify_is_left_out_and_the_rest_sent() -> None:
    huge = change(1, key="k" * MAX_PAYLOAD_BYTES)

    payloads = encode_notifications("origin-a", [huge, change(2)])

    assert [decode_notification(p) for p in payloads] == [("origin-a", [change(2)])]


@pytest.mark.parametrize(
    "payload",
    [
        "",
        "not json",
        "[]",
        '{"v": 2, "o": "x", "c": []}',
        '{"v": 1, "o": 5, "c": []}',
        '{"v": 1, "o": "x", "c": [[1, "test", "k", "UPDATED", "T", "u"]]}',
        '{"v": 1, "o": "x", "c": [[true, "test", "k", "UPDATED", "T", "u", null]]}',
        '{"v": 1, "o": "x", "c": [["1", "test", "k", "UPDATED", "T", "u", null]]}',
        '{"v": 1, "o": "x", "c": [[1, "test", "k", "UPDATED", "T", "u", 1.5]]}',
        '{"v": 1, "o": "x", "c": [[1, "test", null, "UPDATED", "T", "u", null]]}',
    ],
)
def test_foreign_notifications_are_ignored(payload: str) -> None:
    assert decode_notification(payload) is None


# -- brokers on one database -------------------------------------------------------------------


@pytest.fixture
async def database(postgres_url: str) -> AsyncIterator[str]:
    async with postgres_database(postgres_url) as url:
        yield url


@pytest.fixture
async def brokers(database: str) -> AsyncIterator[tuple[PostgresBroker, PostgresBroker]]:
    """Two brokers as two processes would have them, reconnecting quickly when cut off."""
    first = PostgresBroker(database, retry_min=0.05, retry_max=0.2)
    second = PostgresBroker(database, retry_min=0.05, retry_max=0.2)
    await first.start()
    await second.start()
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()


async def take(stream: ChangeStream, count: int) -> list[Change]:
    async with asyncio.timeout(WAIT):
        return [await anext(stream) for _ in range(count)]


async def test_a_change_published_by_one_broker_reaches_the_other_and_itself_once(
    brokers: tuple[PostgresBroker, PostgresBroker], database: str
) -> None:
    first, second = brokers
    on_first = first.subscribe(workspace_id=1, topic=TOPIC_TEST, key=TEST_UUID)
    on_second = second.subscribe(workspace_id=1, topic=TOPIC_TEST, key=TEST_UUID)
    marker = PostgresBroker(database)
    await marker.start()

    await first.publish([change(1)])
    await second.publish([change(2)])
    await first.flush()  # publish returns before its NOTIFY is sent; this one must be first
    await second.flush()
    # Notifications arrive in commit order: a broker's echo of its own change, were it
    # delivered, would come before this third process's change 3.
    await marker.publish([change(3)])
    await marker.close()

    for stream in (on_first, on_second):
        received = await take(stream, 3)
        assert received[-1] == change(3)
        assert sorted(received[:2], key=lambda c: c.object_uuid) == [change(1), change(2)]
        await stream.aclose()


async def test_changes_of_other_workspaces_and_keys_do_not_arrive(
    brokers: tuple[PostgresBroker, PostgresBroker],
) -> None:
    first, second = brokers
    stream = first.subscribe(workspace_id=1, topic=TOPIC_TEST, key=TEST_UUID)

    await second.publish(
        [change(1, workspace_id=2), change(2, key="ut_other"), change(3, workspace_id=1)]
    )

    assert await take(stream, 1) == [change(3)]
    await stream.aclose()


async def terminate_listeners(database: str) -> int:
    connection = await asyncpg.connect(asyncpg_dsn(database))
    try:
        ended = await connection.fetchval(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = $1 AND datname = current_database()) AS ended",
            APPLICATION_NAME,
        )
    finally:
        await connection.close()
    return int(ended)


async def until(condition: Callable[[], bool]) -> None:
    """Poll a broker's connection state (set by asyncpg callbacks; there is no event to await)."""
    async with asyncio.timeout(WAIT):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.02)


async def test_a_broker_cut_off_from_postgresql_reconnects_and_receives_again(
    brokers: tuple[PostgresBroker, PostgresBroker], database: str
) -> None:
    first, second = brokers
    stream = first.subscribe(workspace_id=1, topic=TOPIC_TEST, key=TEST_UUID)

    assert await terminate_listeners(database) == 2
    await until(lambda: first.connections == 2 and first.listening)
    await until(lambda: second.connections == 2 and second.listening)
    await second.publish([change(1)])

    assert await take(stream, 1) == [change(1)]
    await stream.aclose()


async def test_publishing_without_a_connection_delivers_locally_and_does_not_raise(
    database: str, caplog: pytest.LogCaptureFixture
) -> None:
    broker = PostgresBroker(database)  # never started: no connection to PostgreSQL
    stream = broker.subscribe(workspace_id=1, topic=TOPIC_TEST, key=TEST_UUID)

    await broker.publish([change(1)])

    assert await take(stream, 1) == [change(1)]
    await broker.flush()
    assert "could not NOTIFY 1 change(s)" in caplog.text
    await broker.close()


async def test_a_stalled_notify_holds_up_no_publisher(database: str) -> None:
    """A mutation publishes after its commit: it must not wait for a NOTIFY that PostgreSQL is
    slow to take (here the connection is busy until released); its own process's subscribers
    have the change at once, and the other processes get it once the connection frees."""
    first = PostgresBroker(database, publish_timeout=60)
    second = PostgresBroker(database)
    await first.start()
    await second.start()
    try:
        local = first.subscribe(workspace_id=1, topic=TOPIC_TEST, key=TEST_UUID)
        remote = second.subscribe(workspace_id=1, topic=TOPIC_TEST, key=TEST_UUID)
        async with first._lock:  # the connection is busy (a stalled statement)
            async with asyncio.timeout(WAIT):  # a hang guard, not a speed test
                await first.publish([change(1)])
                await first.publish([change(2)])
            assert await take(local, 2) == [change(1), change(2)]
        assert await take(remote, 2) == [change(1), change(2)]  # in order, once freed
        await local.aclose()
        await remote.aclose()
    finally:
        await first.close()
        await second.close()


async def test_closing_the_broker_ends_its_subscribers(database: str) -> None:
    broker = PostgresBroker(database)
    await broker.start()
    stream = broker.subscribe(workspace_id=1, topic=TOPIC_TEST, key=TEST_UUID)

    await broker.close()

    async with asyncio.timeout(WAIT):
        assert [c async for c in stream] == []


# -- two server processes ----------------------------------------------------------------------

WATCH = """
subscription($t: String!) {
  resultChanged(testUuid: $t) { kind cursor resultUuid result { pk status } }
}
"""


@dataclass(frozen=True)
class Process:
    base_url: str
    log: Path


@dataclass(frozen=True)
class TwoServers:
    database: str
    demo_key: str
    first: Process
    second: Process


def _start(var_dir: Path, database: str, name: str) -> tuple[subprocess.Popen[bytes], Process]:
    log = var_dir / f"{name}.log"
    process, base_url = start_server(var_dir, log, FOOTAGE_DATABASE_URL=database)
    return process, Process(base_url, log)


@pytest.fixture(scope="module")
async def shared_database(postgres_url: str) -> AsyncIterator[str]:
    async with postgres_database(postgres_url) as url:
        yield url


@pytest.fixture(scope="module")
def two_servers(
    shared_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TwoServers]:
    """Two ``python -m app serve`` processes over one PostgreSQL database, migrated and seeded
    through the command line."""
    var_dir = tmp_path_factory.mktemp("two-servers")
    succeeded(footage(var_dir, "migrate", FOOTAGE_DATABASE_URL=shared_database))
    seeded = succeeded(footage(var_dir, "seed-demo", FOOTAGE_DATABASE_URL=shared_database))
    started = [_start(var_dir, shared_database, name) for name in ("first", "second")]
    try:
        for process, server in started:
            # Generous: the machine may be busy with other test runs.
            wait_until_ready(process, server.base_url, server.log, READY_DEADLINE)
        yield TwoServers(shared_database, demo_key_of(seeded.stdout), started[0][1], started[1][1])
    finally:
        for process, _server in started:
            stop(process)


async def demo_workspace(database: str) -> int:
    connection = await asyncpg.connect(asyncpg_dsn(database))
    try:
        return int(await connection.fetchval("SELECT id FROM workspaces WHERE slug = 'demo'"))
    finally:
        await connection.close()


async def test_a_change_published_by_a_third_process_reaches_both_servers(
    two_servers: TwoServers,
) -> None:
    workspace_id = await demo_workspace(two_servers.database)
    publisher = PostgresBroker(two_servers.database)
    await publisher.start()
    try:
        async with (
            GraphQLWS.session(two_servers.first.base_url, two_servers.demo_key) as on_first,
            GraphQLWS.session(two_servers.second.base_url, two_servers.demo_key) as on_second,
        ):
            assert await on_first.subscribe("1", WATCH, {"t": TEST_UUID}) == []
            assert await on_second.subscribe("1", WATCH, {"t": TEST_UUID}) == []

            await publisher.publish(
                [
                    Change(
                        workspace_id,
                        TOPIC_TEST,
                        TEST_UUID,
                        "UPDATED",
                        "UserTestResult",
                        RESULT_UUID,
                    )
                ]
            )
            events = [(await ws.next_data("1"))["resultChanged"] for ws in (on_first, on_second)]
    finally:
        await publisher.close()

    for event in events:
        assert event["kind"] == "UPDATED"
        assert event["result"]["pk"] == 12345


REJECT = """
mutation($r: String!) {
  rejectUserTestResult(input: { resultUuid: $r }) { userTestResult { status } }
}
"""


async def test_a_mutation_on_one_server_reaches_a_subscriber_on_the_other(
    two_servers: TwoServers,
) -> None:
    async with httpx.AsyncClient(
        base_url=two_servers.second.base_url,
        headers={"Authorization": f"Bearer {two_servers.demo_key}"},
        timeout=WAIT,
    ) as http:
        page = await http.post(
            "/graphql",
            json={
                "query": "query($t: String!) { userTest(uuid: $t) { results(first: 2) "
                "{ edges { node { responseUUID } } } } }",
                "variables": {"t": TEST_UUID},
            },
        )
        target = page.json()["data"]["userTest"]["results"]["edges"][1]["node"]["responseUUID"]
        async with GraphQLWS.session(two_servers.first.base_url, two_servers.demo_key) as ws:
            assert await ws.subscribe("1", WATCH, {"t": TEST_UUID}) == []

            answer = await http.post("/graphql", json={"query": REJECT, "variables": {"r": target}})
            event = (await ws.next_data("1"))["resultChanged"]

    assert orjson.loads(answer.content)["data"]["rejectUserTestResult"]["userTestResult"] == {
        "status": "REJECTED"
    }
    assert event["kind"] == "REJECTED"
    assert event["resultUuid"] == target
    assert event["result"]["status"] == "REJECTED"
    assert event["cursor"] is not None


async def test_a_change_published_while_closing_is_delivered_locally_only(database: str) -> None:
    broker = PostgresBroker(database)
    await broker.start()
    stream = broker.subscribe(workspace_id=1, topic=TOPIC_TEST, key=TEST_UUID)
    await broker.close()
    await broker.publish([change(1)])  # a request finishing during shutdown
    assert broker._notifying == set()  # no NOTIFY left behind on a closed connection
    await stream.aclose()

"""The change feed (testResultChanges, testResultChangesCount): what it records, keyset
pagination, the cheap count, tenancy, cost, and the changes handed to the broker."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.demo.seed import RESULT_COUNT, RESULT_UUID, TEST_UUID
from app.events import TOPIC_RESULT, TOPIC_TEST, Change
from app.ids import from_global_id, to_global_id
from app.main import create_app
from app.store import models
from app.store.feed import append_changes
from resolvers.change_feed import decode_feed_cursor, encode_feed_cursor
from tests.conftest import FreshDatabase, StatementCounter, running
from tests.support.factories import make_workspace
from tests.support.graphql import error_codes, gql
from tests.support.writes import (
    COUNT,
    DELETE_RESULT,
    FEED,
    REJECT_RESULT,
    create_result,
    create_test,
    register,
    report,
    transition,
)


def edges(body: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = body["data"]["testResultChanges"]["edges"]
    return found


_NOW = datetime(2026, 12, 1, tzinfo=UTC)


async def test_feed_records_each_kind_of_change_in_commit_order(
    client: httpx.AsyncClient,
) -> None:
    test_uuid = await create_test(client)
    kept = await create_result(client, test_uuid, "Kept")
    gone = await create_result(client, test_uuid, "Gone")
    recording = await register(client, kept["responseUUID"])
    await transition(client, "start", recording["id"])
    await report(client, recording["id"], status="PENDING")
    await gql(client, REJECT_RESULT, {"input": {"resultUuid": kept["responseUUID"]}})
    await gql(client, DELETE_RESULT, {"input": {"resultUuid": gone["responseUUID"]}})

    body = await gql(client, FEED, {"test": test_uuid, "first": 100})
    rows = [
        (n["kind"], n["resultUuid"], n["objectType"], n["objectChange"])
        for n in (e["node"] for e in edges(body))
    ]
    k, g = kept["responseUUID"], gone["responseUUID"]
    assert rows == [
        ("CREATED", k, "USER_TEST_RESULT", "CREATED"),
        ("CREATED", g, "USER_TEST_RESULT", "CREATED"),
        ("UPDATED", k, "TEST_SESSION_RECORDING", "CREATED"),
        ("UPDATED", k, "TEST_SESSION_RECORDING", "UPDATED"),
        ("UPDATED", k, "ATTACHED_MEDIA", "CREATED"),
        ("REJECTED", k, "USER_TEST_RESULT", "REJECTED"),
        ("DELETED", g, "USER_TEST_RESULT", "DELETED"),
    ]
    nodes = [e["node"] for e in edges(body)]
    assert nodes[0]["objectId"] == kept["id"]
    assert nodes[2]["objectId"] == recording["id"]
    stamps = [n["changedAt"] for n in nodes]
    assert stamps == sorted(stamps)


async def test_feed_entries_show_the_result_as_it_is_now(client: httpx.AsyncClient) -> None:
    test_uuid = await create_test(client)
    kept = await create_result(client, test_uuid, "Kept")
    gone = await create_result(client, test_uuid, "Gone")
    await gql(client, REJECT_RESULT, {"input": {"resultUuid": kept["responseUUID"]}})
    await gql(client, DELETE_RESULT, {"input": {"resultUuid": gone["responseUUID"]}})
    body = await gql(
        client,
        """query($t: String!) { testResultChanges(testUuid: $t) {
          edges { node { resultUuid result { responseUUID status } } } } }""",
        {"t": test_uuid},
    )
    results = [(e["node"]["resultUuid"], e["node"]["result"]) for e in edges(body)]
    now_kept = {"responseUUID": kept["responseUUID"], "status": "REJECTED"}
    assert results == [
        (kept["responseUUID"], now_kept),
        (gone["responseUUID"], None),
        (kept["responseUUID"], now_kept),
        (gone["responseUUID"], None),
    ]


async def test_feed_pages_by_keyset_cursor_and_polls_from_the_end(
    client: httpx.AsyncClient,
) -> None:
    test_uuid = await create_test(client)
    made = [(await create_result(client, test_uuid, f"S{i}"))["responseUUID"] for i in range(5)]
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        body = await gql(client, FEED, {"test": test_uuid, "first": 2, "after": after})
        connection = body["data"]["testResultChanges"]
        seen += [e["node"]["resultUuid"] for e in connection["edges"]]
        assert connection["pageInfo"]["hasPreviousPage"] is (after is not None)
        pages += 1
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    assert (seen, pages) == (made, 3)
    end = connection["pageInfo"]["endCursor"]
    empty = await gql(client, FEED, {"test": test_uuid, "after": end})
    assert edges(empty) == []
    assert empty["data"]["testResultChanges"]["pageInfo"]["endCursor"] is None
    newer = await create_result(client, test_uuid, "Later")
    polled = await gql(client, FEED, {"test": test_uuid, "after": end})
    assert [e["node"]["resultUuid"] for e in edges(polled)] == [newer["responseUUID"]]


async def test_count_counts_distinct_results_since_a_cursor(client: httpx.AsyncClient) -> None:
    test_uuid = await create_test(client)
    empty = await gql(client, COUNT, {"test": test_uuid})
    assert empty["data"]["testResultChangesCount"] == {"count": 0, "latestCursor": None}
    one = await create_result(client, test_uuid, "One")
    two = await create_result(client, test_uuid, "Two")
    everything = (await gql(client, COUNT, {"test": test_uuid}))["data"]["testResultChangesCount"]
    assert everything["count"] == 2
    since = everything["latestCursor"]
    nothing = await gql(client, COUNT, {"test": test_uuid, "since": since})
    assert nothing["data"]["testResultChangesCount"] == {"count": 0, "latestCursor": since}
    recording = await register(client, one["responseUUID"])
    await transition(client, "start", recording["id"])
    await gql(client, REJECT_RESULT, {"input": {"resultUuid": two["responseUUID"]}})
    counted = (await gql(client, COUNT, {"test": test_uuid, "since": since}))["data"][
        "testResultChangesCount"
    ]
    assert counted["count"] == 2  # three changes, two results
    assert decode_feed_cursor(counted["latestCursor"], "x") > decode_feed_cursor(since, "x")
    feed = await gql(client, FEED, {"test": test_uuid, "after": since})
    assert feed["data"]["testResultChanges"]["pageInfo"]["endCursor"] == counted["latestCursor"]


async def test_demo_results_start_the_feed_with_their_creation(client: httpx.AsyncClient) -> None:
    count = await gql(client, COUNT, {"test": TEST_UUID})
    assert count["data"]["testResultChangesCount"]["count"] == RESULT_COUNT
    first = edges(await gql(client, FEED, {"test": TEST_UUID, "first": 1}))[0]["node"]
    assert (first["kind"], first["resultUuid"]) == ("CREATED", RESULT_UUID)


async def test_another_workspaces_test_answers_like_an_unknown_one(
    client: httpx.AsyncClient, connection: AsyncConnection
) -> None:
    other = await make_workspace(connection, "feedless")
    for test_uuid in (other.test_uuid, "ut_unknown"):
        body = await gql(client, FEED, {"test": test_uuid})
        assert body["data"]["testResultChanges"] is None
        count = await gql(client, COUNT, {"test": test_uuid})
        assert count["data"]["testResultChangesCount"] is None


@pytest.mark.parametrize(
    "cursor",
    ["nope", encode_feed_cursor(1)[:-2], "djE6MTI", "ZmVlZDp2MTotMQ", "ZmVlZDp2MTox" + "A" * 40],
)
async def test_invalid_cursors_are_bad_user_input(client: httpx.AsyncClient, cursor: str) -> None:
    for document, variables in (
        (FEED, {"test": TEST_UUID, "after": cursor}),
        (COUNT, {"test": TEST_UUID, "since": cursor}),
    ):
        body = await gql(client, document, variables, expect_errors=True)
        assert error_codes(body) == ["BAD_USER_INPUT"], (cursor, body)


@pytest.mark.parametrize("first", [0, 101, -1])
async def test_page_size_is_one_to_a_hundred(client: httpx.AsyncClient, first: int) -> None:
    body = await gql(client, FEED, {"test": TEST_UUID, "first": first}, expect_errors=True)
    assert error_codes(body) == ["BAD_USER_INPUT"]


async def test_feed_needs_results_read(
    client: httpx.AsyncClient, connection: AsyncConnection
) -> None:
    workspace = await make_workspace(connection, "writers", scopes="write")
    headers = {"Authorization": f"Bearer {workspace.key}"}
    for document in (FEED, COUNT):
        body = await gql(
            client, document, {"test": workspace.test_uuid}, expect_errors=True, headers=headers
        )
        assert error_codes(body) == ["FORBIDDEN"]


FEED_WITH_RESULTS = """query($test: String!, $first: Int!) {
  testResultChanges(testUuid: $test, first: $first) {
    edges { cursor node { kind objectId result { pk name participant { name } } } }
    pageInfo { hasNextPage endCursor } } }"""


async def test_feed_costs_the_same_for_1_10_and_100_entries(
    client: httpx.AsyncClient, statements: StatementCounter
) -> None:
    await gql(client, "{ __typename }")  # the key is cached from here on
    counts = []
    for first in (1, 10, 100):
        statements.reset()
        body = await gql(client, FEED_WITH_RESULTS, {"test": TEST_UUID, "first": first})
        assert len(edges(body)) == first
        counts.append(statements.count)
    # user test, feed page, results (participants joined)
    assert counts == [3, 3, 3], statements.statements


async def test_aliased_feeds_and_counts_share_their_statements(
    client: httpx.AsyncClient, statements: StatementCounter
) -> None:
    test_uuid = await create_test(client)
    await create_result(client, test_uuid)
    await gql(client, "{ __typename }")
    statements.reset()
    await gql(
        client,
        """query($a: String!, $b: String!) {
          a: testResultChanges(testUuid: $a, first: 5) { edges { cursor } }
          b: testResultChanges(testUuid: $b, first: 5) { edges { cursor } }
          c: testResultChangesCount(testUuid: $a) { count }
          d: testResultChangesCount(testUuid: $b) { count }
        }""",
        {"a": TEST_UUID, "b": test_uuid},
    )
    # both user tests, both pages, both counts
    assert statements.count == 3, statements.statements


class RecordingBroker:
    def __init__(self, *, fail: bool = False) -> None:
        self.published: list[Change] = []
        self.fail = fail

    async def publish(self, changes: list[Change]) -> None:
        if self.fail:
            raise ConnectionError("the broker is down")
        self.published.extend(changes)


@pytest.mark.parametrize("fail", [False, True], ids=["delivered", "broker-down"])
async def test_changes_are_published_after_commit_with_their_feed_cursor(
    fresh_database: FreshDatabase, fail: bool
) -> None:
    app = create_app(fresh_database.settings, engine=fresh_database.engine)
    broker = RecordingBroker(fail=fail)
    async with running(app) as client:
        app.state.services = dataclasses.replace(app.state.services, broker=broker)
        client.headers["Authorization"] = f"Bearer {fresh_database.key}"
        test_uuid = await create_test(client)
        result = await create_result(client, test_uuid)
        recording = await register(client, result["responseUUID"])
        feed = edges(await gql(client, FEED, {"test": test_uuid}))
    if fail:
        assert broker.published == []
        assert len(feed) == 2  # the mutations and their feed entries stood
        return
    cursors = [decode_feed_cursor(e["cursor"], "x") for e in feed]
    w, r = fresh_database.workspace_id, result["responseUUID"]
    recording_uuid = recording["id"]
    assert broker.published == [
        Change(w, TOPIC_TEST, test_uuid, "CREATED", "UserTestResult", r, cursors[0]),
        Change(w, TOPIC_RESULT, r, "CREATED", "UserTestResult", r, cursors[0]),
        # The test's subscribers see a recording's change as an update of its result.
        Change(w, TOPIC_TEST, test_uuid, "UPDATED", "UserTestResult", r, cursors[1]),
        Change(
            w,
            TOPIC_RESULT,
            r,
            "CREATED",
            "TestSessionRecording",
            _uuid_of(recording_uuid),
            cursors[1],
        ),
    ]


def _uuid_of(global_id: str) -> str:
    return from_global_id(global_id)[1]


def test_feed_cursors_round_trip_and_differ_from_result_cursors() -> None:
    assert decode_feed_cursor(encode_feed_cursor(42), "after") == 42
    assert encode_feed_cursor(42) != to_global_id("x", "42")


async def test_a_lone_surrogate_test_uuid_is_bad_user_input(client: httpx.AsyncClient) -> None:
    content = (
        b'{"query": "query($t: String!) { testResultChanges(testUuid: $t) { edges { cursor } } }",'
        b' "variables": {"t": "ut_\\udfff"}}'
    )
    response = await client.post(
        "/graphql", content=content, headers={"content-type": "application/json"}
    )
    # Refused as the client's error: by the JSON decoder (BAD_REQUEST) or the input checks.
    assert response.status_code < 500
    assert error_codes(response.json()) in (["BAD_REQUEST"], ["BAD_USER_INPUT"])


async def test_a_cursor_never_passes_an_entry_still_to_commit(
    fresh_database: FreshDatabase, backend: Any
) -> None:
    """Two appends to one test's feed, the first still uncommitted: the second commits after
    it (on PostgreSQL it waits for the feed's lock; SQLite has one writer), so a reader who has
    seen the second has seen the first, and polling from a cursor loses nothing."""
    if backend.name != "postgresql":
        pytest.skip("SQLite admits one writer at a time: the order holds by construction")
    engine = fresh_database.engine
    w = fresh_database.workspace_id
    async with engine.begin() as setup:
        test_id = (
            await setup.execute(
                insert(models.UserTest)
                .values(workspace_id=w, uuid="ut_feed_order", name="t", created_at=_NOW)
                .returning(models.UserTest.id)
            )
        ).scalar_one()

    async def append(connection: AsyncConnection, result: str) -> int:
        entries = [(test_id, result, "UserTestResult", result, "CREATED")]
        [entry] = await append_changes(connection, workspace_id=w, entries=entries, now=_NOW)
        return entry.id

    async def read(after: int | None) -> list[int]:
        """What a poller of the feed sees after ``after`` (the feed's own keyset read)."""
        query = select(models.ResultChange.id).where(
            models.ResultChange.user_test_id == test_id,
            models.ResultChange.id > (after if after is not None else 0),
        )
        async with engine.connect() as reader:
            rows = await reader.execute(query.order_by(models.ResultChange.id))
            return [row[0] for row in rows]

    first_connection = await engine.connect()
    first_transaction = await first_connection.begin()
    first = await append(first_connection, "first")

    async def second_writer() -> int:
        async with engine.begin() as connection:
            return await append(connection, "second")

    second_task = asyncio.create_task(second_writer())
    # The second writer is waiting on the feed's lock (bounded poll of the server's view).
    async with engine.connect() as observer:
        for _ in range(500):
            waiting = (
                await observer.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                        "AND query LIKE '%pg_advisory_xact_lock%'"
                    )
                )
            ).scalar_one()
            if waiting:
                break
            await asyncio.sleep(0.01)
        assert waiting == 1
    assert not second_task.done()
    assert await read(None) == []  # nothing committed yet: nothing for a cursor to pass
    await first_transaction.commit()
    await first_connection.close()
    second = await second_task
    assert first < second
    seen = await read(None)
    assert seen == [first, second]
    assert await read(first) == [second]

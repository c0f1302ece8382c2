"""Subscriptions end to end: a real uvicorn server, a real websocket client speaking
graphql-transport-ws, on SQLite and on PostgreSQL (where the app runs the LISTEN/NOTIFY broker).

Changes are published through the app's own broker, as a mutation does after its commit; the
events' objects are read from the database when they are delivered.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.demo.seed import RESULT_UUID, TEST_UUID
from app.events import TOPIC_RESULT, TOPIC_TEST, Broker, Change
from app.ids import from_global_id, to_global_id
from resolvers.change_feed import encode_feed_cursor
from tests.conftest import LiveServer, LiveServerFactory, StatementCounter
from tests.support.factories import make_workspace
from tests.support.graphql_ws import GraphQLWS, error_codes
from tests.support.recording_signer import RecordingSigner

RESULT_CHANGED = """
subscription Watch($test: String!) {
  resultChanged(testUuid: $test) {
    kind cursor resultUuid
    result { pk name status recordings { download { mediaUrl } } }
  }
}
"""
MEDIA_CHANGED = """
subscription Media($result: String!) {
  attachedMediaChanged(resultUuid: $result) {
    kind objectType objectId cursor resultUuid
    media { id type language status url }
    recording { id isAudio }
    result { pk }
  }
}
"""


async def demo_workspace_id(connection: AsyncConnection) -> int:
    found = await connection.execute(text("SELECT id FROM workspaces WHERE slug = 'demo'"))
    return int(found.scalar_one())


def result_change(workspace_id: int, kind: str = "UPDATED", **fields: Any) -> Change:
    values: dict[str, Any] = {
        "workspace_id": workspace_id,
        "topic": TOPIC_TEST,
        "key": TEST_UUID,
        "kind": kind,
        "object_type": "UserTestResult",
        "object_uuid": RESULT_UUID,
        **fields,
    }
    return Change(**values)


def broker_of(server: LiveServer) -> Broker:
    broker: Broker = server.app.state.services.broker
    return broker


@pytest.fixture
async def server(
    server_factory: LiveServerFactory, signer: RecordingSigner
) -> AsyncIterator[LiveServer]:
    async with server_factory(signer=signer) as live:
        yield live


async def test_result_changed_delivers_the_result_with_the_fields_selected(
    server: LiveServer, connection: AsyncConnection, signer: RecordingSigner
) -> None:
    workspace_id = await demo_workspace_id(connection)
    async with GraphQLWS.session(server.base_url, server.demo_key) as ws:
        assert await ws.subscribe("1", RESULT_CHANGED, {"test": TEST_UUID}) == []

        await broker_of(server).publish([result_change(workspace_id, feed_id=7)])
        event = (await ws.next_data("1"))["resultChanged"]

    assert event["kind"] == "UPDATED"
    assert event["cursor"] == encode_feed_cursor(7)
    assert event["resultUuid"] == RESULT_UUID
    assert event["result"]["pk"] == 12345
    assert event["result"]["recordings"]["download"]["mediaUrl"].startswith("http://testserver/")
    assert len(signer.signed) == 1


async def test_result_changed_reads_the_rows_afresh_for_every_event(
    server: LiveServer, connection: AsyncConnection
) -> None:
    workspace_id = await demo_workspace_id(connection)
    async with GraphQLWS.session(server.base_url, server.demo_key) as ws:
        await ws.subscribe("1", RESULT_CHANGED, {"test": TEST_UUID})
        broker = broker_of(server)

        await broker.publish([result_change(workspace_id)])
        before = (await ws.next_data("1"))["resultChanged"]["result"]["name"]
        await connection.execute(
            text("UPDATE user_test_results SET name = 'Renamed' WHERE uuid = :uuid"),
            {"uuid": RESULT_UUID},
        )
        await broker.publish([result_change(workspace_id)])
        after = (await ws.next_data("1"))["resultChanged"]["result"]["name"]

    assert before != "Renamed"
    assert after == "Renamed"


async def test_result_changed_without_url_fields_signs_nothing(
    server: LiveServer, connection: AsyncConnection, signer: RecordingSigner
) -> None:
    workspace_id = await demo_workspace_id(connection)
    query = "subscription($t: String!) { resultChanged(testUuid: $t) { result { name } } }"
    async with GraphQLWS.session(server.base_url, server.demo_key) as ws:
        await ws.subscribe("1", query, {"t": TEST_UUID})
        await broker_of(server).publish([result_change(workspace_id)])
        event = await ws.next_data("1")

    assert event["resultChanged"]["result"]["name"]
    assert signer.signed == []


async def test_result_changed_for_a_deleted_result_has_no_result(
    server: LiveServer, connection: AsyncConnection
) -> None:
    workspace_id = await demo_workspace_id(connection)
    async with GraphQLWS.session(server.base_url, server.demo_key) as ws:
        await ws.subscribe("1", RESULT_CHANGED, {"test": TEST_UUID})
        await broker_of(server).publish([result_change(workspace_id, "DELETED")])
        event = (await ws.next_data("1"))["resultChanged"]

    assert event == {
        "kind": "DELETED",
        "cursor": None,
        "resultUuid": RESULT_UUID,
        "result": None,
    }


async def test_result_changed_skips_changes_of_other_object_types(
    server: LiveServer, connection: AsyncConnection
) -> None:
    workspace_id = await demo_workspace_id(connection)
    async with GraphQLWS.session(server.base_url, server.demo_key) as ws:
        await ws.subscribe("1", RESULT_CHANGED, {"test": TEST_UUID})
        await broker_of(server).publish(
            [
                result_change(workspace_id, object_type="UserTest", object_uuid=TEST_UUID),
                result_change(workspace_id, "REJECTED", feed_id=9),
            ]
        )
        event = (await ws.next_data("1"))["resultChanged"]

    assert (event["kind"], event["cursor"]) == ("REJECTED", encode_feed_cursor(9))


async def first_media(server: LiveServer) -> tuple[str, str]:
    """(media uuid, its recording's global id) of the demo's first result."""
    document = (
        f'{{ userTestResult(resultUuid: "{RESULT_UUID}") {{ recordings {{ download {{ id '
        "attachedMedia { media { id type } } } } } }"
    )
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        response = await http.post(
            "/graphql",
            json={"query": document},
            headers={"Authorization": f"Bearer {server.demo_key}"},
        )
    download = response.json()["data"]["userTestResult"]["recordings"]["download"]
    media = download["attachedMedia"][0]["media"][0]
    return from_global_id(media["id"])[1], download["id"]


async def test_attached_media_changed_delivers_the_item_and_its_recording(
    server: LiveServer, connection: AsyncConnection
) -> None:
    workspace_id = await demo_workspace_id(connection)
    media_uuid, recording_id = await first_media(server)
    async with GraphQLWS.session(server.base_url, server.demo_key) as ws:
        await ws.subscribe("m", MEDIA_CHANGED, {"result": RESULT_UUID})
        change = Change(
            workspace_id, TOPIC_RESULT, RESULT_UUID, "UPDATED", "AttachedMedia", media_uuid, 3
        )
        await broker_of(server).publish([change])
        event = (await ws.next_data("m"))["attachedMediaChanged"]

    assert event["kind"] == "UPDATED"
    assert event["objectType"] == "ATTACHED_MEDIA"
    assert event["objectId"] == to_global_id("AttachedMedia", media_uuid)
    assert event["cursor"] == encode_feed_cursor(3)
    assert event["resultUuid"] == RESULT_UUID
    assert event["media"]["id"] == event["objectId"]
    assert event["recording"]["id"] == recording_id
    assert event["result"] == {"pk": 12345}


async def test_attached_media_changed_completes_after_the_result_is_deleted(
    server: LiveServer, connection: AsyncConnection
) -> None:
    workspace_id = await demo_workspace_id(connection)
    async with GraphQLWS.session(server.base_url, server.demo_key) as ws:
        await ws.subscribe("m", MEDIA_CHANGED, {"result": RESULT_UUID})
        deleted = Change(
            workspace_id, TOPIC_RESULT, RESULT_UUID, "DELETED", "UserTestResult", RESULT_UUID
        )
        await broker_of(server).publish([deleted])
        event = (await ws.next_data("m"))["attachedMediaChanged"]
        closing = await ws.next_message("m")

    assert (event["kind"], event["objectType"]) == ("DELETED", "USER_TEST_RESULT")
    assert (event["media"], event["recording"], event["result"]) == (None, None, None)
    assert closing == {"id": "m", "type": "complete"}


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        (RESULT_CHANGED, {"test": "ut_00000000-0000-0000-0000-000000000000"}),
        (MEDIA_CHANGED, {"result": "ut_response_00000000-0000-0000-0000-000000000000"}),
    ],
)
async def test_subscribing_to_an_unknown_id_is_not_found(
    server: LiveServer, query: str, variables: dict[str, str]
) -> None:
    async with GraphQLWS.session(server.base_url, server.demo_key) as ws:
        [answer] = await ws.subscribe("1", query, variables)

    assert answer["type"] == "error"
    assert error_codes(answer) == ["NOT_FOUND"]


async def test_another_workspace_gets_not_found_for_the_demo_test_and_none_of_its_events(
    server: LiveServer, connection: AsyncConnection
) -> None:
    other = await make_workspace(connection, "elsewhere")
    demo_id = await demo_workspace_id(connection)
    async with GraphQLWS.session(server.base_url, other.key) as ws:
        [probe] = await ws.subscribe("demo", RESULT_CHANGED, {"test": TEST_UUID})
        [unknown] = await ws.subscribe(
            "unknown", RESULT_CHANGED, {"test": "ut_00000000-0000-0000-0000-000000000000"}
        )
        assert await ws.subscribe("own", RESULT_CHANGED, {"test": other.test_uuid}) == []

        broker = broker_of(server)
        # The demo workspace's change, even under the other workspace's test uuid, stays there.
        await broker.publish(
            [
                result_change(demo_id),
                result_change(demo_id, key=other.test_uuid, object_uuid=other.result_uuid),
                result_change(
                    other.id, "CREATED", key=other.test_uuid, object_uuid=other.result_uuid
                ),
            ]
        )
        event = (await ws.next_data("own"))["resultChanged"]

    assert probe["type"] == unknown["type"] == "error"
    assert error_codes(probe) == error_codes(unknown) == ["NOT_FOUND"]
    assert probe["payload"][0]["message"] == unknown["payload"][0]["message"]
    assert event["kind"] == "CREATED"
    assert event["result"]["name"] == "Only session"
    assert ws.pending("own") == []


async def test_subscribing_without_results_read_is_forbidden(
    server: LiveServer, connection: AsyncConnection
) -> None:
    signer_only = await make_workspace(connection, "signers", scopes="media:sign")
    async with GraphQLWS.session(server.base_url, signer_only.key) as ws:
        [answer] = await ws.subscribe("1", RESULT_CHANGED, {"test": signer_only.test_uuid})

    assert error_codes(answer) == ["FORBIDDEN"]


async def test_url_fields_need_media_sign_in_events_too(
    server: LiveServer, connection: AsyncConnection, signer: RecordingSigner
) -> None:
    reader = await make_workspace(connection, "readers", scopes="results:read")
    async with GraphQLWS.session(server.base_url, reader.key) as ws:
        await ws.subscribe("1", RESULT_CHANGED, {"test": reader.test_uuid})
        await broker_of(server).publish(
            [result_change(reader.id, key=reader.test_uuid, object_uuid=reader.result_uuid)]
        )
        message = await ws.next_message("1")

    assert message["type"] == "next"
    assert error_codes(message) == ["FORBIDDEN"]
    result = message["payload"]["data"]["resultChanged"]["result"]
    assert result["recordings"]["download"]["mediaUrl"] is None
    assert result["name"] == "Only session"
    assert signer.signed == []


async def test_every_subscriber_gets_each_change_once(
    server: LiveServer, connection: AsyncConnection
) -> None:
    workspace_id = await demo_workspace_id(connection)
    query = "subscription($t: String!) { resultChanged(testUuid: $t) { cursor } }"
    async with (
        GraphQLWS.session(server.base_url, server.demo_key) as first,
        GraphQLWS.session(server.base_url, server.demo_key) as second,
    ):
        await first.subscribe("a", query, {"t": TEST_UUID})
        await first.subscribe("b", query, {"t": TEST_UUID})
        await second.subscribe("a", query, {"t": TEST_UUID})
        broker = broker_of(server)
        for feed_id in (1, 2):
            await broker.publish([result_change(workspace_id, feed_id=feed_id)])

        received = [
            [(await ws.next_data(operation))["resultChanged"]["cursor"] for _ in range(2)]
            for ws, operation in ((first, "a"), (first, "b"), (second, "a"))
        ]

    expected = [encode_feed_cursor(1), encode_feed_cursor(2)]
    assert received == [expected, expected, expected]


async def test_complete_ends_the_subscription(
    server: LiveServer, connection: AsyncConnection
) -> None:
    workspace_id = await demo_workspace_id(connection)
    query = "subscription($t: String!) { resultChanged(testUuid: $t) { cursor } }"
    async with GraphQLWS.session(server.base_url, server.demo_key) as ws:
        await ws.subscribe("gone", query, {"t": TEST_UUID})
        await ws.subscribe("kept", query, {"t": TEST_UUID})
        await ws.complete("gone")
        await ws.sync()
        await broker_of(server).publish([result_change(workspace_id, feed_id=5)])
        event = await ws.next_data("kept")

    assert event["resultChanged"]["cursor"] == encode_feed_cursor(5)
    assert ws.pending("gone") == []


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_a_subscription_over_http_is_refused_before_it_runs(
    server: LiveServer, method: str
) -> None:
    query = f'subscription {{ resultChanged(testUuid: "{TEST_UUID}") {{ kind }} }}'
    async with httpx.AsyncClient(
        base_url=server.base_url, headers={"Authorization": f"Bearer {server.demo_key}"}
    ) as http:
        if method == "GET":
            response = await http.get("/graphql", params={"query": query})
        else:
            response = await http.post("/graphql", json={"query": query})

    assert response.status_code == 400
    assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["BAD_REQUEST"]
    assert "websocket" in response.json()["errors"][0]["message"]
    assert broker_of(server).subscriber_count == 0  # type: ignore[attr-defined]


async def test_graphiql_sends_the_headers_key_in_connection_init(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        page = (await http.get("/graphql", headers={"Accept": "text/html"})).text

    assert "subscriptionUrl" in page
    assert "wsConnectionParams: headers" in page
    assert server.demo_key in page
    assert "subscription watchResults" in page
    assert "mutation addResult" in page


async def test_every_event_costs_the_same_statements(
    server: LiveServer, connection: AsyncConnection, statements: StatementCounter
) -> None:
    """Each event reads afresh (new loaders), with the same few batched statements."""
    workspace_id = await demo_workspace_id(connection)
    media_uuid, _recording = await first_media(server)
    change = Change(workspace_id, TOPIC_RESULT, RESULT_UUID, "UPDATED", "AttachedMedia", media_uuid)
    counts = []
    async with GraphQLWS.session(server.base_url, server.demo_key) as ws:
        await ws.subscribe("m", MEDIA_CHANGED, {"result": RESULT_UUID})
        for _ in range(3):
            statements.reset()
            await broker_of(server).publish([change])
            await ws.next_data("m")
            counts.append(statements.count)

    assert counts[0] == counts[1] == counts[2]
    assert counts[0] <= 5, statements.statements

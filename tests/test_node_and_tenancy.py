"""Global object identification, and one workspace never seeing another's data."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from app.demo.seed import RESULT_UUID, TEST_UUID
from app.ids import to_global_id
from tests.support.factories import make_workspace
from tests.support.graphql import error_codes, gql

IDS = """query($test: String!, $result: String!) {
  userTest(uuid: $test) { id }
  userTestResult(resultUuid: $result) {
    id
    userTest { id uuid }
    recordings { download { id attachedMedia { media { id type } } } }
  }
}"""
NODE = """query($id: ID!) { node(id: $id) {
  __typename id
  ... on UserTest { uuid }
  ... on UserTestResult { responseUUID }
  ... on TestSessionRecording { mediaUrl }
  ... on AttachedMedia { type url }
} }"""


async def test_node_refetches_every_type_by_its_id(client: httpx.AsyncClient) -> None:
    data = (await gql(client, IDS, {"test": TEST_UUID, "result": RESULT_UUID}))["data"]
    result = data["userTestResult"]
    assert result["userTest"] == {"id": data["userTest"]["id"], "uuid": TEST_UUID}
    recording = result["recordings"]["download"]
    ids = {
        "UserTest": data["userTest"]["id"],
        "UserTestResult": result["id"],
        "TestSessionRecording": recording["id"],
        "AttachedMedia": recording["attachedMedia"][0]["media"][0]["id"],
    }
    for type_name, global_id in ids.items():
        node = (await gql(client, NODE, {"id": global_id}))["data"]["node"]
        assert node["__typename"] == type_name
        assert node["id"] == global_id
    media = (await gql(client, NODE, {"id": ids["AttachedMedia"]}))["data"]["node"]
    assert media["url"].startswith("http://testserver/media/local/")


async def test_node_unknown_id_answers_null(client: httpx.AsyncClient) -> None:
    body = await gql(client, NODE, {"id": to_global_id("UserTestResult", "ut_response_nope")})
    assert body["data"]["node"] is None


@pytest.mark.parametrize(
    "global_id", ["", "!!!", "bm9jb2xvbg", to_global_id("Workspace", "demo"), "a" * 5000]
)
async def test_node_malformed_id_is_bad_user_input(
    client: httpx.AsyncClient, global_id: str
) -> None:
    body = await gql(client, NODE, {"id": global_id}, expect_errors=True)
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["data"] == {"node": None}


async def test_other_workspace_sees_demo_data_exactly_as_unknown_ids(
    client: httpx.AsyncClient, connection: AsyncConnection
) -> None:
    other = await make_workspace(connection, "acme")
    demo = (await gql(client, IDS, {"test": TEST_UUID, "result": RESULT_UUID}))["data"]
    as_other = {"Authorization": f"Bearer {other.key}"}

    body = await gql(client, IDS, {"test": TEST_UUID, "result": RESULT_UUID}, headers=as_other)
    unknown = await gql(
        client, IDS, {"test": "ut_unknown", "result": "ut_response_unknown"}, headers=as_other
    )
    assert body == unknown == {"data": {"userTest": None, "userTestResult": None}}

    recording = demo["userTestResult"]["recordings"]["download"]
    for global_id in (
        demo["userTest"]["id"],
        demo["userTestResult"]["id"],
        recording["id"],
        recording["attachedMedia"][0]["media"][0]["id"],
    ):
        body = await gql(client, NODE, {"id": global_id}, headers=as_other)
        assert body == {"data": {"node": None}}


async def test_demo_key_cannot_see_another_workspace(
    client: httpx.AsyncClient, connection: AsyncConnection
) -> None:
    other = await make_workspace(connection, "globex")
    as_other = {"Authorization": f"Bearer {other.key}"}
    own = await gql(
        client, IDS, {"test": other.test_uuid, "result": other.result_uuid}, headers=as_other
    )
    assert own["data"]["userTestResult"]["userTest"]["uuid"] == other.test_uuid
    body = await gql(client, IDS, {"test": other.test_uuid, "result": other.result_uuid})
    assert body == {"data": {"userTest": None, "userTestResult": None}}
    for type_name, key in (
        ("UserTest", other.test_uuid),
        ("UserTestResult", other.result_uuid),
        ("TestSessionRecording", other.recording_uuid),
        ("AttachedMedia", other.media_uuid),
    ):
        body = await gql(client, NODE, {"id": to_global_id(type_name, key)})
        assert body == {"data": {"node": None}}

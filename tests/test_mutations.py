"""Creating user tests, results and recordings over HTTP: what comes back, what reads back,
who may write, and what bad input gets."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.demo.seed import RESULT_UUID, TEST_UUID
from app.ids import to_global_id
from app.store import models
from tests.support.factories import make_workspace
from tests.support.graphql import error_codes, gql
from tests.support.writes import (
    CREATE_RESULT,
    CREATE_TEST,
    REGISTER,
    REJECT_RESULT,
    create_result,
    create_test,
    register,
    session,
)

READ_BACK = """query($r: String!) { userTestResult(resultUuid: $r) {
  pk name status participant { anonymousId email name } userTest { uuid name }
  recordings { download { id kind status mimeType isAudio filesize duration } audio { id } } } }"""


async def count_rows(connection: AsyncConnection, model: Any) -> int:
    return int((await connection.execute(select(func.count()).select_from(model))).scalar_one())


async def test_create_user_test_returns_it_with_a_ut_uuid(client: httpx.AsyncClient) -> None:
    body = await gql(
        client, CREATE_TEST, {"input": {"name": "Onboarding", "clientMutationId": "m1"}}
    )
    payload = body["data"]["createUserTest"]
    assert payload["userTest"]["uuid"].startswith("ut_")
    assert payload["userTest"]["name"] == "Onboarding"
    assert payload["userTest"]["id"] == to_global_id("UserTest", payload["userTest"]["uuid"])
    assert payload["clientMutationId"] == "m1"
    assert payload["replayed"] is False
    read = await gql(
        client,
        "query($u: String!) { userTest(uuid: $u) { name } }",
        {"u": payload["userTest"]["uuid"]},
    )
    assert read["data"]["userTest"] == {"name": "Onboarding"}


async def test_create_result_with_participant_reads_back(client: httpx.AsyncClient) -> None:
    test_uuid = await create_test(client, "Checkout")
    result = await create_result(
        client,
        test_uuid,
        "Session A",
        participant={"anonymousId": "anon-42", "email": "a@example.com", "name": "Ada"},
        status="COMPLETED",
    )
    assert result["responseUUID"].startswith("ut_response_")
    assert result["status"] == "COMPLETED"
    body = await gql(client, READ_BACK, {"r": result["responseUUID"]})
    read = body["data"]["userTestResult"]
    assert read["pk"] == result["pk"]
    assert read["participant"] == {
        "anonymousId": "anon-42",
        "email": "a@example.com",
        "name": "Ada",
    }
    assert read["userTest"] == {"uuid": test_uuid, "name": "Checkout"}
    assert read["recordings"] == {"download": None, "audio": None}


async def test_create_result_reuses_a_known_participant_and_keeps_details_left_out(
    client: httpx.AsyncClient, connection: AsyncConnection
) -> None:
    test_uuid = await create_test(client)
    before = await count_rows(connection, models.Participant)
    first = await create_result(
        client, test_uuid, participant={"anonymousId": "anon-7", "email": "x@example.com"}
    )
    second = await create_result(
        client, test_uuid, participant={"anonymousId": "anon-7", "name": "Xi"}
    )
    assert await count_rows(connection, models.Participant) == before + 1
    assert first["participant"] == {"anonymousId": "anon-7", "email": "x@example.com", "name": None}
    assert second["participant"] == {
        "anonymousId": "anon-7",
        "email": "x@example.com",
        "name": "Xi",
    }


async def test_create_result_without_anonymous_id_generates_one(client: httpx.AsyncClient) -> None:
    result = await create_result(client, await create_test(client), participant={})
    assert result["participant"]["anonymousId"].startswith("anon-")


async def test_register_recording_starts_invoked_or_uploaded(client: httpx.AsyncClient) -> None:
    _test, result_uuid, recording_id = await session(client)
    audio = await register(
        client,
        result_uuid,
        kind="AUDIO",
        mimeType="Audio/Ogg",
        storageKey="demo/tests/audio.ogg",
        filesize=1234,
        duration=3.5,
        uploaded=True,
    )
    assert audio["status"] == "UPLOADED"
    assert audio["uploadedAt"] is not None
    assert (audio["kind"], audio["mimeType"], audio["isAudio"]) == ("AUDIO", "audio/ogg", True)
    body = await gql(client, READ_BACK, {"r": result_uuid})
    download = body["data"]["userTestResult"]["recordings"]["download"]
    assert download["id"] == recording_id
    assert (download["status"], download["kind"], download["isAudio"]) == (
        "INVOKED",
        "DOWNLOAD",
        False,
    )
    assert body["data"]["userTestResult"]["recordings"]["audio"]["id"] == audio["id"]


async def test_download_recording_may_be_audio_only(client: httpx.AsyncClient) -> None:
    _test, result_uuid, _id = await session(client, kind="SCREEN")
    download = await register(client, result_uuid, kind="DOWNLOAD", mimeType="audio/ogg")
    assert download["isAudio"] is True


async def test_second_recording_of_a_kind_is_bad_user_input(client: httpx.AsyncClient) -> None:
    _test, result_uuid, _id = await session(client)
    body = await gql(
        client,
        REGISTER,
        {"input": {"resultUuid": result_uuid, "kind": "DOWNLOAD", "mimeType": "video/mp4"}},
        expect_errors=True,
    )
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["data"] is None


async def test_reject_result_marks_it_rejected_once(client: httpx.AsyncClient) -> None:
    result = await create_result(client, await create_test(client))
    variables = {"input": {"resultUuid": result["responseUUID"]}}
    first = (await gql(client, REJECT_RESULT, variables))["data"]["rejectUserTestResult"]
    again = (await gql(client, REJECT_RESULT, variables))["data"]["rejectUserTestResult"]
    assert first["userTestResult"]["status"] == "REJECTED"
    assert (first["applied"], again["applied"]) == (True, False)


MUTATIONS = {
    "createUserTest": (CREATE_TEST, {"name": "Nope"}),
    "createUserTestResult": (
        CREATE_RESULT,
        {"testUuid": TEST_UUID, "name": "Nope", "participant": {}},
    ),
    "registerRecording": (
        REGISTER,
        {"resultUuid": RESULT_UUID, "kind": "CAMERA", "mimeType": "video/webm"},
    ),
}


@pytest.mark.parametrize("name", sorted(MUTATIONS))
async def test_mutations_need_the_write_scope_and_write_nothing_without_it(
    client: httpx.AsyncClient, connection: AsyncConnection, name: str
) -> None:
    workspace = await make_workspace(connection, "readonly", scopes="results:read media:sign")
    document, values = MUTATIONS[name]
    counts = [
        await count_rows(connection, m)
        for m in (models.UserTest, models.UserTestResult, models.Recording)
    ]
    body = await gql(
        client,
        document,
        {"input": values},
        expect_errors=True,
        headers={"Authorization": f"Bearer {workspace.key}"},
    )
    assert error_codes(body) == ["FORBIDDEN"]
    assert body["errors"][0]["extensions"]["scope"] == "write"
    after = [
        await count_rows(connection, m)
        for m in (models.UserTest, models.UserTestResult, models.Recording)
    ]
    assert after == counts


async def test_mutation_over_get_is_refused_with_405_and_does_not_run(
    client: httpx.AsyncClient, connection: AsyncConnection
) -> None:
    before = await count_rows(connection, models.UserTest)
    response = await client.get(
        "/graphql",
        params={"query": 'mutation { createUserTest(input: {name: "via GET"}) { replayed } }'},
    )
    assert response.status_code == 405
    assert await count_rows(connection, models.UserTest) == before


async def test_another_workspaces_ids_are_not_found_like_unknown_ones(
    client: httpx.AsyncClient, connection: AsyncConnection
) -> None:
    other = await make_workspace(connection, "elsewhere")
    foreign = {
        "createUserTestResult": (
            CREATE_RESULT,
            {"testUuid": other.test_uuid, "name": "x", "participant": {}},
            {"testUuid": "ut_unknown", "name": "x", "participant": {}},
        ),
        "registerRecording": (
            REGISTER,
            {"resultUuid": other.result_uuid, "kind": "CAMERA", "mimeType": "video/mp4"},
            {"resultUuid": "ut_response_unknown", "kind": "CAMERA", "mimeType": "video/mp4"},
        ),
    }
    for document, theirs, unknown in foreign.values():
        a = await gql(client, document, {"input": theirs}, expect_errors=True)
        b = await gql(client, document, {"input": unknown}, expect_errors=True)
        assert error_codes(a) == error_codes(b) == ["NOT_FOUND"]
        assert a["errors"][0]["message"] == b["errors"][0]["message"]
    # Their recording, by global id, is not found either.
    body = await gql(
        client,
        """mutation($id: ID!) { pauseRecording(input: {recordingId: $id}) { replayed } }""",
        {"id": to_global_id("TestSessionRecording", other.recording_uuid)},
        expect_errors=True,
    )
    assert error_codes(body) == ["NOT_FOUND"]


BAD_INPUTS = [
    ("name with NUL", CREATE_TEST, {"name": "bad\x00name"}),
    ("empty name", CREATE_TEST, {"name": ""}),
    ("name too long", CREATE_TEST, {"name": "x" * 501}),
    ("padded name", CREATE_TEST, {"name": " padded"}),
    ("long idempotency key", CREATE_TEST, {"name": "ok", "idempotencyKey": "k" * 201}),
    (
        "created rejected",
        CREATE_RESULT,
        {"testUuid": TEST_UUID, "name": "s", "participant": {}, "status": "REJECTED"},
    ),
    (
        "bad email",
        CREATE_RESULT,
        {"testUuid": TEST_UUID, "name": "s", "participant": {"email": "nope"}},
    ),
    (
        "NUL in participant",
        CREATE_RESULT,
        {"testUuid": TEST_UUID, "name": "s", "participant": {"name": "a\x00"}},
    ),
    (
        "video for audio kind",
        REGISTER,
        {"resultUuid": RESULT_UUID, "kind": "AUDIO", "mimeType": "video/mp4"},
    ),
    (
        "audio for camera",
        REGISTER,
        {"resultUuid": RESULT_UUID, "kind": "CAMERA", "mimeType": "audio/ogg"},
    ),
    ("not a mime type", REGISTER, {"resultUuid": RESULT_UUID, "kind": "CAMERA", "mimeType": "mp4"}),
    (
        "mime parameters",
        REGISTER,
        {"resultUuid": RESULT_UUID, "kind": "CAMERA", "mimeType": "video/webm; codecs=vp9"},
    ),
    (
        "negative size",
        REGISTER,
        {"resultUuid": RESULT_UUID, "kind": "CAMERA", "mimeType": "video/mp4", "filesize": -1},
    ),
    (
        "negative duration",
        REGISTER,
        {"resultUuid": RESULT_UUID, "kind": "CAMERA", "mimeType": "video/mp4", "duration": -0.5},
    ),
    (
        "traversal key",
        REGISTER,
        {
            "resultUuid": RESULT_UUID,
            "kind": "CAMERA",
            "mimeType": "video/mp4",
            "storageKey": "a/../../etc/passwd",
        },
    ),
    (
        "absolute key",
        REGISTER,
        {
            "resultUuid": RESULT_UUID,
            "kind": "CAMERA",
            "mimeType": "video/mp4",
            "storageKey": "/etc/passwd",
        },
    ),
    (
        "NUL in key",
        REGISTER,
        {
            "resultUuid": RESULT_UUID,
            "kind": "CAMERA",
            "mimeType": "video/mp4",
            "storageKey": "a\x00b",
        },
    ),
    (
        "uploaded without key",
        REGISTER,
        {"resultUuid": RESULT_UUID, "kind": "CAMERA", "mimeType": "video/mp4", "uploaded": True},
    ),
    (
        "bad language",
        REGISTER,
        {
            "resultUuid": RESULT_UUID,
            "kind": "CAMERA",
            "mimeType": "video/mp4",
            "language": "english!",
        },
    ),
    (
        "USER caller without id",
        REGISTER,
        {
            "resultUuid": RESULT_UUID,
            "kind": "CAMERA",
            "mimeType": "video/mp4",
            "caller": {"type": "USER"},
        },
    ),
]


@pytest.mark.parametrize(("case", "document", "values"), BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
async def test_bad_input_is_bad_user_input_and_writes_nothing(
    client: httpx.AsyncClient,
    connection: AsyncConnection,
    case: str,
    document: str,
    values: dict[str, Any],
) -> None:
    models_ = (models.UserTest, models.UserTestResult, models.Recording, models.ResultChange)
    before = [await count_rows(connection, m) for m in models_]
    body = await gql(client, document, {"input": values}, expect_errors=True)
    assert error_codes(body) == ["BAD_USER_INPUT"], (case, body)
    assert [await count_rows(connection, m) for m in models_] == before


@pytest.mark.parametrize(
    "recording_id",
    [
        "not-an-id",
        to_global_id("UserTestResult", RESULT_UUID),
        to_global_id("TestSessionRecording", "x" * 81),
    ],
)
async def test_malformed_or_mistyped_recording_ids_are_bad_user_input(
    client: httpx.AsyncClient, recording_id: str
) -> None:
    body = await gql(
        client,
        "mutation($id: ID!) { startRecording(input: {recordingId: $id}) { replayed } }",
        {"id": recording_id},
        expect_errors=True,
    )
    assert error_codes(body) == ["BAD_USER_INPUT"]


async def test_two_mutations_in_one_document_see_each_others_writes(
    client: httpx.AsyncClient,
) -> None:
    _test, result_uuid, recording_id = await session(client)
    body = await gql(
        client,
        """mutation($id: ID!) {
          a: startRecording(input: {recordingId: $id}) { recording { status } }
          b: pauseRecording(input: {recordingId: $id}) { recording { status } }
        }""",
        {"id": recording_id},
    )
    assert body["data"] == {
        "a": {"recording": {"status": "RECORDING"}},
        "b": {"recording": {"status": "PAUSED"}},
    }
    read = await gql(client, READ_BACK, {"r": result_uuid})
    assert read["data"]["userTestResult"]["recordings"]["download"]["status"] == "PAUSED"


async def test_demo_recordings_are_uploaded_or_errored(client: httpx.AsyncClient) -> None:
    body = await gql(
        client,
        """query($t: String!) { userTest(uuid: $t) { results(first: 6) { edges { node { pk
          recordings { download { status failedStatus } } } } } } }""",
        {"t": TEST_UUID},
    )
    statuses = {
        edge["node"]["pk"]: edge["node"]["recordings"]["download"]["status"]
        for edge in body["data"]["userTest"]["results"]["edges"]
    }
    assert statuses[12350] == "ERRORED"
    assert {status for pk, status in statuses.items() if pk != 12350} == {"UPLOADED"}


async def test_a_lone_surrogate_is_bad_user_input(client: httpx.AsyncClient) -> None:
    """JSON can spell a lone UTF-16 surrogate ("\\ud800"); neither database can store one."""
    content = (
        b'{"query": "mutation($n: String!) { createUserTest(input: {name: $n}) { replayed } }",'
        b' "variables": {"n": "a\\ud800b"}}'
    )
    response = await client.post(
        "/graphql", content=content, headers={"content-type": "application/json"}
    )
    # Refused as the client's error: by the JSON decoder (BAD_REQUEST) or the input checks.
    assert response.status_code < 500
    assert error_codes(response.json()) in (["BAD_REQUEST"], ["BAD_USER_INPUT"])

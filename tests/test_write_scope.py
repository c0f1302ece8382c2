"""`write` writes; reading needs `results:read`, also through a mutation's payload. A key with
`write` alone gets the payload's ids and flags, and FORBIDDEN (null) for every object it
shows; with `results:read` as well it gets the objects. Subscriptions and the change feed are
reads too."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.ids import to_global_id
from app.store import models
from tests.conftest import LiveServerFactory
from tests.support.factories import Workspace, make_workspace
from tests.support.graphql import error_codes, gql
from tests.support.graphql_ws import GraphQLWS
from tests.support.graphql_ws import error_codes as ws_error_codes
from tests.support.writes import COUNT, FEED

RESULT = """responseUUID name participant { email }
  recordings { download { id transcription } audio { id status } }"""
TEST = f"uuid name results(first: 5) {{ edges {{ node {{ {RESULT} }} }} }}"
RECORDING = "id kind status statusNote mimeType"


@dataclass(frozen=True)
class Step:
    """One mutation: its input, the payload fields that show objects, and the rest of the
    payload as every key must get it."""

    mutation: str
    input_type: str
    input: dict[str, Any]
    objects: dict[str, str]
    kept: dict[str, Any] = field(default_factory=dict)

    def document(self) -> str:
        shown = " ".join(f"{name} {{ {selection} }}" for name, selection in self.objects.items())
        return f"""mutation($input: {self.input_type}!) {{ {self.mutation}(input: $input) {{
          {shown} {" ".join(self.kept)} }} }}"""


def transition(mutation: str, input_type: str, audio_id: str, **extra: Any) -> Step:
    return Step(
        mutation,
        input_type,
        {"recordingId": audio_id, "note": mutation, "clientMutationId": mutation, **extra},
        {"recording": RECORDING},
        {"clientMutationId": mutation, "replayed": False},
    )


async def audio_recording_id(connection: AsyncConnection, workspace: Workspace) -> str:
    found = await connection.execute(
        select(models.Recording.uuid).where(
            models.Recording.workspace_id == workspace.id, models.Recording.kind == "audio"
        )
    )
    return to_global_id("TestSessionRecording", found.scalar_one())


async def run(client: httpx.AsyncClient, key: str, step: Step) -> dict[str, Any]:
    """What the step answered, once the payload's ids and flags are checked: every key gets
    those."""
    headers = {"Authorization": f"Bearer {key}"}
    body = await gql(
        client, step.document(), {"input": step.input}, expect_errors=True, headers=headers
    )
    assert body["data"] is not None, (step.mutation, body)
    payload: dict[str, Any] = body["data"][step.mutation]
    assert {name: payload[name] for name in step.kept} == step.kept, body
    return {"payload": payload, "errors": body.get("errors", []), "codes": error_codes(body)}


def steps(workspace: Workspace, slug: str, audio_id: str) -> list[Step]:
    """The mutations after the creates, in an order in which each one succeeds (storage keys
    start with the workspace's slug)."""
    media_recording = to_global_id("TestSessionRecording", workspace.recording_uuid)
    result = {"resultUuid": workspace.result_uuid}
    deleted_result_id = to_global_id("UserTestResult", workspace.result_uuid)
    return [
        transition("startRecording", "StartRecordingInput", audio_id),
        transition("pauseRecording", "RecordingTransitionInput", audio_id),
        transition("resumeRecording", "RecordingTransitionInput", audio_id),
        transition("stopRecording", "StopRecordingInput", audio_id),
        transition(
            "completeRecordingUpload",
            "CompleteRecordingUploadInput",
            audio_id,
            storageKey=f"{slug}/audio.mp3",
        ),
        transition("failRecording", "FailRecordingInput", audio_id, failureType="UPLOAD_FAILED"),
        Step(
            "reportAttachedMedia",
            "ReportAttachedMediaInput",
            {
                "recordingId": media_recording,
                "language": "en",
                "type": "SUBTITLES",
                "status": "SUCCESS",
                "storageKey": f"{slug}/subtitles-2.vtt",
            },
            {
                "attachedMedia": "id status",
                "recording": f"{RECORDING} attachedMedia {{ language }}",
            },
            {"applied": True, "replayed": False},
        ),
        Step(
            "deleteRecording",
            "DeleteRecordingInput",
            {"recordingId": audio_id},
            {"userTestResult": RESULT},
            {"deletedRecordingId": audio_id, "replayed": False},
        ),
        Step(
            "rejectUserTestResult",
            "UserTestResultInput",
            result,
            {"userTestResult": f"status {RESULT}"},
            {"applied": True, "replayed": False},
        ),
        Step(
            "deleteUserTestResult",
            "UserTestResultInput",
            result,
            {"userTest": TEST},
            {
                "deletedResultUuid": workspace.result_uuid,
                "deletedId": deleted_result_id,
                "replayed": False,
            },
        ),
    ]


CREATE_TEST = Step(
    "createUserTest",
    "CreateUserTestInput",
    {"name": "Scoped study", "clientMutationId": "t1"},
    {"userTest": TEST},
    {"clientMutationId": "t1", "replayed": False},
)


def create_result(workspace: Workspace) -> Step:
    return Step(
        "createUserTestResult",
        "CreateUserTestResultInput",
        {
            "testUuid": workspace.test_uuid,
            "name": "Scoped session",
            "participant": {"email": "pat@example.com"},
            "clientMutationId": "r1",
        },
        {"userTestResult": f"{RESULT} userTest {{ {TEST} }}"},
        {"clientMutationId": "r1", "replayed": False},
    )


def register_audio(workspace: Workspace) -> Step:
    return Step(
        "registerRecording",
        "RegisterRecordingInput",
        {"resultUuid": workspace.result_uuid, "kind": "AUDIO", "mimeType": "audio/mpeg"},
        {"recording": RECORDING},
        {"replayed": False},
    )


async def all_steps(
    client: httpx.AsyncClient, connection: AsyncConnection, slug: str, scopes: str
) -> tuple[Workspace, list[tuple[Step, dict[str, Any]]]]:
    """Every mutation run with a new workspace's key holding ``scopes``; each step with what it
    answered."""
    workspace = await make_workspace(connection, slug, scopes=scopes)
    answers = []
    for step in (CREATE_TEST, create_result(workspace), register_audio(workspace)):
        answers.append((step, await run(client, workspace.key, step)))
    audio_id = await audio_recording_id(connection, workspace)
    for step in steps(workspace, slug, audio_id):
        answers.append((step, await run(client, workspace.key, step)))
    return workspace, answers


async def test_write_only_key_writes_but_every_payload_object_is_forbidden(
    client: httpx.AsyncClient, connection: AsyncConnection
) -> None:
    workspace, answers = await all_steps(client, connection, "writer", "write")

    for step, answer in answers:
        assert answer["codes"] == ["FORBIDDEN"] * len(step.objects), (step.mutation, answer)
        assert {error["extensions"]["scope"] for error in answer["errors"]} == {"results:read"}
        assert sorted(error["path"][-1] for error in answer["errors"]) == sorted(step.objects)
        assert {name: answer["payload"][name] for name in step.objects} == dict.fromkeys(
            step.objects
        )
    # The writes happened all the same.
    tests = select(func.count()).select_from(models.UserTest)
    named = tests.where(models.UserTest.name == "Scoped study")
    assert (await connection.execute(named)).scalar_one() == 1
    results = select(func.count()).select_from(models.UserTestResult)
    left = results.where(models.UserTestResult.uuid == workspace.result_uuid)
    assert (await connection.execute(left)).scalar_one() == 0


async def test_write_and_read_key_gets_every_payload_object(
    client: httpx.AsyncClient, connection: AsyncConnection
) -> None:
    workspace, answers = await all_steps(client, connection, "reader-writer", "results:read write")

    for step, answer in answers:
        assert answer["codes"] == [], (step.mutation, answer)
        assert all(answer["payload"][name] is not None for name in step.objects), answer
    shown = {step.mutation: answer["payload"] for step, answer in answers}
    created = shown["createUserTestResult"]["userTestResult"]
    assert created["participant"] == {"email": "pat@example.com"}
    assert created["userTest"]["uuid"] == workspace.test_uuid
    assert {e["node"]["name"] for e in created["userTest"]["results"]["edges"]} == {
        "Only session",
        "Scoped session",
    }
    assert shown["failRecording"]["recording"]["status"] == "ERRORED"
    assert shown["rejectUserTestResult"]["userTestResult"]["status"] == "REJECTED"
    assert shown["deleteUserTestResult"]["userTest"]["uuid"] == workspace.test_uuid


async def test_a_replay_shows_no_objects_to_a_write_only_key_either(
    client: httpx.AsyncClient, connection: AsyncConnection
) -> None:
    workspace = await make_workspace(connection, "replayer", scopes="write")
    step = create_result(workspace)
    values = {**step.input, "idempotencyKey": "once"}
    original = Step(step.mutation, step.input_type, values, step.objects, step.kept)
    replay = Step(
        step.mutation, step.input_type, values, step.objects, {**step.kept, "replayed": True}
    )

    first = await run(client, workspace.key, original)
    again = await run(client, workspace.key, replay)

    assert first["codes"] == again["codes"] == ["FORBIDDEN"]
    assert first["payload"]["userTestResult"] is again["payload"]["userTestResult"] is None


async def test_one_mutation_forbidden_to_read_leaves_the_next_one_in_the_document_alone(
    client: httpx.AsyncClient, connection: AsyncConnection
) -> None:
    workspace = await make_workspace(connection, "two-writes", scopes="write")
    body = await gql(
        client,
        """mutation($t: String!) {
          a: createUserTestResult(input: {testUuid: $t, name: "A", participant: {}}) {
            userTestResult { name } replayed }
          b: createUserTest(input: {name: "B", clientMutationId: "b"}) { clientMutationId } }""",
        {"t": workspace.test_uuid},
        expect_errors=True,
        headers={"Authorization": f"Bearer {workspace.key}"},
    )
    assert error_codes(body) == ["FORBIDDEN"]
    assert body["data"] == {
        "a": {"userTestResult": None, "replayed": False},
        "b": {"clientMutationId": "b"},
    }


async def test_change_feed_needs_results_read_with_write(
    client: httpx.AsyncClient, connection: AsyncConnection
) -> None:
    workspace = await make_workspace(connection, "feed-writer", scopes="write media:sign")
    headers = {"Authorization": f"Bearer {workspace.key}"}
    for document in (FEED, COUNT):
        body = await gql(
            client, document, {"test": workspace.test_uuid}, expect_errors=True, headers=headers
        )
        assert error_codes(body) == ["FORBIDDEN"]
        assert body["errors"][0]["extensions"]["scope"] == "results:read"
        assert list(body["data"].values()) == [None]


@pytest.mark.parametrize(
    ("document", "argument"),
    [
        ("subscription($k: String!) { resultChanged(testUuid: $k) { kind } }", "test"),
        ("subscription($k: String!) { attachedMediaChanged(resultUuid: $k) { kind } }", "result"),
    ],
)
async def test_subscriptions_need_results_read_with_write(
    server_factory: LiveServerFactory, connection: AsyncConnection, document: str, argument: str
) -> None:
    workspace = await make_workspace(connection, "live-writer", scopes="write media:sign")
    key = workspace.test_uuid if argument == "test" else workspace.result_uuid
    async with (
        server_factory() as server,
        GraphQLWS.session(server.base_url, workspace.key) as ws,
    ):
        [answer] = await ws.subscribe("1", document, {"k": key})

    assert ws_error_codes(answer) == ["FORBIDDEN"]
    assert answer["payload"][0]["extensions"]["scope"] == "results:read"


INGEST = {
    "createUserTest": (
        "CreateUserTestInput",
        "userTestUuid",
    ),
    "createUserTestResult": ("CreateUserTestResultInput", "resultUuid"),
    "registerRecording": ("RegisterRecordingInput", "recordingId"),
    "reportAttachedMedia": ("ReportAttachedMediaInput", "attachedMediaId recordingId"),
}


async def ingest(client: httpx.AsyncClient, key: str, mutation: str, values: dict[str, Any]) -> Any:
    input_type, fields = INGEST[mutation]
    document = f"mutation($input: {input_type}!) {{ {mutation}(input: $input) {{ {fields} }} }}"
    body = await gql(
        client, document, {"input": values}, headers={"Authorization": f"Bearer {key}"}
    )
    return body["data"][mutation]


async def test_a_write_only_key_chains_its_writes_by_the_payloads_ids(
    client: httpx.AsyncClient, connection: AsyncConnection
) -> None:
    """An ingestion pipeline with `write` alone learns the ids of what it creates, and nothing
    else: a test, a result in it, a recording of that result, media of that recording."""
    workspace = await make_workspace(connection, "ingest", scopes="write")
    key = workspace.key
    test = await ingest(client, key, "createUserTest", {"name": "Ingested"})
    result = await ingest(
        client,
        key,
        "createUserTestResult",
        {"testUuid": test["userTestUuid"], "name": "Session", "participant": {"name": "P"}},
    )
    recording = await ingest(
        client,
        key,
        "registerRecording",
        {
            "resultUuid": result["resultUuid"],
            "kind": "DOWNLOAD",
            "mimeType": "video/mp4",
            "uploaded": True,
            "storageKey": "ingest/session.mp4",
        },
    )
    media = await ingest(
        client,
        key,
        "reportAttachedMedia",
        {
            "recordingId": recording["recordingId"],
            "type": "SUBTITLES",
            "language": "en",
            "status": "PENDING",
        },
    )
    assert test["userTestUuid"].startswith("ut_")
    assert result["resultUuid"].startswith("ut_response_")
    assert media["recordingId"] == recording["recordingId"]
    stored = await connection.execute(
        select(models.AttachedMedia.uuid, models.Recording.uuid)
        .join(models.Recording, models.Recording.id == models.AttachedMedia.recording_id)
        .join(models.UserTestResult, models.UserTestResult.id == models.Recording.result_id)
        .where(models.UserTestResult.uuid == result["resultUuid"])
    )
    [(media_uuid, recording_uuid)] = stored.all()
    assert recording["recordingId"] == to_global_id("TestSessionRecording", recording_uuid)
    assert media["attachedMediaId"] == to_global_id("AttachedMedia", media_uuid)

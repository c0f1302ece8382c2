"""Mutations as tests send them: real documents over HTTP, with helpers that return the part
of the payload a test needs."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.graphql import gql

RECORDING_FIELDS = """
  id kind status isAudio mimeType filesize duration failedStatus failedType error startTime
  startedAt pausedAt resumedAt stoppedAt uploadedAt erroredAt statusChangedAt statusNote
  startReason { reason caller { type userId name } }
  stopReason { reason caller { type userId name } }
  statusChangedBy { type userId name }
"""

CREATE_TEST = """mutation($input: CreateUserTestInput!) {
  createUserTest(input: $input) { userTest { id uuid name } clientMutationId replayed } }"""

CREATE_RESULT = """mutation($input: CreateUserTestResultInput!) {
  createUserTestResult(input: $input) {
    userTestResult { id pk responseUUID name status participant { anonymousId email name } }
    clientMutationId replayed } }"""

REJECT_RESULT = """mutation($input: UserTestResultInput!) {
  rejectUserTestResult(input: $input) {
    userTestResult { responseUUID status } applied replayed } }"""

DELETE_RESULT = """mutation($input: UserTestResultInput!) {
  deleteUserTestResult(input: $input) {
    deletedResultUuid deletedId userTest { uuid } replayed } }"""

REGISTER = f"""mutation($input: RegisterRecordingInput!) {{
  registerRecording(input: $input) {{ recording {{ {RECORDING_FIELDS} }} replayed }} }}"""

DELETE_RECORDING = """mutation($input: DeleteRecordingInput!) {
  deleteRecording(input: $input) {
    deletedRecordingId userTestResult { responseUUID } replayed } }"""

TRANSITIONS = {
    "start": ("startRecording", "StartRecordingInput"),
    "pause": ("pauseRecording", "RecordingTransitionInput"),
    "resume": ("resumeRecording", "RecordingTransitionInput"),
    "stop": ("stopRecording", "StopRecordingInput"),
    "complete": ("completeRecordingUpload", "CompleteRecordingUploadInput"),
    "fail": ("failRecording", "FailRecordingInput"),
}

REPORT = """mutation($input: ReportAttachedMediaInput!) {
  reportAttachedMedia(input: $input) {
    attachedMedia { id type language status statusReason error finalisedAt mimeType }
    recording { id } applied replayed } }"""

FEED = """query($test: String!, $first: Int, $after: String) {
  testResultChanges(testUuid: $test, first: $first, after: $after) {
    edges { cursor node { kind resultUuid objectType objectId objectChange changedAt } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }"""

COUNT = """query($test: String!, $since: String) {
  testResultChangesCount(testUuid: $test, sinceCursor: $since) { count latestCursor } }"""


def transition_document(name: str) -> str:
    field, input_type = TRANSITIONS[name]
    return f"""mutation($input: {input_type}!) {{
      {field}(input: $input) {{ recording {{ {RECORDING_FIELDS} }} replayed }} }}"""


async def create_test(client: httpx.AsyncClient, name: str = "Mutation study", **extra: Any) -> str:
    body = await gql(client, CREATE_TEST, {"input": {"name": name, **extra}})
    uuid: str = body["data"]["createUserTest"]["userTest"]["uuid"]
    return uuid


async def create_result(
    client: httpx.AsyncClient, test_uuid: str, name: str = "Session", **extra: Any
) -> dict[str, Any]:
    extra.setdefault("participant", {"name": "Pat"})
    body = await gql(
        client, CREATE_RESULT, {"input": {"testUuid": test_uuid, "name": name, **extra}}
    )
    result: dict[str, Any] = body["data"]["createUserTestResult"]["userTestResult"]
    return result


async def register(client: httpx.AsyncClient, result_uuid: str, **extra: Any) -> dict[str, Any]:
    values = {"resultUuid": result_uuid, "kind": "DOWNLOAD", "mimeType": "video/mp4", **extra}
    body = await gql(client, REGISTER, {"input": values})
    recording: dict[str, Any] = body["data"]["registerRecording"]["recording"]
    return recording


async def transition(
    client: httpx.AsyncClient,
    name: str,
    recording_id: str,
    *,
    expect_errors: bool = False,
    **extra: Any,
) -> dict[str, Any]:
    values = {"recordingId": recording_id, **extra}
    if name == "fail":
        values.setdefault("failureType", "UPLOAD_FAILED")
    return await gql(
        client, transition_document(name), {"input": values}, expect_errors=expect_errors
    )


async def report(
    client: httpx.AsyncClient, recording_id: str, *, expect_errors: bool = False, **extra: Any
) -> dict[str, Any]:
    values = {"recordingId": recording_id, "language": "en", "type": "SUBTITLES", **extra}
    return await gql(client, REPORT, {"input": values}, expect_errors=expect_errors)


async def session(client: httpx.AsyncClient, **recording: Any) -> tuple[str, str, str]:
    """A new test, result and recording: (test uuid, result uuid, recording id)."""
    test_uuid = await create_test(client)
    result = await create_result(client, test_uuid)
    registered = await register(client, result["responseUUID"], **recording)
    return test_uuid, result["responseUUID"], registered["id"]

"""Registering and deleting recordings."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import strawberry

from app.context import Context
from app.errors import BadUserInput
from app.ids import to_global_id
from app.store.lifecycle import INVOKED, UPLOADED
from app.store.writes import NewRecording
from resolvers.mutations import checks
from resolvers.mutations.common import (
    REPLAYED_DESCRIPTION,
    SHOWN_DESCRIPTION,
    MutationInput,
    caller_json,
    global_id,
    global_id_of,
    perform,
    shown_recording,
    shown_result,
    text,
    write_context,
)
from resolvers.recording import TestSessionRecording
from resolvers.recording_lifecycle import CallerType, RecordingKind
from resolvers.scalars import SafeInt
from resolvers.user_test_result import UserTestResult


@strawberry.input(
    description="Who is making a lifecycle change, as the client knows them. Left out: the "
    "integration itself (ORGANIZATION). The API key that makes the call is recorded either way."
)
class RecordingCallerInput:
    type: CallerType = strawberry.field(
        default=CallerType.ORGANIZATION, description="A person (USER) or the integration."
    )
    user_id: str | None = strawberry.field(
        default=None, description="The person's id in your system (required for USER)."
    )
    name: str | None = strawberry.field(default=None, description="The person's display name.")


def declared(who: dict[str, Any]) -> dict[str, Any]:
    """The caller as the client declared it: what an idempotency key's input includes (a retry
    may come through another API key of the workspace)."""
    return {name: value for name, value in who.items() if name != "apiKeyId"}


def caller(context: Context, value: RecordingCallerInput | None) -> dict[str, Any]:
    if value is None:
        return caller_json(context, None)
    user_id = (
        None if value.user_id is None else text(value.user_id, "caller.userId", max_length=200)
    )
    name = None if value.name is None else text(value.name, "caller.name", max_length=200)
    if value.type is CallerType.USER and user_id is None:
        raise BadUserInput("A USER caller needs `userId`.", argument="caller.userId")
    return caller_json(context, {"type": value.type.name, "userId": user_id, "name": name})


@strawberry.type(description="The recording, after the change.")
class RecordingPayload:
    recording_uuid: strawberry.Private[str | None]

    @strawberry.field(description="The recording's global id; needs no read scope.")
    def recording_id(self) -> strawberry.ID | None:
        return global_id_of("TestSessionRecording", self.recording_uuid)

    recording: TestSessionRecording | None = strawberry.field(
        resolver=shown_recording,
        description="The recording as it is now (null only when replaying for one deleted since)."
        + SHOWN_DESCRIPTION,
    )
    client_mutation_id: str | None = strawberry.field(description="As sent.")
    replayed: bool = strawberry.field(description=REPLAYED_DESCRIPTION)


@strawberry.input(
    description="A recording of a result: its kind and its storage object, to be recorded "
    "(INVOKED, then the lifecycle mutations) or already stored (`uploaded: true`)."
)
class RegisterRecordingInput(MutationInput):
    result_uuid: str = strawberry.field(description="The result's UUID (`ut_response_...`).")
    kind: RecordingKind = strawberry.field(
        description="What it holds; a result has at most one recording of each kind."
    )
    mime_type: str = strawberry.field(
        description="`type/subtype`: audio/* for AUDIO, video/* for SCREEN and CAMERA, either "
        "for DOWNLOAD (audio/* making it an audio-only recording, `isAudio`)."
    )
    storage_key: str | None = strawberry.field(
        default=None,
        description="The object's name in the bucket (or under the media root): relative, "
        "`/`-separated, at most 1024 characters, under the workspace's prefix "
        "`<workspace slug>/`. May come later, with the upload.",
    )
    filesize: SafeInt | None = strawberry.field(default=None, description="Bytes, at least 0.")
    duration: float | None = strawberry.field(default=None, description="Seconds, at least 0.")
    language: str | None = strawberry.field(
        default=None, description="Main spoken language, e.g. `en`."
    )
    uploaded: bool = strawberry.field(
        default=False,
        description="True for a file that is already stored: the recording starts UPLOADED "
        "(and needs `storageKey`). False: it starts INVOKED.",
    )
    caller: RecordingCallerInput | None = strawberry.field(
        default=None, description="Who registers it."
    )


@strawberry.input(description="A recording, by its global id.")
class DeleteRecordingInput(MutationInput):
    recording_id: strawberry.ID = strawberry.field(description="The recording's global `id`.")


@strawberry.type(description="The recording deleted.")
class DeleteRecordingPayload:
    deleted_recording_id: strawberry.ID = strawberry.field(
        description="The deleted recording's global id."
    )
    result_uuid: strawberry.Private[str | None]
    user_test_result: UserTestResult | None = strawberry.field(
        resolver=shown_result, description="The result it belonged to." + SHOWN_DESCRIPTION
    )
    client_mutation_id: str | None = strawberry.field(description="As sent.")
    replayed: bool = strawberry.field(description=REPLAYED_DESCRIPTION)


def _checked_recording(input: RegisterRecordingInput, *, workspace_slug: str) -> NewRecording:
    kind = input.kind
    mime = checks.mime_type(input.mime_type)
    family = mime.split("/")[0]
    allowed = {
        RecordingKind.AUDIO: ("audio",),
        RecordingKind.SCREEN: ("video",),
        RecordingKind.CAMERA: ("video",),
        RecordingKind.DOWNLOAD: ("video", "audio"),
    }[kind]
    if family not in allowed:
        raise BadUserInput(
            f"A {kind.name} recording must be {' or '.join(f'{a}/*' for a in allowed)}, "
            f"not {mime}.",
            argument="mimeType",
        )
    key = checks.optional_storage_key(input.storage_key, workspace_slug=workspace_slug)
    if input.uploaded and key is None:
        raise BadUserInput("An uploaded recording needs `storageKey`.", argument="storageKey")
    return NewRecording(
        kind=kind.name.lower(),
        mime_type=mime,
        is_audio=family == "audio",
        storage_key=key,
        filesize=checks.filesize(input.filesize),
        duration=checks.duration(input.duration),
        language=None if input.language is None else checks.language(input.language),
        status=UPLOADED if input.uploaded else INVOKED,
    )


@strawberry.type
class RecordingMutations:
    @strawberry.mutation(
        description="Register a recording of a result (CREATED in the change feed). NOT_FOUND "
        "when the result does not exist in this workspace; BAD_USER_INPUT when it already has "
        "a recording of this kind. Scope `write`."
    )
    async def register_recording(
        self, info: strawberry.Info[Context, None], input: RegisterRecordingInput
    ) -> RecordingPayload:
        context = write_context(info)
        result_uuid = text(input.result_uuid, "resultUuid", max_length=80)
        recording = _checked_recording(input, workspace_slug=context.viewer.workspace_slug)
        who = caller(context, input.caller)
        client_id = input.client_id()
        values = {
            "resultUuid": result_uuid,
            "recording": asdict(recording),
            "caller": declared(who),
        }
        outcome = await perform(
            context,
            mutation="registerRecording",
            key=input.idempotency_key,
            values=values,
            work=lambda writer: writer.register_recording(
                result_uuid=result_uuid, recording=recording, caller=who
            ),
        )
        return RecordingPayload(
            recording_uuid=outcome.uuid, client_mutation_id=client_id, replayed=outcome.replayed
        )

    @strawberry.mutation(
        description="Delete a recording with its media and transcript, in one transaction "
        "(DELETED in the change feed). Its stored files are removed after the commit, retried "
        "in the background if storage fails; a file another row still uses is kept. "
        "Afterwards its ids answer as unknown ones. NOT_FOUND when the recording does not "
        "exist in this workspace. Scope `write`."
    )
    async def delete_recording(
        self, info: strawberry.Info[Context, None], input: DeleteRecordingInput
    ) -> DeleteRecordingPayload:
        context = write_context(info)
        recording_uuid = global_id(
            input.recording_id, "recordingId", type_name="TestSessionRecording"
        )
        client_id = input.client_id()
        outcome = await perform(
            context,
            mutation="deleteRecording",
            key=input.idempotency_key,
            values={"recordingUuid": recording_uuid},
            work=lambda writer: writer.delete_recording(recording_uuid=recording_uuid),
        )
        return DeleteRecordingPayload(
            deleted_recording_id=strawberry.ID(
                to_global_id("TestSessionRecording", recording_uuid)
            ),
            result_uuid=outcome.parent_uuid,
            client_mutation_id=client_id,
            replayed=outcome.replayed,
        )

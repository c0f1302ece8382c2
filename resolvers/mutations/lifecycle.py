"""The recording lifecycle's transitions (app.store.lifecycle): start, pause, resume, stop,
complete the upload, fail. An illegal transition is BAD_USER_INPUT naming the current status
(``extensions.currentStatus``); a retry of a transition that succeeded is one too, unless it
carries the same idempotency key."""

from __future__ import annotations

from typing import Any

import strawberry

from app.context import Context
from app.store.lifecycle import TRANSITIONS
from resolvers.enums import RecordingFailureType
from resolvers.mutations import checks
from resolvers.mutations.common import (
    MutationInput,
    global_id,
    optional_text,
    perform,
    write_context,
)
from resolvers.mutations.recordings import (
    RecordingCallerInput,
    RecordingPayload,
    caller,
    declared,
)
from resolvers.recording_lifecycle import StartReasonCode, StopReasonCode
from resolvers.scalars import SafeInt

_MUTATIONS = {
    "start": "startRecording",
    "pause": "pauseRecording",
    "resume": "resumeRecording",
    "stop": "stopRecording",
    "complete_upload": "completeRecordingUpload",
    "fail": "failRecording",
}
_NOTE = "Why, in a few words (at most 500 characters); shown as `statusNote`."


@strawberry.input(description="A lifecycle transition of one recording.")
class RecordingTransitionInput(MutationInput):
    recording_id: strawberry.ID = strawberry.field(description="The recording's global `id`.")
    caller: RecordingCallerInput | None = strawberry.field(
        default=None, description="Who makes the change."
    )
    note: str | None = strawberry.field(default=None, description=_NOTE)


@strawberry.input(description="Start a recording: INVOKED -> RECORDING.")
class StartRecordingInput(RecordingTransitionInput):
    reason: StartReasonCode = strawberry.field(
        default=StartReasonCode.API_CALL, description="Why it starts."
    )


@strawberry.input(description="Stop a recording: RECORDING or PAUSED -> UPLOADING.")
class StopRecordingInput(RecordingTransitionInput):
    reason: StopReasonCode = strawberry.field(
        default=StopReasonCode.API_CALL, description="Why it stops."
    )


@strawberry.input(
    description="Complete a recording's upload: UPLOADING -> UPLOADED. The file must be named "
    "now or at registration."
)
class CompleteRecordingUploadInput(RecordingTransitionInput):
    storage_key: str | None = strawberry.field(
        default=None,
        description="The stored object's name (under the workspace's prefix "
        "`<workspace slug>/`), when not given at registration; a different name replaces the "
        "registered one, whose object is then removed from storage.",
    )
    filesize: SafeInt | None = strawberry.field(default=None, description="Bytes, at least 0.")
    duration: float | None = strawberry.field(default=None, description="Seconds, at least 0.")


@strawberry.input(description="Fail a recording: any status but ERRORED -> ERRORED (final).")
class FailRecordingInput(RecordingTransitionInput):
    failure_type: RecordingFailureType = strawberry.field(description="What failed.")
    error: str | None = strawberry.field(
        default=None, description="What went wrong (at most 2,000 characters); shown as `error`."
    )


async def _transition(
    info: strawberry.Info[Context, None],
    input: RecordingTransitionInput,
    name: str,
    values: dict[str, Any],
) -> RecordingPayload:
    context = write_context(info)
    recording_uuid = global_id(input.recording_id, "recordingId", type_name="TestSessionRecording")
    note = optional_text(input.note, "note", max_length=500, multiline=True)
    who = caller(context, input.caller)
    if name == "start":
        values = {**values, "start_caller": who}
    elif name == "stop":
        values = {**values, "stop_caller": who}
    client_id = input.client_id()
    transition = TRANSITIONS[name]
    fingerprint = {
        "recordingUuid": recording_uuid,
        "note": note,
        "caller": declared(who),
        **{k: v for k, v in values.items() if not k.endswith("_caller")},
    }
    outcome = await perform(
        context,
        mutation=_MUTATIONS[name],
        key=input.idempotency_key,
        values=fingerprint,
        work=lambda writer: writer.transition_recording(
            recording_uuid=recording_uuid,
            transition=transition,
            caller=who,
            note=note,
            values=values,
        ),
    )
    return RecordingPayload(
        recording_uuid=outcome.uuid, client_mutation_id=client_id, replayed=outcome.replayed
    )


@strawberry.type
class LifecycleMutations:
    @strawberry.mutation(description="Start a recording: INVOKED -> RECORDING. Scope `write`.")
    async def start_recording(
        self, info: strawberry.Info[Context, None], input: StartRecordingInput
    ) -> RecordingPayload:
        return await _transition(info, input, "start", {"start_reason": input.reason.name})

    @strawberry.mutation(description="Pause a recording: RECORDING -> PAUSED. Scope `write`.")
    async def pause_recording(
        self, info: strawberry.Info[Context, None], input: RecordingTransitionInput
    ) -> RecordingPayload:
        return await _transition(info, input, "pause", {})

    @strawberry.mutation(description="Resume a recording: PAUSED -> RECORDING. Scope `write`.")
    async def resume_recording(
        self, info: strawberry.Info[Context, None], input: RecordingTransitionInput
    ) -> RecordingPayload:
        return await _transition(info, input, "resume", {})

    @strawberry.mutation(
        description="Stop a recording: RECORDING or PAUSED -> UPLOADING. Scope `write`."
    )
    async def stop_recording(
        self, info: strawberry.Info[Context, None], input: StopRecordingInput
    ) -> RecordingPayload:
        return await _transition(info, input, "stop", {"stop_reason": input.reason.name})

    @strawberry.mutation(
        description="Complete a recording's upload: UPLOADING -> UPLOADED, with the stored "
        "file's name, size and duration (those left out keep their registered values). A new "
        "name replaces the registered one, whose object is removed from storage (kept while "
        "another row of the workspace still uses it). Scope `write`."
    )
    async def complete_recording_upload(
        self, info: strawberry.Info[Context, None], input: CompleteRecordingUploadInput
    ) -> RecordingPayload:
        context = write_context(info)  # FORBIDDEN before any BAD_USER_INPUT
        slug = context.viewer.workspace_slug
        values = {
            "storage_key": checks.optional_storage_key(input.storage_key, workspace_slug=slug),
            "filesize": checks.filesize(input.filesize),
            "duration": checks.duration(input.duration),
        }
        return await _transition(info, input, "complete_upload", values)

    @strawberry.mutation(
        description="Fail a recording: from any status but ERRORED to ERRORED, with what "
        "failed (`failedStatus` becomes true). Scope `write`."
    )
    async def fail_recording(
        self, info: strawberry.Info[Context, None], input: FailRecordingInput
    ) -> RecordingPayload:
        write_context(info)
        values = {
            "failed": True,
            "failed_type": input.failure_type.name,
            "error": optional_text(input.error, "error", max_length=2_000, multiline=True),
        }
        return await _transition(info, input, "fail", values)

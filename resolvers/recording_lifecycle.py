"""The recording lifecycle as GraphQL sees it (seed 004): statuses, start and stop reasons, and
who made a transition. Plain objects, built from the recording's row."""

from __future__ import annotations

from enum import Enum
from typing import Any

import strawberry


@strawberry.enum(
    description="Where a recording is in its lifecycle: INVOKED -> RECORDING <-> PAUSED -> "
    "UPLOADING -> UPLOADED, and from any state but ERRORED to ERRORED."
)
class RecordingStatus(Enum):
    INVOKED = strawberry.enum_value(
        "INVOKED", description="Registered, not started yet (`startRecording`)."
    )
    RECORDING = strawberry.enum_value("RECORDING", description="Capturing.")
    PAUSED = strawberry.enum_value(
        "PAUSED", description="Paused; `resumeRecording` or `stopRecording`."
    )
    UPLOADING = strawberry.enum_value(
        "UPLOADING", description="Stopped; the file is being uploaded (`completeRecordingUpload`)."
    )
    UPLOADED = strawberry.enum_value(
        "UPLOADED", description="The file is stored: `mediaUrl` works."
    )
    ERRORED = strawberry.enum_value(
        "ERRORED", description="Failed for good; see `failedType` and `error`. Final."
    )


@strawberry.enum(description="What a recording holds.")
class RecordingKind(Enum):
    DOWNLOAD = strawberry.enum_value(
        "download", description="The combined screen and camera recording, with audio."
    )
    SCREEN = strawberry.enum_value("screen", description="The screen capture alone.")
    CAMERA = strawberry.enum_value("camera", description="The camera capture alone.")
    AUDIO = strawberry.enum_value("audio", description="The microphone audio alone.")


@strawberry.enum(description="Why a recording started.")
class StartReasonCode(Enum):
    API_CALL = strawberry.enum_value("API_CALL", description="Started through the API.")
    RECORD_ON_START = strawberry.enum_value(
        "RECORD_ON_START", description="Started automatically when the session began."
    )


@strawberry.enum(description="Why a recording stopped.")
class StopReasonCode(Enum):
    API_CALL = strawberry.enum_value("API_CALL", description="Stopped through the API.")
    INTERNAL_ERROR = strawberry.enum_value(
        "INTERNAL_ERROR", description="The recorder stopped on an error of its own."
    )
    ALL_PEERS_LEFT = strawberry.enum_value(
        "ALL_PEERS_LEFT", description="Everyone left the session."
    )


@strawberry.enum(description="Who made a lifecycle transition.")
class CallerType(Enum):
    ORGANIZATION = strawberry.enum_value(
        "ORGANIZATION", description="The integration itself (the API key), no person named."
    )
    USER = strawberry.enum_value("USER", description="A person, named by `userId` and `name`.")


@strawberry.type(
    description="Who made a lifecycle transition: the caller the client declared (the API key "
    "that made the call is recorded as well, but not shown)."
)
class RecordingCaller:
    type: CallerType = strawberry.field(description="A person or the integration.")
    user_id: str | None = strawberry.field(description="The person's id in the client's system.")
    name: str | None = strawberry.field(description="The person's display name.")

    @classmethod
    def from_json(cls, value: dict[str, Any] | None) -> RecordingCaller | None:
        if not value:
            return None
        return cls(
            type=CallerType[value.get("type", "ORGANIZATION")],
            user_id=value.get("userId"),
            name=value.get("name"),
        )


@strawberry.type(description="Why and by whom a recording was started.")
class StartReason:
    reason: StartReasonCode = strawberry.field(description="Why it started.")
    caller: RecordingCaller | None = strawberry.field(description="Who started it.")


@strawberry.type(description="Why and by whom a recording was stopped.")
class StopReason:
    reason: StopReasonCode = strawberry.field(description="Why it stopped.")
    caller: RecordingCaller | None = strawberry.field(description="Who stopped it.")


def start_reason(reason: str | None, caller: dict[str, Any] | None) -> StartReason | None:
    if reason is None:
        return None
    return StartReason(reason=StartReasonCode[reason], caller=RecordingCaller.from_json(caller))


def stop_reason(reason: str | None, caller: dict[str, Any] | None) -> StopReason | None:
    if reason is None:
        return None
    return StopReason(reason=StopReasonCode[reason], caller=RecordingCaller.from_json(caller))

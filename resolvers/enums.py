from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import TypeVar

import strawberry

E = TypeVar("E", bound=Enum)


def members(enum: type[E]) -> Mapping[str, E]:
    """``enum``'s members by name, as a plain dict: looking one up costs a dict lookup, where
    ``enum[name]`` calls ``EnumType.__getitem__`` (a page converts a few thousand names). Same
    KeyError for an unknown name."""
    return dict(enum.__members__)


@strawberry.enum(description="Where a participant's session stands.")
class ResultStatus(Enum):
    IN_PROGRESS = strawberry.enum_value("IN_PROGRESS", description="The session is under way.")
    COMPLETED = strawberry.enum_value("COMPLETED", description="The participant finished.")
    ABANDONED = strawberry.enum_value("ABANDONED", description="The participant left early.")
    REJECTED = strawberry.enum_value(
        "REJECTED", description="The result was rejected by the researcher and is not counted."
    )


@strawberry.enum(description="What a processed media file attached to a recording holds.")
class MediaType(Enum):
    SUBTITLES = strawberry.enum_value("SUBTITLES", description="WebVTT captions.")
    TRANSCRIPTION = strawberry.enum_value(
        "TRANSCRIPTION", description="JSON transcript with word-level timestamps."
    )
    AUDIO_EXTRACTION = strawberry.enum_value(
        "AUDIO_EXTRACTION", description="The audio track, extracted from the recording."
    )
    WAVEFORM = strawberry.enum_value("WAVEFORM", description="JSON waveform peaks for display.")
    SUMMARISATION = strawberry.enum_value(
        "SUMMARISATION", description="AI-generated JSON summary of the session."
    )


@strawberry.enum(description="Processing status of an attached media file.")
class MediaStatus(Enum):
    PENDING = strawberry.enum_value("PENDING", description="Still being processed.")
    SUCCESS = strawberry.enum_value("SUCCESS", description="Ready: `url` is set.")
    FAILED = strawberry.enum_value("FAILED", description="Processing failed; see `error`.")
    WARNING = strawberry.enum_value(
        "WARNING", description="Produced, with a caveat; see `statusReason` and `error`."
    )
    NOT_ALLOWED = strawberry.enum_value(
        "NOT_ALLOWED", description="The workspace's plan or settings do not allow this type."
    )
    NOT_SUPPORTED = strawberry.enum_value(
        "NOT_SUPPORTED", description="This type cannot be produced for this recording."
    )
    NOT_REQUIRED = strawberry.enum_value(
        "NOT_REQUIRED", description="This type was not asked for, so it was not produced."
    )


@strawberry.enum(description="Why an attached media file is not (fully) available.")
class MediaStatusReason(Enum):
    NO_AUDIO = strawberry.enum_value("NO_AUDIO", description="The recording has no audio.")
    RECORDING_FAILED_UPLOAD = strawberry.enum_value(
        "RECORDING_FAILED_UPLOAD", description="The recording never finished uploading."
    )
    LANGUAGE_NOT_SUPPORTED = strawberry.enum_value(
        "LANGUAGE_NOT_SUPPORTED", description="The spoken language is not supported."
    )
    PROCESSING_ERROR = strawberry.enum_value(
        "PROCESSING_ERROR", description="The processing pipeline failed."
    )


@strawberry.enum(description="Why a recording failed.")
class RecordingFailureType(Enum):
    UPLOAD_FAILED = strawberry.enum_value(
        "UPLOAD_FAILED", description="The recorder could not upload the file."
    )
    ENCODING_FAILED = strawberry.enum_value(
        "ENCODING_FAILED", description="The uploaded file could not be processed."
    )
    PERMISSION_DENIED = strawberry.enum_value(
        "PERMISSION_DENIED", description="The participant refused screen, camera or microphone."
    )
    NO_MEDIA = strawberry.enum_value("NO_MEDIA", description="Nothing was captured.")


MEDIA_TYPES = members(MediaType)
MEDIA_STATUSES = members(MediaStatus)
MEDIA_STATUS_REASONS = members(MediaStatusReason)
RECORDING_FAILURE_TYPES = members(RecordingFailureType)
RESULT_STATUSES = members(ResultStatus)

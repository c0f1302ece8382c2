"""Types built by ``resolvers.build.built`` (without their keyword ``__init__``) come out as
that ``__init__`` would make them: every field set, nothing else."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from app.ids import to_global_id
from app.store.records import (
    AttachedMediaRecord,
    ParticipantRecord,
    RecordingRecord,
    ResultRecord,
)
from resolvers import recording
from resolvers.attached_media import AttachedMedia
from resolvers.attached_media_language import group_by_language
from resolvers.build import built, fields_of
from resolvers.pagination import encode_cursor
from resolvers.user_test import EDGE_DIRECT_RESOLVERS, UserTestResultEdge
from resolvers.user_test_result import RESULT_DIRECT_RESOLVERS, UserTestResult

AT = datetime(2026, 3, 2, 9, 0, 12, tzinfo=UTC)
CALLER = {"type": "USER", "userId": "u-1", "name": "Ava"}


def _recording(**changes: Any) -> RecordingRecord:
    values: dict[str, Any] = {
        "id": 7, "uuid": "r-uuid", "result_id": 3, "kind": "download",
        "storage_key": "k/recording.mp4", "mime_type": "video/mp4", "is_audio": False,
        "filesize": 2**40, "duration": 3.5, "language": "en", "failed": True,
        "failed_type": "UPLOAD_FAILED", "missing_data_warning": True, "start_time": AT,
        "created_at": AT, "user_test_name": "Checkout", "result_uuid": "ut_response_x",
        "participant_label": "Ava", "status": "UPLOADING", "started_at": AT, "paused_at": AT,
        "resumed_at": AT, "stopped_at": AT, "uploaded_at": None, "errored_at": None,
        "start_reason": "API_CALL", "start_caller": CALLER, "stop_reason": "API_CALL",
        "stop_caller": None, "error": "broke", "status_changed_at": AT,
        "status_caller": CALLER, "status_note": "note",
    }  # fmt: skip
    return RecordingRecord(**{**values, **changes})


def _media(**changes: Any) -> AttachedMediaRecord:
    values: dict[str, Any] = {
        "id": 9, "uuid": "m-uuid", "recording_id": 7, "language": "en", "type": "SUBTITLES",
        "status": "FAILED", "status_reason": "NO_AUDIO", "storage_key": "k/subtitles.vtt",
        "mime_type": "text/vtt", "error": "none heard", "finalised_at": AT,
        "user_test_name": "Checkout", "participant_label": None,
    }  # fmt: skip
    return AttachedMediaRecord(**{**values, **changes})


def _result(**changes: Any) -> ResultRecord:
    values: dict[str, Any] = {
        "id": 5, "uuid": "ut_response_x", "user_test_id": 2, "name": "Session",
        "status": "COMPLETED", "created_at": AT,
        "participant": ParticipantRecord(anonymous_id="anon", email="a@b.test", name="Ava"),
    }  # fmt: skip
    return ResultRecord(**{**values, **changes})


NOTHING_OPTIONAL: dict[str, Any] = {
    "filesize": None, "duration": None, "failed_type": None, "start_reason": None,
    "start_caller": None, "stop_reason": None, "status_caller": None, "status": "UPLOADED",
}  # fmt: skip
OBJECTS = {
    "recording": lambda: recording.TestSessionRecording.from_record(_recording()),
    "recording, nothing optional": lambda: recording.TestSessionRecording.from_record(
        _recording(**NOTHING_OPTIONAL)
    ),
    "media item": lambda: AttachedMedia.from_record(_media(), {}),
    "media item, SUCCESS": lambda: AttachedMedia.from_record(
        _media(status="SUCCESS", status_reason=None), {}
    ),
    "result": lambda: UserTestResult.from_record(_result(), {}),
    "result, no participant": lambda: UserTestResult.from_record(_result(participant=None)),
    "participant": lambda: UserTestResult.from_record(_result()).participant,
    "result's recordings": lambda: UserTestResult.from_record(_result(), {}).recordings,
    "language group": lambda: group_by_language([_media(), _media(id=10, type="TRANSCRIPTION")])[0],
}


@pytest.mark.parametrize("case", sorted(OBJECTS))
def test_built_objects_are_what_their_init_makes(case: str) -> None:
    made = OBJECTS[case]()
    cls = type(made)
    assert set(vars(made)) == fields_of(cls)  # every field named, and nothing else
    again = cls(**vars(made))
    assert vars(again) == vars(made)


def test_built_refuses_types_it_cannot_build() -> None:
    class WithPostInit:
        def __post_init__(self) -> None: ...

    with pytest.raises(TypeError):
        fields_of(WithPostInit)
    with pytest.raises(TypeError):
        fields_of(dict)
    assert vars(built(WithPostInit, {"a": 1})) == {"a": 1}


def test_a_media_item_takes_each_field_from_its_own_column() -> None:
    """``AttachedMedia.from_record`` unpacks the record by position."""
    from resolvers.attached_media import default_filename
    from resolvers.enums import MEDIA_STATUS_REASONS, MEDIA_STATUSES, MEDIA_TYPES

    record = _media(language="fr", participant_label="Ava")
    item = AttachedMedia.from_record(record, {})
    assert item.type is MEDIA_TYPES[record.type]
    assert item.status is MEDIA_STATUSES[record.status]
    assert item.status_reason is MEDIA_STATUS_REASONS[record.status_reason]
    assert (item.language, item.mime_type, item.error, item.finalised_at) == (
        record.language, record.mime_type, record.error, record.finalised_at,
    )  # fmt: skip
    assert (item._uuid, item._storage_key) == (record.uuid, record.storage_key)
    assert item._names == default_filename(record) == ("Checkout", "Ava", "SUBTITLES", "fr")
    assert item._urls is None  # not SUCCESS


def test_a_result_takes_each_field_from_its_own_column() -> None:
    record = _result()
    result = UserTestResult.from_record(record)
    assert (result.pk, result.response_uuid, result.name, result.created_at) == (
        record.id, record.uuid, record.name, record.created_at,
    )  # fmt: skip
    assert result.status.name == record.status
    assert result._user_test_id == record.user_test_id
    assert result.recordings._result_id == record.id
    assert result.participant is not None
    assert (result.participant.anonymous_id, result.participant.email) == ("anon", "a@b.test")


def test_an_edge_is_built_with_every_field() -> None:
    # resolvers.user_test builds it; its cursor is encoded from the node when asked.
    assert fields_of(UserTestResultEdge) == {"node"}
    edge = built(UserTestResultEdge, {"node": UserTestResult.from_record(_result())})
    assert EDGE_DIRECT_RESOLVERS["cursor"](edge, None) == encode_cursor(5)


def test_ids_are_made_when_asked_from_the_public_uuid() -> None:
    result = UserTestResult.from_record(_result())
    made = recording.TestSessionRecording.from_record(_recording())
    assert result.id() == to_global_id("UserTestResult", "ut_response_x")
    assert made.id() == to_global_id("TestSessionRecording", "r-uuid")
    assert RESULT_DIRECT_RESOLVERS["id"](result, None) == result.id()
    assert recording.DIRECT_RESOLVERS["id"](made, None) == made.id()

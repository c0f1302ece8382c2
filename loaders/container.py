from __future__ import annotations

from dataclasses import dataclass

from app.media.signer import UrlMinter
from app.store.facade import Store
from app.turns import Turn
from loaders.changes import (
    ChangeCountByChangeCountRequestLoader,
    ChangePageByChangePageRequestLoader,
)
from loaders.media import (
    AttachedMediaByRecordingIdLoader,
    AttachedMediaByUuidLoader,
    TranscriptionByRecordingIdLoader,
)
from loaders.recordings import RecordingByUuidLoader, RecordingsByResultIdLoader
from loaders.results import (
    ResultByUuidLoader,
    ResultCountByUserTestIdLoader,
    ResultPageByPageRequestLoader,
)
from loaders.urls import SignedUrlsBySignRequestsLoader
from loaders.user_tests import UserTestByIdLoader, UserTestByUuidLoader


@dataclass(frozen=True, slots=True)
class Loaders:
    """All loaders of one request. Build it inside the request (loaders bind to the loop)."""

    user_test_by_uuid: UserTestByUuidLoader
    user_test_by_id: UserTestByIdLoader
    result_by_uuid: ResultByUuidLoader
    result_page: ResultPageByPageRequestLoader
    result_count_by_user_test_id: ResultCountByUserTestIdLoader
    recordings_by_result_id: RecordingsByResultIdLoader
    recording_by_uuid: RecordingByUuidLoader
    attached_media_by_recording_id: AttachedMediaByRecordingIdLoader
    attached_media_by_uuid: AttachedMediaByUuidLoader
    transcription_by_recording_id: TranscriptionByRecordingIdLoader
    signed_urls: SignedUrlsBySignRequestsLoader
    change_page: ChangePageByChangePageRequestLoader
    change_count: ChangeCountByChangeCountRequestLoader

    @classmethod
    def build(
        cls, *, store: Store, workspace_id: int, minter: UrlMinter, turn: Turn | None = None
    ) -> Loaders:
        scope = (store, workspace_id)
        return cls(
            user_test_by_uuid=UserTestByUuidLoader(*scope),
            user_test_by_id=UserTestByIdLoader(*scope),
            result_by_uuid=ResultByUuidLoader(*scope),
            result_page=ResultPageByPageRequestLoader(*scope),
            result_count_by_user_test_id=ResultCountByUserTestIdLoader(*scope),
            recordings_by_result_id=RecordingsByResultIdLoader(*scope),
            recording_by_uuid=RecordingByUuidLoader(*scope),
            attached_media_by_recording_id=AttachedMediaByRecordingIdLoader(*scope),
            attached_media_by_uuid=AttachedMediaByUuidLoader(*scope),
            transcription_by_recording_id=TranscriptionByRecordingIdLoader(*scope),
            signed_urls=SignedUrlsBySignRequestsLoader(minter, turn),
            change_page=ChangePageByChangePageRequestLoader(*scope),
            change_count=ChangeCountByChangeCountRequestLoader(*scope),
        )

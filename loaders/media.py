from __future__ import annotations

from collections.abc import Sequence

from app.store.records import AttachedMediaRecord, TranscriptionRecord
from loaders.base import Loader, one_per_key


class AttachedMediaByRecordingIdLoader(Loader):
    """Key: recording id. Result: its attached media, every language and type (``[]``)."""

    async def batch_load_fn(self, keys: Sequence[int]) -> list[list[AttachedMediaRecord]]:
        grouped = await self.store.fetch_attached_media_by_recording_ids(
            workspace_id=self.workspace_id, recording_ids=list(keys)
        )
        return [grouped[key] for key in keys]


class AttachedMediaByUuidLoader(Loader):
    """Key: public uuid. Result: the workspace's media item, or None."""

    async def batch_load_fn(self, keys: Sequence[str]) -> list[AttachedMediaRecord | None]:
        records = await self.store.fetch_attached_media_by_uuids(
            workspace_id=self.workspace_id, uuids=list(keys)
        )
        return one_per_key(keys, records, lambda r: r.uuid)


class TranscriptionByRecordingIdLoader(Loader):
    """Key: recording id. Result: its structured transcript, or None."""

    async def batch_load_fn(self, keys: Sequence[int]) -> list[TranscriptionRecord | None]:
        records = await self.store.fetch_transcriptions_by_recording_ids(
            workspace_id=self.workspace_id, recording_ids=list(keys)
        )
        return one_per_key(keys, records, lambda r: r.recording_id)

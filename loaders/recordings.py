from __future__ import annotations

from collections.abc import Sequence

from app.store.records import RecordingRecord
from loaders.base import Loader, one_per_key


class RecordingsByResultIdLoader(Loader):
    """Key: result id. Result: that result's recordings, every kind (``[]`` when none)."""

    async def batch_load_fn(self, keys: Sequence[int]) -> list[list[RecordingRecord]]:
        grouped = await self.store.fetch_recordings_by_result_ids(
            workspace_id=self.workspace_id, result_ids=list(keys)
        )
        return [grouped[key] for key in keys]


class RecordingByUuidLoader(Loader):
    """Key: public uuid. Result: the workspace's recording, or None."""

    async def batch_load_fn(self, keys: Sequence[str]) -> list[RecordingRecord | None]:
        records = await self.store.fetch_recordings_by_uuids(
            workspace_id=self.workspace_id, uuids=list(keys)
        )
        return one_per_key(keys, records, lambda r: r.uuid)

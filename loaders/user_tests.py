from __future__ import annotations

from collections.abc import Sequence

from app.store.records import UserTestRecord
from loaders.base import Loader, one_per_key


class UserTestByUuidLoader(Loader):
    """Key: public uuid. Result: the workspace's user test, or None."""

    async def batch_load_fn(self, keys: Sequence[str]) -> list[UserTestRecord | None]:
        records = await self.store.fetch_user_tests_by_uuids(
            workspace_id=self.workspace_id, uuids=list(keys)
        )
        return one_per_key(keys, records, lambda r: r.uuid)


class UserTestByIdLoader(Loader):
    """Key: database id. Result: the workspace's user test, or None."""

    async def batch_load_fn(self, keys: Sequence[int]) -> list[UserTestRecord | None]:
        records = await self.store.fetch_user_tests_by_ids(
            workspace_id=self.workspace_id, ids=list(keys)
        )
        return one_per_key(keys, records, lambda r: r.id)

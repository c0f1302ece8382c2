from __future__ import annotations

from collections.abc import Sequence

from app.store.records import ChangeCount, ChangeCountRequest, ChangePageRequest, ChangeRecord
from loaders.base import Loader


class ChangePageByChangePageRequestLoader(Loader):
    """Key: a keyset ``ChangePageRequest``. Result: that page of the change feed, oldest first.
    All pages asked for in one tick are read by one statement."""

    async def batch_load_fn(self, keys: Sequence[ChangePageRequest]) -> list[list[ChangeRecord]]:
        return await self.store.fetch_change_pages(workspace_id=self.workspace_id, pages=list(keys))


class ChangeCountByChangeCountRequestLoader(Loader):
    """Key: a ``ChangeCountRequest``. Result: how many distinct results changed after its
    cursor, and the newest entry's id. One statement per batch."""

    async def batch_load_fn(self, keys: Sequence[ChangeCountRequest]) -> list[ChangeCount]:
        return await self.store.count_changes(workspace_id=self.workspace_id, requests=list(keys))

from __future__ import annotations

from collections.abc import Sequence

from app.store.records import PageRequest, ResultRecord
from loaders.base import Loader, one_per_key


class ResultByUuidLoader(Loader):
    """Key: public uuid. Result: the workspace's result (participant included), or None."""

    async def batch_load_fn(self, keys: Sequence[str]) -> list[ResultRecord | None]:
        records = await self.store.fetch_results_by_uuids(
            workspace_id=self.workspace_id, uuids=list(keys)
        )
        return one_per_key(keys, records, lambda r: r.uuid)


class ResultPageByPageRequestLoader(Loader):
    """Key: a keyset ``PageRequest``. Result: that page's results in ascending id order. All
    pages asked for in one tick are read by one statement."""

    async def batch_load_fn(self, keys: Sequence[PageRequest]) -> list[list[ResultRecord]]:
        pages: list[list[ResultRecord]] = await self.store.fetch_result_pages(
            workspace_id=self.workspace_id, pages=list(keys)
        )
        return pages

    def revisions(self, records: Sequence[ResultRecord]) -> tuple[int, ...] | None:
        """The revisions read with a page's results (app.store.tree_cache: a result's
        recordings and media change only with its revision), or None when not known."""
        return self.store.revisions_of(self.workspace_id, [record.id for record in records])


class ResultCountByUserTestIdLoader(Loader):
    """Key: user test id. Result: how many results it has (0 when none)."""

    async def batch_load_fn(self, keys: Sequence[int]) -> list[int]:
        counts = await self.store.count_results_by_user_test_ids(
            workspace_id=self.workspace_id, user_test_ids=list(keys)
        )
        return [counts.get(key, 0) for key in keys]

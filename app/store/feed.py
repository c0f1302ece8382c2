"""The change feed: appended inside each mutation's transaction, read by keyset (``id``).

Every read is one statement whatever the page size (or the number of aliased root fields),
walking the (user_test_id, id) index.

A cursor is only safe if no entry can appear later below it. On PostgreSQL an id is drawn when
the row is inserted, not when its transaction commits: a writer that drew id 5 and commits after
the one that drew 6 would publish 5 behind a reader already past 6, who would never see it. So
appending takes a transaction-level advisory lock per user test first: the appenders of one
test commit in the order of their ids (the lock is held from the insert to the commit, which is
the end of every write). SQLite has one writer at a time, which gives the same order.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, insert, literal, select, text, union_all
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from app.store import models
from app.store.records import ChangeCount, ChangeCountRequest, ChangePageRequest, ChangeRecord

_C = models.ResultChange
# The advisory lock space of the feed's per-test append lock (first key of the two-int form).
FEED_LOCK_CLASS = 0x46454544  # "FEED"
_LOCK_TEST = text("SELECT pg_advisory_xact_lock(:lock_class, CAST(:test_id AS INTEGER))")
_COLUMNS = (
    _C.id,
    _C.user_test_id,
    _C.result_uuid,
    _C.object_type,
    _C.object_uuid,
    _C.kind,
    _C.created_at,
)


async def append_changes(
    connection: AsyncConnection,
    *,
    workspace_id: int,
    entries: Sequence[tuple[int, str, str, str, str]],
    now: datetime,
) -> list[ChangeRecord]:
    """Append ``(user_test_id, result_uuid, object_type, object_uuid, kind)`` entries in
    order; returns them with their ids (cursors)."""
    if not entries:
        return []
    if connection.dialect.name == "postgresql":
        # Sorted, so two writers touching the same tests take their locks in one order.
        for test_id in sorted({entry[0] for entry in entries}):
            await connection.execute(
                _LOCK_TEST, {"lock_class": FEED_LOCK_CLASS, "test_id": test_id % 2_147_483_647}
            )
    rows = [
        {
            "workspace_id": workspace_id,
            "user_test_id": user_test_id,
            "result_uuid": result_uuid,
            "object_type": object_type,
            "object_uuid": object_uuid,
            "kind": kind,
            "created_at": now,
        }
        for user_test_id, result_uuid, object_type, object_uuid, kind in entries
    ]
    statement = insert(_C).returning(*_COLUMNS, sort_by_parameter_order=True)
    result = await connection.execute(statement, rows)
    return [ChangeRecord(**row._mapping) for row in result]


class ChangeFeedReads:
    """The feed's reads, mixed into ``Store`` (they run on its request connection)."""

    if TYPE_CHECKING:

        async def _rows(self, statement: Any) -> Sequence[Row[*tuple[Any, ...]]]: ...

    async def fetch_change_pages(
        self, *, workspace_id: int, pages: Sequence[ChangePageRequest]
    ) -> list[list[ChangeRecord]]:
        """Each page's entries, oldest first, all pages in one statement."""
        selects = []
        for index, page in enumerate(pages):
            query = select(*_COLUMNS, literal(index).label("page_index")).where(
                _C.workspace_id == workspace_id, _C.user_test_id == page.user_test_id
            )
            if page.after is not None:
                query = query.where(_C.id > page.after)
            selects.append(query.order_by(_C.id).limit(page.limit))
        if len(selects) == 1:
            rows = await self._rows(selects[0])
        else:
            rows = await self._rows(union_all(*(select(s.subquery()) for s in selects)))
        grouped: list[list[ChangeRecord]] = [[] for _ in pages]
        for row in rows:
            values = dict(row._mapping)
            grouped[values.pop("page_index")].append(ChangeRecord(**values))
        for records in grouped:
            records.sort(key=lambda r: r.id)
        return grouped

    async def count_changes(
        self, *, workspace_id: int, requests: Sequence[ChangeCountRequest]
    ) -> list[ChangeCount]:
        """For each request, how many distinct results changed after ``since`` and the newest
        entry's id; one statement for all."""
        selects = []
        for index, request in enumerate(requests):
            query = select(
                literal(index).label("request_index"),
                func.count(func.distinct(_C.result_uuid)).label("changed"),
                func.max(_C.id).label("latest"),
            ).where(_C.workspace_id == workspace_id, _C.user_test_id == request.user_test_id)
            if request.since is not None:
                query = query.where(_C.id > request.since)
            selects.append(query)
        statement = selects[0] if len(selects) == 1 else union_all(*selects)
        rows = await self._rows(statement)
        counts = [ChangeCount(count=0, latest=None) for _ in requests]
        for row in rows:
            counts[row.request_index] = ChangeCount(count=int(row.changed), latest=row.latest)
        return counts

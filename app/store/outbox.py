"""The storage-deletion outbox. A delete enqueues the storage keys its rows held in its own
transaction; after the commit, and later by the background sweep, each key is removed from
storage and its row deleted, or its row is rescheduled with backoff.

A key is never removed while any row (of any workspace) still references it: the demo shares
files, and a retried registration may point at the same object. That is checked when the key is
enqueued and again right before it is removed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, insert, select, union, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.store import models

_D = models.StorageDeletion
Connect = Callable[[], AbstractAsyncContextManager[AsyncConnection]]


@dataclass(frozen=True, slots=True)
class PendingDeletion:
    id: int
    storage_key: str
    attempts: int


async def referenced_keys(connection: AsyncConnection, keys: Sequence[str]) -> set[str]:
    """Those of ``keys`` some recording or media item still points at."""
    if not keys:
        return set()
    recordings = select(models.Recording.storage_key).where(models.Recording.storage_key.in_(keys))
    media = select(models.AttachedMedia.storage_key).where(
        models.AttachedMedia.storage_key.in_(keys)
    )
    rows = await connection.execute(union(recordings, media))
    return {str(row[0]) for row in rows}


async def enqueue(
    connection: AsyncConnection, *, keys: Sequence[str], backend: str, now: datetime
) -> list[int]:
    """Enqueue the keys no row references any more (call after deleting the rows); their ids."""
    unique = sorted(set(keys))
    still = await referenced_keys(connection, unique)
    rows = [
        {
            "storage_key": key,
            "backend": backend,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for key in unique
        if key not in still
    ]
    if not rows:
        return []
    result = await connection.execute(
        insert(_D).returning(_D.id, sort_by_parameter_order=True), rows
    )
    return [int(row[0]) for row in result]


class Outbox:
    """The outbox's own short transactions, for the cleaner (app.media.cleanup)."""

    def __init__(self, begin: Connect, *, backend: str) -> None:
        self._begin = begin
        self.backend = backend

    async def claim(
        self, *, now: datetime, lease_until: datetime, ids: Sequence[int] | None = None, limit: int
    ) -> list[PendingDeletion]:
        """Due rows of this backend (or just ``ids``), leased until ``lease_until`` so that
        other processes sweeping at the same time skip them."""
        async with self._begin() as connection:
            query = select(_D.id).where(_D.backend == self.backend, _D.next_attempt_at <= now)
            if ids is not None:
                query = query.where(_D.id.in_(ids))
            due = [row[0] for row in await connection.execute(query.order_by(_D.id).limit(limit))]
            if not due:
                return []
            # Conditional: a row another process leased meanwhile is no longer due.
            result = await connection.execute(
                update(_D)
                .where(_D.id.in_(due), _D.next_attempt_at <= now)
                .values(next_attempt_at=lease_until)
                .returning(_D.id, _D.storage_key, _D.attempts)
            )
            return sorted((PendingDeletion(*row) for row in result), key=lambda p: p.id)

    async def still_referenced(self, keys: Sequence[str]) -> set[str]:
        async with self._begin() as connection:
            return await referenced_keys(connection, keys)

    async def done(self, ids: Sequence[int]) -> None:
        if ids:
            async with self._begin() as connection:
                await connection.execute(delete(_D).where(_D.id.in_(ids)))

    async def retry_later(
        self, pending: PendingDeletion, *, error: str, next_attempt_at: datetime
    ) -> None:
        async with self._begin() as connection:
            await connection.execute(
                update(_D)
                .where(_D.id == pending.id)
                .values(
                    attempts=pending.attempts + 1,
                    last_error=error[:2000],
                    next_attempt_at=next_attempt_at,
                )
            )

    async def pending(self) -> list[tuple[str, int, str | None]]:
        """Every row of this backend as (storage key, attempts, last error), oldest first."""
        async with self._begin() as connection:
            rows = await connection.execute(
                select(_D.storage_key, _D.attempts, _D.last_error)
                .where(_D.backend == self.backend)
                .order_by(_D.id)
            )
            return [(row[0], row[1], row[2]) for row in rows]

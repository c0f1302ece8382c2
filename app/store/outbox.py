"""The storage-deletion outbox. A delete enqueues the storage keys its rows held in its own
transaction; after the commit, and later by the background sweep, each key is removed from
storage and its row deleted, or its row is rescheduled with backoff.

A key is never removed while a row of its own workspace still references it: the demo shares
files, and a retried registration may point at the same object. That is checked when the key is
enqueued and again right before it is removed. A key belongs to the workspace whose slug is its
prefix (``<slug>/...``; the mutations accept no other key), so another workspace's rows never
keep it alive. A key of no workspace (one written before the prefix rule) is kept while any row
still references it.
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
    """Those of ``keys`` a recording or media item of the key's own workspace still points at
    (of any workspace, for a key under no workspace's prefix)."""
    if not keys:
        return set()
    w = models.Workspace
    recordings = (
        select(models.Recording.storage_key, w.slug)
        .join(w, w.id == models.Recording.workspace_id)
        .where(models.Recording.storage_key.in_(keys))
    )
    media = (
        select(models.AttachedMedia.storage_key, w.slug)
        .join(w, w.id == models.AttachedMedia.workspace_id)
        .where(models.AttachedMedia.storage_key.in_(keys))
    )
    holders: dict[str, set[str]] = {}
    for key, slug in await connection.execute(union(recordings, media)):
        holders.setdefault(str(key), set()).add(str(slug))
    if not holders:
        return set()
    owners = await _owners(connection, list(holders))
    return {
        key
        for key, slugs in holders.items()
        if not owners.get(key) or not slugs.isdisjoint(owners[key])
    }


async def _owners(connection: AsyncConnection, keys: Sequence[str]) -> dict[str, set[str]]:
    """For each key, the slugs of the workspaces whose prefix ``<slug>/`` it is under."""
    prefixes = {key: _prefixes(key) for key in keys}
    candidates = sorted({prefix for found in prefixes.values() for prefix in found})
    w = models.Workspace
    slugs = {
        str(row[0])
        for row in await connection.execute(select(w.slug).where(w.slug.in_(candidates)))
    }
    return {key: slugs.intersection(found) for key, found in prefixes.items()}


def _prefixes(key: str) -> set[str]:
    """``a/b/c.mp4`` -> {``a``, ``a/b``}: each slug the key could be under."""
    parts = key.split("/")
    return {"/".join(parts[:end]) for end in range(1, len(parts))}


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

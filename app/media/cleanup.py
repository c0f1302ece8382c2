"""Storage objects of deleted rows are removed after the commit, best-effort, and the outbox
(app.store.outbox) keeps what failed for the background sweep, which retries with exponential
backoff. Nothing here ever fails a mutation: errors are logged and left to the next attempt."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from app.media.storage import StorageDeleter, UnsafeKey
from app.store.outbox import Outbox, PendingDeletion

log = logging.getLogger("footage.storage")

# First retry after 30 s, doubling up to an hour between attempts.
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_MAX = timedelta(hours=1)
# A claimed row is due again after this, should its process die mid-deletion (or a deletion
# outlive the wait below).
LEASE = timedelta(minutes=5)
BATCH = 100
# How long a delete mutation waits for its objects' removal before answering; what is still
# running then finishes in its thread, and the sweep settles the row after the lease.
REQUEST_WAIT = 3.0
SWEEP_WAIT = 60.0


def backoff(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failure (1, 2, ...)."""
    return min(BACKOFF_BASE * (1 << min(attempts - 1, 20)), BACKOFF_MAX)


@dataclass(frozen=True, slots=True)
class SweepReport:
    removed: int
    failed: int


class StorageCleaner:
    """Per process, built in the lifespan."""

    def __init__(
        self,
        *,
        outbox: Outbox,
        deleter: StorageDeleter,
        executor: ThreadPoolExecutor,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.outbox = outbox
        self.deleter = deleter
        # Threads of its own: a slow or unreachable storage must not hold the loop's default
        # executor, which DNS lookups for new database connections also need.
        self._executor = executor
        self._clock = clock
        self._stragglers: set[asyncio.Task[str | None]] = set()

    @property
    def backend(self) -> str:
        return self.deleter.name

    async def delete_now(self, ids: Sequence[int]) -> None:
        """Right after a delete committed: remove its objects; never raises."""
        if not ids:
            return
        try:
            await self._run(ids=ids, now=self._clock(), wait=REQUEST_WAIT)
        except Exception:
            log.exception("storage cleanup after a delete failed; the outbox keeps the keys")

    async def sweep(self, *, now: datetime | None = None) -> SweepReport:
        """Retry every due outbox row (in batches) once."""
        now = now or self._clock()
        removed = failed = 0
        while True:
            report = await self._run(ids=None, now=now, wait=SWEEP_WAIT)
            removed, failed = removed + report.removed, failed + report.failed
            if report.removed + report.failed < BATCH:
                return SweepReport(removed, failed)

    async def _run(self, *, ids: Sequence[int] | None, now: datetime, wait: float) -> SweepReport:
        pending = await self.outbox.claim(now=now, lease_until=now + LEASE, ids=ids, limit=BATCH)
        if not pending:
            return SweepReport(0, 0)
        # A key some row points at again (a new registration of the same object) is not ours
        # to remove any more: its outbox row is simply dropped.
        referenced = await self.outbox.still_referenced([p.storage_key for p in pending])
        todo = {
            asyncio.create_task(self._delete(p)): p
            for p in pending
            if p.storage_key not in referenced
        }
        finished: set[asyncio.Task[str | None]] = set()
        if todo:
            finished, late = await asyncio.wait(todo, timeout=wait)
            for task in late:  # held until done: the loop keeps only weak references to tasks
                self._stragglers.add(task)
                task.add_done_callback(self._stragglers.discard)
        done = [p.id for p in pending if p.storage_key in referenced]
        failed = 0
        for future in finished:
            item, error = todo[future], future.result()
            if error is None:
                done.append(item.id)
                continue
            failed += 1
            attempts = item.attempts + 1
            log.warning(
                "could not remove storage object %r (attempt %d): %s",
                item.storage_key,
                attempts,
                error,
            )
            await self.outbox.retry_later(
                item, error=error, next_attempt_at=now + backoff(attempts)
            )
        await self.outbox.done(done)
        # Deletions still running stay leased; the sweep settles them after the lease.
        return SweepReport(len(done), failed)

    async def _delete(self, item: PendingDeletion) -> str | None:
        """None when removed, else the error to record."""
        try:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._executor, self.deleter.delete, item.storage_key)
        except UnsafeKey as error:
            log.error("dropping an unsafe storage key from the outbox: %s", error)
            return None
        except Exception as error:
            return f"{type(error).__name__}: {error}"
        return None

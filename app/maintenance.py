"""The process's one background task: every ``FOOTAGE_MAINTENANCE_INTERVAL`` seconds, retry the
storage-deletion outbox and forget idempotency keys older than ``FOOTAGE_IDEMPOTENCY_KEY_HOURS``.
Started and cancelled by the lifespan; a failing round is logged and the next one tries again."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from app.media.cleanup import StorageCleaner
from app.store.facade import Connect
from app.store.idempotency import purge

log = logging.getLogger("footage.maintenance")


async def maintain_once(
    *, cleaner: StorageCleaner, begin: Connect, key_ttl: timedelta, now: datetime | None = None
) -> None:
    now = now or datetime.now(UTC)
    report = await cleaner.sweep(now=now)
    if report.removed or report.failed:
        log.info("storage outbox: %d removed, %d to retry", report.removed, report.failed)
    forgotten = await purge(begin, before=now - key_ttl)
    if forgotten:
        log.info("forgot %d idempotency keys", forgotten)


async def run_maintenance(
    *, cleaner: StorageCleaner, begin: Connect, interval: float, key_ttl: timedelta
) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await maintain_once(cleaner=cleaner, begin=begin, key_ttl=key_ttl)
        except Exception:
            log.exception("maintenance round failed; retrying in %s s", interval)

"""Idempotency keys, per workspace. The first request with a key claims it inside its own write
transaction; a retry finds the claim and replays its outcome instead of writing again.

Concurrent requests with one key converge without an error: the claim is an
``INSERT ... ON CONFLICT DO NOTHING``, and PostgreSQL makes the second insert wait until the
first transaction ends (SQLite serialises writers anyway). If the first committed, the second
sees its row and replays it; if the first rolled back, the second claims the key itself.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.errors import BadUserInput
from app.store import models
from app.store.dialects import upsert_into
from app.store.records import WriteOutcome

_K = models.IdempotencyKey


class IdempotencyKeyReused(BadUserInput):
    code = "IDEMPOTENCY_KEY_REUSED"


@dataclass(frozen=True, slots=True)
class IdempotencyRequest:
    key: str
    mutation: str
    # SHA-256 (hex) of the canonical input, without the key and clientMutationId.
    fingerprint: str


async def claim(
    connection: AsyncConnection, *, workspace_id: int, request: IdempotencyRequest, now: datetime
) -> tuple[int | None, WriteOutcome | None]:
    """``(claim id, None)`` when this request owns the key now, ``(None, outcome)`` to replay.
    IDEMPOTENCY_KEY_REUSED (a BAD_USER_INPUT) when the key was used for another input."""
    statement = (
        upsert_into(connection, _K)
        .values(
            workspace_id=workspace_id,
            key=request.key,
            mutation=request.mutation,
            fingerprint=request.fingerprint,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=[_K.workspace_id, _K.key])
        .returning(_K.id)
    )
    claimed = (await connection.execute(statement)).scalar()
    if claimed is not None:
        return int(claimed), None
    row = (
        await connection.execute(
            select(_K.mutation, _K.fingerprint, _K.result).where(
                _K.workspace_id == workspace_id, _K.key == request.key
            )
        )
    ).one()
    if row.mutation != request.mutation or row.fingerprint != request.fingerprint:
        raise IdempotencyKeyReused(
            "This idempotency key was already used with a different mutation or input; use a "
            "new key for a new request.",
            argument="idempotencyKey",
        )
    result = row.result or {}
    return None, WriteOutcome(
        uuid=result.get("uuid"),
        parent_uuid=result.get("parent_uuid"),
        applied=bool(result.get("applied", True)),
        replayed=True,
    )


async def settle(connection: AsyncConnection, *, claim_id: int, outcome: WriteOutcome) -> None:
    """Store what a retry must replay, in the transaction that did the write."""
    await connection.execute(
        update(_K)
        .where(_K.id == claim_id)
        .values(
            result={
                "uuid": outcome.uuid,
                "parent_uuid": outcome.parent_uuid,
                "applied": outcome.applied,
            }
        )
    )


async def purge(
    begin: Callable[[], AbstractAsyncContextManager[AsyncConnection]], *, before: datetime
) -> int:
    """Forget keys claimed before ``before``, in a transaction of its own; how many."""
    async with begin() as connection:
        result = await connection.execute(delete(_K).where(_K.created_at < before))
        return int(result.rowcount)
